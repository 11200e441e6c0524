//! Database rows and their conversion to domain types.

use crate::model::{
    Artifact, Deployment, DeploymentKind, DeploymentStatus, DeviceDeployment, DeviceStatus,
};

use super::{StoreError, from_ns};

pub(crate) const ARTIFACT_COLUMNS: &str =
    "SELECT id, tenant_id, description, meta, size, modified FROM artifacts";
pub(crate) const DEPLOYMENT_COLUMNS: &str = "SELECT id, tenant_id, name, artifact_name, created, finished, status, \
     device_count, max_devices, force_installation, group_names, kind, configuration, \
     constructor_checksum FROM deployments";
pub(crate) const DD_COLUMNS: &str = "SELECT id, tenant_id, deployment_id, device_id, status, substate, created, started, \
     finished, active, deleted, device_type, artifact_id, request, log_available FROM device_deployments";

#[derive(sqlx::FromRow)]
pub(crate) struct ArtifactRow {
    id: String,
    tenant_id: String,
    description: String,
    meta: String,
    size: i64,
    modified: i64,
}

impl TryFrom<ArtifactRow> for Artifact {
    type Error = StoreError;
    fn try_from(r: ArtifactRow) -> Result<Self, StoreError> {
        Ok(Artifact {
            meta: serde_json::from_str(&r.meta)
                .map_err(|e| StoreError::Corrupt(format!("artifact {}: {e}", r.id)))?,
            id: r.id,
            tenant: r.tenant_id,
            description: r.description,
            size: r.size,
            modified: from_ns(r.modified),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct DeploymentRow {
    id: String,
    tenant_id: String,
    name: String,
    artifact_name: String,
    created: i64,
    finished: Option<i64>,
    status: String,
    device_count: i64,
    max_devices: i64,
    force_installation: i64,
    group_names: String,
    kind: String,
    configuration: Option<String>,
    constructor_checksum: Option<String>,
}

impl TryFrom<DeploymentRow> for Deployment {
    type Error = StoreError;
    fn try_from(r: DeploymentRow) -> Result<Self, StoreError> {
        Ok(Deployment {
            status: DeploymentStatus::parse(&r.status).ok_or_else(|| {
                StoreError::Corrupt(format!("deployment {} status {}", r.id, r.status))
            })?,
            groups: serde_json::from_str(&r.group_names)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            kind: DeploymentKind::parse(&r.kind).ok_or_else(|| {
                StoreError::Corrupt(format!("deployment {} type {}", r.id, r.kind))
            })?,
            configuration: r.configuration,
            checksum: r.constructor_checksum,
            id: r.id,
            tenant: r.tenant_id,
            name: r.name,
            artifact_name: r.artifact_name,
            created: from_ns(r.created),
            finished: r.finished.map(from_ns),
            device_count: r.device_count,
            max_devices: r.max_devices,
            force_installation: r.force_installation != 0,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct DeviceDeploymentRow {
    id: String,
    tenant_id: String,
    deployment_id: String,
    device_id: String,
    status: String,
    substate: String,
    created: i64,
    started: Option<i64>,
    finished: Option<i64>,
    active: i64,
    deleted: Option<i64>,
    device_type: String,
    artifact_id: Option<String>,
    request: Option<String>,
    log_available: i64,
}

impl TryFrom<DeviceDeploymentRow> for DeviceDeployment {
    type Error = StoreError;
    fn try_from(r: DeviceDeploymentRow) -> Result<Self, StoreError> {
        Ok(DeviceDeployment {
            status: DeviceStatus::parse(&r.status).ok_or_else(|| {
                StoreError::Corrupt(format!("device deployment {} status {}", r.id, r.status))
            })?,
            request: match r.request {
                Some(s) => {
                    Some(serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(e.to_string()))?)
                }
                None => None,
            },
            id: r.id,
            tenant: r.tenant_id,
            deployment_id: r.deployment_id,
            device_id: r.device_id,
            substate: r.substate,
            created: from_ns(r.created),
            started: r.started.map(from_ns),
            finished: r.finished.map(from_ns),
            active: r.active != 0,
            deleted: r.deleted.map(from_ns),
            device_type: r.device_type,
            artifact_id: r.artifact_id,
            log_available: r.log_available != 0,
        })
    }
}

/// A bind value of a dynamically built query.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    S(String),
    I(i64),
}

/// `$n, $n+1, ...` for `count` values after `args`, pushing them.
pub(crate) fn placeholders(args: &mut Vec<Arg>, values: impl IntoIterator<Item = Arg>) -> String {
    let mut ph = Vec::new();
    for v in values {
        args.push(v);
        ph.push(format!("${}", args.len()));
    }
    ph.join(", ")
}

/// SQL `IN (...)` list of the statuses.
pub(crate) fn status_list(statuses: &[DeviceStatus]) -> String {
    // Status names are fixed identifiers from our enum, never user input.
    statuses
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The finished statuses as an SQL list.
pub(crate) fn finished_list() -> String {
    status_list(
        &DeviceStatus::ALL
            .into_iter()
            .filter(|s| s.is_finished())
            .collect::<Vec<_>>(),
    )
}

/// Escapes `%`, `_` and `\` for a `LIKE ... ESCAPE '\'` pattern.
pub(crate) fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
