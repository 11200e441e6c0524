//! Database rows and their conversion to domain types, the column encodings (times are
//! unix nanoseconds, flags are integers, documents are JSON text), and the query pieces every
//! topic shares (tenant scoping, id lists, paging).

use mender_artifact::ArtifactMeta;
use mender_core::{ArtifactId, DeploymentId, DeviceId, TenantId, Timestamp};
use mender_db::{Bind, Db, Dialect, FromRow, QueryBuilder};
use serde_json::Value;

use crate::model::{
    Artifact, Deployment, DeploymentKind, DeploymentStatus, DeviceDeployment, DeviceStatus,
    MetaArtifactJson,
};
use crate::store::{Result, StoreError};

pub(super) const ARTIFACT_COLUMNS: &str =
    "SELECT id, tenant_id, description, meta, size, modified FROM artifacts";
pub(super) const DEPLOYMENT_COLUMNS: &str = "SELECT id, tenant_id, name, artifact_name, created, \
     finished, status, device_count, max_devices, force_installation, group_names, kind, \
     configuration, constructor_checksum, total_size FROM deployments";
pub(super) const DD_COLUMNS: &str = "SELECT id, tenant_id, deployment_id, device_id, status, \
     substate, created, started, finished, active, deleted, device_type, artifact_id, request, \
     log_available FROM device_deployments";

/// A time as stored.
pub(super) fn ns(t: Timestamp) -> i64 {
    t.unix_nanos()
}

/// A flag as stored.
pub(super) fn flag(b: bool) -> i64 {
    i64::from(b)
}

/// A count or size as stored.
pub(super) fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A stored count or size.
pub(super) fn count(n: i64) -> u64 {
    n.max(0).unsigned_abs()
}

