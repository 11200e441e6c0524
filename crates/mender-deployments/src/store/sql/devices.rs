//! Device deployments: a device's part in a deployment, its status changes (which move the
//! deployment's status), history and logs.

use mender_core::{ArtifactId, DeploymentId, DeviceId, TenantId, Timestamp};
use mender_db::{Db, QueryBuilder, query};

use super::deployments::recompute;
use super::rows::{
    DD_COLUMNS, DEPLOYMENT_COLUMNS, DeploymentRow, DeviceDeploymentRow, convert, count, flag, ns,
    push_paging, push_statuses, to_json,
};
use crate::model::{Deployment, DeviceDeployment, DeviceRequest, DeviceStatus, StatusFilter};
use crate::store::StoreError;

async fn fetch(db: &Db, q: QueryBuilder<'_>) -> Result<Vec<DeviceDeployment>, StoreError> {
    convert(q.build().fetch_all::<DeviceDeploymentRow>(db).await?)
}

/// Appends ` AND <status condition>` for a status filter.
fn push_status_filter(q: &mut QueryBuilder<'_>, f: Option<&StatusFilter>) {
    if let Some(f) = f {
        q.push(" AND ");
        push_statuses(q, f.statuses());
    }
}

pub(super) async fn active(
    db: &Db,
    tenant: &TenantId,
    device: &DeviceId,
) -> Result<Option<DeviceDeployment>, StoreError> {
    let mut q = QueryBuilder::new(db.dialect(), DD_COLUMNS);
    q.push(" WHERE tenant_id = ")
        .push_bind(tenant)
        .push(" AND device_id = ")
        .push_bind(device)
        .push(" AND active = 1 AND deleted IS NULL ORDER BY created, id LIMIT 1");
    Ok(fetch(db, q).await?.pop())
}

pub(super) async fn find_new_deployment(
    db: &Db,
    tenant: &TenantId,
    device: &DeviceId,
) -> Result<Option<Deployment>, StoreError> {
    let mut q = QueryBuilder::new(db.dialect(), DEPLOYMENT_COLUMNS);
    let t = q.param(tenant);
    let d = q.param(device);
    q.push(" WHERE tenant_id = ")
        .push_param(t)
        .push(
            " AND status <> 'finished' AND created > COALESCE((SELECT MAX(x.created) \
             FROM device_deployments x WHERE x.tenant_id = ",
        )
        .push_param(t)
        .push(" AND x.device_id = ")
        .push_param(d)
        .push(" AND x.active = 0 AND x.deleted IS NULL), ")
        .push_bind(i64::MIN)
        .push(
            ") AND EXISTS (SELECT 1 FROM deployment_devices dv \
             WHERE dv.deployment_id = deployments.id AND dv.device_id = ",
        )
        .push_param(d)
        .push(
            ") AND NOT EXISTS (SELECT 1 FROM device_deployments y \
             WHERE y.deployment_id = deployments.id AND y.device_id = ",
        )
        .push_param(d)
        .push(
            " AND y.deleted IS NULL) AND (max_devices = 0 OR (SELECT COUNT(*) \
             FROM device_deployments z WHERE z.deployment_id = deployments.id \
             AND z.deleted IS NULL) < max_devices) ORDER BY created, id LIMIT 1",
        );
    let rows = q.build().fetch_all::<DeploymentRow>(db).await?;
    Ok(convert(rows)?.pop())
}

