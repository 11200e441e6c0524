//! Inventory domain types: scoped attributes, the device record, wire shapes of the
//! upstream API, the validation rules upstream applies to them, and the text form of times.

use std::collections::BTreeMap;

use mender_core::{DeviceId, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Error;

/// Attributes reported by the device.
pub const SCOPE_INVENTORY: &str = "inventory";
/// Identity attributes from the device's auth request (and its auth `status`).
pub const SCOPE_IDENTITY: &str = "identity";
/// Attributes the server maintains (`created_ts`, `updated_ts`, `group`, ...).
pub const SCOPE_SYSTEM: &str = "system";
/// User-defined attributes.
pub const SCOPE_TAGS: &str = "tags";
/// Attributes of the monitoring add-on.
pub const SCOPE_MONITOR: &str = "monitor";
/// Every scope upstream accepts in searches.
pub const SCOPES: [&str; 5] = [
    SCOPE_SYSTEM,
    SCOPE_IDENTITY,
    SCOPE_INVENTORY,
    SCOPE_MONITOR,
    SCOPE_TAGS,
];

/// System attribute: the device's group.
pub const ATTR_GROUP: &str = "group";
/// System attribute: creation time.
pub const ATTR_CREATED: &str = "created_ts";
/// System attribute: last inventory update.
pub const ATTR_UPDATED: &str = "updated_ts";
/// Identity attribute: the device id (searchable, never stored as an attribute).
pub const ATTR_ID: &str = "id";

/// Longest attribute name, scope, device id or group name (upstream: 1024).
pub const MAX_NAME_LEN: usize = 1024;

/// One attribute as sent and returned on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attribute {
    /// Attribute name, unique within its scope.
    pub name: String,
    /// The value: string, number, or an array of one of them.
    pub value: Value,
    /// Namespace of the name; filled in by the server from the route.
    #[serde(default)]
    pub scope: String,
    /// Optional human description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Last change (tags only), RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
}

/// An attribute as the client may send it: everything optional so that missing fields
/// are reported with upstream's validation messages instead of serde's.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AttributeInput {
    /// Name.
    pub name: Option<String>,
    /// Value (required, checked by [`AttributeInput::validate`]).
    pub value: Option<Value>,
    /// Scope (ignored where the route defines it).
    pub scope: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Timestamp (tags), RFC 3339.
    pub timestamp: Option<String>,
}

impl AttributeInput {
    /// Checks the attribute and returns it in `scope` (or its own scope, default inventory).
    /// Every field's problem is reported at once, joined as upstream's validator does
    /// (`name: cannot be blank; value: ....`).
    pub fn validate(self, scope: Option<&str>) -> Result<Attribute, Error> {
        let name = self.name.unwrap_or_default();
        let scope = match scope {
            Some(s) => s.to_owned(),
            None => self
                .scope
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| SCOPE_INVENTORY.to_owned()),
        };
        let value = self.value.unwrap_or(Value::Null);
        // Checked in field-name order, the order upstream lists the problems in.
        let mut errs: Vec<String> = Vec::new();
        if let Some(e) = length_problem(&name) {
            errs.push(format!("name: {e}"));
        }
        if let Some(e) = length_problem(&scope) {
            errs.push(format!("scope: {e}"));
        }
        let timestamp = match self.timestamp {
            None => None,
            Some(ts) => match normalize_time(&ts) {
                Ok(t) => Some(t),
                Err(_) => {
                    errs.push("timestamp: must be a valid date in RFC3339 format".into());
                    None
                }
            },
        };
        if let Some(e) = value_problem(&value) {
            errs.push(format!("value: {e}"));
        }
        if !errs.is_empty() {
            return Err(Error::Invalid(format!("{}.", errs.join("; "))));
        }
        Ok(Attribute {
            name,
            value,
            scope,
            description: self.description,
            timestamp,
        })
    }
}

/// Upstream's rule for names and scopes: 1 to 1024 bytes.
fn length_problem(v: &str) -> Option<String> {
    if v.is_empty() {
        return Some("cannot be blank".into());
    }
    // Bytes, not characters: the value is part of database index keys.
    (v.len() > MAX_NAME_LEN).then(|| format!("the length must be between 1 and {MAX_NAME_LEN}"))
}

