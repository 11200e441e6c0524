//! Implementations of the `mender-api` client traits on top of in-process services: how one
//! service asks another without depending on it.

use std::sync::Arc;

use mender_api::deployments::{
    ConfigurationDeploymentError, ConfigurationDeployments, NewConfigurationDeployment,
};
use mender_api::devices::{AdmissionDirectory, DeviceRef, DirectoryError, InventoryDirectory};
use mender_api::inventory::{InventoryClient, InventoryError};
use mender_core::{DeploymentId, DeviceId, TenantId};
use mender_deviceauth::app::Ctx;
use mender_deviceauth::model::Status;
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

/// Reconciliation's view of device authentication.
pub struct AdmissionAdapter(pub Arc<mender_deviceauth::Service>);

/// Reconciliation's view of inventory.
pub struct InventoryDirectoryAdapter(pub Arc<mender_inventory::Service>);

fn directory_error(e: impl std::fmt::Display) -> DirectoryError {
    DirectoryError(e.to_string())
}

fn device_ref(tenant: &TenantId, id: &DeviceId) -> DeviceRef {
    DeviceRef {
        tenant: tenant.as_str().to_owned(),
        id: id.as_str().to_owned(),
    }
}

/// The request context of a repair: the device's tenant and a request id naming its origin.
fn reconcile_ctx(device: &DeviceRef) -> (Ctx, DeviceId) {
    let ctx = Ctx {
        tenant: TenantId::from(device.tenant.as_str()),
        request_id: "reconcile-at-start".into(),
    };
    (ctx, DeviceId::from(device.id.as_str()))
}

impl AdmissionAdapter {
    /// The devices `keep` selects.
    async fn devices(
        &self,
        keep: impl Fn(&mender_deviceauth::store::DeviceBrief) -> bool,
    ) -> Result<Vec<DeviceRef>, DirectoryError> {
        let all = self
            .0
            .app()
            .device_briefs()
            .await
            .map_err(directory_error)?;
        Ok(all
            .iter()
            .filter(|d| keep(d))
            .map(|d| device_ref(&d.tenant, &d.id))
            .collect())
    }
}

#[async_trait::async_trait]
impl AdmissionDirectory for AdmissionAdapter {
    async fn known_devices(&self) -> Result<Vec<DeviceRef>, DirectoryError> {
        self.devices(|_| true).await
    }

    async fn accepted_devices(&self) -> Result<Vec<DeviceRef>, DirectoryError> {
        self.devices(|d| d.status == Status::Accepted && !d.decommissioning)
            .await
    }

    async fn decommissioning_devices(&self) -> Result<Vec<DeviceRef>, DirectoryError> {
        self.devices(|d| d.decommissioning).await
    }

    async fn reprovision(&self, device: &DeviceRef) -> Result<bool, DirectoryError> {
        let (ctx, id) = reconcile_ctx(device);
        let app = self.0.app();
        app.reprovision(&ctx, &id).await.map_err(directory_error)
    }

    async fn redecommission(&self, device: &DeviceRef) -> Result<bool, DirectoryError> {
        let (ctx, id) = reconcile_ctx(device);
        let app = self.0.app();
        app.redecommission(&ctx, &id).await.map_err(directory_error)
    }
}

#[async_trait::async_trait]
impl InventoryDirectory for InventoryDirectoryAdapter {
    async fn listed_devices(&self) -> Result<Vec<DeviceRef>, DirectoryError> {
        let ids = self.0.app().all_device_ids().await;
        let ids = ids.map_err(directory_error)?;
        Ok(ids.iter().map(|(t, d)| device_ref(t, d)).collect())
    }

    async fn remove_device(&self, device: &DeviceRef) -> Result<(), DirectoryError> {
        let (ctx, id) = reconcile_ctx(device);
        let app = self.0.app();
        app.delete_device(&ctx.tenant, &id)
            .await
            .map_err(directory_error)
    }
}

/// deviceconfig's way to deployments: creating a configuration deployment in-process, what
/// upstream's `deploy_device_configuration` workflow asks deployments' internal API for.
pub struct ConfigurationDeploymentsAdapter(pub Arc<mender_deployments::Service>);

#[async_trait::async_trait]
impl ConfigurationDeployments for ConfigurationDeploymentsAdapter {
    async fn create_configuration_deployment(
        &self,
        d: NewConfigurationDeployment,
    ) -> Result<(), ConfigurationDeploymentError> {
        // `d.retries` stays here: retries are a paid-plan feature the open-source
        // deployments service does not have.
        let req = mender_deployments::app::configuration::NewConfigurationDeployment {
            name: d.name,
            configuration: d.configuration,
        };
        self.0
            .app()
            .create_configuration_deployment(
                &TenantId::from(d.tenant),
                &DeploymentId::from(d.deployment_id),
                &DeviceId::from(d.device_id),
                req,
            )
            .await
            .map(|_| ())
            .map_err(|e| match e {
                mender_deployments::error::Error::BadRequest(m)
                | mender_deployments::error::Error::Conflict(m) => {
                    ConfigurationDeploymentError::Rejected(m)
                }
                other => ConfigurationDeploymentError::Other(other.to_string()),
            })
    }
}
