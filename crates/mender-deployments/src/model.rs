//! Domain types of deployments: artifacts, releases, deployments, device deployments and
//! device statuses, with their JSON shapes as upstream renders them.

use std::borrow::Cow;
use std::collections::BTreeMap;

use mender_artifact::{ArtifactInfo, ArtifactMeta, TypeInfo, Update, UpdateFile};
use mender_core::{ArtifactId, DeploymentId, DeviceId, TenantId, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A stored artifact.
#[derive(Debug, Clone, PartialEq)]
pub struct Artifact {
    /// Artifact id (UUID).
    pub id: ArtifactId,
    /// Tenant (empty in the open-source server).
    pub tenant: TenantId,
    /// User-supplied description.
    pub description: String,
    /// Parsed header data; its `size` is the size of the stored artifact file in bytes.
    pub meta: ArtifactMeta,
    /// Creation or last edit.
    pub modified: Timestamp,
}

impl Artifact {
    /// The depends used for uniqueness: `device_type` always included.
    pub fn depends(&self) -> BTreeMap<String, Vec<String>> {
        let mut d: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in &self.meta.artifact_depends {
            let vals = match v {
                Value::Array(a) => a.iter().map(value_string).collect(),
                other => vec![value_string(other)],
            };
            d.insert(k.clone(), vals);
        }
        d.entry("device_type".to_owned())
            .or_insert_with(|| self.meta.device_types_compatible.clone());
        d
    }

    /// Whether two artifacts with the same name would be ambiguous: upstream indexes every
    /// combination of depends values, so they clash when the depends have the same keys and
    /// every key's value lists intersect.
    pub fn depends_overlap(&self, other: &Artifact) -> bool {
        let (a, b) = (self.depends(), other.depends());
        a.len() == b.len()
            && a.iter()
                .all(|(k, va)| b.get(k).is_some_and(|vb| va.iter().any(|v| vb.contains(v))))
    }
}

fn value_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Upstream's JSON shape of an artifact's metadata (`meta_artifact`): what the API shows of
/// it, and the document the store keeps (so its field order is fixed).
#[derive(Debug, Serialize)]
pub struct MetaArtifactJson<'a> {
    /// Artifact name.
    pub name: &'a str,
    /// Everything else, in order.
    #[serde(flatten)]
    pub contents: MetaContentsJson<'a>,
}

/// The fields of [`MetaArtifactJson`] after the name, which the management API's artifact
/// shows after its own description.
#[derive(Debug, Serialize)]
pub struct MetaContentsJson<'a> {
    /// Compatible device types.
    pub device_types_compatible: &'a [String],
    /// Format and version.
    pub info: &'a ArtifactInfo,
    /// Whether the artifact carries a signature.
    pub signed: bool,
    /// Payloads.
    pub updates: Vec<UpdateJson<'a>>,
    /// Merged provides (v3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_provides: Option<&'a BTreeMap<String, String>>,
    /// Merged depends; absent when there are none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_depends: Option<&'a Map<String, Value>>,
    /// Provides the artifact clears (v3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clears_artifact_provides: Option<&'a Vec<String>>,
}

impl<'a> From<&'a ArtifactMeta> for MetaArtifactJson<'a> {
    fn from(m: &'a ArtifactMeta) -> Self {
        Self {
            name: &m.name,
            contents: MetaContentsJson {
                device_types_compatible: &m.device_types_compatible,
                info: &m.info,
                signed: m.signed,
                updates: m.updates.iter().map(UpdateJson::from).collect(),
                artifact_provides: m.artifact_provides.as_ref(),
                artifact_depends: Some(&m.artifact_depends).filter(|d| !d.is_empty()),
                clears_artifact_provides: m.clears_artifact_provides.as_ref(),
            },
        }
    }
}

/// Upstream's JSON shape of one payload: the meta-data twice, as the object `metadata`
/// (`{}` when absent) and as the deprecated list `meta_data` of `{"Key","Value"}` pairs.
#[derive(Debug, Serialize)]
pub struct UpdateJson<'a> {
    /// The payload type.
    pub type_info: &'a TypeInfo,
    /// Payload files.
    pub files: &'a [UpdateFile],
    /// The meta-data object.
    pub metadata: Cow<'a, Map<String, Value>>,
    /// The meta-data as a list, for older clients.
    pub meta_data: Vec<Value>,
}

