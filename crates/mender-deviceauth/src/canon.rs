//! Identity data canonicalisation, byte-compatible with upstream: Go's
//! `json.Marshal(map[string]interface{})` after `json.Unmarshal` (sorted keys, no spaces,
//! numbers re-printed from float64, `<>&` and U+2028/U+2029 escaped, as
//! [`mender_core::gojson`] writes it), and its SHA-256.
//!
//! The hash is the device's unique key, so it must match what upstream computes for
//! databases migrated from upstream and for pre-authorised identities.

use mender_core::gojson;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Why identity data was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdDataError {
    /// Not JSON, or a number out of float64 range.
    #[error("failed to parse identity data: {0}")]
    Parse(String),
    /// Valid JSON, but not an object.
    #[error("identity data must be a JSON object")]
    NotObject,
    /// An empty object identifies nothing.
    #[error("identity data must not be empty")]
    Empty,
}

/// Canonical identity data and its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canonical {
    /// The canonical JSON text.
    pub text: String,
    /// Lower-case hex SHA-256 of `text`.
    pub sha256: String,
}

/// Canonicalises identity data given as a JSON string (the auth request's `id_data`).
pub fn canonicalize_str(id_data: &str) -> Result<Canonical, IdDataError> {
    let value: Value =
        serde_json::from_str(id_data).map_err(|e| IdDataError::Parse(e.to_string()))?;
    canonicalize_value(&value)
}

/// Canonicalises identity data given as a JSON value (the preauthorization's `identity_data`).
pub fn canonicalize_value(value: &Value) -> Result<Canonical, IdDataError> {
    let Value::Object(map) = value else {
        return Err(IdDataError::NotObject);
    };
    if map.is_empty() {
        return Err(IdDataError::Empty);
    }
    let text = gojson::to_string(value);
    let sha256 = hex(&Sha256::digest(text.as_bytes()));
    Ok(Canonical { text, sha256 })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_keys_and_removes_spaces() {
        let c =
            canonicalize_str(r#"{ "mac": "00:01", "a": {"z": 1, "b": [true, null]} }"#).unwrap();
        assert_eq!(c.text, r#"{"a":{"b":[true,null],"z":1},"mac":"00:01"}"#);
        assert_eq!(c.sha256.len(), 64);
        assert_eq!(
            c.sha256,
            "b39204d6be2c68a9da17fc95b6285a1c7ed8ebe987419427ee4ca55a3418a5c9"
        );
        let again = canonicalize_str(r#"{"mac":"00:01","a":{"b":[true,null],"z":1}}"#).unwrap();
        assert_eq!(c, again);
    }

    #[test]
    fn go_number_formatting() {
        let c = canonicalize_str(
            r#"{"a":1.0,"b":1e21,"c":0.0000001,"d":123456789012345678901,"e":-2.5,"f":1e20}"#,
        )
        .unwrap();
        assert_eq!(
            c.text,
            r#"{"a":1,"b":1e+21,"c":1e-7,"d":123456789012345680000,"e":-2.5,"f":100000000000000000000}"#
        );
        assert!(canonicalize_str(r#"{"a":1e400}"#).is_err());
    }

    #[test]
    fn go_string_escaping() {
        let c = canonicalize_str(r#"{"k":"<a>&\u2028\u0001\b\f\n\"\\é"}"#).unwrap();
        assert_eq!(
            c.text,
            r#"{"k":"\u003ca\u003e\u0026\u2028\u0001\b\f\n\"\\é"}"#
        );
    }

    #[test]
    fn refuses_non_objects() {
        assert_eq!(canonicalize_str("[1]"), Err(IdDataError::NotObject));
        assert_eq!(canonicalize_str("{}"), Err(IdDataError::Empty));
        assert!(matches!(canonicalize_str("{"), Err(IdDataError::Parse(_))));
        // Duplicate keys: the last one wins, as in Go.
        assert_eq!(
            canonicalize_str(r#"{"a":1,"a":2}"#).unwrap().text,
            r#"{"a":2}"#
        );
    }
}
