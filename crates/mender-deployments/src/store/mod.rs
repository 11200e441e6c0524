//! The deployments store contract, by topic ([`ArtifactStore`], [`DeploymentStore`],
//! [`DeviceDeploymentStore`], [`SettingsStore`]; all of them together [`DeploymentsStore`]),
//! and its failures. The one SQL implementation for both backends is [`SqlStore`].

mod sql;

use std::collections::HashMap;

use mender_core::{ArtifactId, DeploymentId, DeviceId, TenantId, Timestamp};

pub use sql::SqlStore;

use crate::model::{
    Artifact, ArtifactFilter, Deployment, DeploymentFilter, DeviceDeployment,
    DeviceDeploymentFilter, DeviceRequest, DeviceStatus, ReleaseMeta, Statistics,
};

/// Store failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An artifact with the same name and overlapping depends exists.
    #[error("an artifact with the same name and depends already exists")]
    ArtifactConflict,
    /// A deployment with the same id, or an identical unfinished deployment, exists.
    #[error("a conflicting deployment exists")]
    DeploymentConflict,
    /// A stored document could not be decoded.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] mender_db::Error),
}

/// The result of a store call.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Outcome of deleting an artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactDeletion {
    /// Deleted.
    Deleted,
    /// No such artifact.
    NotFound,
    /// An unfinished deployment uses it.
    InUse,
}

/// Outcome of reserving an artifact id before its file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// The caller holds the id until it commits the artifact or releases the id.
    Reserved,
    /// An artifact with this id exists.
    Exists,
    /// Another upload (or deletion) holds the id.
    Held,
}

