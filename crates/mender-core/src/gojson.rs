//! JSON text exactly as Go's `encoding/json` (Go 1.22 and later) writes it for a value decoded
//! into `interface{}`: object keys sorted bytewise, no spaces, numbers re-printed from
//! float64, and HTML-safe strings (`<`, `>`, `&`, U+2028 and U+2029 escaped). Upstream hashes
//! and signs such text (a device's identity data), so ours must match it byte for byte.
//!
//! And JSON read as Go reads it, with Go's error texts, for handlers that put those texts in
//! their answers: [`check_syntax`] (`json.Unmarshal`'s syntax errors), [`first_value`]
//! (`json.Decoder`'s reading), and [`unmarshal`] / [`decode`] into a described [`GoType`].

mod decode;
mod scan;

use std::fmt::Write;

pub use decode::{
    DecodeError, GoField, GoStruct, GoType, MAP_OF_ANY, MAX_DEPTH, SLICE_OF_MAPS, decode, unmarshal,
};
pub use scan::{GO_MAX_DEPTH, ReadError, SyntaxError, quote_char};

/// The syntax error Go's `json.Unmarshal` reports for `input` (the whole input must be one
/// JSON value), or `Ok` when it has none. Go's nesting limit applies.
pub fn check_syntax(input: &[u8]) -> Result<(), SyntaxError> {
    scan::check(input, GO_MAX_DEPTH)
}

/// How many bytes of `input` Go's `json.Decoder` takes as its first value (the rest is left
/// unread), or its error: `EOF`, `unexpected EOF`, or a syntax error.
pub fn first_value(input: &[u8]) -> Result<usize, ReadError> {
    scan::first_value(input, GO_MAX_DEPTH)
}

use serde_json::{Map, Value};

/// `json.Marshal` of `v` as Go would print it.
pub fn to_string(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v);
    out
}

/// Appends `v` to `out` as Go would print it.
pub fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        // Go decodes every number into a float64; one that fits no float64 was refused
        // when it was parsed (serde_json refuses it too).
        Value::Number(n) => write_float(out, n.as_f64().unwrap_or(0.0)),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => write_list(out, ['[', ']'], items, write_value),
        Value::Object(map) => write_object(out, map),
    }
}

fn write_object(out: &mut String, map: &Map<String, Value>) {
    // Go sorts map keys bytewise; sorting here keeps the text the same whatever order the
    // map iterates in.
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    write_list(out, ['{', '}'], keys, |out, k| {
        write_string(out, k);
        out.push(':');
        write_value(out, &map[k]);
    });
}

/// Appends `items` between the `brackets`, separated by commas, each written by `write`.
fn write_list<T>(
    out: &mut String,
    brackets: [char; 2],
    items: impl IntoIterator<Item = T>,
    mut write: impl FnMut(&mut String, T),
) {
    out.push(brackets[0]);
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write(out, item);
    }
    out.push(brackets[1]);
}

/// Appends `s` as a Go JSON string with HTML escaping on.
pub fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Short escapes since Go 1.22; earlier versions wrote \u0008 and \u000c.
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends a float64 like Go's encoder: the shortest digits that round-trip, plain notation
/// unless the magnitude is below 1e-6 or at least 1e21, exponents without leading zeros.
fn write_float(out: &mut String, f: f64) {
    let abs = f.abs();
    if abs == 0.0 || (1e-6..1e21).contains(&abs) {
        // Rust's Display prints the shortest round-trip digits in plain notation, and
        // keeps the sign of -0 as Go does.
        let _ = write!(out, "{f}");
        return;
    }
    // `{:e}` gives `d.ddde-x` / `d.ddddex`; Go writes `e-x` / `e+x`.
    let s = format!("{f:e}");
    match s.split_once('e') {
        Some((mantissa, exp)) => match exp.strip_prefix('-') {
            Some(digits) => {
                let _ = write!(out, "{mantissa}e-{digits}");
            }
            None => {
                let _ = write!(out, "{mantissa}e+{exp}");
            }
        },
        None => out.push_str(&s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Input JSON, and what Go 1.22's `json.Marshal` prints after `json.Unmarshal` of it
    /// into `interface{}`.
    const GO_VECTORS: &[(&str, &str)] = &[
        (r#"{ "mac": "00:01", "a": 1 }"#, r#"{"a":1,"mac":"00:01"}"#),
        (
            r#"{"B":1,"a":2,"_":3,"Ä":4}"#,
            r#"{"B":1,"_":3,"a":2,"Ä":4}"#,
        ),
        (
            r#"{"a":{"z":[true,null,"x"],"b":{}}}"#,
            r#"{"a":{"b":{},"z":[true,null,"x"]}}"#,
        ),
        (r#"[1.0, 1.5, -2.50, 100]"#, "[1,1.5,-2.5,100]"),
        (
            r#"[1e21, 1e20, 123456789012345678901]"#,
            "[1e+21,100000000000000000000,123456789012345680000]",
        ),
        (
            r#"[0.000001, 0.0000001, 1.5e-7, -1e-10]"#,
            "[0.000001,1e-7,1.5e-7,-1e-10]",
        ),
        (
            r#"[1.7976931348623157e308, 5e-324]"#,
            "[1.7976931348623157e+308,5e-324]",
        ),
        (r#"[0, -0, 0.0]"#, "[0,-0,0]"),
        (
            r#"[0.1, 0.2, 0.30000000000000004, 3.14159]"#,
            "[0.1,0.2,0.30000000000000004,3.14159]",
        ),
        (
            r#""<a href=\"x\">&amp;</a>""#,
            r#""\u003ca href=\"x\"\u003e\u0026amp;\u003c/a\u003e""#,
        ),
        (
            r#""\u2028\u2029 \u0000\u0001\u001f \u007f""#,
            "\"\\u2028\\u2029 \\u0000\\u0001\\u001f \u{7f}\"",
        ),
        (r#""\b\f\n\r\t\/\\""#, r#""\b\f\n\r\t/\\""#),
        (r#""é ü 日本 😀""#, r#""é ü 日本 😀""#),
        (r#""\ud83d\ude00""#, r#""😀""#),
        (r#"{"a":1,"a":2}"#, r#"{"a":2}"#),
    ];

    #[test]
    fn matches_go_output() {
        for (input, want) in GO_VECTORS {
            let v: Value = serde_json::from_str(input).unwrap();
            assert_eq!(to_string(&v), *want, "input {input}");
        }
    }
}