impl<'a> From<&'a Update> for UpdateJson<'a> {
    fn from(u: &'a Update) -> Self {
        let metadata = u
            .meta_data
            .as_ref()
            .map_or_else(|| Cow::Owned(Map::new()), Cow::Borrowed);
        let meta_data = metadata
            .iter()
            .map(|(k, v)| serde_json::json!({"Key": k, "Value": v}))
            .collect();
        Self {
            type_info: &u.type_info,
            files: &u.files,
            metadata,
            meta_data,
        }
    }
}

/// The JSON shape of an artifact in the management API (v1 and v2).
#[derive(Debug, Serialize)]
pub struct ArtifactView<'a> {
    /// Id.
    pub id: &'a ArtifactId,
    /// Name.
    pub name: &'a str,
    /// Description.
    pub description: &'a str,
    /// The rest of the metadata.
    #[serde(flatten)]
    pub contents: MetaContentsJson<'a>,
    /// Size in bytes.
    pub size: u64,
    /// Modification time.
    pub modified: Timestamp,
}

impl<'a> From<&'a Artifact> for ArtifactView<'a> {
    fn from(a: &'a Artifact) -> Self {
        let m = MetaArtifactJson::from(&a.meta);
        Self {
            id: &a.id,
            name: m.name,
            description: &a.description,
            contents: m.contents,
            size: a.meta.size,
            modified: a.modified,
        }
    }
}

/// Notes and tags kept for a release (a release is the set of artifacts with one name).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReleaseMeta {
    /// Release (artifact) name.
    pub name: String,
    /// Free text, at most 1024 bytes.
    pub notes: String,
    /// Tags, lower-cased, without duplicates, in the order they were set.
    pub tags: Vec<String>,
}

/// Status of one device within a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceStatus {
    /// Failed.
    Failure,
    /// Aborted by a user.
    Aborted,
    /// Paused before installing.
    PauseBeforeInstalling,
    /// Paused before committing.
    PauseBeforeCommitting,
    /// Paused before rebooting.
    PauseBeforeRebooting,
    /// Downloading.
    Downloading,
    /// Installing.
    Installing,
    /// Rebooting.
    Rebooting,
    /// Assigned, not started.
    Pending,
    /// Succeeded.
    Success,
    /// No compatible artifact.
    Noartifact,
    /// The device already runs the artifact.
    #[serde(rename = "already-installed")]
    AlreadyInstalled,
    /// The device was decommissioned.
    Decommissioned,
}

impl DeviceStatus {
    /// Every status, in upstream's statistics order.
    pub const ALL: [DeviceStatus; 13] = [
        Self::Success,
        Self::Pending,
        Self::Failure,
        Self::Downloading,
        Self::Installing,
        Self::Rebooting,
        Self::Noartifact,
        Self::AlreadyInstalled,
        Self::Aborted,
        Self::PauseBeforeInstalling,
        Self::PauseBeforeRebooting,
        Self::PauseBeforeCommitting,
        Self::Decommissioned,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Failure => "failure",
            Self::Aborted => "aborted",
            Self::PauseBeforeInstalling => "pause_before_installing",
            Self::PauseBeforeCommitting => "pause_before_committing",
            Self::PauseBeforeRebooting => "pause_before_rebooting",
            Self::Downloading => "downloading",
            Self::Installing => "installing",
            Self::Rebooting => "rebooting",
            Self::Pending => "pending",
            Self::Success => "success",
            Self::Noartifact => "noartifact",
            Self::AlreadyInstalled => "already-installed",
            Self::Decommissioned => "decommissioned",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Statuses that end a device deployment.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            Self::Success
                | Self::Failure
                | Self::AlreadyInstalled
                | Self::Noartifact
                | Self::Aborted
                | Self::Decommissioned
        )
    }

    /// Statuses a device may report itself.
    pub fn device_may_report(self) -> bool {
        !matches!(
            self,
            Self::Pending | Self::Aborted | Self::Noartifact | Self::Decommissioned
        )
    }
}