pub(super) fn to_json<T: serde::Serialize + ?Sized>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A stored word `parse` knows, or the row is corrupt.
fn known<T>(parsed: Option<T>, what: &str, field: &str, stored: &str) -> Result<T> {
    parsed.ok_or_else(|| StoreError::Corrupt(format!("{what} {field} {stored}")))
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// The stored document of an artifact's metadata: upstream's `meta_artifact` shape.
pub(super) fn meta_doc(m: &ArtifactMeta) -> Result<String> {
    to_json(&MetaArtifactJson::from(m))
}

/// Reads a stored metadata document back: each payload's meta-data is the `metadata` object
/// (the `meta_data` list is derived from it), the size is the row's.
fn meta_from_doc(text: &str, size: u64, what: &str) -> Result<ArtifactMeta> {
    let mut v: Value = from_json(text, what)?;
    let doc = v
        .as_object_mut()
        .ok_or_else(|| StoreError::Corrupt(format!("{what}: not an object")))?;
    for u in doc
        .get_mut("updates")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        if let Some(u) = u.as_object_mut() {
            u.remove("meta_data");
            if let Some(m) = u
                .remove("metadata")
                .filter(|m| m.as_object().is_some_and(|m| !m.is_empty()))
            {
                u.insert("meta_data".to_owned(), m);
            }
        }
    }
    doc.insert("size".to_owned(), Value::from(size));
    serde_json::from_value(v).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

#[derive(sqlx::FromRow)]
pub(super) struct ArtifactRow {
    #[sqlx(try_from = "String")]
    id: ArtifactId,
    #[sqlx(try_from = "String")]
    tenant_id: TenantId,
    description: String,
    meta: String,
    size: i64,
    modified: i64,
}

impl TryFrom<ArtifactRow> for Artifact {
    type Error = StoreError;
    fn try_from(r: ArtifactRow) -> Result<Self> {
        Ok(Artifact {
            meta: meta_from_doc(&r.meta, count(r.size), &format!("artifact {}", r.id))?,
            id: r.id,
            tenant: r.tenant_id,
            description: r.description,
            modified: Timestamp::from_unix_nanos(r.modified),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct DeploymentRow {
    #[sqlx(try_from = "String")]
    id: DeploymentId,
    #[sqlx(try_from = "String")]
    tenant_id: TenantId,
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
    total_size: i64,
}

impl TryFrom<DeploymentRow> for Deployment {
    type Error = StoreError;
    fn try_from(r: DeploymentRow) -> Result<Self> {
        let what = format!("deployment {}", r.id);
        Ok(Deployment {
            status: known(
                DeploymentStatus::parse(&r.status),
                &what,
                "status",
                &r.status,
            )?,
            groups: from_json(&r.group_names, &what)?,
            kind: known(DeploymentKind::parse(&r.kind), &what, "type", &r.kind)?,
            configuration: r.configuration,
            checksum: r.constructor_checksum,
            id: r.id,
            tenant: r.tenant_id,
            name: r.name,
            artifact_name: r.artifact_name,
            created: Timestamp::from_unix_nanos(r.created),
            finished: r.finished.map(Timestamp::from_unix_nanos),
            device_count: r.device_count,
            max_devices: r.max_devices,
            force_installation: r.force_installation != 0,
            total_size: r.total_size,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct DeviceDeploymentRow {
    id: String,
    #[sqlx(try_from = "String")]
    tenant_id: TenantId,
    #[sqlx(try_from = "String")]
    deployment_id: DeploymentId,
    #[sqlx(try_from = "String")]
    device_id: DeviceId,
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
    fn try_from(r: DeviceDeploymentRow) -> Result<Self> {
        let what = format!("device deployment {}", r.id);
        Ok(DeviceDeployment {
            request: r
                .request
                .as_deref()
                .map(|s| from_json(s, &what))
                .transpose()?,
            status: known(DeviceStatus::parse(&r.status), &what, "status", &r.status)?,
            id: r.id,
            tenant: r.tenant_id,
            deployment_id: r.deployment_id,
            device_id: r.device_id,
            substate: r.substate,
            created: Timestamp::from_unix_nanos(r.created),
            started: r.started.map(Timestamp::from_unix_nanos),
            finished: r.finished.map(Timestamp::from_unix_nanos),
            active: r.active != 0,
            deleted: r.deleted.map(Timestamp::from_unix_nanos),
            device_type: r.device_type,
            artifact_id: r.artifact_id.map(ArtifactId::from),
            log_available: r.log_available != 0,
        })
    }
}

/// `<select> WHERE tenant_id = <tenant>`, for the caller to add conditions to.
pub(super) fn of_tenant<'q>(
    dialect: Dialect,
    select: &'static str,
    tenant: &'q TenantId,
) -> QueryBuilder<'q> {
    let mut q = QueryBuilder::new(dialect, select);
    q.push(" WHERE tenant_id = ").push_bind(tenant);
    q
}

/// `<select> WHERE tenant_id = <tenant> AND id IN (<ids>)`; `None` for no ids, which match
/// nothing (and SQL has no empty list).
pub(super) fn of_ids<'q, T>(
    dialect: Dialect,
    select: &'static str,
    tenant: &'q TenantId,
    ids: &'q [T],
) -> Option<QueryBuilder<'q>>
where
    &'q T: Bind<'q>,
{
    if ids.is_empty() {
        return None;
    }
    let mut q = of_tenant(dialect, select, tenant);
    q.push(" AND id IN (").push_list(ids).push(")");
    Some(q)
}

/// Converts fetched rows into domain values.
pub(super) fn convert<R, T>(rows: Vec<R>) -> Result<Vec<T>>
where
    T: TryFrom<R, Error = StoreError>,
{
    rows.into_iter().map(T::try_from).collect()
}

/// A page of what `select` finds, in `order` (`offset`, `limit`: see [`push_paging`]), and
/// the total `count_query`, a `SELECT COUNT(*)` with the same conditions, finds.
pub(super) async fn page_and_total<R, T>(
    db: &Db,
    count_query: QueryBuilder<'_>,
    mut select: QueryBuilder<'_>,
    order: &'static str,
    offset: u64,
    limit: Option<u64>,
) -> Result<(Vec<T>, u64)>
where
    R: FromRow,
    T: TryFrom<R, Error = StoreError>,
{
    let total = count(count_query.build().scalar::<i64>(db).await?);
    select.push(order);
    push_paging(&mut select, offset, limit);
    let rows = select.build().fetch_all::<R>(db).await?;
    Ok((convert(rows)?, total))
}

/// Appends ` LIMIT .. OFFSET ..`; no limit means every row.
pub(super) fn push_paging(q: &mut QueryBuilder<'_>, offset: u64, limit: Option<u64>) {
    q.push(" LIMIT ")
        .push_bind(limit.map_or(i64::MAX, int))
        .push(" OFFSET ")
        .push_bind(int(offset));
}

/// Appends `status IN (...)` for these statuses, or a condition that is never true for none.
pub(super) fn push_statuses(q: &mut QueryBuilder<'_>, statuses: &[DeviceStatus]) {
    if statuses.is_empty() {
        q.push("1 = 0");
    } else {
        q.push("status IN (")
            .push_list(statuses.iter().map(|s| s.as_str()))
            .push(")");
    }
}

/// Escapes `%`, `_` and `\` for a `LIKE ... ESCAPE '\'` pattern.
pub(super) fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `%text%` for a case-insensitive `LIKE` on a lower-cased column.
pub(super) fn contains_pattern(s: &str) -> String {
    format!("%{}%", like_escape(&s.to_lowercase()))
}

/// `text%` for a case-insensitive `LIKE` on a lower-cased column.
pub(super) fn prefix_pattern(s: &str) -> String {
    format!("{}%", like_escape(&s.to_lowercase()))
}
