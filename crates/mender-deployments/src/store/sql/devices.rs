//! [`DeviceDeploymentStore`] on SQL: a device's part in a deployment, its status changes
//! (which move the deployment's status), history and logs.

use mender_core::{ArtifactId, DeploymentId, DeviceId, TenantId, Timestamp};
use mender_db::{Db, QueryBuilder, query};

use super::SqlStore;
use super::deployments::recompute_and_commit;
use super::rows::{
    DD_COLUMNS, DEPLOYMENT_COLUMNS, DeploymentRow, DeviceDeploymentRow, convert, flag, ns, of_ids,
    of_tenant, page_and_total, push_paging, push_statuses, to_json,
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
        .execute(&self.0)
        .await;
        match inserted {
            Ok(_) => Ok(dd.clone()),
            // Another request of the same device created it first: that one counts.
            Err(e) if e.is_unique_violation() => self
                .get_device_deployment(&dd.tenant, &dd.deployment_id, &dd.device_id)
                .await?
                .ok_or(StoreError::Db(e)),
            Err(e) => Err(e.into()),
        }
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
        let finished = status.is_finished();
        let mut tx = self.0.begin_write().await?;
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
        recompute_and_commit(tx, dep, now).await
    }

    async fn list_device_deployments(
        &self,
        tenant: &TenantId,
        deployment: &DeploymentId,
        f: &DeviceDeploymentFilter,
    ) -> Result<(Vec<DeviceDeployment>, u64)> {
        let dialect = self.0.dialect();
        let filtered = |select| {
            let mut q = of_tenant(dialect, select, tenant);
            q.push(" AND deployment_id = ").push_bind(deployment);
            push_status_filter(&mut q, f);
            q
        };
        let q = filtered(DD_COLUMNS);
        let c = filtered("SELECT COUNT(*) FROM device_deployments");
        let order = " ORDER BY device_id, created";
        page_and_total::<DeviceDeploymentRow, _>(&self.0, c, q, order, f.offset, f.limit).await
    }

    async fn device_history(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        f: &DeviceDeploymentFilter,
    ) -> Result<Vec<DeviceDeployment>> {
        let mut q = of_tenant(self.0.dialect(), DD_COLUMNS, tenant);
        q.push(" AND device_id = ")
            .push_bind(device)
            .push(" AND deleted IS NULL");
        push_status_filter(&mut q, f);
        q.push(" ORDER BY created DESC, id");
        push_paging(&mut q, f.offset, f.limit);
        fetch(&self.0, q).await
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
        recompute_and_commit(tx, deps, now).await
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