/// A status filter on device deployments: one status or one of upstream's groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusFilter {
    /// Exactly these statuses.
    Any(Vec<DeviceStatus>),
}

impl StatusFilter {
    /// Parses `status` query values, including the groups `pause`, `active` and `finished`.
    pub fn parse(s: &str) -> Option<Self> {
        use DeviceStatus::*;
        let v = match s {
            "pause" => vec![
                PauseBeforeInstalling,
                PauseBeforeCommitting,
                PauseBeforeRebooting,
            ],
            "active" => DeviceStatus::ALL
                .into_iter()
                .filter(|s| !s.is_finished())
                .collect(),
            "finished" => DeviceStatus::ALL
                .into_iter()
                .filter(|s| s.is_finished())
                .collect(),
            other => vec![DeviceStatus::parse(other)?],
        };
        Some(Self::Any(v))
    }

    /// The statuses matched.
    pub fn statuses(&self) -> &[DeviceStatus] {
        let Self::Any(v) = self;
        v
    }
}

/// Overall status of a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeploymentStatus {
    /// No device has started.
    Pending,
    /// At least one device has started.
    Inprogress,
    /// Every device finished, or the deployment was aborted.
    Finished,
}

impl DeploymentStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Inprogress => "inprogress",
            Self::Finished => "finished",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "inprogress" => Some(Self::Inprogress),
            "finished" => Some(Self::Finished),
            _ => None,
        }
    }
}

/// What a deployment installs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeploymentKind {
    /// Stored artifacts of a release.
    #[default]
    Software,
    /// A `mender-configure` artifact generated from a configuration (one device).
    Configuration,
}

impl DeploymentKind {
    /// The wire name (`type` in the API).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Software => "software",
            Self::Configuration => "configuration",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "software" => Some(Self::Software),
            "configuration" => Some(Self::Configuration),
            _ => None,
        }
    }
}

/// A deployment: one artifact name rolled out to a list of devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// Id (UUID).
    pub id: DeploymentId,
    /// Tenant.
    pub tenant: TenantId,
    /// Name.
    pub name: String,
    /// Release (artifact name) deployed.
    pub artifact_name: String,
    /// Creation time.
    pub created: Timestamp,
    /// Finish time.
    pub finished: Option<Timestamp>,
    /// Overall status.
    pub status: DeploymentStatus,
    /// Number of devices that joined (checked in, or were aborted or decommissioned before
    /// they did): 0 at creation, as upstream.
    pub device_count: i64,
    /// Number of targeted devices (duplicates in a device list included, as upstream): the
    /// deployment is finished once this many devices finished.
    pub max_devices: i64,
    /// Skip the `already-installed` check.
    pub force_installation: bool,
    /// Groups it was created for.
    pub groups: Vec<String>,
    /// Software or configuration.
    pub kind: DeploymentKind,
    /// The configuration (a JSON object's text) of a configuration deployment.
    pub configuration: Option<String>,
    /// Digest of the creation request; no two unfinished deployments share one (upstream's
    /// "identical active deployment" rule). `None` for configuration deployments.
    pub checksum: Option<String>,
    /// Sum of the sizes of the artifacts handed to its devices (upstream
    /// `statistics.total_size`): grows when a device first gets an artifact, never shrinks.
    pub total_size: i64,
}

/// A deployment's device counts per status (upstream's stored `stats`: every target starts
/// pending; a count moves when a device's status changes).
pub type Statistics = BTreeMap<DeviceStatus, i64>;

/// Renders statistics with all 13 statuses, keys sorted as Go writes a map.
pub fn statistics_json(stats: &Statistics) -> Value {
    let m: Map<String, Value> = DeviceStatus::ALL
        .into_iter()
        .map(|s| {
            (
                s.as_str().to_owned(),
                Value::from(*stats.get(&s).unwrap_or(&0)),
            )
        })
        .collect();
    Value::Object(m)
}

/// Whether a deployment with these counts has finished: at least `max_devices` (when
/// positive) devices are in a final status (upstream `Deployment.IsFinished`).
pub fn stats_finished(stats: &Statistics, max_devices: i64) -> bool {
    let done: i64 = stats
        .iter()
        .filter(|(s, _)| s.is_finished())
        .map(|(_, n)| *n)
        .sum();
    max_devices > 0 && done >= max_devices
}

