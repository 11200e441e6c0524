//! Asking inventory which devices a deployment targets (upstream deployments calls
//! inventory's internal search for group and all-device deployments).

/// Why inventory could not answer.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// The inventory service failed or could not be reached.
    #[error("inventory request failed: {0}")]
    Other(String),
}

/// The inventory queries deployments needs.
#[async_trait::async_trait]
pub trait InventoryClient: Send + Sync + 'static {
    /// Ids of the devices of `tenant` in static group `group` (empty when the group is unknown).
    async fn devices_in_group(
        &self,
        tenant: &str,
        group: &str,
    ) -> Result<Vec<String>, InventoryError>;

    /// Ids of every accepted device of `tenant`.
    async fn all_devices(&self, tenant: &str) -> Result<Vec<String>, InventoryError>;
}
