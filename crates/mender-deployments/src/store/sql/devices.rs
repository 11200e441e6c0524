//! [`DeviceDeploymentStore`] on SQL: a device's part in a deployment, its status changes
//! (which move the deployment's status), history and logs.

use std::collections::BTreeSet;

use mender_core::{ArtifactId, DeploymentId, DeviceId, TenantId, Timestamp};
use mender_db::{Db, QueryBuilder, Tx, query};

use super::SqlStore;
use super::deployments::{bump, lock_deployment, recompute_and_commit};
use super::rows::{
    DD_COLUMNS, DEPLOYMENT_COLUMNS, DeploymentRow, DeviceDeploymentRow, convert, flag, ns, of_ids,
    of_tenant, page_and_total, push_statuses, to_json,
};
use crate::model::{
    Deployment, DeviceDeployment, DeviceDeploymentFilter, DeviceRequest, DeviceStatus,
};
use crate::store::{DeviceDeploymentStore, Result, StoreError};

async fn fetch(db: &Db, q: QueryBuilder<'_>) -> Result<Vec<DeviceDeployment>> {
    convert(q.build().fetch_all::<DeviceDeploymentRow>(db).await?)
}

/// Appends ` AND <status condition>` for a filter's status.
fn push_status_filter(q: &mut QueryBuilder<'_>, f: &DeviceDeploymentFilter) {
    if let Some(s) = &f.status {
        q.push(" AND ");
        push_statuses(q, s.statuses());
    }
}

/// A page of `tenant`'s device deployments that `narrow` (conditions after the tenant's) and
/// `f` select, in `order`, and how many there are in all.
async fn page<'q>(
    db: &Db,
    tenant: &'q TenantId,
    f: &DeviceDeploymentFilter,
    order: &'static str,
    narrow: impl Fn(&mut QueryBuilder<'q>),
) -> Result<(Vec<DeviceDeployment>, u64)> {
    let filtered = |select| {
        let mut q = of_tenant(db.dialect(), select, tenant);
        narrow(&mut q);
        push_status_filter(&mut q, f);
        q
    };
    let q = filtered(DD_COLUMNS);
    let c = filtered("SELECT COUNT(*) FROM device_deployments");
    page_and_total::<DeviceDeploymentRow, _>(db, c, q, order, f.offset, f.limit).await
}

#[async_trait::async_trait]
impl DeviceDeploymentStore for SqlStore {
    async fn active_device_deployment(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
    ) -> Result<Option<DeviceDeployment>> {
        let mut q = of_tenant(self.0.dialect(), DD_COLUMNS, tenant);
        q.push(" AND device_id = ")
            .push_bind(device)
            .push(" AND active = 1 AND deleted IS NULL ORDER BY created, id LIMIT 1");
        Ok(fetch(&self.0, q).await?.pop())
    }

    async fn find_new_deployment(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
    ) -> Result<Option<Deployment>> {
        let mut q = QueryBuilder::new(self.0.dialect(), DEPLOYMENT_COLUMNS);
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
        let rows = q.build().fetch_all::<DeploymentRow>(&self.0).await?;
        Ok(convert(rows)?.pop())
    }

