//! The metadata a parsed artifact yields: what deployments stores and returns.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

/// Everything the server keeps about an artifact (upstream `model.ArtifactMeta` plus
/// the image `size`). Serialises with upstream's JSON field names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtifactMeta {
    /// `artifact_name` (v3: `artifact_provides.artifact_name`).
    pub name: String,
    /// Device types the artifact installs on (v3: `artifact_depends.device_type`).
    pub device_types_compatible: Vec<String>,
    /// Contents of the `version` member.
    pub info: ArtifactInfo,
    /// Whether a `manifest.sig` is present. The signature is not verified.
    pub signed: bool,
    /// One entry per payload, in payload order.
    pub updates: Vec<Update>,
    /// Merged header-info and type-info provides (v3 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_provides: Option<BTreeMap<String, String>>,
    /// Merged header-info and type-info depends; values are strings or string arrays.
    /// Always holds `device_type` = `device_types_compatible`, as upstream stores it.
    #[serde(default)]
    pub artifact_depends: Map<String, Value>,
    /// Union of the payloads' `clears_artifact_provides` (v3 only, absent when empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clears_artifact_provides: Option<Vec<String>>,
    /// Total size of the artifact file in bytes (everything read from the input).
    pub size: u64,
}

/// The `version` member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactInfo {
    /// Always `mender`.
    pub format: String,
    /// 2 or 3.
    pub version: u32,
}

/// One payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Update {
    /// The payload type.
    pub type_info: TypeInfo,
    /// The payload's files with size, mtime and checksum.
    pub files: Vec<UpdateFile>,
    /// `headers/NNNN/meta-data` (merged with the augmented one), absent when empty.
    ///
    /// Upstream's API renders this twice (`metadata` as an object and the deprecated
    /// `meta_data` as `[{"Key","Value"}]`); that is the HTTP layer's job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_data: Option<Map<String, Value>>,
}

/// Payload type; `None` only for bootstrap (empty-payload) artifacts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeInfo {
    /// e.g. `rootfs-image`, `single-file`.
    #[serde(rename = "type")]
    pub type_: Option<String>,
}

/// A payload file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateFile {
    /// File name inside the payload (no directories).
    pub name: String,
    /// Lower-case hex SHA-256 of the content, verified against the manifest.
    pub checksum: String,
    /// Size in bytes.
    pub size: u64,
    /// Modification time from the payload tar.
    #[serde(with = "time::serde::rfc3339")]
    pub date: OffsetDateTime,
}
