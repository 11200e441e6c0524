//! The deviceconfig store: one configuration record per device of a tenant.

use mender_core::{DeploymentId, DeviceId, TenantId, Timestamp};

use crate::model::{Configuration, Device, Side};

mod sql;

pub use sql::SqlStore;

/// Store failures the app layer tells apart.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Inserting a device that has a record already.
    #[error("device already exists")]
    DeviceExists,
    /// The device has no record.
    #[error("device does not exist")]
    NotFound,
    /// The database failed, or a stored value could not be decoded.
    #[error(transparent)]
    Db(#[from] mender_db::Error),
}

/// Device configuration records, per tenant.
#[async_trait::async_trait]
pub trait DeviceConfigStore: Send + Sync + 'static {
    /// Whether the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Creates an empty record for a newly accepted device, its `updated_ts` at `now`;
    /// [`StoreError::DeviceExists`] when it has one.
    async fn insert_device(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// Replaces one side of the device's configuration and stamps that side's time with
    /// `now`, creating the record if needed.
    async fn replace_configuration(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        side: Side,
        configuration: &Configuration,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// Records the device's latest configuration deployment; [`StoreError::NotFound`]
    /// without a record.
    async fn set_deployment_id(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        deployment: &DeploymentId,
    ) -> Result<(), StoreError>;

    /// The device's record, if it has one.
    async fn device(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
    ) -> Result<Option<Device>, StoreError>;

    /// Deletes the device's record; [`StoreError::NotFound`] without one.
    async fn delete_device(&self, tenant: &TenantId, device: &DeviceId) -> Result<(), StoreError>;

    /// Deletes every record of the tenant; how many there were.
    async fn delete_tenant(&self, tenant: &TenantId) -> Result<u64, StoreError>;
}
