//! Fuzz target: the artifact parser (`mender_artifact::parse_artifact`), which deployments runs
//! on every upload while the bytes stream into the blob store.
//!
//! Invariants beyond "no panic": acceptance and the parsed result do not depend on how the input is split into
//! reads (the upload arrives in arbitrary chunks); a parsed artifact's `size` is the input's
//! length; the signed material respects its caps; the metadata survives the JSON round trip
//! deployments stores it through.
#![no_main]

use std::io::{self, Read};

use libfuzzer_sys::fuzz_target;
use mender_artifact::{ArtifactMeta, MAX_MANIFEST, MAX_SIGNATURE, parse_artifact};

/// Hands out the input in small reads of varying length, as a network upload does.
struct Chunked<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.step = (self.step * 7 + 3) % 4099;
        let n = buf.len().min(self.data.len()).min(self.step + 1);
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fuzz_target!(|data: &[u8]| {
    let whole = parse_artifact(data);
    let chunked = parse_artifact(Chunked {
        data,
        step: data.len(),
    });
    match (&whole, &chunked) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "result depends on read sizes"),
        // Which member a corrupt compressed stream is blamed on depends on how far the
        // decoder had read ahead, so only the refusal itself must not depend on read sizes.
        (Err(_), Err(_)) => {}
        _ => panic!("result depends on read sizes: {whole:?} vs {chunked:?}"),
    }
    let Ok(parsed) = whole else { return };
    assert_eq!(
        parsed.meta.size,
        data.len() as u64,
        "size is not the input's length"
    );
    assert!(parsed.manifest.len() as u64 <= MAX_MANIFEST);
    assert!(
        parsed
            .signature
            .as_ref()
            .is_none_or(|s| s.len() as u64 <= MAX_SIGNATURE)
    );
    assert_eq!(parsed.meta.signed, parsed.signature.is_some());
    assert!(
        !parsed.meta.device_types_compatible.is_empty(),
        "no device type"
    );
    let json = serde_json::to_vec(&parsed.meta).expect("metadata serialises");
    let back: ArtifactMeta = serde_json::from_slice(&json).expect("metadata deserialises");
    assert_eq!(back, parsed.meta, "metadata changes in the JSON round trip");
});