/// Go's name (`reflect.Kind`) of a JSON value decoded into `interface{}`.
fn go_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "invalid",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "slice",
        Value::Object(_) => "map",
    }
}

/// Why a value is not one upstream accepts (strings, numbers, arrays of only strings or
/// only numbers), in upstream's words.
fn value_problem(v: &Value) -> Option<String> {
    match v {
        Value::String(_) | Value::Number(_) => None,
        Value::Array(items) => {
            let first = items.first()?;
            if !(first.is_string() || first.is_number()) {
                return Some(format!(
                    "array values must be either string or float64, not: {}",
                    go_kind(first)
                ));
            }
            let same = items.iter().all(|i| {
                if first.is_string() {
                    i.is_string()
                } else {
                    i.is_number()
                }
            });
            (!same).then(|| "array values must be of consistent type: string or float64".into())
        }
        _ => Some("supported types are string, float64, and arrays thereof".into()),
    }
}

/// Accepts strings, numbers and arrays of only strings or only numbers.
pub fn validate_value(v: &Value) -> Result<(), Error> {
    match value_problem(v) {
        None => Ok(()),
        Some(e) => Err(Error::Invalid(format!("value: {e}."))),
    }
}

/// Parses a list of attributes, applying `scope` to all (or each one's own scope).
pub fn validate_attributes(
    input: Vec<AttributeInput>,
    scope: Option<&str>,
) -> Result<Vec<Attribute>, Error> {
    input.into_iter().map(|a| a.validate(scope)).collect()
}

/// Checks a device id: 1 to 1024 bytes.
pub fn validate_device_id(id: &str) -> Result<(), Error> {
    if id.is_empty() {
        return Err(Error::Invalid("device id cannot be empty".into()));
    }
    if id.len() > MAX_NAME_LEN {
        return Err(Error::Invalid(format!(
            "id: the length must be between 1 and {MAX_NAME_LEN}."
        )));
    }
    Ok(())
}

/// Checks a group name the way upstream does.
pub fn validate_group(name: &str) -> Result<(), Error> {
    if name.is_empty() {
        return Err(Error::Invalid("Group name cannot be blank".into()));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(Error::Invalid(
            "Group name can at most have 1024 characters".into(),
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Error::Invalid(
            "Group name can only contain: upper/lowercase alphanum, -(dash), _(underscore)".into(),
        ));
    }
    Ok(())
}

/// The stored part of an attribute (its key is `(scope, name)`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredAttr {
    /// Value.
    pub value: Value,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Timestamp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
}

/// A device as stored: attributes by `(scope, name)` plus server-kept fields.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeviceRecord {
    /// Device id.
    pub id: DeviceId,
    /// Every attribute except the system `group`, `created_ts` and `updated_ts`.
    pub attrs: BTreeMap<(String, String), StoredAttr>,
    /// Group, if any.
    pub group: Option<String>,
    /// Creation time (kept to the millisecond, see [`format_time`]).
    pub created_ts: Timestamp,
    /// Last inventory update.
    pub updated_ts: Option<Timestamp>,
    /// Revision of the identity status (deviceauth's counter).
    pub revision: i64,
    /// ETag of the tags scope.
    pub tags_etag: Option<String>,
    /// Optimistic-concurrency counter, bumped on every write.
    pub version: i64,
}

impl DeviceRecord {
    /// A new, empty device created at `now`.
    pub fn new(id: DeviceId, now: Timestamp) -> Self {
        Self {
            id,
            created_ts: now,
            ..Default::default()
        }
    }

