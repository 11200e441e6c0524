//! Implementations of the `mender-api` client traits on top of in-process services: how one
//! service asks another without depending on it.

use std::sync::Arc;

use mender_api::inventory::{InventoryClient, InventoryError};
use mender_inventory::search::ListParams;
use mender_inventory::store::{Cond, Key, Scalar};

/// Page size when walking long device lists.
const PAGE: u64 = 500;

/// Deployments' view of the inventory: which devices a group or "all devices" means.
pub struct InventoryAdapter(pub Arc<mender_inventory::Service>);

#[async_trait::async_trait]
impl InventoryClient for InventoryAdapter {
    async fn devices_in_group(
        &self,
        tenant: &str,
        group: &str,
    ) -> Result<Vec<String>, InventoryError> {
        let mut out = Vec::new();
        loop {
            match self
                .0
                .app()
                .devices_in_group(tenant, group, out.len() as u64, PAGE)
                .await
            {
                Ok((ids, total)) => {
                    let done = ids.is_empty() || out.len() as u64 + ids.len() as u64 >= total;
                    out.extend(ids);
                    if done {
                        return Ok(out);
                    }
                }
                Err(mender_inventory::Error::GroupNotFound) => return Ok(out),
                Err(e) => return Err(InventoryError::Other(e.to_string())),
            }
        }
    }

    /// Every accepted device, as upstream's deployments asks inventory for.
    async fn all_devices(&self, tenant: &str) -> Result<Vec<String>, InventoryError> {
        let accepted = ListParams {
            conds: vec![Cond::In {
                key: Key::Attr {
                    scope: "identity".into(),
                    name: "status".into(),
                },
                values: vec![Scalar::Str("accepted".into())],
                negate: false,
            }],
            sort: None,
        };
        let mut out = Vec::new();
        loop {
            let (devices, total) = self
                .0
                .app()
                .list_devices(tenant, accepted.clone(), out.len() as u64, PAGE)
                .await
                .map_err(|e| InventoryError::Other(e.to_string()))?;
            let done = devices.is_empty() || out.len() as u64 + devices.len() as u64 >= total;
            out.extend(devices.into_iter().map(|d| d.id));
            if done {
                return Ok(out);
            }
        }
    }
}
