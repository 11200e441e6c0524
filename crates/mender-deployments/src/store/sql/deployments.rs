//! [`DeploymentStore`] on SQL: deployments, their target devices and candidate artifacts,
//! filters, statistics, abort, and the status a deployment derives from its device
//! deployments.

use std::collections::{BTreeSet, HashMap};

use mender_core::{ArtifactId, DeploymentId, DeviceId, TenantId, Timestamp};
use mender_db::{Db, QueryBuilder, Tx, query};

use super::SqlStore;
use super::rows::{
    DEPLOYMENT_COLUMNS, DeploymentRow, contains_pattern, convert, flag, int, ns, of_ids, of_tenant,
    page_and_total, to_json,
};
use crate::model::{
    Deployment, DeploymentFilter, DeploymentStatus, DeviceStatus, Sort, Statistics, stats_finished,
    stats_started,
};
use crate::store::{DeploymentStore, Result, StoreError};

/// Rows per `INSERT` of target devices.
const DEVICE_CHUNK: usize = 400;

/// Appends the filter's conditions to a query of the tenant's deployments.
fn push_filter<'q>(q: &mut QueryBuilder<'q>, f: &'q DeploymentFilter) {
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
    // Upstream compares at `T.000` against times it stores in milliseconds: a deployment
    // of `T.000999` is created at `T.000` there, one of `T.001` after it.
    const NS: i64 = 1_000_000_000;
    const MS: i64 = 1_000_000;
    if let Some(a) = f.created_after {
        q.push(" AND created >= ").push_bind(a.saturating_mul(NS));
    }
    if let Some(b) = f.created_before {
        q.push(" AND created <= ")
            .push_bind(b.saturating_mul(NS).saturating_add(MS - 1));
    }
}

/// The ids `sql` selects for one deployment: `$1` is the tenant, `$2` the deployment.
async fn ids_of<T: From<String>>(
    db: &Db,
    sql: &'static str,
    tenant: &TenantId,
    id: &DeploymentId,
) -> Result<Vec<T>> {
    let ids: Vec<String> = query(sql).bind(tenant).bind(id).scalars(db).await?;
    Ok(ids.into_iter().map(T::from).collect())
}

