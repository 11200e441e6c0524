//! Keeping the services' views of devices in step: what the start-up reconciliation in
//! `mender-server` asks of device authentication (which devices exist, which are accepted,
//! which are being decommissioned) and of inventory (which devices it lists), and the repairs
//! it asks each to make.

/// One device of one tenant (the open-source server's tenant is `""`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeviceRef {
    /// Tenant id.
    pub tenant: String,
    /// Device id.
    pub id: String,
}

/// Why a service could not answer or repair.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DirectoryError(pub String);

/// Device authentication's side of reconciliation.
#[async_trait::async_trait]
pub trait AdmissionDirectory: Send + Sync + 'static {
    /// Every device it knows, whatever its status.
    async fn known_devices(&self) -> Result<Vec<DeviceRef>, DirectoryError>;
    /// Accepted devices that are not being decommissioned.
    async fn accepted_devices(&self) -> Result<Vec<DeviceRef>, DirectoryError>;
    /// Devices marked for decommissioning (their workflow has not finished).
    async fn decommissioning_devices(&self) -> Result<Vec<DeviceRef>, DirectoryError>;
    /// Queues provisioning of an accepted device again; whether anything was queued (not
    /// when it is no longer accepted or provisioning is already waiting).
    async fn reprovision(&self, device: &DeviceRef) -> Result<bool, DirectoryError>;
    /// Queues the decommissioning workflow of a device again; whether anything was queued.
    async fn redecommission(&self, device: &DeviceRef) -> Result<bool, DirectoryError>;
}

/// Inventory's side of reconciliation.
#[async_trait::async_trait]
pub trait InventoryDirectory: Send + Sync + 'static {
    /// Every device it lists.
    async fn listed_devices(&self) -> Result<Vec<DeviceRef>, DirectoryError>;
    /// Removes a device (a missing one is not an error).
    async fn remove_device(&self, device: &DeviceRef) -> Result<(), DirectoryError>;
}
