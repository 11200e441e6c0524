//! Implementations of the `mender-api` client traits on top of in-process services: how one
//! service asks another without depending on it.

use std::sync::Arc;

use mender_api::inventory::{InventoryClient, InventoryError};
use mender_core::{DeviceId, TenantId};
use mender_inventory::store::{Cond, Key, Scalar};

/// Deployments' view of the inventory: which devices a group or "all devices" means.
pub struct InventoryAdapter(pub Arc<mender_inventory::Service>);

#[async_trait::async_trait]
impl InventoryClient for InventoryAdapter {
    /// The group's accepted devices: upstream's deployments asks inventory for the group
    /// and `identity.status == accepted` together, so pending or rejected members are not
    /// targeted.
    async fn devices_in_group(
        &self,
        tenant: &str,
        group: &str,
    ) -> Result<Vec<String>, InventoryError> {
        self.ids(tenant, vec![attr_is("system", "group", group), accepted()])
            .await
    }

    /// Every accepted device, as upstream's deployments asks inventory for.
    async fn all_devices(&self, tenant: &str) -> Result<Vec<String>, InventoryError> {
        self.ids(tenant, vec![accepted()]).await
    }
}

impl InventoryAdapter {
    /// One query for the whole set: paging with counts made a 100,000-device deployment
    /// take a minute.
    async fn ids(&self, tenant: &str, conds: Vec<Cond>) -> Result<Vec<String>, InventoryError> {
        let ids = self
            .0
            .app()
            .device_ids(&TenantId::from(tenant), conds)
            .await
            .map_err(|e| InventoryError::Other(e.to_string()))?;
        Ok(ids.into_iter().map(DeviceId::into_string).collect())
    }
}

/// `identity.status == accepted`.
fn accepted() -> Cond {
    attr_is("identity", "status", "accepted")
}

fn attr_is(scope: &str, name: &str, value: &str) -> Cond {
    Cond::In {
        key: Key::Attr {
            scope: scope.into(),
            name: name.into(),
        },
        values: vec![Scalar::Str(value.into())],
        negate: false,
    }
}
