//! The attribute-list body of the device, tags and internal attribute routes, read as
//! upstream's `parseAttributes` reads it with Go's JSON decoder: `null` is an empty list,
//! object keys match field names case-insensitively, a value of the wrong JSON type is
//! reported as Go's `json: cannot unmarshal ...` (after the whole body was read), and a
//! `timestamp` that is not an RFC 3339 string stops decoding with Go's time error. The
//! timestamp itself is then dropped (it is read-only) and a missing scope becomes
//! `inventory`. Syntax errors keep the JSON parser's own text.

use std::cell::RefCell;
use std::fmt;

use axum::extract::{FromRequest, Request};
use mender_core::ApiError;
use mender_core::json::{check_json_content_type, read_body};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::gotext;
use crate::model::{AttributeInput, SCOPE_INVENTORY};

/// What Go's decoder noticed besides syntax errors.
#[derive(Default)]
struct Problems {
    /// The first value of a wrong JSON type: Go records it, decodes on, and reports it last.
    saved: Option<String>,
    /// An error that stops decoding at once (a bad `timestamp`).
    fatal: Option<String>,
}

impl Problems {
    fn save(&mut self, msg: String) {
        self.saved.get_or_insert(msg);
    }
}

/// The Go name of a JSON value's type, as `json: cannot unmarshal <kind>` says it.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_error(kind: &str, go_type: &str) -> String {
    format!("json: cannot unmarshal {kind} into Go value of type {go_type}")
}

fn field_error(kind: &str, field: &str) -> String {
    format!(
        "json: cannot unmarshal {kind} into Go struct field DeviceAttribute.{field} of type string"
    )
}

/// Whether a JSON key names `field` (lower-case ASCII) the way Go matches keys: exactly, or
/// equal under Unicode simple case folding (where `ſ` is an `s` and the Kelvin sign a `k`).
fn names_field(key: &str, field: &str) -> bool {
    if key == field {
        return true;
    }
    let mut folded = key.chars().map(|c| match c {
        '\u{17f}' => Some('s'),
        '\u{212a}' => Some('k'),
        c if c.is_ascii() => Some(c.to_ascii_lowercase()),
        _ => None,
    });
    let mut want = field.chars();
    loop {
        match (folded.next(), want.next()) {
            (None, None) => return true,
            (Some(Some(a)), Some(b)) if a == b => {}
            _ => return false,
        }
    }
}

/// Stores a field's JSON value the way Go decodes it into `DeviceAttribute`.
fn set_field(a: &mut AttributeInput, key: &str, v: Value, p: &mut Problems) {
    let text = |v: Value, field: &str, p: &mut Problems| -> Option<Option<String>> {
        match v {
            Value::String(s) => Some(Some(s)),
            Value::Null => Some(None),
            other => {
                p.save(field_error(kind(&other), field));
                None
            }
        }
    };
    if names_field(key, "name") {
        // null leaves a string field as it was.
        if let Some(Some(s)) = text(v, "name", p) {
            a.name = Some(s);
        }
    } else if names_field(key, "scope") {
        if let Some(Some(s)) = text(v, "scope", p) {
            a.scope = Some(s);
        }
    } else if names_field(key, "description") {
        if let Some(d) = text(v, "description", p) {
            a.description = d;
        }
    } else if names_field(key, "value") {
        a.value = Some(v);
    } else if names_field(key, "timestamp") {
        match v {
            Value::Null => {}
            Value::String(s) => {
                if let Err(e) = gotext::parse_json_time(&s) {
                    p.fatal.get_or_insert(e);
                }
            }
            _ => {
                p.fatal
                    .get_or_insert_with(|| "Time.UnmarshalJSON: input is not a JSON string".into());
            }
        }
    }
}

/// A stand-in error that unwinds the parser once [`Problems::fatal`] is set.
fn stop<E: de::Error>() -> E {
    E::custom("decoding stopped")
}

/// Records a value of the wrong JSON type for `go_type` (Go decodes on and reports the first
/// one at the end); the target stays empty.
fn mismatch<T: Default>(p: &RefCell<Problems>, kind: &str, go_type: &str) -> T {
    p.borrow_mut().save(type_error(kind, go_type));
    T::default()
}

/// One element of the list.
struct Element<'a>(&'a RefCell<Problems>);

const ELEMENT: &str = "model.DeviceAttribute";
const LIST: &str = "[]model.DeviceAttribute";

