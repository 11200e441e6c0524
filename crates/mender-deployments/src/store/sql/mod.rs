//! [`SqlStore`]: the one [`DeploymentsStore`] implementation, on [`mender_db`], for SQLite
//! and PostgreSQL alike. Each statement is written once, by topic:
//! - `artifacts`: artifacts and releases,
//! - `deployments`: deployments, statistics and the status they derive,
//! - `devices`: device deployments and logs,
//! - `settings`: storage settings,
//! - `rows`: row types and the column encodings.

mod artifacts;
mod deployments;
mod devices;
mod rows;
mod settings;

use std::collections::HashMap;

use mender_core::{ArtifactId, DeploymentId, DeviceId, TenantId, Timestamp};
use mender_db::Db;

use super::{ArtifactDeletion, DeploymentsStore, StoreError};
use crate::model::{
    Artifact, ArtifactFilter, Deployment, DeploymentFilter, DeviceDeployment, DeviceRequest,
    DeviceStatus, ReleaseMeta, Statistics, StatusFilter,
};

/// The deployments store on a migrated database (see [`crate::SCHEMA`]).
#[derive(Debug, Clone)]
pub struct SqlStore {
    db: Db,
}

impl SqlStore {
    /// A store over `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

#[async_trait::async_trait]
impl DeploymentsStore for SqlStore {
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(self.db.ping().await?)
    }

    async fn insert_artifact(&self, a: &Artifact) -> Result<(), StoreError> {
        artifacts::insert(&self.db, a).await
    }

    async fn get_artifact(
        &self,
        tenant: &TenantId,
        id: &ArtifactId,
    ) -> Result<Option<Artifact>, StoreError> {
        artifacts::get(&self.db, tenant, id).await
    }

    async fn list_artifacts(
        &self,
        tenant: &TenantId,
        f: &ArtifactFilter,
    ) -> Result<(Vec<Artifact>, u64), StoreError> {
        artifacts::list(&self.db, tenant, f).await
    }

    async fn artifacts_by_name(
        &self,
        tenant: &TenantId,
        name: &str,
    ) -> Result<Vec<Artifact>, StoreError> {
        artifacts::by_name(&self.db, tenant, name).await
    }

    async fn set_artifact_description(
        &self,
        tenant: &TenantId,
        id: &ArtifactId,
        description: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        artifacts::set_description(&self.db, tenant, id, description, now).await
    }

    async fn delete_artifact(
        &self,
        tenant: &TenantId,
        id: &ArtifactId,
    ) -> Result<ArtifactDeletion, StoreError> {
        artifacts::delete(&self.db, tenant, id).await
    }

    async fn release_metas(&self, tenant: &TenantId) -> Result<Vec<ReleaseMeta>, StoreError> {
        artifacts::release_metas(&self.db, tenant).await
    }

    async fn set_release_notes(
        &self,
        tenant: &TenantId,
        name: &str,
        notes: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        artifacts::set_release_notes(&self.db, tenant, name, notes, now).await
    }

    async fn set_release_tags(
        &self,
        tenant: &TenantId,
        name: &str,
        tags: &[String],
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        artifacts::set_release_tags(&self.db, tenant, name, tags, now).await
    }

    async fn active_deployments_of(
        &self,
        tenant: &TenantId,
        names: &[String],
    ) -> Result<Vec<DeploymentId>, StoreError> {
        deployments::active_of(&self.db, tenant, names).await
    }

    async fn insert_deployment(
        &self,
        d: &Deployment,
        devices: &[DeviceId],
        artifacts: &[ArtifactId],
    ) -> Result<(), StoreError> {
        deployments::insert(&self.db, d, devices, artifacts).await
    }

    async fn get_deployment(
        &self,
        tenant: &TenantId,
        id: &DeploymentId,
    ) -> Result<Option<Deployment>, StoreError> {
        let ids = std::slice::from_ref(id);
        Ok(deployments::get_many(&self.db, tenant, ids).await?.pop())
    }

    async fn get_deployments(
        &self,
        tenant: &TenantId,
        ids: &[DeploymentId],
    ) -> Result<Vec<Deployment>, StoreError> {
        deployments::get_many(&self.db, tenant, ids).await
    }

    async fn list_deployments(
        &self,
        tenant: &TenantId,
        f: &DeploymentFilter,
    ) -> Result<(Vec<Deployment>, u64), StoreError> {
        deployments::list(&self.db, tenant, f).await
    }

