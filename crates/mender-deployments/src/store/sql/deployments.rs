//! Deployments: their target devices and candidate artifacts, filters, statistics, abort, and
//! the status a deployment derives from its device deployments.

use std::collections::HashMap;

use mender_core::{ArtifactId, DeploymentId, DeviceId, TenantId, Timestamp};
use mender_db::{Db, QueryBuilder, Tx, query};

use super::rows::{
    DEPLOYMENT_COLUMNS, DeploymentRow, contains_pattern, convert, count, flag, ns, push_paging,
    push_statuses, to_json,
};
use crate::model::{
    Deployment, DeploymentFilter, DeploymentStatus, DeviceStatus, Sort, Statistics,
};
use crate::store::StoreError;

/// Rows per `INSERT` of target devices.
const DEVICE_CHUNK: usize = 400;

pub(super) async fn insert(
    db: &Db,
    d: &Deployment,
    devices: &[DeviceId],
    artifacts: &[ArtifactId],
) -> Result<(), StoreError> {
    let groups = to_json(&d.groups)?;
    let mut tx = db.begin_write().await?;
    let inserted = query(
        "INSERT INTO deployments (id, tenant_id, name, artifact_name, created, finished, status, \
         device_count, max_devices, force_installation, group_names, kind, configuration, \
         constructor_checksum) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(&d.id)
    .bind(&d.tenant)
    .bind(&d.name)
    .bind(&d.artifact_name)
    .bind(ns(d.created))
    .bind(d.finished.map(ns))
    .bind(d.status.as_str())
    .bind(d.device_count)
    .bind(d.max_devices)
    .bind(flag(d.force_installation))
    .bind(groups)
    .bind(d.kind.as_str())
    .bind(d.configuration.as_deref())
    .bind(d.checksum.as_deref())
    .execute(&mut tx)
    .await;
    match inserted {
        Ok(_) => {}
        // Same id, or an identical unfinished deployment (checksum index).
        Err(e) if e.is_unique_violation() => return Err(StoreError::DeploymentConflict),
        Err(e) => return Err(e.into()),
    }
    for chunk in devices.chunks(DEVICE_CHUNK) {
        let mut q = QueryBuilder::new(
            tx.dialect(),
            "INSERT INTO deployment_devices (deployment_id, device_id) VALUES ",
        );
        let dep = q.param(&d.id);
        for (i, dev) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" })
                .push_param(dep)
                .push(", ")
                .push_bind(dev)
                .push(")");
        }
        q.push(" ON CONFLICT DO NOTHING");
        q.build().execute(&mut tx).await?;
    }
    for a in artifacts {
        query(
            "INSERT INTO deployment_artifacts (deployment_id, artifact_id) VALUES ($1, $2) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&d.id)
        .bind(a)
        .execute(&mut tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn get_many(
    db: &Db,
    tenant: &TenantId,
    ids: &[DeploymentId],
) -> Result<Vec<Deployment>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = QueryBuilder::new(db.dialect(), DEPLOYMENT_COLUMNS);
    q.push(" WHERE tenant_id = ")
        .push_bind(tenant)
        .push(" AND id IN (")
        .push_list(ids)
        .push(")");
    convert(q.build().fetch_all::<DeploymentRow>(db).await?)
}

/// ` WHERE tenant_id = $1` and the filter's conditions.
fn push_filter<'q>(q: &mut QueryBuilder<'q>, tenant: &'q TenantId, f: &'q DeploymentFilter) {
    q.push(" WHERE tenant_id = ").push_bind(tenant);
    if !f.ids.is_empty() {
        q.push(" AND id IN (").push_list(&f.ids).push(")");
    }
    if !f.names.is_empty() {
        q.push(" AND name IN (").push_list(&f.names).push(")");
    }
    if let Some(s) = &f.search {
        let p = q.param(contains_pattern(s));
        q.push(" AND (lower(name) LIKE ")
            .push_param(p)
            .push(" ESCAPE '\\' OR lower(artifact_name) LIKE ")
            .push_param(p)
            .push(" ESCAPE '\\')");
    }
    if let Some(st) = f.status {
        q.push(" AND status = ").push_bind(st.as_str());
    }
    if let Some(k) = f.kind {
        q.push(" AND kind = ").push_bind(k.as_str());
    }
    const NS: i64 = 1_000_000_000;
    if let Some(a) = f.created_after {
        q.push(" AND created >= ").push_bind(a.saturating_mul(NS));
    }
    if let Some(b) = f.created_before {
        // Through the last nanosecond of that second.
        q.push(" AND created <= ")
            .push_bind(b.saturating_add(1).saturating_mul(NS).saturating_sub(1));
    }
}

pub(super) async fn list(
    db: &Db,
    tenant: &TenantId,
    f: &DeploymentFilter,
) -> Result<(Vec<Deployment>, u64), StoreError> {
    let mut c = QueryBuilder::new(db.dialect(), "SELECT COUNT(*) FROM deployments");
    push_filter(&mut c, tenant, f);
    let total = count(c.build().scalar::<i64>(db).await?);
    let mut q = QueryBuilder::new(db.dialect(), DEPLOYMENT_COLUMNS);
    push_filter(&mut q, tenant, f);
    q.push(match f.sort {
        Sort::Asc => " ORDER BY created ASC, id ASC",
        Sort::Desc => " ORDER BY created DESC, id DESC",
    });
    push_paging(&mut q, f.offset, f.limit);
    Ok((
        convert(q.build().fetch_all::<DeploymentRow>(db).await?)?,
        total,
    ))
}

pub(super) async fn artifact_ids(
    db: &Db,
    tenant: &TenantId,
    id: &DeploymentId,
) -> Result<Vec<ArtifactId>, StoreError> {
    let ids: Vec<String> = query(
        "SELECT da.artifact_id FROM deployment_artifacts da JOIN deployments d \
         ON d.id = da.deployment_id WHERE d.tenant_id = $1 AND d.id = $2 ORDER BY da.artifact_id",
    )
    .bind(tenant)
    .bind(id)
    .scalars(db)
    .await?;
    Ok(ids.into_iter().map(ArtifactId::from).collect())
}

pub(super) async fn device_ids(
    db: &Db,
    tenant: &TenantId,
    id: &DeploymentId,
) -> Result<Vec<DeviceId>, StoreError> {
    let ids: Vec<String> = query(
        "SELECT dv.device_id FROM deployment_devices dv JOIN deployments d \
         ON d.id = dv.deployment_id WHERE d.tenant_id = $1 AND d.id = $2 ORDER BY dv.device_id",
    )
    .bind(tenant)
    .bind(id)
    .scalars(db)
    .await?;
    Ok(ids.into_iter().map(DeviceId::from).collect())
}

pub(super) async fn active_of(
    db: &Db,
    tenant: &TenantId,
    names: &[String],
) -> Result<Vec<DeploymentId>, StoreError> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = QueryBuilder::new(
        db.dialect(),
        "SELECT id FROM deployments WHERE tenant_id = ",
    );
    q.push_bind(tenant)
        .push(" AND status <> 'finished' AND artifact_name IN (")
        .push_list(names)
        .push(") ORDER BY id");
    let ids: Vec<String> = q.build().scalars(db).await?;
    Ok(ids.into_iter().map(DeploymentId::from).collect())
}

pub(super) async fn statistics(
    db: &Db,
    tenant: &TenantId,
    ids: &[DeploymentId],
) -> Result<HashMap<DeploymentId, Statistics>, StoreError> {
    let mut out: HashMap<DeploymentId, Statistics> =
        ids.iter().map(|i| (i.clone(), Statistics::new())).collect();
    if ids.is_empty() {
        return Ok(out);
    }
    let mut q = QueryBuilder::new(
        db.dialect(),
        "SELECT deployment_id, status, COUNT(*) FROM device_deployments WHERE tenant_id = ",
    );
    q.push_bind(tenant)
        .push(" AND deployment_id IN (")
        .push_list(ids)
        .push(") GROUP BY deployment_id, status");
    let rows: Vec<(String, String, i64)> = q.build().fetch_all(db).await?;
    for (dep, status, n) in rows {
        if let (Some(s), Some(stats)) = (DeviceStatus::parse(&status), out.get_mut(dep.as_str())) {
            stats.insert(s, n);
        }
    }
    Ok(out)
}

pub(super) async fn abort(
    db: &Db,
    tenant: &TenantId,
    id: &DeploymentId,
    now: Timestamp,
) -> Result<(), StoreError> {
    let mut tx = db.begin_write().await?;
    query(
        "UPDATE deployments SET status = 'finished', finished = COALESCE(finished, $1) \
         WHERE tenant_id = $2 AND id = $3",
    )
    .bind(ns(now))
    .bind(tenant)
    .bind(id)
    .execute(&mut tx)
    .await?;
    query(
        "UPDATE device_deployments SET status = 'aborted', finished = $1, active = 0 \
         WHERE tenant_id = $2 AND deployment_id = $3 AND active = 1",
    )
    .bind(ns(now))
    .bind(tenant)
    .bind(id)
    .execute(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Recomputes a deployment's status from its device deployments, inside the transaction
/// that changed them. The deployment's row is locked first: on PostgreSQL, transactions of
/// devices finishing at once then count one after the other, each seeing the others'
/// committed changes, so the last one finishes the deployment.
pub(super) async fn recompute(
    tx: &mut Tx,
    id: &DeploymentId,
    now: Timestamp,
) -> Result<(), StoreError> {
    let mut lock = QueryBuilder::new(
        tx.dialect(),
        "SELECT max_devices, finished FROM deployments WHERE id = ",
    );
    lock.push_bind(id).push(tx.dialect().for_update());
    let Some((max, finished)) = lock
        .build()
        .fetch_optional::<(i64, Option<i64>)>(&mut *tx)
        .await?
    else {
        return Ok(());
    };
    let finished_statuses: Vec<DeviceStatus> = DeviceStatus::ALL
        .into_iter()
        .filter(|s| s.is_finished())
        .collect();
    let mut q = QueryBuilder::new(tx.dialect(), "SELECT COALESCE(SUM(CASE WHEN ");
    push_statuses(&mut q, &finished_statuses);
    q.push(
        " THEN 1 ELSE 0 END), 0), COALESCE(SUM(CASE WHEN status <> 'pending' THEN 1 ELSE 0 END), \
         0) FROM device_deployments WHERE deployment_id = ",
    )
    .push_bind(id);
    let (done, started): (i64, i64) = q.build().fetch_one(&mut *tx).await?;
    let (status, finished) = if finished.is_some() {
        (DeploymentStatus::Finished, finished)
    } else if max > 0 && done >= max {
        (DeploymentStatus::Finished, Some(ns(now)))
    } else if started > 0 {
        (DeploymentStatus::Inprogress, None)
    } else {
        (DeploymentStatus::Pending, None)
    };
    query("UPDATE deployments SET status = $1, finished = $2 WHERE id = $3")
        .bind(status.as_str())
        .bind(finished)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
