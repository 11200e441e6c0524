//! Domain types: a configuration (string keys to string values), a device's configuration
//! record as the management API shows it, a deploy request, and upstream's validation rules
//! with its messages.

use std::collections::BTreeMap;

use mender_core::{DeploymentId, DeviceId, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Most keys in one configuration (upstream `AttributesMaxLength`).
pub const MAX_ATTRIBUTES: usize = 100;
/// Longest key or value, in bytes (upstream's `validation.Length(0, 4096)`).
pub const MAX_LENGTH: usize = 4096;
/// Longest device id: what deployments accepts for a configuration deployment's device.
pub const MAX_DEVICE_ID: usize = 1024;

/// A configuration. Sorted by key, as Go's `encoding/json` writes a map.
pub type Configuration = BTreeMap<String, String>;

/// Which of a device's two configurations: the one users want, or the one it reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The desired configuration (`configured`, stamped `updated_ts`).
    Configured,
    /// The configuration the device applied (`reported`, stamped `reported_ts`).
    Reported,
}

/// A device's configuration record (upstream `model.Device`), in upstream's JSON shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device {
    /// The device id (deviceauth's).
    pub id: DeviceId,
    /// The desired configuration.
    pub configured: Configuration,
    /// The configuration the device last reported.
    pub reported: Configuration,
    /// The latest configuration deployment, once one was made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<DeploymentId>,
    /// When the desired configuration last changed (or the device was provisioned); `null`
    /// for a record a device's report created.
    pub updated_ts: Option<Timestamp>,
    /// When the device last reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reported_ts: Option<Timestamp>,
}

/// The body of a deploy request (upstream `DeployConfigurationRequest`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct DeployRequest {
    /// How often the device may retry a failed deployment (a paid-plan feature upstream).
    #[serde(default)]
    pub retries: Option<u64>,
    /// Enterprise-only: refused when not empty.
    #[serde(default)]
    pub update_control_map: Option<Map<String, Value>>,
}

/// Checks a configuration from a request body (`null` is the empty configuration, as in
/// upstream) with upstream's rules and messages, plus one of ours: no NUL characters.
pub fn configuration(body: Option<Map<String, Value>>) -> Result<Configuration> {
    let body = body.unwrap_or_default();
    let mut out = Configuration::new();
    for (key, value) in body {
        let mut problems = Vec::new();
        if let Some(p) = text_problem(&key, true) {
            problems.push(format!("key: {p}"));
        }
        match &value {
            Value::String(v) => {
                if let Some(p) = text_problem(v, false) {
                    problems.push(format!("value: {p}"));
                }
            }
            other => problems.push(format!("value: invalid type: {}", go_type(other))),
        }
        if !problems.is_empty() {
            return Err(invalid_body(&format!("{}.", problems.join("; "))));
        }
        if let Value::String(v) = value {
            out.insert(key, v);
        }
    }
    if out.len() > MAX_ATTRIBUTES {
        return Err(invalid_body(&format!(
            "too many configuration attributes, maximum is {MAX_ATTRIBUTES}"
        )));
    }
    Ok(out)
}

/// What is wrong with a key or value, in ozzo-validation's words.
fn text_problem(s: &str, required: bool) -> Option<String> {
    if required && s.is_empty() {
        Some("cannot be blank".to_owned())
    } else if s.len() > MAX_LENGTH {
        Some(format!("the length must be no more than {MAX_LENGTH}"))
    } else if s.contains('\0') {
        // Ours: a NUL would end the string in the C and shell tools that apply it.
        Some("must not contain a NUL character".to_owned())
    } else {
        None
    }
}

/// The Go type `encoding/json` decodes a JSON value into, as upstream names it.
fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Upstream's 400 for a body that parsed but breaks a rule.
pub fn invalid_body(why: &str) -> Error {
    Error::Invalid(format!("invalid request body: {why}"))
}

/// Checks a device id from a path or body: present, no longer than [`MAX_DEVICE_ID`], no NUL.
pub fn check_device_id(id: &DeviceId) -> Result<()> {
    let s = id.as_str();
    if s.is_empty() || s.len() > MAX_DEVICE_ID || s.contains('\0') {
        return Err(Error::Invalid(format!(
            "invalid device ID: must be 1 to {MAX_DEVICE_ID} bytes without NUL characters"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(v: Value) -> std::result::Result<Configuration, String> {
        let m = match v {
            Value::Object(m) => Some(m),
            _ => None,
        };
        configuration(m).map_err(|e| e.to_string())
    }

    #[test]
    fn upstream_rules_and_messages() {
        assert_eq!(check(json!(null)).unwrap(), Configuration::new());
        assert_eq!(
            check(json!({"b": "2", "a": ""})).unwrap(),
            Configuration::from([("a".into(), String::new()), ("b".into(), "2".into())])
        );
        let cases = [
            (
                json!({"": "v"}),
                "invalid request body: key: cannot be blank.",
            ),
            (
                json!({"k": 1}),
                "invalid request body: value: invalid type: float64.",
            ),
            (
                json!({"": true}),
                "invalid request body: key: cannot be blank; value: invalid type: bool.",
            ),
            (
                json!({"k": null}),
                "invalid request body: value: invalid type: <nil>.",
            ),
            (
                json!({"k": []}),
                "invalid request body: value: invalid type: []interface {}.",
            ),
            (
                json!({"k": {}}),
                "invalid request body: value: invalid type: map[string]interface {}.",
            ),
            (
                json!({"k".repeat(4097): "v"}),
                "invalid request body: key: the length must be no more than 4096.",
            ),
            (
                json!({"k": "v".repeat(4097)}),
                "invalid request body: value: the length must be no more than 4096.",
            ),
            (
                json!({"a\u{0}b": "v"}),
                "invalid request body: key: must not contain a NUL character.",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(check(input.clone()).unwrap_err(), want, "{input}");
        }
        // The limits themselves are fine.
        let full: Map<String, Value> = (0..MAX_ATTRIBUTES)
            .map(|i| {
                (
                    format!("{i:04}{}", "k".repeat(4092)),
                    json!("v".repeat(4096)),
                )
            })
            .collect();
        assert_eq!(configuration(Some(full.clone())).unwrap().len(), 100);
        let mut over = full;
        over.insert("one-more".into(), json!(""));
        assert_eq!(
            configuration(Some(over)).unwrap_err().to_string(),
            "invalid request body: too many configuration attributes, maximum is 100"
        );
    }

    #[test]
    fn device_ids() {
        assert!(check_device_id(&DeviceId::from("a")).is_ok());
        assert!(check_device_id(&DeviceId::from("x".repeat(1024))).is_ok());
        for bad in [String::new(), "x".repeat(1025), "a\0".into()] {
            assert!(check_device_id(&DeviceId::from(bad.as_str())).is_err());
        }
    }

    #[test]
    fn renders_like_upstream() {
        let d = Device {
            id: DeviceId::from("d1"),
            configured: Configuration::from([("z".into(), "1".into()), ("a".into(), "2".into())]),
            reported: Configuration::new(),
            deployment_id: None,
            updated_ts: None,
            reported_ts: None,
        };
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            r#"{"id":"d1","configured":{"a":"2","z":"1"},"reported":{},"updated_ts":null}"#
        );
    }
}