/// What changes in a release's metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseChange<'a> {
    /// New notes.
    Notes(&'a str),
    /// New tags, replacing the old ones.
    Tags(&'a [String]),
}

/// The whole deployments store: every topic, on one database. Every call is scoped to a
/// tenant (empty in the open-source server).
#[async_trait::async_trait]
pub trait DeploymentsStore:
    ArtifactStore + DeploymentStore + DeviceDeploymentStore + SettingsStore + Send + Sync
{
    /// Checks the database answers.
    async fn ping(&self) -> Result<()>;
}

/// Persistence of artifacts and releases (one release per artifact name, with notes and tags).
#[async_trait::async_trait]
pub trait ArtifactStore {
    /// Claims an artifact id for an upload before any of its bytes are stored: `Reserved`
    /// unless an artifact with that id exists or another caller holds it.
    async fn reserve_artifact_id(
        &self,
        tenant: &TenantId,
        id: &ArtifactId,
        now: Timestamp,
    ) -> Result<Reservation>;
    /// Gives up a claim on an artifact id (nothing happens when none is held).
    async fn release_artifact_id(&self, id: &ArtifactId) -> Result<()>;
    /// Claims older than `before`: left by a process that stopped mid-upload or mid-delete.
    async fn stale_reservations(&self, before: Timestamp) -> Result<Vec<(TenantId, ArtifactId)>>;
    /// Inserts an artifact, creating its release and adding it to unfinished deployments of
    /// the same name, and ends the claim on its id in the same transaction; fails with
    /// [`StoreError::ArtifactConflict`] on a name/depends clash.
    async fn insert_artifact(&self, a: &Artifact) -> Result<()>;
    /// One artifact.
    async fn get_artifact(&self, tenant: &TenantId, id: &ArtifactId) -> Result<Option<Artifact>>;
    /// A filtered, sorted page of artifacts and the total number matching.
    async fn list_artifacts(
        &self,
        tenant: &TenantId,
        f: &ArtifactFilter,
    ) -> Result<(Vec<Artifact>, u64)>;
    /// Artifacts with this name, oldest first.
    async fn artifacts_by_name(&self, tenant: &TenantId, name: &str) -> Result<Vec<Artifact>>;
    /// Sets an artifact's description; `false` when it does not exist.
    async fn set_artifact_description(
        &self,
        tenant: &TenantId,
        id: &ArtifactId,
        description: &str,
        now: Timestamp,
    ) -> Result<bool>;
    /// Deletes an artifact unless an unfinished deployment uses it; drops its release when it
    /// was the last artifact of that name. A deleted artifact's id stays reserved (as of
    /// `now`) so that no new upload writes its file before the caller has deleted the old
    /// one and released the id.
    async fn delete_artifact(
        &self,
        tenant: &TenantId,
        id: &ArtifactId,
        now: Timestamp,
    ) -> Result<ArtifactDeletion>;
    /// Whether any deployment (finished or not) lists the artifact.
    async fn artifact_in_any_deployment(&self, tenant: &TenantId, id: &ArtifactId) -> Result<bool>;
    /// Total size in bytes of the tenant's artifacts.
    async fn storage_usage(&self, tenant: &TenantId) -> Result<u64>;

    /// Notes and tags of every release that has artifacts.
    async fn release_metas(&self, tenant: &TenantId) -> Result<Vec<ReleaseMeta>>;
    /// Changes a release's notes or tags; `false` when there is no such release.
    async fn update_release(
        &self,
        tenant: &TenantId,
        name: &str,
        change: ReleaseChange<'_>,
        now: Timestamp,
    ) -> Result<bool>;
}

/// Persistence of deployments: their target devices, candidate artifacts and statistics.
#[async_trait::async_trait]
pub trait DeploymentStore {
    /// Inserts a deployment with its target devices and candidate artifacts; fails with
    /// [`StoreError::DeploymentConflict`] when the id is taken or an unfinished deployment
    /// has the same checksum.
    async fn insert_deployment(
        &self,
        d: &Deployment,
        devices: &[DeviceId],
        artifacts: &[ArtifactId],
    ) -> Result<()>;
    /// One deployment.
    async fn get_deployment(
        &self,
        tenant: &TenantId,
        id: &DeploymentId,
    ) -> Result<Option<Deployment>>;
    /// Deployments by id (missing ids are skipped).
    async fn get_deployments(
        &self,
        tenant: &TenantId,
        ids: &[DeploymentId],
    ) -> Result<Vec<Deployment>>;
    /// A filtered page of deployments and the total number matching.
    async fn list_deployments(
        &self,
        tenant: &TenantId,
        f: &DeploymentFilter,
    ) -> Result<(Vec<Deployment>, u64)>;
    /// Ids of unfinished deployments of any of these release names.
    async fn active_deployments_of(
        &self,
        tenant: &TenantId,
        names: &[String],
    ) -> Result<Vec<DeploymentId>>;
    /// Candidate artifact ids of a deployment.
    async fn deployment_artifact_ids(
        &self,
        tenant: &TenantId,
        id: &DeploymentId,
    ) -> Result<Vec<ArtifactId>>;
    /// Target device ids of a deployment, sorted.
    async fn deployment_device_ids(
        &self,
        tenant: &TenantId,
        id: &DeploymentId,
    ) -> Result<Vec<DeviceId>>;
    /// The stored per-status device counts of each of these deployments (every target
    /// starts pending; see [`DeviceDeploymentStore::set_device_status`]).
    async fn statistics(
        &self,
        tenant: &TenantId,
        ids: &[DeploymentId],
    ) -> Result<HashMap<DeploymentId, Statistics>>;
    /// Adds an artifact's size to a deployment's `total_size`.
    async fn add_total_size(&self, tenant: &TenantId, id: &DeploymentId, bytes: u64) -> Result<()>;
    /// Aborts a deployment: its active device deployments become `aborted`, its counts become
    /// those of its device deployments, it is finished.
    async fn abort_deployment(
        &self,
        tenant: &TenantId,
        id: &DeploymentId,
        now: Timestamp,
    ) -> Result<()>;
}

/// Persistence of device deployments (a device's part in a deployment) and their logs; a
/// status change also moves its deployment's status.
#[async_trait::async_trait]
pub trait DeviceDeploymentStore {
    /// The device's oldest active device deployment.
    async fn active_device_deployment(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
    ) -> Result<Option<DeviceDeployment>>;
    /// The oldest unfinished deployment targeting the device, created after its latest finished
    /// device deployment, that still has room for devices.
    async fn find_new_deployment(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
    ) -> Result<Option<Deployment>>;
    /// Creates a device deployment; if one already exists for the pair, returns that one.
    /// The deployment's `device_count` grows when the device had no device deployment in it
    /// before (not even a history-reset one); its counts do not move.
    async fn create_device_deployment(&self, dd: &DeviceDeployment) -> Result<DeviceDeployment>;
    /// The current (not history-reset) device deployment of a device in a deployment.
    async fn get_device_deployment(
        &self,
        tenant: &TenantId,
        deployment: &DeploymentId,
        device: &DeviceId,
    ) -> Result<Option<DeviceDeployment>>;
    /// Records the assigned artifact, device type and first request of a device deployment.
    async fn assign_artifact(
        &self,
        tenant: &TenantId,
        dd_id: &str,
        artifact: Option<&ArtifactId>,
        request: &DeviceRequest,
    ) -> Result<()>;
    /// Changes a device deployment's status (setting started/finished/active as upstream),
    /// moves its deployment's counts from the old status to the new one and updates the
    /// deployment's status, in one transaction.
    async fn set_device_status(
        &self,
        tenant: &TenantId,
        dd_id: &str,
        status: DeviceStatus,
        substate: Option<&str>,
        now: Timestamp,
    ) -> Result<()>;
    /// A page of a deployment's device deployments, by device id, and the total.
    async fn list_device_deployments(
        &self,
        tenant: &TenantId,
        deployment: &DeploymentId,
        f: &DeviceDeploymentFilter,
    ) -> Result<(Vec<DeviceDeployment>, u64)>;
    /// A page of a device's device deployments, newest first, and the total.
    async fn device_history(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        f: &DeviceDeploymentFilter,
    ) -> Result<(Vec<DeviceDeployment>, u64)>;
    /// Device deployments by id.
    async fn device_deployments_by_ids(
        &self,
        tenant: &TenantId,
        ids: &[String],
    ) -> Result<Vec<DeviceDeployment>>;
    /// Sets every active device deployment of the device to `status` (aborted or
    /// decommissioned), moving the counts and updating the deployments.
    async fn finish_device(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        status: DeviceStatus,
        now: Timestamp,
    ) -> Result<()>;
    /// Hides the device's finished device deployments, making it eligible again.
    async fn reset_device_history(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        now: Timestamp,
    ) -> Result<()>;
    /// Stores a device deployment's log (JSON list of messages).
    async fn save_log(&self, tenant: &TenantId, dd_id: &str, messages: &str) -> Result<()>;
    /// A device deployment's log (JSON list of messages).
    async fn get_log(&self, tenant: &TenantId, dd_id: &str) -> Result<Option<String>>;
}

/// Persistence of per-tenant settings.
#[async_trait::async_trait]
pub trait SettingsStore {
    /// The tenant's storage settings document (JSON), if set.
    async fn get_storage_settings(&self, tenant: &TenantId) -> Result<Option<String>>;
    /// Replaces the tenant's storage settings document, or removes it with `None`.
    async fn set_storage_settings(&self, tenant: &TenantId, settings: Option<&str>) -> Result<()>;
    /// The tenant's limit `name`, if set.
    async fn get_limit(&self, tenant: &TenantId, name: &str) -> Result<Option<u64>>;
    /// Sets the tenant's limit `name`.
    async fn set_limit(&self, tenant: &TenantId, name: &str, value: u64) -> Result<()>;
}