    /// Every attribute including the system ones, as the API shows them.
    pub fn all_attributes(&self) -> Vec<Attribute> {
        let mut out: Vec<Attribute> = self
            .attrs
            .iter()
            .map(|((scope, name), a)| Attribute {
                name: name.clone(),
                value: a.value.clone(),
                scope: scope.clone(),
                description: a.description.clone(),
                timestamp: a.timestamp.clone(),
            })
            .collect();
        let sys = |name: &str, v: String| Attribute {
            name: name.to_owned(),
            value: Value::String(v),
            scope: SCOPE_SYSTEM.to_owned(),
            description: None,
            timestamp: None,
        };
        out.push(sys(ATTR_CREATED, format_time(self.created_ts)));
        if let Some(g) = &self.group {
            out.push(sys(ATTR_GROUP, g.clone()));
        }
        if let Some(u) = self.updated_ts {
            out.push(sys(ATTR_UPDATED, format_time(u)));
        }
        out.sort_by(|a, b| (&a.scope, &a.name).cmp(&(&b.scope, &b.name)));
        out
    }

    /// The device as the API returns it, optionally only the selected attributes.
    pub fn to_api(&self, select: Option<&[(String, String)]>) -> Device {
        let mut attributes = self.all_attributes();
        if let Some(sel) = select {
            attributes.retain(|a| {
                (a.scope == SCOPE_SYSTEM && a.name == ATTR_UPDATED)
                    || sel.iter().any(|(s, n)| *s == a.scope && *n == a.name)
            });
        }
        Device {
            id: self.id.clone(),
            attributes,
            updated_ts: self.updated_ts.map(format_time),
        }
    }

    /// Number of attributes in `scope`.
    pub fn count_scope(&self, scope: &str) -> usize {
        self.attrs.keys().filter(|(s, _)| s == scope).count()
    }

    /// The attribute document stored for this device (JSON).
    pub fn doc_json(&self) -> String {
        let list: Vec<(&str, &str, &StoredAttr)> = self
            .attrs
            .iter()
            .map(|((s, n), a)| (s.as_str(), n.as_str(), a))
            .collect();
        serde_json::to_string(&list).unwrap_or_else(|_| "[]".into())
    }

    /// Reads the document written by [`DeviceRecord::doc_json`].
    pub fn attrs_from_json(
        doc: &str,
    ) -> Result<BTreeMap<(String, String), StoredAttr>, serde_json::Error> {
        let list: Vec<(String, String, StoredAttr)> = serde_json::from_str(doc)?;
        Ok(list.into_iter().map(|(s, n, a)| ((s, n), a)).collect())
    }

    /// Lower-case keywords of the full-text scopes, space padded (" a b "), for `text` search.
    pub fn text_keywords(&self) -> String {
        let mut out = String::from(" ");
        let mut push = |s: &str| {
            for w in keywords(s) {
                out.push_str(&w);
                out.push(' ');
            }
        };
        push(self.id.as_str());
        for ((scope, _), a) in &self.attrs {
            if let Value::String(s) = &a.value
                && (scope == SCOPE_IDENTITY || scope == SCOPE_INVENTORY || scope == SCOPE_TAGS)
            {
                push(s);
            }
        }
        out
    }
}

/// Splits text into lower-case runs of letters and digits (upstream's keyword rule).
pub fn keywords(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .collect()
}

/// A device in API responses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Device {
    /// Device id.
    pub id: DeviceId,
    /// Attributes (all scopes).
    pub attributes: Vec<Attribute>,
    /// Last inventory update, as [`format_time`] writes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_ts: Option<String>,
}

/// Result counters of bulk operations (zero counters are left out, as upstream does).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateResult {
    /// Devices that matched.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub matched_count: u64,
    /// Devices that changed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub updated_count: u64,
    /// Devices created.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub created_count: u64,
    /// Devices deleted.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub deleted_count: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One entry of `GET filters/attributes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterAttribute {
    /// Attribute name.
    pub name: String,
    /// Scope.
    pub scope: String,
    /// Devices (of the sample) that have it.
    pub count: i64,
}

/// `GET .../statistics`: accepted and pending devices per tier, every counter always present.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceStatistics {
    /// Counts per identity status.
    pub devices_by_status: StatisticsByStatus,
}

/// The statuses the statistics count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatisticsByStatus {
    /// Accepted devices.
    pub accepted: CountPerTier,
    /// Pending devices.
    pub pending: CountPerTier,
}

