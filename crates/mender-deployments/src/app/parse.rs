//! Streaming an upload into blob storage while the artifact parser reads the same bytes on a
//! blocking thread: the artifact is never held in memory, and a parse failure deletes the blob.

use std::io::{self, Read};
use std::sync::Arc;

use bytes::{Buf, Bytes};
use futures::StreamExt;
use mender_artifact::{ArtifactMeta, ParseLimits};
use mender_blob::{BlobError, BlobStore, ByteStream};
use tokio::sync::mpsc;

use super::{check, length_within};
use crate::error::{Error, Result};

const PARSER_STOPPED: &str = "artifact parser stopped";

/// Feeds the parser thread from the upload.
struct ChannelReader {
    rx: mpsc::Receiver<Bytes>,
    cur: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(b) => self.cur = b,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        self.cur.advance(n);
        Ok(n)
    }
}

impl ChannelReader {
    /// Swallows what is left (tar padding after the last member) so the upload completes.
    fn drain(&mut self) {
        while self.rx.blocking_recv().is_some() {}
    }
}

/// Stores `data` under `key` (at most `limit` bytes) and parses it as an artifact, within
/// `budget`, at the same time; the metadata's size is the stored file's. On any failure nothing is left in the
/// store.
pub(crate) async fn store_and_parse(
    blobs: &Arc<dyn BlobStore>,
    key: &str,
    data: ByteStream<'_>,
    limit: u64,
    budget: ParseLimits,
) -> Result<ArtifactMeta> {
    let (tx, rx) = mpsc::channel::<Bytes>(8);
    let parser = tokio::task::spawn_blocking(move || {
        let mut reader = ChannelReader {
            rx,
            cur: Bytes::new(),
        };
        let res = mender_artifact::parse_with_limits(&mut reader, budget);
        if res.is_ok() {
            reader.drain();
        }
        res
    });
    let tee = data.then(move |chunk| {
        let tx = tx.clone();
        async move {
            let chunk = chunk?;
            if tx.send(chunk.clone()).await.is_err() {
                return Err(io::Error::other(PARSER_STOPPED));
            }
            Ok(chunk)
        }
    });
    let put = blobs.put(key, Box::pin(tee), limit).await;
    let parsed = parser
        .await
        .map_err(|e| Error::Upstream(format!("artifact parser panicked: {e}")))?;
    let fail = |e: Error| async {
        if let Err(de) = blobs.delete(key).await {
            tracing::warn!(error = %de, "cannot delete rejected artifact blob");
        }
        Err(e)
    };
    let info = match put {
        Ok(info) => info,
        Err(BlobError::TooLarge { limit }) => {
            return Err(Error::TooLarge(format!(
                "artifact file too large: the limit is {limit} bytes"
            )));
        }
        Err(BlobError::Source(e)) if e.to_string() == PARSER_STOPPED => {
            let msg = parsed
                .err()
                .map_or_else(|| "invalid artifact".to_owned(), |e| e.to_string());
            return Err(Error::BadRequest(format!(
                "cannot parse artifact file: {msg}"
            )));
        }
        Err(BlobError::Source(e)) => {
            return Err(Error::BadRequest(format!("failed to read the upload: {e}")));
        }
        Err(e) => return Err(e.into()),
    };
    let mut meta = match parsed {
        Ok(m) => m,
        Err(e) => {
            return fail(Error::BadRequest(format!(
                "cannot parse artifact file: {e}"
            )))
            .await;
        }
    };
    // The parser stops at the end of the last member; the file is what was stored.
    meta.size = info.size;
    if let Err(e) = validate(&meta) {
        return fail(e).await;
    }
    Ok(meta)
}

fn validate(m: &ArtifactMeta) -> Result<()> {
    check(&[
        (
            length_within(&m.name, 4096),
            "artifact name must be 1 to 4096 characters",
        ),
        (
            !m.device_types_compatible.is_empty(),
            "artifact must name at least one compatible device type",
        ),
        (
            (1..=3).contains(&m.info.version),
            &format!("unsupported artifact version {}", m.info.version),
        ),
    ])
}
