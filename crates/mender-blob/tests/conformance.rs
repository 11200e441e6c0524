//! Conformance suite every `BlobStore` must pass, run here against `FsBlobStore`.

// Tests may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use mender_blob::{BlobError, BlobStore, ByteRange, ByteStream, FsBlobStore};

fn chunks(parts: &[&'static [u8]]) -> ByteStream<'static> {
    let v: Vec<io::Result<Bytes>> = parts.iter().map(|p| Ok(Bytes::from_static(p))).collect();
    Box::pin(futures::stream::iter(v))
}

async fn read_all(store: &dyn BlobStore, key: &str, range: Option<ByteRange>) -> Vec<u8> {
    let mut r = store.get(key, range).await.unwrap();
    let mut out = Vec::new();
    while let Some(c) = r.stream.next().await {
        out.extend_from_slice(&c.unwrap());
    }
    assert_eq!(out.len() as u64, r.len);
    out
}

async fn conformance(store: Arc<dyn BlobStore>) {
    // put + stat + get, with the sha256 of "hello world"
    let info = store
        .put("a/one", chunks(&[b"hello ", b"world"]), 100)
        .await
        .unwrap();
    assert_eq!(info.size, 11);
    assert_eq!(
        info.sha256,
        "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
    );
    assert_eq!(store.stat("a/one").await.unwrap().size, 11);
    assert_eq!(read_all(&*store, "a/one", None).await, b"hello world");

    // ranges
    for (start, end, want) in [
        (6, None, b"world"),
        (0, Some(4), b"hello"),
        (6, Some(1000), b"world"),
    ] {
        assert_eq!(
            read_all(&*store, "a/one", Some(ByteRange { start, end })).await,
            want,
            "{start}-{end:?}"
        );
    }
    let r = store
        .get(
            "a/one",
            Some(ByteRange {
                start: 11,
                end: None,
            }),
        )
        .await;
    assert!(matches!(
        r,
        Err(BlobError::RangeNotSatisfiable { total: 11 })
    ));

    // over the limit: error and the old blob is untouched, no new blob
    let r = store
        .put("a/one", chunks(&[b"0123456789", b"0123456789"]), 15)
        .await;
    assert!(matches!(r, Err(BlobError::TooLarge { limit: 15 })));
    assert_eq!(read_all(&*store, "a/one", None).await, b"hello world");
    let r = store
        .put("a/two", chunks(&[b"0123456789", b"0123456789"]), 15)
        .await;
    assert!(matches!(r, Err(BlobError::TooLarge { .. })));
    assert!(matches!(
        store.stat("a/two").await,
        Err(BlobError::NotFound)
    ));

    // a failing source stores nothing
    let failing: ByteStream<'static> = Box::pin(futures::stream::iter(vec![
        Ok(Bytes::from_static(b"partial")),
        Err(io::Error::other("client went away")),
    ]));
    assert!(matches!(
        store.put("b", failing, 100).await,
        Err(BlobError::Source(_))
    ));
    assert!(matches!(store.stat("b").await, Err(BlobError::NotFound)));

    // empty blob
    let info = store.put("empty", chunks(&[]), 10).await.unwrap();
    assert_eq!(info.size, 0);
    assert!(read_all(&*store, "empty", None).await.is_empty());

    // list and delete
    store.put("a/three", chunks(&[b"x"]), 10).await.unwrap();
    assert_eq!(store.list("a/").await.unwrap(), vec!["a/one", "a/three"]);
    assert_eq!(
        store.list("").await.unwrap(),
        vec!["a/one", "a/three", "empty"]
    );
    assert!(store.delete("a/one").await.unwrap());
    assert!(!store.delete("a/one").await.unwrap());
    assert!(matches!(
        store.get("a/one", None).await,
        Err(BlobError::NotFound)
    ));

    // hostile keys
    for k in ["../escape", "/etc/passwd", "a/../../x", ".tmp/x", ""] {
        assert!(
            matches!(
                store.put(k, chunks(&[b"x"]), 10).await,
                Err(BlobError::InvalidKey(_))
            ),
            "{k}"
        );
        assert!(
            matches!(store.get(k, None).await, Err(BlobError::InvalidKey(_))),
            "{k}"
        );
        assert!(
            matches!(store.delete(k).await, Err(BlobError::InvalidKey(_))),
            "{k}"
        );
    }
    assert!(
        store
            .presign_get("a/three", std::time::Duration::from_secs(60))
            .is_none()
    );
}

#[tokio::test]
async fn fs_store_conformance() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsBlobStore::new(dir.path().join("blobs")).await.unwrap();
    conformance(Arc::new(store)).await;
    // no temporary files left behind by the failed uploads
    let tmp: Vec<_> = std::fs::read_dir(dir.path().join("blobs/.tmp"))
        .unwrap()
        .collect();
    assert!(tmp.is_empty());
    assert!(!dir.path().join("escape").exists());
}

#[tokio::test]
async fn fs_store_cleans_leftover_tmp_on_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".tmp")).unwrap();
    std::fs::write(dir.path().join(".tmp/stale"), b"half").unwrap();
    let store = FsBlobStore::new(dir.path()).await.unwrap();
    assert!(!dir.path().join(".tmp/stale").exists());
    assert!(store.list("").await.unwrap().is_empty());
}
