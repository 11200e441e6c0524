//! Per-tenant object storage settings (upstream `model.StorageSettings`, internal
//! `GET/PUT /tenants/{id}/storage/settings`). They are validated and stored as upstream does
//! them, but only recorded: mender-rs keeps artifacts in its own [`mender_blob::BlobStore`]
//! (the disk store), which has no per-tenant buckets, so nothing reads them back except the
//! GET route. Upstream's S3/Azure health check of new settings is therefore not done either.

use mender_core::Secret;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::{serialize_optional_secret, serialize_secret};

/// Which object storage the settings are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageType {
    /// Amazon S3 or compatible (upstream's zero value).
    #[default]
    S3,
    /// Azure Blob storage.
    Azure,
}

/// A tenant's storage settings, in upstream's JSON shape.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StorageSettings {
    /// Provider.
    #[serde(rename = "type", default)]
    pub kind: StorageType,
    /// S3 region.
    #[serde(default)]
    pub region: String,
    /// Bucket (S3) or container (Azure).
    #[serde(default)]
    pub bucket: String,
    /// Private API endpoint.
    #[serde(default)]
    pub uri: String,
    /// Public endpoint used in links.
    #[serde(default)]
    pub external_uri: String,
    /// Proxy that presigned links are rewritten to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_uri: Option<String>,
    /// Key id (Azure: account name).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key: String,
    /// Secret key (Azure: account key).
    #[serde(
        default,
        skip_serializing_if = "is_empty",
        serialize_with = "serialize_secret"
    )]
    pub secret: Secret,
    /// S3 session token.
    #[serde(
        default,
        skip_serializing_if = "is_empty",
        serialize_with = "serialize_secret"
    )]
    pub token: Secret,
    /// Azure connection string, instead of uri/key/secret.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_optional_secret"
    )]
    pub connection_string: Option<Secret>,
    /// S3 path-style addressing.
    #[serde(default)]
    pub force_path_style: bool,
    /// S3 transfer acceleration.
    #[serde(default)]
    pub use_accelerate: bool,
}

fn is_empty(s: &Secret) -> bool {
    s.expose_str().is_empty()
}

/// Keys of the settings object itself (not the Azure aliases).
const FIELDS: [&str; 12] = [
    "type",
    "region",
    "bucket",
    "uri",
    "external_uri",
    "proxy_uri",
    "key",
    "secret",
    "token",
    "connection_string",
    "force_path_style",
    "use_accelerate",
];

/// Nulls are "not given" in upstream's decoding; serde would reject them for plain fields.
fn without_nulls(m: &Map<String, Value>) -> Map<String, Value> {
    m.iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn alias(m: &Map<String, Value>, k: &str) -> Result<Option<String>, String> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{k}: must be a string")),
    }
}

fn length(errors: &mut Vec<String>, name: &str, v: &str, min: usize, max: usize, required: bool) {
    let n = v.chars().count();
    if n == 0 {
        if required {
            errors.push(format!("{name}: cannot be blank"));
        }
    } else if n < min || n > max {
        errors.push(format!(
            "{name}: the length must be between {min} and {max}"
        ));
    }
}

impl StorageSettings {
    /// Parses a PUT body as upstream's `ParseStorageSettingsRequest`: `null`, or an object
    /// without any settings field, means "use the defaults" (`None`); Azure settings may use
    /// `account_name`, `account_key` and `container_name`; then [`Self::validate`].
    pub fn parse_request(body: &[u8]) -> Result<Option<Self>, String> {
        let v: Value =
            serde_json::from_slice(body).map_err(|e| format!("invalid request body: {e}"))?;
        let m = match v {
            Value::Null => return Ok(None),
            Value::Object(m) => m,
            _ => return Err("invalid request body: expected an object".to_owned()),
        };
        if !FIELDS.iter().any(|f| m.contains_key(*f)) {
            return Ok(None);
        }
        let mut s: StorageSettings = serde_json::from_value(Value::Object(without_nulls(&m)))
            .map_err(|e| format!("invalid settings schema: {e}"))?;
        if s.kind == StorageType::Azure {
            if let Some(v) = alias(&m, "account_name")? {
                s.key = v;
            }
            if let Some(v) = alias(&m, "account_key")? {
                s.secret = Secret::new(v);
            }
            if let Some(v) = alias(&m, "container_name")? {
                s.bucket = v;
            }
        }
        s.use_accelerate = s.use_accelerate && s.uri.is_empty();
        s.validate()
            .map_err(|e| format!("invalid settings schema: {e}"))?;
        Ok(Some(s))
    }

    /// Upstream's rules: S3 needs a region (5–20), every type a bucket (5–100), key (5–50)
    /// and secret (5–100) unless Azure with a connection string; uri and external_uri 3–2000
    /// and token 5–100 when given.
    pub fn validate(&self) -> Result<(), String> {
        let mut e = Vec::new();
        let s3 = self.kind == StorageType::S3;
        let creds = s3 || self.connection_string.is_none();
        if s3 {
            length(&mut e, "region", &self.region, 5, 20, true);
        }
        length(&mut e, "bucket", &self.bucket, 5, 100, true);
        if creds {
            length(&mut e, "key", &self.key, 5, 50, true);
            length(&mut e, "secret", self.secret.expose_str(), 5, 100, true);
        }
        length(&mut e, "uri", &self.uri, 3, 2000, false);
        length(&mut e, "external_uri", &self.external_uri, 3, 2000, false);
        length(&mut e, "token", self.token.expose_str(), 5, 100, false);
        if e.is_empty() {
            Ok(())
        } else {
            Err(e.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_rules() {
        assert_eq!(StorageSettings::parse_request(b"null").unwrap(), None);
        assert_eq!(StorageSettings::parse_request(b"{}").unwrap(), None);
        assert_eq!(
            StorageSettings::parse_request(br#"{"account_name":"x"}"#).unwrap(),
            None
        );
        for bad in [
            &b""[..],
            b"[]",
            b"1",
            b"{",
            br#"{"type":"gcs"}"#,
            br#"{"bucket":5}"#,
        ] {
            assert!(StorageSettings::parse_request(bad).is_err(), "{bad:?}");
        }
        let err = StorageSettings::parse_request(br#"{"bucket":"b"}"#).unwrap_err();
        assert!(err.contains("region: cannot be blank"), "{err}");
        assert!(err.contains("bucket: the length"), "{err}");
        let s = StorageSettings::parse_request(
            br#"{"type":"s3","region":"eu-west-1","bucket":"mybucket","key":"AKIAKEY","secret":"secret!!","uri":"https://s3","use_accelerate":true}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(s.bucket, "mybucket");
        assert!(!s.use_accelerate, "acceleration is off with a custom uri");
        let az = StorageSettings::parse_request(
            br#"{"type":"azure","container_name":"container","connection_string":"AccountName=x"}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(az.kind, StorageType::Azure);
        assert_eq!(az.bucket, "container");
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("secret!!"), "{dbg}");
        assert!(dbg.contains("secret: [redacted]"), "{dbg}");
        let dbg = format!("{az:?}");
        assert!(!dbg.contains("AccountName"), "{dbg}");
        // Stored and shown by the internal API with the values.
        let doc = serde_json::to_value(&s).unwrap();
        assert_eq!(doc["secret"], "secret!!");
        assert!(doc.get("token").is_none(), "empty token left out: {doc}");
        assert_eq!(serde_json::from_value::<StorageSettings>(doc).unwrap(), s);
    }
}