/// Whether any device of a deployment with these counts has started: any count but
/// `pending` and `decommissioned` is positive (upstream `Deployment.IsNotPending`).
pub fn stats_started(stats: &Statistics) -> bool {
    stats
        .iter()
        .any(|(s, n)| *n > 0 && !matches!(s, DeviceStatus::Pending | DeviceStatus::Decommissioned))
}

/// What the device reported in its first `next` request of a device deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct DeviceRequest {
    /// Installed artifact.
    pub artifact_name: String,
    /// Device type.
    pub device_type: String,
    /// Other provides.
    #[serde(default)]
    pub artifact_provides: BTreeMap<String, String>,
}

/// One device's part in a deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceDeployment {
    /// Id (UUID).
    pub id: String,
    /// Tenant.
    pub tenant: TenantId,
    /// Deployment.
    pub deployment_id: DeploymentId,
    /// Device.
    pub device_id: DeviceId,
    /// Status.
    pub status: DeviceStatus,
    /// Free-form sub state reported by the device.
    pub substate: String,
    /// Creation time (first `next`).
    pub created: Timestamp,
    /// First status change away from pending.
    pub started: Option<Timestamp>,
    /// Finish time.
    pub finished: Option<Timestamp>,
    /// Not finished.
    pub active: bool,
    /// Hidden by a history reset.
    pub deleted: Option<Timestamp>,
    /// Device type reported.
    pub device_type: String,
    /// Assigned artifact.
    pub artifact_id: Option<ArtifactId>,
    /// First request, to detect changed device data.
    pub request: Option<DeviceRequest>,
    /// Whether a log was uploaded.
    pub log_available: bool,
}

/// A log line uploaded by a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogMessage {
    /// When.
    pub timestamp: String,
    /// Level.
    pub level: String,
    /// Text.
    pub message: String,
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Ascending.
    #[default]
    Asc,
    /// Descending.
    Desc,
}

/// A string filter: exact or prefix (`foo*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// Equal to one of these.
    Exact(Vec<String>),
    /// Starts with.
    Prefix(String),
    /// Contains, ignoring ASCII case (the deprecated v1 filters).
    Contains(String),
}

/// What an artifact list is sorted by (ties: by id, in the same direction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ArtifactSortKey {
    /// Artifact name.
    #[default]
    Name,
    /// Modification time.
    Modified,
    /// Id only (upstream sorts `artifacts_count` and `tags` by a field artifacts lack).
    Id,
}

/// Artifact list filters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ArtifactFilter {
    /// Name.
    pub name: Option<Match>,
    /// Description.
    pub description: Option<Match>,
    /// Device type.
    pub device_type: Option<Match>,
    /// Sort key.
    pub sort_key: ArtifactSortKey,
    /// Direction.
    pub sort: Sort,
    /// Rows to skip.
    pub offset: u64,
    /// Rows to return; `None` for all.
    pub limit: Option<u64>,
}

/// Device deployment list filters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceDeploymentFilter {
    /// Status.
    pub status: Option<StatusFilter>,
    /// Rows to skip.
    pub offset: u64,
    /// Rows to return; `None` for all.
    pub limit: Option<u64>,
}

/// Deployment list filters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeploymentFilter {
    /// Ids.
    pub ids: Vec<DeploymentId>,
    /// Names.
    pub names: Vec<String>,
    /// Name or artifact name contains (v1 `search`).
    pub search: Option<String>,
    /// Status.
    pub status: Option<DeploymentStatus>,
    /// Created at or after this second (unix seconds; compared at `T.000`).
    pub created_after: Option<i64>,
    /// Created at or before this second (unix seconds; compared at `T.000` with the
    /// millisecond precision upstream stores, so `T.000999` is in and `T.001` is out).
    pub created_before: Option<i64>,
    /// Software or configuration only.
    pub kind: Option<DeploymentKind>,
    /// Direction of the creation-time sort (upstream default: newest first).
    pub sort: Sort,
    /// Rows to skip.
    pub offset: u64,
    /// Rows to return.
    pub limit: Option<u64>,
}
