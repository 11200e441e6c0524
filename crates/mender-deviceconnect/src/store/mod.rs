//! The deviceconnect store: one connection-status record per device of a tenant.

use mender_core::{DeviceId, TenantId, Timestamp};

use crate::model::{Device, Status};

mod sql;

pub use sql::SqlStore;

/// Store failures the app layer tells apart.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The device has no record.
    #[error("device does not exist")]
    NotFound,
    /// The database failed, or a stored value could not be decoded.
    #[error(transparent)]
    Db(#[from] mender_db::Error),
}

/// Device connection records, per tenant.
#[async_trait::async_trait]
pub trait DeviceConnectStore: Send + Sync + 'static {
    /// Whether the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Sets the device's status at `now`, creating its record (created at `now`) if needed.
    async fn set_status(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        status: Status,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// Creates a `disconnected` record for a newly accepted device; a device that has one
    /// (it may have connected first) keeps it.
    async fn provision_device(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        now: Timestamp,
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
