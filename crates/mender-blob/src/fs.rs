//! [`FsBlobStore`]: blobs as files under one directory. Uploads go to a temporary file in
//! `<root>/.tmp` and are renamed into place only when complete, so a failed or oversized
//! upload never leaves a partial blob and never replaces an existing one.

use std::io::{self, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::{
    BlobError, BlobRead, BlobStat, BlobStore, ByteRange, ByteStream, PutInfo, reader_stream,
    validate_key,
};

/// Size of the chunks a read yields.
const READ_CHUNK: usize = 64 * 1024;
const TMP_DIR: &str = ".tmp";

/// Blob storage on the local file system.
#[derive(Debug, Clone)]
pub struct FsBlobStore {
    root: PathBuf,
}

impl FsBlobStore {
    /// A store rooted at `root`, creating the directory. Leftover temporary files of an
    /// earlier run (a crash mid-upload) are removed.
    pub async fn new(root: impl Into<PathBuf>) -> Result<Self, BlobError> {
        let root = root.into();
        let tmp = root.join(TMP_DIR);
        if tokio::fs::try_exists(&tmp).await? {
            tokio::fs::remove_dir_all(&tmp).await?;
        }
        tokio::fs::create_dir_all(&tmp).await?;
        Ok(Self { root })
    }

    /// The directory blobs live in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> Result<PathBuf, BlobError> {
        validate_key(key)?;
        Ok(self.root.join(key))
    }

    fn tmp_path(&self) -> PathBuf {
        static N: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let n = N.fetch_add(1, Ordering::Relaxed);
        self.root
            .join(TMP_DIR)
            .join(format!("{}-{nanos}-{n}", std::process::id()))
    }

    async fn write_tmp(
        &self,
        tmp: &Path,
        mut data: ByteStream<'_>,
        limit: u64,
    ) -> Result<PutInfo, BlobError> {
        let mut file = tokio::fs::File::create(tmp).await?;
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        while let Some(chunk) = data.next().await {
            let chunk = chunk.map_err(BlobError::Source)?;
            size += chunk.len() as u64;
            if size > limit {
                return Err(BlobError::TooLarge { limit });
            }
            hasher.update(&chunk);
            file.write_all(&chunk).await?;
        }
        file.sync_all().await?;
        Ok(PutInfo {
            size,
            sha256: hex(&hasher.finalize()),
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn not_found(e: io::Error) -> BlobError {
    if e.kind() == io::ErrorKind::NotFound {
        BlobError::NotFound
    } else {
        BlobError::Io(e)
    }
}

#[async_trait::async_trait]
impl BlobStore for FsBlobStore {
    async fn put(&self, key: &str, data: ByteStream<'_>, limit: u64) -> Result<PutInfo, BlobError> {
        let dest = self.path(key)?;
        let tmp = self.tmp_path();
        let res = self.write_tmp(&tmp, data, limit).await;
        let res = match res {
            Ok(info) => {
                async {
                    if let Some(parent) = dest.parent() {
                        tokio::fs::create_dir_all(parent).await?;
                    }
                    tokio::fs::rename(&tmp, &dest).await?;
                    Ok::<_, BlobError>(info)
                }
                .await
            }
            Err(e) => Err(e),
        };
        if res.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        res
    }

    async fn get(&self, key: &str, range: Option<ByteRange>) -> Result<BlobRead, BlobError> {
        let path = self.path(key)?;
        let mut file = tokio::fs::File::open(&path).await.map_err(not_found)?;
        let total = file.metadata().await?.len();
        let (start, len) = match range {
            None => (0, total),
            Some(r) => {
                if r.start >= total || r.end.is_some_and(|e| e < r.start) {
                    return Err(BlobError::RangeNotSatisfiable { total });
                }
                let end = r.end.map_or(total - 1, |e| e.min(total - 1));
                (r.start, end - r.start + 1)
            }
        };
        file.seek(SeekFrom::Start(start)).await?;
        Ok(BlobRead {
            total,
            start,
            len,
            stream: reader_stream(file.take(len), READ_CHUNK),
        })
    }

    async fn stat(&self, key: &str) -> Result<BlobStat, BlobError> {
        let meta = tokio::fs::metadata(self.path(key)?)
            .await
            .map_err(not_found)?;
        if !meta.is_file() {
            return Err(BlobError::NotFound);
        }
        Ok(BlobStat {
            size: meta.len(),
            modified: meta.modified()?,
        })
    }

    async fn delete(&self, key: &str) -> Result<bool, BlobError> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError> {
        let mut out = Vec::new();
        let mut dirs = vec![(self.root.clone(), String::new())];
        while let Some((dir, rel)) = dirs.pop() {
            let mut rd = match tokio::fs::read_dir(&dir).await {
                Ok(rd) => rd,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            };
            while let Some(entry) = rd.next_entry().await? {
                let Ok(name) = entry.file_name().into_string() else {
                    continue;
                };
                if name.starts_with('.') {
                    continue;
                }
                let key = if rel.is_empty() {
                    name
                } else {
                    format!("{rel}/{name}")
                };
                if entry.file_type().await?.is_dir() {
                    dirs.push((entry.path(), key));
                } else if key.starts_with(prefix) {
                    out.push(key);
                }
            }
        }
        out.sort();
        Ok(out)
    }
}