impl<'de> DeserializeSeed<'de> for Element<'_> {
    type Value = AttributeInput;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<AttributeInput, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Element<'_> {
    type Value = AttributeInput;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an attribute")
    }

    fn visit_unit<E: de::Error>(self) -> Result<AttributeInput, E> {
        Ok(AttributeInput::default())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AttributeInput, A::Error> {
        let mut a = AttributeInput::default();
        while let Some(key) = map.next_key::<String>()? {
            let v: Value = map.next_value()?;
            let mut p = self.0.borrow_mut();
            set_field(&mut a, &key, v, &mut p);
            if p.fatal.is_some() {
                return Err(stop());
            }
        }
        Ok(a)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AttributeInput, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(mismatch(self.0, "array", ELEMENT))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<AttributeInput, E> {
        Ok(mismatch(self.0, "bool", ELEMENT))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<AttributeInput, E> {
        Ok(mismatch(self.0, "number", ELEMENT))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<AttributeInput, E> {
        Ok(mismatch(self.0, "number", ELEMENT))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<AttributeInput, E> {
        Ok(mismatch(self.0, "number", ELEMENT))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<AttributeInput, E> {
        Ok(mismatch(self.0, "string", ELEMENT))
    }
}

/// The whole list.
struct List<'a>(&'a RefCell<Problems>);

impl<'de> Visitor<'de> for List<'_> {
    type Value = Vec<AttributeInput>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of attributes")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(a) = seq.next_element_seed(Element(self.0))? {
            out.push(a);
        }
        Ok(out)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(mismatch(self.0, "object", LIST))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(mismatch(self.0, "bool", LIST))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(mismatch(self.0, "number", LIST))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(mismatch(self.0, "number", LIST))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(mismatch(self.0, "number", LIST))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(mismatch(self.0, "string", LIST))
    }
}

/// Decodes an attribute list; the error is the text after `failed to decode request body: `.
pub(crate) fn decode(body: &[u8]) -> Result<Vec<AttributeInput>, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err("EOF".into());
    }
    // Go's decoder checks the syntax of the whole (first) value before it decodes anything;
    // like it, anything after that value is not read.
    serde::Deserialize::deserialize(&mut serde_json::Deserializer::from_slice(body))
        .map(|_: IgnoredAny| ())
        .map_err(|e| e.to_string())?;
    let problems = RefCell::new(Problems::default());
    let res = serde_json::Deserializer::from_slice(body).deserialize_any(List(&problems));
    let p = problems.into_inner();
    if let Some(fatal) = p.fatal {
        return Err(fatal);
    }
    let list = res.map_err(|e| e.to_string())?;
    if let Some(saved) = p.saved {
        return Err(saved);
    }
    Ok(list
        .into_iter()
        .map(|mut a| {
            a.timestamp = None;
            if a.scope.as_deref().is_none_or(str::is_empty) {
                a.scope = Some(SCOPE_INVENTORY.to_owned());
            }
            a
        })
        .collect())
}

/// An attribute-list body, decoded as [`decode`] does. `CHECK_TYPE`: whether a body must be
/// declared as JSON (upstream checks it on the device and management routes, not on the
/// internal ones).
pub(crate) struct AttributeList<const CHECK_TYPE: bool>(pub Vec<AttributeInput>);

impl<S: Send + Sync, const CHECK_TYPE: bool> FromRequest<S> for AttributeList<CHECK_TYPE> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        let (parts, bytes) = read_body(req).await?;
        if CHECK_TYPE && !bytes.is_empty() {
            check_json_content_type(&parts.headers)?;
        }
        decode(&bytes)
            .map(AttributeList)
            .map_err(|e| ApiError::bad_request(format!("failed to decode request body: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(body: &str) -> String {
        decode(body.as_bytes()).unwrap_err()
    }

    #[test]
    fn lists_and_nulls() {
        assert!(decode(b"null").unwrap().is_empty());
        assert!(decode(b" [] trailing").unwrap().is_empty());
        let list = decode(r#"[null, {"NAME":"a","Value":1,"ſcope":"s"}]"#.as_bytes()).unwrap();
        assert_eq!(list[0].scope.as_deref(), Some("inventory"));
        assert_eq!(list[1].name.as_deref(), Some("a"));
        assert_eq!(list[1].value, Some(serde_json::json!(1)));
        assert_eq!(list[1].scope.as_deref(), Some("s"));
        assert_eq!(err(""), "EOF");
    }

    #[test]
    fn type_errors_are_gos() {
        assert_eq!(
            err(r#"{"name":"a"}"#),
            "json: cannot unmarshal object into Go value of type []model.DeviceAttribute"
        );
        assert_eq!(
            err("5"),
            "json: cannot unmarshal number into Go value of type []model.DeviceAttribute"
        );
        assert_eq!(
            err(r#"["a"]"#),
            "json: cannot unmarshal string into Go value of type model.DeviceAttribute"
        );
        assert_eq!(
            err(r#"[{"name":5},{"scope":true}]"#),
            "json: cannot unmarshal number into Go struct field DeviceAttribute.name of type string"
        );
        // A bad timestamp stops at once and wins over an earlier type error.
        assert_eq!(
            err(r#"[{"name":5,"timestamp":"x"}]"#),
            r#"parsing time "x" as "2006-01-02T15:04:05Z07:00": cannot parse "x" as "2006""#
        );
        assert_eq!(
            err(r#"[{"timestamp":5}]"#),
            "Time.UnmarshalJSON: input is not a JSON string"
        );
        // Syntax errors come first, and keep the parser's text.
        assert!(err(r#"[{"timestamp":5}"#).contains("EOF"));
        // A valid timestamp is read and dropped.
        let list =
            decode(br#"[{"name":"a","value":"b","timestamp":"2024-01-01T00:00:00Z"}]"#).unwrap();
        assert_eq!(list[0].timestamp, None);
    }
}