/// Devices per tier.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountPerTier {
    /// Tier `standard` (and devices without a tier).
    pub standard: u64,
    /// Tier `micro`.
    pub micro: u64,
    /// Tier `system`.
    pub system: u64,
}

impl CountPerTier {
    /// The counter of a tier, if it is one upstream counts.
    pub fn tier_mut(&mut self, tier: &str) -> Option<&mut u64> {
        match tier {
            "standard" => Some(&mut self.standard),
            "micro" => Some(&mut self.micro),
            "system" => Some(&mut self.system),
            _ => None,
        }
    }
}

/// The text form of a time, stored in the database and shown by the API: fixed-width UTC
/// RFC 3339 with milliseconds, so that text order is time order (the search index compares
/// and sorts the system times as strings). Existing databases hold this form: it must not
/// change.
pub fn format_time(t: Timestamp) -> String {
    let t = t.to_datetime();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Parses RFC 3339 (any offset, any fraction) to the millisecond kept in the stored form.
pub fn parse_time(s: &str) -> Result<Timestamp, time::error::Parse> {
    Timestamp::parse_rfc3339(s).map(to_millis)
}

/// Rewrites RFC 3339 text in the stored form (for times kept inside attribute values).
pub fn normalize_time(s: &str) -> Result<String, time::error::Parse> {
    parse_time(s).map(format_time)
}

/// `t` without its sub-millisecond part: what the stored form can hold, so that a record in
/// memory equals the same record read back.
pub fn to_millis(t: Timestamp) -> Timestamp {
    Timestamp::from_unix_millis(t.unix_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values() {
        assert!(validate_value(&json!("a")).is_ok());
        assert!(validate_value(&json!(1.5)).is_ok());
        assert!(validate_value(&json!([])).is_ok());
        assert!(validate_value(&json!(["a", "b"])).is_ok());
        assert!(validate_value(&json!([1, 2])).is_ok());
        assert!(validate_value(&json!([1, "a"])).is_err());
        assert!(validate_value(&json!(null)).is_err());
        assert!(validate_value(&json!(true)).is_err());
        assert!(validate_value(&json!({"a": 1})).is_err());
        assert!(validate_value(&json!([[1]])).is_err());
    }

    #[test]
    fn times_sort_as_text() {
        assert_eq!(
            normalize_time("2024-01-02T03:04:05+01:00").unwrap(),
            "2024-01-02T02:04:05.000Z"
        );
        assert_eq!(
            normalize_time("2024-01-02T03:04:05.5Z").unwrap(),
            "2024-01-02T03:04:05.500Z"
        );
        assert!(normalize_time("yesterday").is_err());
        // Fixed width: the fraction is never trimmed, so text order is time order.
        let times = [
            Timestamp::from_unix_millis(-62_135_596_800_000),
            Timestamp::from_unix_nanos(1_700_000_000_099_999_999),
            Timestamp::from_unix_millis(1_700_000_000_100),
            Timestamp::from_unix_millis(1_700_000_001_000),
        ];
        let text: Vec<String> = times.iter().map(|t| format_time(*t)).collect();
        assert_eq!(
            text,
            [
                "0001-01-01T00:00:00.000Z",
                "2023-11-14T22:13:20.099Z",
                "2023-11-14T22:13:20.100Z",
                "2023-11-14T22:13:21.000Z"
            ]
        );
        assert!(text.windows(2).all(|w| w[0] < w[1]));
        // The stored form reads back as the same instant.
        for t in &text {
            assert_eq!(format_time(parse_time(t).unwrap()), *t);
        }
        assert_eq!(
            parse_time("2023-11-14T22:13:20.0999999Z").unwrap(),
            Timestamp::from_unix_millis(1_700_000_000_099)
        );
    }

    #[test]
    fn groups_and_keywords() {
        assert!(validate_group("prod_1-a").is_ok());
        assert!(validate_group("").is_err());
        assert!(validate_group("a b").is_err());
        assert_eq!(keywords("Foo-bar  Baz9"), vec!["foo", "bar", "baz9"]);
    }
}