    async fn create_device_deployment(&self, dd: &DeviceDeployment) -> Result<DeviceDeployment> {
        let request = dd.request.as_ref().map(to_json).transpose()?;
        let mut tx = self.0.begin_write().await?;
        lock_deployment(&mut tx, &dd.deployment_id).await?;
        // Upstream counts a device once per deployment, even after a history reset.
        let known: i64 = query(
            "SELECT COUNT(*) FROM device_deployments WHERE deployment_id = $1 AND device_id = $2",
        )
        .bind(&dd.deployment_id)
        .bind(&dd.device_id)
        .scalar(&mut tx)
        .await?;
        let inserted = query(
            "INSERT INTO device_deployments (id, tenant_id, deployment_id, device_id, status, \
             substate, created, started, finished, active, deleted, device_type, artifact_id, \
             request, log_available) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
             ON CONFLICT DO NOTHING",
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
        .execute(&mut tx)
        .await?;
        if inserted == 0 {
            // Another request of the same device created it first: that one counts.
            tx.commit().await?;
            return self
                .get_device_deployment(&dd.tenant, &dd.deployment_id, &dd.device_id)
                .await?
                .ok_or_else(|| StoreError::Corrupt("device deployment vanished".to_owned()));
        }
        if known == 0 {
            query("UPDATE deployments SET device_count = device_count + 1 WHERE id = $1")
                .bind(&dd.deployment_id)
                .execute(&mut tx)
                .await?;
        }
        tx.commit().await?;
        Ok(dd.clone())
    }

    async fn get_device_deployment(
        &self,
        tenant: &TenantId,
        deployment: &DeploymentId,
        device: &DeviceId,
    ) -> Result<Option<DeviceDeployment>> {
        let mut q = of_tenant(self.0.dialect(), DD_COLUMNS, tenant);
        q.push(" AND deployment_id = ")
            .push_bind(deployment)
            .push(" AND device_id = ")
            .push_bind(device)
            .push(" ORDER BY CASE WHEN deleted IS NULL THEN 0 ELSE 1 END, created DESC LIMIT 1");
        Ok(fetch(&self.0, q).await?.pop())
    }

    async fn assign_artifact(
        &self,
        tenant: &TenantId,
        dd_id: &str,
        artifact: Option<&ArtifactId>,
        request: &DeviceRequest,
    ) -> Result<()> {
        query(
            "UPDATE device_deployments SET artifact_id = $1, request = $2, device_type = $3 \
             WHERE tenant_id = $4 AND id = $5",
        )
        .bind(artifact)
        .bind(to_json(request)?)
        .bind(&request.device_type)
        .bind(tenant)
        .bind(dd_id)
        .execute(&self.0)
        .await?;
        Ok(())
    }

    async fn set_device_status(
        &self,
        tenant: &TenantId,
        dd_id: &str,
        status: DeviceStatus,
        substate: Option<&str>,
        now: Timestamp,
    ) -> Result<()> {
        let mut tx = self.0.begin_write().await?;
        let dep: Option<String> =
            query("SELECT deployment_id FROM device_deployments WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(dd_id)
                .scalar_optional(&mut tx)
                .await?;
        let Some(dep) = dep else {
            tx.commit().await?;
            return Ok(());
        };
        let dep = DeploymentId::from(dep);
        lock_deployment(&mut tx, &dep).await?;
        change_status(&mut tx, &dep, dd_id, status, substate, now).await?;
        recompute_and_commit(tx, [dep.into_string()], now).await
    }

    async fn list_device_deployments(
        &self,
        tenant: &TenantId,
        deployment: &DeploymentId,
        f: &DeviceDeploymentFilter,
    ) -> Result<(Vec<DeviceDeployment>, u64)> {
        let order = " ORDER BY device_id, created";
        page(&self.0, tenant, f, order, |q| {
            q.push(" AND deployment_id = ").push_bind(deployment);
        })
        .await
    }

    async fn device_history(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        f: &DeviceDeploymentFilter,
    ) -> Result<(Vec<DeviceDeployment>, u64)> {
        let order = " ORDER BY created DESC, id";
        page(&self.0, tenant, f, order, |q| {
            q.push(" AND device_id = ")
                .push_bind(device)
                .push(" AND deleted IS NULL");
        })
        .await
    }

    async fn device_deployments_by_ids(
        &self,
        tenant: &TenantId,
        ids: &[String],
    ) -> Result<Vec<DeviceDeployment>> {
        let Some(mut q) = of_ids(self.0.dialect(), DD_COLUMNS, tenant, ids) else {
            return Ok(Vec::new());
        };
        q.push(" ORDER BY created DESC, id");
        fetch(&self.0, q).await
    }

    async fn finish_device(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        status: DeviceStatus,
        now: Timestamp,
    ) -> Result<()> {
        let mut tx = self.0.begin_write().await?;
        let active: Vec<(String, String)> = query(
            "SELECT id, deployment_id FROM device_deployments \
             WHERE tenant_id = $1 AND device_id = $2 AND active = 1 ORDER BY deployment_id, id",
        )
        .bind(tenant)
        .bind(device)
        .fetch_all(&mut tx)
        .await?;
        let deployments: BTreeSet<String> = active.iter().map(|(_, d)| d.clone()).collect();
        for dep in &deployments {
            lock_deployment(&mut tx, &DeploymentId::from(dep.as_str())).await?;
        }
        for (dd_id, dep) in &active {
            let dep = DeploymentId::from(dep.as_str());
            change_status(&mut tx, &dep, dd_id, status, None, now).await?;
        }
        recompute_and_commit(tx, deployments, now).await
    }

    async fn reset_device_history(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        now: Timestamp,
    ) -> Result<()> {
        query(
            "UPDATE device_deployments SET deleted = $1 WHERE tenant_id = $2 AND device_id = $3 \
             AND active = 0 AND deleted IS NULL",
        )
        .bind(ns(now))
        .bind(tenant)
        .bind(device)
        .execute(&self.0)
        .await?;
        Ok(())
    }

    async fn save_log(&self, tenant: &TenantId, dd_id: &str, messages: &str) -> Result<()> {
        query(
            "UPDATE device_deployments SET log = $1, log_available = 1 \
             WHERE tenant_id = $2 AND id = $3",
        )
        .bind(messages)
        .bind(tenant)
        .bind(dd_id)
        .execute(&self.0)
        .await?;
        Ok(())
    }

    async fn get_log(&self, tenant: &TenantId, dd_id: &str) -> Result<Option<String>> {
        let log: Option<Option<String>> =
            query("SELECT log FROM device_deployments WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(dd_id)
                .scalar_optional(&self.0)
                .await?;
        Ok(log.flatten())
    }
}

/// Sets a device deployment's status (and substate, started, finished and active as upstream)
/// inside `tx`, where its deployment `deployment` is locked, and moves one of the deployment's
/// counts from the status it had to the new one. Nothing happens when there is no such device
/// deployment.
async fn change_status(
    tx: &mut Tx,
    deployment: &DeploymentId,
    dd_id: &str,
    status: DeviceStatus,
    substate: Option<&str>,
    now: Timestamp,
) -> Result<()> {
    let mut read = QueryBuilder::new(
        tx.dialect(),
        "SELECT status FROM device_deployments WHERE id = ",
    );
    read.push_bind(dd_id).push(tx.dialect().for_update());
    let Some(old) = read.build().scalar_optional::<String>(&mut *tx).await? else {
        return Ok(());
    };
    let old = DeviceStatus::parse(&old)
        .ok_or_else(|| StoreError::Corrupt(format!("device deployment {dd_id} status {old}")))?;
    let finished = status.is_finished();
    query(
        "UPDATE device_deployments SET status = $1, substate = COALESCE($2, substate), \
         started = CASE WHEN $3 = 1 THEN COALESCE(started, $4) ELSE started END, \
         finished = CASE WHEN $5 = 1 THEN $4 ELSE finished END, active = $6 WHERE id = $7",
    )
    .bind(status.as_str())
    .bind(substate)
    .bind(flag(status != DeviceStatus::Pending))
    .bind(ns(now))
    .bind(flag(finished))
    .bind(flag(!finished))
    .bind(dd_id)
    .execute(&mut *tx)
    .await?;
    if old != status {
        bump(tx, deployment, old, -1).await?;
        bump(tx, deployment, status, 1).await?;
    }
    Ok(())
}
