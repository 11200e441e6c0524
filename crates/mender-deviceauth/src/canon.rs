//! Identity data canonicalisation, byte-compatible with upstream: Go's
//! `json.Marshal(map[string]interface{})` after `json.Unmarshal` (sorted keys, no spaces,
//! numbers re-printed from float64, `<>&` and U+2028/U+2029 escaped), and its SHA-256.
//!
//! The hash is the device's unique key, so it must match what upstream computes for
//! databases migrated from upstream and for pre-authorised identities.

use serde_json::{Map, Value};
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
    let mut text = String::new();
    write_object(&mut text, map);
    let sha256 = hex(&Sha256::digest(text.as_bytes()));
    Ok(Canonical { text, sha256 })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&go_float(n.as_f64().unwrap_or(0.0))),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => write_object(out, map),
    }
}

fn write_object(out: &mut String, map: &Map<String, Value>) {
    // Go sorts map keys bytewise; sort explicitly so a map that preserves insertion
    // order (serde_json's `preserve_order`) gives the same text.
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    out.push('{');
    for (i, k) in keys.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(out, k);
        out.push(':');
        write_value(out, &map[k]);
    }
    out.push('}');
}

/// Writes a string the way Go's encoder does with HTML escaping on.
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Formats a float64 like Go's `encoding/json`: shortest round-trip digits, plain
/// notation unless the magnitude is below 1e-6 or at least 1e21, exponents without
/// leading zeros (`1e-07` becomes `1e-7`).
fn go_float(f: f64) -> String {
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let abs = f.abs();
    if (1e-6..1e21).contains(&abs) {
        // Rust's Display prints the shortest round-trip digits in plain notation.
        return format!("{f}");
    }
    // `{:e}` gives the shortest digits as `d.ddde±x`; Go writes `e+x` / `e-x`.
    let s = format!("{f:e}");
    match s.split_once('e') {
        Some((mantissa, exp)) => {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            format!("{mantissa}e{sign}{digits}")
        }
        None => s,
    }
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
