//! Fuzz target: device public-key parsing in deviceauth (`crypto::DeviceKey::from_pem`: PEM,
//! then the SPKI DER as Go's x509 reads it) and `X-MEN-Signature` verification, both reached
//! by unauthenticated auth requests.
//!
//! Input: the PEM text, then optionally a NUL byte, the base64 signature, a NUL byte and
//! the signed body.
//!
//! Invariants: the normalised PEM that deviceauth stores parses back to a key of the same
//! type and size with the same normalised PEM (so the stored key is stable), `KeyInfo::of_pem`
//! agrees, and the stored key verifies exactly what the parsed one does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mender_deviceauth::crypto::{DeviceKey, KeyInfo};

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |b| *b == 0);
    let Ok(pem) = std::str::from_utf8(parts.next().unwrap_or_default()) else {
        return;
    };
    let sig = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let body = parts.next().unwrap_or_default();

    let Ok(key) = DeviceKey::from_pem(pem) else {
        return;
    };
    let normalized = key.normalized_pem();
    let stored = DeviceKey::from_pem(&normalized).expect("the normalised key parses");
    assert_eq!(
        stored.info(),
        key.info(),
        "normalising changes the key's type or size"
    );
    assert_eq!(
        stored.normalized_pem(),
        normalized,
        "normalising is not idempotent"
    );
    assert_eq!(KeyInfo::of_pem(&normalized), Some(key.info()));
    assert_eq!(KeyInfo::of_pem(pem), Some(key.info()));
    assert_eq!(
        key.verify(&sig, body),
        stored.verify(&sig, body),
        "the stored key verifies differently"
    );
});
