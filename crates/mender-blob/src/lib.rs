//! Blob storage for artifact files: the [`BlobStore`] contract (streaming put with a size
//! limit, ranged get, stat, delete, list, optional presigned links) and [`FsBlobStore`], the
//! local-disk implementation used by default. An S3 store can implement the same trait later
//! and answer [`BlobStore::presign_get`] with real presigned URLs.

mod fs;
mod key;

use std::io;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::stream::BoxStream;
use tokio::io::{AsyncRead, AsyncReadExt};

pub use fs::FsBlobStore;
pub use key::validate_key;

/// A stream of bytes going into or coming out of a store.
pub type ByteStream<'a> = BoxStream<'a, io::Result<Bytes>>;

/// Reads `reader` to its end as a [`ByteStream`] of chunks of at most `chunk` bytes, through
/// one reused buffer: how a store (or anything else serving a file) streams it out.
pub fn reader_stream<R>(reader: R, chunk: usize) -> ByteStream<'static>
where
    R: AsyncRead + Send + Unpin + 'static,
{
    Box::pin(futures::stream::try_unfold(
        (reader, vec![0u8; chunk]),
        |(mut rd, mut buf)| async move {
            let n = rd.read(&mut buf).await?;
            if n == 0 {
                return Ok(None);
            }
            let chunk = Bytes::copy_from_slice(&buf[..n]);
            Ok(Some((chunk, (rd, buf))))
        },
    ))
}

/// What a successful [`BlobStore::put`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutInfo {
    /// Bytes stored.
    pub size: u64,
    /// Lower-case hex SHA-256 of the stored bytes.
    pub sha256: String,
}

/// Metadata of a stored blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobStat {
    /// Size in bytes.
    pub size: u64,
    /// Last modification time.
    pub modified: SystemTime,
}

/// A byte range as HTTP `Range` names it: `start` to `end` inclusive, or to the end of the blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// First byte.
    pub start: u64,
    /// Last byte (inclusive); `None` means the last byte of the blob.
    pub end: Option<u64>,
}

/// A blob being read.
pub struct BlobRead {
    /// Size of the whole blob.
    pub total: u64,
    /// First byte of `stream` within the blob.
    pub start: u64,
    /// Bytes `stream` yields.
    pub len: u64,
    /// The bytes.
    pub stream: ByteStream<'static>,
}

impl std::fmt::Debug for BlobRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobRead")
            .field("total", &self.total)
            .field("start", &self.start)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// Why a blob operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// No blob has this key.
    #[error("blob not found")]
    NotFound,
    /// The key is empty, too long or has characters or segments that are not allowed.
    #[error("invalid blob key: {0}")]
    InvalidKey(String),
    /// The data is longer than the limit given to `put`; nothing was stored.
    #[error("blob exceeds the size limit of {limit} bytes")]
    TooLarge {
        /// The limit that was exceeded.
        limit: u64,
    },
    /// The range starts at or after the end of the blob.
    #[error("range not satisfiable")]
    RangeNotSatisfiable {
        /// Size of the whole blob.
        total: u64,
    },
    /// The input stream failed (for example, the client went away); nothing was stored.
    #[error("reading the upload failed: {0}")]
    Source(io::Error),
    /// The storage itself failed.
    #[error("storage error: {0}")]
    Io(#[from] io::Error),
}

/// Where artifact files live.
#[async_trait::async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Stores `data` under `key`, replacing any blob there. Fails with
    /// [`BlobError::TooLarge`] once more than `limit` bytes arrive; on any failure nothing is
    /// left behind (no partial blob, the old blob untouched).
    async fn put(&self, key: &str, data: ByteStream<'_>, limit: u64) -> Result<PutInfo, BlobError>;

    /// Opens a blob for reading, optionally only a range of it.
    async fn get(&self, key: &str, range: Option<ByteRange>) -> Result<BlobRead, BlobError>;

    /// Size and modification time of a blob.
    async fn stat(&self, key: &str) -> Result<BlobStat, BlobError>;

    /// Deletes a blob; `Ok(false)` when there was none.
    async fn delete(&self, key: &str) -> Result<bool, BlobError>;

    /// Keys starting with `prefix`, sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError>;

    /// A URL a client can GET the blob from directly for `expires`, when the backend can
    /// presign (S3, Azure). `None` means the caller must serve the bytes itself.
    fn presign_get(&self, _key: &str, _expires: Duration) -> Option<String> {
        None
    }
}
