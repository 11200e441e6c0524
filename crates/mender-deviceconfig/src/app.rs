//! The deviceconfig logic, named after upstream's operations: provisioning and
//! decommissioning devices, setting desired and reported configurations, and deploying a
//! configuration through deployments. Knows no HTTP.

use std::sync::Arc;

use mender_api::deployments::{
    ConfigurationDeploymentError, ConfigurationDeployments, NewConfigurationDeployment,
};
use mender_core::{DeploymentId, DeviceId, SharedClock, TenantId};

use crate::error::{Error, Result};
use crate::model::{Configuration, DeployRequest, Device, Side, check_device_id, invalid_body};
use crate::store::{DeviceConfigStore, StoreError};

/// The deviceconfig service's operations.
pub struct App {
    store: Arc<dyn DeviceConfigStore>,
    clock: SharedClock,
    deployments: Arc<dyn ConfigurationDeployments>,
}

impl App {
    /// The logic over `store`, reading the time from `clock` and creating configuration
    /// deployments through `deployments`.
    pub fn new(
        store: Arc<dyn DeviceConfigStore>,
        clock: SharedClock,
        deployments: Arc<dyn ConfigurationDeployments>,
    ) -> Self {
        Self {
            store,
            clock,
            deployments,
        }
    }

    /// Whether the database answers (upstream `HealthCheck`).
    pub async fn health_check(&self) -> Result<()> {
        Ok(self.store.ping().await?)
    }

    /// Initialises a new tenant (upstream `ProvisionTenant`): the tables are shared, so
    /// there is nothing to create, only the id to check.
    pub fn provision_tenant(&self, tenant: &TenantId) -> Result<()> {
        if tenant.is_empty() {
            return Err(invalid_body("tenant_id: cannot be blank."));
        }
        if tenant.as_str().contains('\0') {
            return Err(invalid_body("tenant_id: must not contain a NUL character."));
        }
        Ok(())
    }

    /// Deletes every configuration record of a tenant (upstream `DeleteTenant`).
    pub async fn delete_tenant(&self, tenant: &TenantId) -> Result<()> {
        let n = self.store.delete_tenant(tenant).await?;
        tracing::info!(tenant = %tenant, devices = n, "tenant's device configurations deleted");
        Ok(())
    }

    /// Creates the empty record of a newly accepted device (upstream `ProvisionDevice`);
    /// [`Error::DeviceExists`] when it has one.
    pub async fn provision_device(&self, tenant: &TenantId, device: &DeviceId) -> Result<()> {
        if device.is_empty() {
            return Err(invalid_body("device_id: cannot be blank."));
        }
        check_device_id(device)?;
        let now = self.clock.now();
        match self.store.insert_device(tenant, device, now).await {
            Err(StoreError::DeviceExists) => Err(Error::DeviceExists),
            other => Ok(other?),
        }
    }

    /// Forgets a decommissioned device (upstream `DecommissionDevice`).
    pub async fn decommission_device(&self, tenant: &TenantId, device: &DeviceId) -> Result<()> {
        check_device_id(device)?;
        match self.store.delete_device(tenant, device).await {
            Err(StoreError::NotFound) => Err(Error::DeviceNotFound),
            other => Ok(other?),
        }
    }

    /// Replaces the device's desired configuration (upstream `SetConfiguration`) or the one
    /// it reports it runs with (`SetReportedConfiguration`); like upstream, a device without
    /// a record gets one.
    pub async fn set_configuration(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        side: Side,
        configuration: &Configuration,
    ) -> Result<()> {
        check_device_id(device)?;
        let now = self.clock.now();
        Ok(self
            .store
            .replace_configuration(tenant, device, side, configuration, now)
            .await?)
    }

    /// The device's configuration record (upstream `GetDevice`).
    pub async fn device(&self, tenant: &TenantId, device: &DeviceId) -> Result<Device> {
        check_device_id(device)?;
        self.store
            .device(tenant, device)
            .await?
            .ok_or(Error::DeviceNotFound)
    }

    /// Deploys the device's desired configuration (upstream `DeployConfiguration`): a new
    /// configuration deployment named `configuration-<id>` for this one device, recorded as
    /// the device's latest. Answers with the deployment id.
    pub async fn deploy_configuration(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        request: DeployRequest,
    ) -> Result<DeploymentId> {
        let record = self.device(tenant, device).await?;
        // Open source has no Enterprise plan; upstream refuses a non-empty map there too.
        if request.update_control_map.is_some_and(|m| !m.is_empty()) {
            return Err(Error::UpdateControlMapForbidden);
        }
        let id = DeploymentId::from(mender_core::ids::new_uuid());
        let configuration = serde_json::to_string(&record.configured)
            .map_err(|e| Error::Deployments(format!("cannot encode the configuration: {e}")))?;
        // Create first, then record: a failed creation leaves the device's latest deployment
        // pointing at one that exists.
        self.deployments
            .create_configuration_deployment(NewConfigurationDeployment {
                tenant: tenant.as_str().to_owned(),
                deployment_id: id.as_str().to_owned(),
                device_id: device.as_str().to_owned(),
                name: format!("configuration-{id}"),
                configuration,
                retries: request.retries.unwrap_or(0),
            })
            .await
            .map_err(|e| match e {
                ConfigurationDeploymentError::Rejected(m) => Error::DeploymentRejected(m),
                ConfigurationDeploymentError::Other(m) => Error::Deployments(m),
            })?;
        match self.store.set_deployment_id(tenant, device, &id).await {
            // Decommissioned in between: the deployment is made, there is no record to note it in.
            Err(StoreError::NotFound) => Err(Error::DeviceNotFound),
            other => other.map_err(Error::from),
        }?;
        tracing::info!(device = %device, deployment_id = %id, "configuration deployed");
        Ok(id)
    }
}
