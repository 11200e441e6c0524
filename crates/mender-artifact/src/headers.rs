//! JSON shapes of the header members (`version`, `header-info`, `type-info`), shared by
//! the parser and the writer. Strictness follows upstream's decoders; like Go's decoder,
//! they leave a missing field at its zero value, hence `#[serde(default)]` on each struct.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::Error;

/// The `version` member.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct VersionInfo {
    pub(crate) format: String,
    pub(crate) version: u64,
}

/// One entry of `payloads` (v3) or `updates` (v2). A `null` type marks a bootstrap
/// artifact's empty payload.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PayloadType {
    #[serde(rename = "type", default)]
    pub(crate) type_: Option<String>,
}

/// Version 2 `header-info`. Upstream decodes it leniently (unknown fields ignored).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct HeaderInfoV2 {
    pub(crate) artifact_name: String,
    pub(crate) updates: Vec<PayloadType>,
    pub(crate) device_types_compatible: Vec<String>,
}

/// Version 3 `header-info` (also the augmented one).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct HeaderInfoV3 {
    pub(crate) payloads: Vec<PayloadType>,
    pub(crate) artifact_provides: Option<ArtifactProvides>,
    pub(crate) artifact_depends: Option<ArtifactDepends>,
}

/// `header-info.artifact_provides`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct ArtifactProvides {
    pub(crate) artifact_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) artifact_group: String,
}

/// `header-info.artifact_depends` (upstream ignores unknown fields here).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct ArtifactDepends {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) artifact_name: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) device_type: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) artifact_group: Vec<String>,
}

impl ArtifactDepends {
    /// The depends as a JSON map without empty lists, as upstream merges it.
    pub(crate) fn to_map(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        }
    }
}

/// `headers/NNNN/type-info` (v3). Decoded leniently, as upstream does.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct TypeInfoV3 {
    #[serde(rename = "type")]
    pub(crate) type_: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) artifact_provides: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) artifact_depends: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) clears_artifact_provides: Option<Vec<String>>,
}

impl TypeInfoV3 {
    /// Depends values must be strings or arrays of strings.
    pub(crate) fn check(&self, file: &str) -> Result<(), Error> {
        for (k, v) in self.artifact_depends.iter().flatten() {
            let ok = match v {
                Value::String(_) => true,
                Value::Array(items) => items.iter().all(Value::is_string),
                _ => false,
            };
            if !ok {
                return Err(Error::InvalidJson {
                    file: file.to_string(),
                    message: format!("artifact_depends.{k} must be a string or a list of strings"),
                });
            }
        }
        Ok(())
    }
}

/// Decode a JSON member, naming it in the error.
pub(crate) fn decode<T: for<'de> Deserialize<'de>>(raw: &[u8], file: &str) -> Result<T, Error> {
    serde_json::from_slice(raw).map_err(|e| Error::InvalidJson {
        file: file.to_string(),
        message: e.to_string(),
    })
}