#[async_trait::async_trait]
impl DeploymentStore for SqlStore {
    async fn insert_deployment(
        &self,
        d: &Deployment,
        devices: &[DeviceId],
        artifacts: &[ArtifactId],
    ) -> Result<()> {
        let groups = to_json(&d.groups)?;
        let mut tx = self.0.begin_write().await?;
        let inserted = query(
            "INSERT INTO deployments (id, tenant_id, name, artifact_name, created, finished, \
             status, device_count, max_devices, force_installation, group_names, kind, \
             configuration, constructor_checksum, total_size) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
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
        .bind(d.total_size)
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
        // Every target starts pending.
        bump(&mut tx, &d.id, DeviceStatus::Pending, d.max_devices).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_deployment(
        &self,
        tenant: &TenantId,
        id: &DeploymentId,
    ) -> Result<Option<Deployment>> {
        let ids = std::slice::from_ref(id);
        Ok(self.get_deployments(tenant, ids).await?.pop())
    }

    async fn get_deployments(
        &self,
        tenant: &TenantId,
        ids: &[DeploymentId],
    ) -> Result<Vec<Deployment>> {
        let Some(q) = of_ids(self.0.dialect(), DEPLOYMENT_COLUMNS, tenant, ids) else {
            return Ok(Vec::new());
        };
        convert(q.build().fetch_all::<DeploymentRow>(&self.0).await?)
    }

    async fn list_deployments(
        &self,
        tenant: &TenantId,
        f: &DeploymentFilter,
    ) -> Result<(Vec<Deployment>, u64)> {
        let order = match f.sort {
            Sort::Asc => " ORDER BY created ASC, id ASC",
            Sort::Desc => " ORDER BY created DESC, id DESC",
        };
        let mut q = of_tenant(self.0.dialect(), DEPLOYMENT_COLUMNS, tenant);
        push_filter(&mut q, f);
        let mut c = of_tenant(self.0.dialect(), "SELECT COUNT(*) FROM deployments", tenant);
        push_filter(&mut c, f);
        page_and_total::<DeploymentRow, _>(&self.0, c, q, order, f.offset, f.limit).await
    }

    async fn active_deployments_of(
        &self,
        tenant: &TenantId,
        names: &[String],
    ) -> Result<Vec<DeploymentId>> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = QueryBuilder::new(
            self.0.dialect(),
            "SELECT id FROM deployments WHERE tenant_id = ",
        );
        q.push_bind(tenant)
            .push(" AND status <> 'finished' AND artifact_name IN (")
            .push_list(names)
            .push(") ORDER BY id");
        let ids: Vec<String> = q.build().scalars(&self.0).await?;
        Ok(ids.into_iter().map(DeploymentId::from).collect())
    }

    async fn deployment_artifact_ids(
        &self,
        tenant: &TenantId,
        id: &DeploymentId,
    ) -> Result<Vec<ArtifactId>> {
        let sql = "SELECT da.artifact_id FROM deployment_artifacts da JOIN deployments d \
                   ON d.id = da.deployment_id WHERE d.tenant_id = $1 AND d.id = $2 \
                   ORDER BY da.artifact_id";
        ids_of(&self.0, sql, tenant, id).await
    }

    async fn deployment_device_ids(
        &self,
        tenant: &TenantId,
        id: &DeploymentId,
    ) -> Result<Vec<DeviceId>> {
        let sql = "SELECT dv.device_id FROM deployment_devices dv JOIN deployments d \
                   ON d.id = dv.deployment_id WHERE d.tenant_id = $1 AND d.id = $2 \
                   ORDER BY dv.device_id";
        ids_of(&self.0, sql, tenant, id).await
    }

    async fn statistics(
        &self,
        tenant: &TenantId,
        ids: &[DeploymentId],
    ) -> Result<HashMap<DeploymentId, Statistics>> {
        let mut out: HashMap<DeploymentId, Statistics> =
            ids.iter().map(|i| (i.clone(), Statistics::new())).collect();
        if ids.is_empty() {
            return Ok(out);
        }
        let mut q = of_tenant(
            self.0.dialect(),
            "SELECT s.deployment_id, s.status, s.count FROM deployment_stats s \
             JOIN deployments d ON d.id = s.deployment_id",
            tenant,
        );
        q.push(" AND s.deployment_id IN (").push_list(ids).push(")");
        let rows: Vec<(String, String, i64)> = q.build().fetch_all(&self.0).await?;
        for (dep, status, n) in rows {
            if let (Some(s), Some(stats)) =
                (DeviceStatus::parse(&status), out.get_mut(dep.as_str()))
            {
                stats.insert(s, n);
            }
        }
        Ok(out)
    }

    async fn add_total_size(&self, tenant: &TenantId, id: &DeploymentId, bytes: u64) -> Result<()> {
        query(
            "UPDATE deployments SET total_size = total_size + $1 WHERE tenant_id = $2 AND id = $3",
        )
        .bind(int(bytes))
        .bind(tenant)
        .bind(id)
        .execute(&self.0)
        .await?;
        Ok(())
    }

    async fn abort_deployment(
        &self,
        tenant: &TenantId,
        id: &DeploymentId,
        now: Timestamp,
    ) -> Result<()> {
        let mut tx = self.0.begin_write().await?;
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
        // Upstream replaces the counts with those of the device deployments: devices that
        // never checked in no longer count as pending.
        query("DELETE FROM deployment_stats WHERE deployment_id = $1")
            .bind(id)
            .execute(&mut tx)
            .await?;
        query(
            "INSERT INTO deployment_stats (deployment_id, status, count) \
             SELECT deployment_id, status, COUNT(*) FROM device_deployments \
             WHERE tenant_id = $1 AND deployment_id = $2 AND deleted IS NULL \
             GROUP BY deployment_id, status",
        )
        .bind(tenant)
        .bind(id)
        .execute(&mut tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Adds `delta` to a deployment's count of devices in `status`.
pub(super) async fn bump(
    tx: &mut Tx,
    deployment: &DeploymentId,
    status: DeviceStatus,
    delta: i64,
) -> Result<()> {
    if delta == 0 {
        return Ok(());
    }
    query(
        "INSERT INTO deployment_stats (deployment_id, status, count) VALUES ($1, $2, $3) \
         ON CONFLICT (deployment_id, status) \
         DO UPDATE SET count = deployment_stats.count + excluded.count",
    )
    .bind(deployment)
    .bind(status.as_str())
    .bind(delta)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Locks a deployment's row for the rest of `tx` (PostgreSQL; SQLite's write transaction
/// already excludes every other writer). Every transaction that changes device deployments
/// takes this lock first, in ascending id order when several, so they never deadlock.
pub(super) async fn lock_deployment(tx: &mut Tx, id: &DeploymentId) -> Result<()> {
    let mut lock = QueryBuilder::new(tx.dialect(), "SELECT id FROM deployments WHERE id = ");
    lock.push_bind(id).push(tx.dialect().for_update());
    lock.build().scalar_optional::<String>(&mut *tx).await?;
    Ok(())
}

/// Recomputes the status of the deployments whose device deployments `tx` changed, then
/// commits.
pub(super) async fn recompute_and_commit(
    mut tx: Tx,
    deployments: impl IntoIterator<Item = String>,
    now: Timestamp,
) -> Result<()> {
    // One order for every transaction that locks several deployments.
    let deployments: BTreeSet<String> = deployments.into_iter().collect();
    for id in deployments {
        recompute(&mut tx, &DeploymentId::from(id), now).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Recomputes a deployment's status from its counts, inside the transaction that moved
/// them (upstream `Deployment.GetStatus`). The deployment's row is locked first: on
/// PostgreSQL, transactions of devices finishing at once then count one after the other, each
/// seeing the others' committed changes, so the last one finishes the deployment.
async fn recompute(tx: &mut Tx, id: &DeploymentId, now: Timestamp) -> Result<()> {
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
    let rows: Vec<(String, i64)> =
        query("SELECT status, count FROM deployment_stats WHERE deployment_id = $1")
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
    let stats: Statistics = rows
        .into_iter()
        .filter_map(|(s, n)| DeviceStatus::parse(&s).map(|s| (s, n)))
        .collect();
    let (status, finished) = if finished.is_some() {
        (DeploymentStatus::Finished, finished)
    } else if stats_finished(&stats, max) {
        (DeploymentStatus::Finished, Some(ns(now)))
    } else if stats_started(&stats) {
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