pub(super) async fn create(db: &Db, dd: &DeviceDeployment) -> Result<DeviceDeployment, StoreError> {
    let request = dd.request.as_ref().map(to_json).transpose()?;
    let inserted = query(
        "INSERT INTO device_deployments (id, tenant_id, deployment_id, device_id, status, \
         substate, created, started, finished, active, deleted, device_type, artifact_id, \
         request, log_available) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(&dd.id)
    .bind(&dd.tenant)
    .bind(&dd.deployment_id)
    .bind(&dd.device_id)
    .bind(dd.status.as_str())
    .bind(&dd.substate)
    .bind(ns(dd.created))
    .bind(dd.started.map(ns))
    .bind(dd.finished.map(ns))
    .bind(flag(dd.active))
    .bind(dd.deleted.map(ns))
    .bind(&dd.device_type)
    .bind(dd.artifact_id.as_ref())
    .bind(request)
    .bind(flag(dd.log_available))
    .execute(db)
    .await;
    match inserted {
        Ok(_) => Ok(dd.clone()),
        // Another request of the same device created it first: that one counts.
        Err(e) if e.is_unique_violation() => get(db, &dd.tenant, &dd.deployment_id, &dd.device_id)
            .await?
            .ok_or(StoreError::Db(e)),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn get(
    db: &Db,
    tenant: &TenantId,
    deployment: &DeploymentId,
    device: &DeviceId,
) -> Result<Option<DeviceDeployment>, StoreError> {
    let mut q = QueryBuilder::new(db.dialect(), DD_COLUMNS);
    q.push(" WHERE tenant_id = ")
        .push_bind(tenant)
        .push(" AND deployment_id = ")
        .push_bind(deployment)
        .push(" AND device_id = ")
        .push_bind(device)
        .push(" ORDER BY CASE WHEN deleted IS NULL THEN 0 ELSE 1 END, created DESC LIMIT 1");
    Ok(fetch(db, q).await?.pop())
}

pub(super) async fn assign_artifact(
    db: &Db,
    tenant: &TenantId,
    dd_id: &str,
    artifact: Option<&ArtifactId>,
    request: &DeviceRequest,
) -> Result<(), StoreError> {
    query(
        "UPDATE device_deployments SET artifact_id = $1, request = $2, device_type = $3 \
         WHERE tenant_id = $4 AND id = $5",
    )
    .bind(artifact)
    .bind(to_json(request)?)
    .bind(&request.device_type)
    .bind(tenant)
    .bind(dd_id)
    .execute(db)
    .await?;
    Ok(())
}

pub(super) async fn set_status(
    db: &Db,
    tenant: &TenantId,
    dd_id: &str,
    status: DeviceStatus,
    substate: Option<&str>,
    now: Timestamp,
) -> Result<(), StoreError> {
    let finished = status.is_finished();
    let mut tx = db.begin_write().await?;
    let dep: Option<String> = query(
        "UPDATE device_deployments SET status = $1, substate = COALESCE($2, substate), \
         started = CASE WHEN $3 = 1 THEN COALESCE(started, $4) ELSE started END, \
         finished = CASE WHEN $5 = 1 THEN $4 ELSE finished END, active = $6 \
         WHERE tenant_id = $7 AND id = $8 RETURNING deployment_id",
    )
    .bind(status.as_str())
    .bind(substate)
    .bind(flag(status != DeviceStatus::Pending))
    .bind(ns(now))
    .bind(flag(finished))
    .bind(flag(!finished))
    .bind(tenant)
    .bind(dd_id)
    .scalar_optional(&mut tx)
    .await?;
    if let Some(dep) = dep {
        recompute(&mut tx, &DeploymentId::from(dep), now).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// ` WHERE` the device deployments of one deployment, with a status filter.
fn push_of_deployment<'q>(
    q: &mut QueryBuilder<'q>,
    tenant: &'q TenantId,
    deployment: &'q DeploymentId,
    status: Option<&StatusFilter>,
) {
    q.push(" WHERE tenant_id = ")
        .push_bind(tenant)
        .push(" AND deployment_id = ")
        .push_bind(deployment);
    push_status_filter(q, status);
}

pub(super) async fn list(
    db: &Db,
    tenant: &TenantId,
    deployment: &DeploymentId,
    status: Option<&StatusFilter>,
    offset: u64,
    limit: Option<u64>,
) -> Result<(Vec<DeviceDeployment>, u64), StoreError> {
    let mut c = QueryBuilder::new(db.dialect(), "SELECT COUNT(*) FROM device_deployments");
    push_of_deployment(&mut c, tenant, deployment, status);
    let total = count(c.build().scalar::<i64>(db).await?);
    let mut q = QueryBuilder::new(db.dialect(), DD_COLUMNS);
    push_of_deployment(&mut q, tenant, deployment, status);
    q.push(" ORDER BY device_id, created");
    push_paging(&mut q, offset, limit);
    Ok((fetch(db, q).await?, total))
}

pub(super) async fn history(
    db: &Db,
    tenant: &TenantId,
    device: &DeviceId,
    status: Option<&StatusFilter>,
    offset: u64,
    limit: u64,
) -> Result<Vec<DeviceDeployment>, StoreError> {
    let mut q = QueryBuilder::new(db.dialect(), DD_COLUMNS);
    q.push(" WHERE tenant_id = ")
        .push_bind(tenant)
        .push(" AND device_id = ")
        .push_bind(device)
        .push(" AND deleted IS NULL");
    push_status_filter(&mut q, status);
    q.push(" ORDER BY created DESC, id");
    push_paging(&mut q, offset, Some(limit));
    fetch(db, q).await
}

pub(super) async fn by_ids(
    db: &Db,
    tenant: &TenantId,
    ids: &[String],
) -> Result<Vec<DeviceDeployment>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = QueryBuilder::new(db.dialect(), DD_COLUMNS);
    q.push(" WHERE tenant_id = ")
        .push_bind(tenant)
        .push(" AND id IN (")
        .push_list(ids)
        .push(") ORDER BY created DESC, id");
    fetch(db, q).await
}

pub(super) async fn finish_device(
    db: &Db,
    tenant: &TenantId,
    device: &DeviceId,
    status: DeviceStatus,
    now: Timestamp,
) -> Result<(), StoreError> {
    let mut tx = db.begin_write().await?;
    let deps: Vec<String> = query(
        "UPDATE device_deployments SET status = $1, finished = $2, active = 0 \
         WHERE tenant_id = $3 AND device_id = $4 AND active = 1 RETURNING deployment_id",
    )
    .bind(status.as_str())
    .bind(ns(now))
    .bind(tenant)
    .bind(device)
    .scalars(&mut tx)
    .await?;
    // One order for every transaction that locks several deployments.
    let deps: std::collections::BTreeSet<String> = deps.into_iter().collect();
    for dep in deps {
        recompute(&mut tx, &DeploymentId::from(dep), now).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn reset_history(
    db: &Db,
    tenant: &TenantId,
    device: &DeviceId,
    now: Timestamp,
) -> Result<(), StoreError> {
    query(
        "UPDATE device_deployments SET deleted = $1 WHERE tenant_id = $2 AND device_id = $3 \
         AND active = 0 AND deleted IS NULL",
    )
    .bind(ns(now))
    .bind(tenant)
    .bind(device)
    .execute(db)
    .await?;
    Ok(())
}

pub(super) async fn save_log(
    db: &Db,
    tenant: &TenantId,
    dd_id: &str,
    messages: &str,
) -> Result<(), StoreError> {
    query(
        "UPDATE device_deployments SET log = $1, log_available = 1 \
         WHERE tenant_id = $2 AND id = $3",
    )
    .bind(messages)
    .bind(tenant)
    .bind(dd_id)
    .execute(db)
    .await?;
    Ok(())
}

pub(super) async fn get_log(
    db: &Db,
    tenant: &TenantId,
    dd_id: &str,
) -> Result<Option<String>, StoreError> {
    let log: Option<Option<String>> =
        query("SELECT log FROM device_deployments WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(dd_id)
            .scalar_optional(db)
            .await?;
    Ok(log.flatten())
}