    async fn deployment_artifact_ids(
        &self,
        tenant: &TenantId,
        id: &DeploymentId,
    ) -> Result<Vec<ArtifactId>, StoreError> {
        deployments::artifact_ids(&self.db, tenant, id).await
    }

    async fn deployment_device_ids(
        &self,
        tenant: &TenantId,
        id: &DeploymentId,
    ) -> Result<Vec<DeviceId>, StoreError> {
        deployments::device_ids(&self.db, tenant, id).await
    }

    async fn statistics(
        &self,
        tenant: &TenantId,
        ids: &[DeploymentId],
    ) -> Result<HashMap<DeploymentId, Statistics>, StoreError> {
        deployments::statistics(&self.db, tenant, ids).await
    }

    async fn abort_deployment(
        &self,
        tenant: &TenantId,
        id: &DeploymentId,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        deployments::abort(&self.db, tenant, id, now).await
    }

    async fn active_device_deployment(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
    ) -> Result<Option<DeviceDeployment>, StoreError> {
        devices::active(&self.db, tenant, device).await
    }

    async fn find_new_deployment(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
    ) -> Result<Option<Deployment>, StoreError> {
        devices::find_new_deployment(&self.db, tenant, device).await
    }

    async fn create_device_deployment(
        &self,
        dd: &DeviceDeployment,
    ) -> Result<DeviceDeployment, StoreError> {
        devices::create(&self.db, dd).await
    }

    async fn get_device_deployment(
        &self,
        tenant: &TenantId,
        deployment: &DeploymentId,
        device: &DeviceId,
    ) -> Result<Option<DeviceDeployment>, StoreError> {
        devices::get(&self.db, tenant, deployment, device).await
    }

    async fn assign_artifact(
        &self,
        tenant: &TenantId,
        dd_id: &str,
        artifact: Option<&ArtifactId>,
        request: &DeviceRequest,
    ) -> Result<(), StoreError> {
        devices::assign_artifact(&self.db, tenant, dd_id, artifact, request).await
    }

    async fn set_device_status(
        &self,
        tenant: &TenantId,
        dd_id: &str,
        status: DeviceStatus,
        substate: Option<&str>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        devices::set_status(&self.db, tenant, dd_id, status, substate, now).await
    }

    async fn list_device_deployments(
        &self,
        tenant: &TenantId,
        deployment: &DeploymentId,
        status: Option<&StatusFilter>,
        offset: u64,
        limit: Option<u64>,
    ) -> Result<(Vec<DeviceDeployment>, u64), StoreError> {
        devices::list(&self.db, tenant, deployment, status, offset, limit).await
    }

    async fn device_history(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        status: Option<&StatusFilter>,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<DeviceDeployment>, StoreError> {
        devices::history(&self.db, tenant, device, status, offset, limit).await
    }

    async fn device_deployments_by_ids(
        &self,
        tenant: &TenantId,
        ids: &[String],
    ) -> Result<Vec<DeviceDeployment>, StoreError> {
        devices::by_ids(&self.db, tenant, ids).await
    }

    async fn finish_device(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        status: DeviceStatus,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        devices::finish_device(&self.db, tenant, device, status, now).await
    }

    async fn reset_device_history(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        devices::reset_history(&self.db, tenant, device, now).await
    }

    async fn save_log(
        &self,
        tenant: &TenantId,
        dd_id: &str,
        messages: &str,
    ) -> Result<(), StoreError> {
        devices::save_log(&self.db, tenant, dd_id, messages).await
    }

    async fn get_log(&self, tenant: &TenantId, dd_id: &str) -> Result<Option<String>, StoreError> {
        devices::get_log(&self.db, tenant, dd_id).await
    }

    async fn artifact_in_any_deployment(
        &self,
        tenant: &TenantId,
        id: &ArtifactId,
    ) -> Result<bool, StoreError> {
        artifacts::in_any_deployment(&self.db, tenant, id).await
    }

    async fn storage_usage(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        artifacts::storage_usage(&self.db, tenant).await
    }

    async fn get_storage_settings(&self, tenant: &TenantId) -> Result<Option<String>, StoreError> {
        settings::get(&self.db, tenant).await
    }

    async fn set_storage_settings(
        &self,
        tenant: &TenantId,
        settings: Option<&str>,
    ) -> Result<(), StoreError> {
        settings::set(&self.db, tenant, settings).await
    }
}
