//! Fuzz target: the `id_data` canonicaliser of deviceauth (`canon::canonicalize_str`), which
//! turns an unauthenticated auth request's identity into the device's unique key.
//!
//! Invariants: canonical text is a fixed point (canonicalising it again gives the same text
//! and hash), it parses as the same JSON object as the input, the string and value entry
//! points agree, and the hash is 64 lower-case hex digits of the text's SHA-256.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mender_deviceauth::canon::{canonicalize_str, canonicalize_value};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(c) = canonicalize_str(text) else {
        return;
    };
    assert_eq!(c.sha256.len(), 64);
    assert!(
        c.sha256
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    let again = canonicalize_str(&c.text).expect("canonical text is valid identity data");
    assert_eq!(again, c, "canonicalisation is not idempotent");
    let input: Value = serde_json::from_str(text).expect("accepted input is JSON");
    let output: Value = serde_json::from_str(&c.text).expect("canonical text is JSON");
    assert!(output.is_object());
    assert_eq!(
        canonicalize_value(&input).as_ref(),
        Ok(&c),
        "str and value entry points differ"
    );
    assert_eq!(canonicalize_value(&output).as_ref(), Ok(&c));
});
