//! Fuzz target: the multipart reader of deployments' artifact upload and generate handlers
//! (`http::fuzzing::read_form`, which drives the handlers' own `multipart` functions).
//!
//! Input: the `Content-Type` header value, a newline, then the body.
//!
//! Invariants: the parts read do not depend on how the body is split into chunks (it
//! arrives from the network in any split); text fields stay within their limit; every
//! refusal is a 4xx, never a 5xx.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use mender_deployments::http::fuzzing::{MAX_TEXT, read_form};

/// The body cut into chunks of varying small sizes.
fn chunks(body: &[u8]) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut rest = body;
    let mut step = body.len();
    while !rest.is_empty() {
        step = (step * 7 + 3) % 97;
        let n = rest.len().min(step + 1);
        out.push(Bytes::copy_from_slice(&rest[..n]));
        rest = &rest[n..];
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let (ct, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let ct = String::from_utf8_lossy(ct);
    let whole = read_form(&ct, vec![Bytes::copy_from_slice(body)]);
    let split = read_form(&ct, chunks(body));
    match (&whole, &split) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "parts depend on how the body is chunked"),
        (Err(a), Err(b)) => {
            assert!(a.status.is_client_error(), "refused with {}", a.status);
            assert!(b.status.is_client_error(), "refused with {}", b.status);
        }
        _ => panic!("result depends on chunking: {whole:?} vs {split:?}"),
    }
    if let Ok(parts) = whole {
        for p in parts {
            if p.name != "artifact" && p.name != "file" {
                assert!(p.data.len() <= MAX_TEXT, "text part over the limit");
            }
        }
    }
});
