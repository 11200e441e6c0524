//! Blob key rules: keys map to file paths, so only plain relative names are allowed.

use crate::BlobError;

/// Longest accepted key.
pub const MAX_KEY_LEN: usize = 512;

/// Checks that `key` is `/`-separated segments of `[A-Za-z0-9._-]`, none empty, none starting
/// with a dot (which also rules out `.` and `..` and keeps the store's own `.tmp` apart).
pub fn validate_key(key: &str) -> Result<(), BlobError> {
    let bad = |why: &str| Err(BlobError::InvalidKey(why.to_owned()));
    if key.is_empty() {
        return bad("empty key");
    }
    if key.len() > MAX_KEY_LEN {
        return bad("key too long");
    }
    for seg in key.split('/') {
        if seg.is_empty() {
            return bad("empty path segment");
        }
        if seg.starts_with('.') {
            return bad("path segment starts with a dot");
        }
        if !seg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return bad("characters outside [A-Za-z0-9._-]");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_and_rejects_traversal() {
        assert!(validate_key("artifacts/0c13a0e6-6b63.mender").is_ok());
        for k in [
            "", "/abs", "a//b", "../x", "a/../b", ".tmp/x", "a/.", "sp ace", "ü", "a\\b", "a/",
        ] {
            assert!(validate_key(k).is_err(), "{k:?} must be rejected");
        }
        assert!(validate_key(&"a".repeat(MAX_KEY_LEN + 1)).is_err());
    }
}
