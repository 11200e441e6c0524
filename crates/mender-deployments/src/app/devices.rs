//! The device side of a deployment: checking for an update (`next`), reporting status and
//! uploading logs, with upstream's selection and status rules.

use mender_core::{ArtifactId, DeploymentId, DeviceId, TenantId};

use super::artifacts::{Link, link_lifetime};
use super::{App, LinkBase, found, length_within};
use crate::error::{Error, Result};
use crate::model::{
    Artifact, DeploymentKind, DeviceDeployment, DeviceRequest, DeviceStatus, LogMessage,
};

/// What `next` hands a device that has an update.
#[derive(Debug, Clone)]
pub struct Instructions {
    /// Deployment id.
    pub deployment_id: DeploymentId,
    /// Artifact id; for a configuration deployment (whose artifact is generated on
    /// download) the deployment id followed by the device id, as upstream.
    pub artifact_id: ArtifactId,
    /// Artifact name.
    pub artifact_name: String,
    /// Compatible device types (configuration deployments: the reported one).
    pub device_types_compatible: Vec<String>,
    /// Where to download it.
    pub link: Link,
}

impl App {
    /// Finds the update a device should install now, following upstream's rules: continue the
    /// oldest active device deployment, else join the oldest newer deployment; no compatible
    /// artifact → `noartifact`; same artifact installed → `already-installed`.
    pub async fn next_deployment(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        req: DeviceRequest,
        base: &LinkBase,
    ) -> Result<Option<Instructions>> {
        for (what, v) in [
            ("artifact_name", &req.artifact_name),
            ("device_type", &req.device_type),
        ] {
            if !length_within(v, 4096) {
                return Err(Error::BadRequest(format!(
                    "{what}: must be 1 to 4096 characters"
                )));
            }
        }
        let dd = match self.store.active_device_deployment(tenant, device).await? {
            Some(dd) => dd,
            None => {
                let Some(dep) = self.store.find_new_deployment(tenant, device).await? else {
                    return Ok(None);
                };
                let dd = DeviceDeployment {
                    id: mender_core::ids::new_uuid(),
                    tenant: tenant.clone(),
                    deployment_id: dep.id,
                    device_id: device.clone(),
                    status: DeviceStatus::Pending,
                    substate: String::new(),
                    // Upstream dates a device deployment with its deployment's creation: the
                    // next deployment a device may join is one created after that.
                    created: dep.created,
                    started: None,
                    finished: None,
                    active: true,
                    deleted: None,
                    device_type: req.device_type.clone(),
                    artifact_id: None,
                    request: Some(req.clone()),
                    log_available: false,
                };
                self.store.create_device_deployment(&dd).await?
            }
        };
        if dd.request.as_ref().is_some_and(|first| *first != req) {
            self.set_status(tenant, &dd, DeviceStatus::Failure, None)
                .await?;
            return Err(Error::Conflict(
                "the device reported different data during an ongoing deployment".to_owned(),
            ));
        }
        let deployment = self.get_deployment(tenant, &dd.deployment_id).await?;
        if deployment.kind == DeploymentKind::Configuration {
            let link =
                self.configuration_link(tenant, &deployment.id, &req.device_type, device, base);
            return Ok(Some(Instructions {
                artifact_id: ArtifactId::new(format!("{}{device}", deployment.id)),
                artifact_name: deployment.artifact_name,
                device_types_compatible: vec![req.device_type],
                deployment_id: deployment.id,
                link,
            }));
        }
        let newly_assigned = dd.artifact_id.is_none();
        let artifact = match &dd.artifact_id {
            Some(aid) => self.store.get_artifact(tenant, aid).await?,
            None => {
                let chosen = self
                    .pick_artifact(tenant, &dd.deployment_id, &req.device_type)
                    .await?;
                self.store
                    .assign_artifact(tenant, &dd.id, chosen.as_ref().map(|a| &a.id), &req)
                    .await?;
                chosen
            }
        };
        let Some(artifact) = artifact else {
            self.set_status(tenant, &dd, DeviceStatus::Noartifact, None)
                .await?;
            return Ok(None);
        };
        if !deployment.force_installation
            && dd.status == DeviceStatus::Pending
            && req.artifact_name == artifact.meta.name
        {
            self.set_status(tenant, &dd, DeviceStatus::AlreadyInstalled, None)
                .await?;
            return Ok(None);
        }
        if newly_assigned {
            // Upstream's `total_size`: each artifact handed to a device, once per device.
            self.store
                .add_total_size(tenant, &deployment.id, artifact.meta.size)
                .await?;
        }
        let link = self.link_for(
            &artifact,
            base,
            link_lifetime(self.config.device_download_expire_seconds),
        );
        Ok(Some(Instructions {
            deployment_id: deployment.id,
            artifact_id: artifact.id,
            artifact_name: artifact.meta.name,
            device_types_compatible: artifact.meta.device_types_compatible,
            link,
        }))
    }

    /// Among the deployment's artifacts, the smallest one compatible with the device type.
    async fn pick_artifact(
        &self,
        tenant: &TenantId,
        deployment: &DeploymentId,
        device_type: &str,
    ) -> Result<Option<Artifact>> {
        let mut best: Option<Artifact> = None;
        for id in self
            .store
            .deployment_artifact_ids(tenant, deployment)
            .await?
        {
            let Some(a) = self.store.get_artifact(tenant, &id).await? else {
                continue;
            };
            if a.meta
                .device_types_compatible
                .iter()
                .any(|t| t == device_type)
                && best.as_ref().is_none_or(|b| a.meta.size < b.meta.size)
            {
                best = Some(a);
            }
        }
        Ok(best)
    }

    /// Applies a status report: 400 unknown or server-only status, 404 unknown device
    /// deployment, 409 once aborted or decommissioned, otherwise applied (same status is a no-op).
    pub async fn report_status(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        deployment: &DeploymentId,
        status: &str,
        substate: Option<&str>,
    ) -> Result<()> {
        let status = DeviceStatus::parse(status)
            .filter(|s| s.device_may_report())
            .ok_or_else(|| {
                Error::BadRequest(format!("status: unknown or forbidden status {status:?}"))
            })?;
        if substate.is_some_and(|s| s.chars().count() > 200) {
            return Err(Error::BadRequest(
                "substate: must be at most 200 characters".to_owned(),
            ));
        }
        let dd = self.device_deployment(tenant, deployment, device).await?;
        if matches!(
            dd.status,
            DeviceStatus::Aborted | DeviceStatus::Decommissioned
        ) {
            return Err(Error::Conflict(format!(
                "deployment is {}",
                dd.status.as_str()
            )));
        }
        if dd.status == status && substate.is_none_or(|s| s == dd.substate) {
            return Ok(());
        }
        self.set_status(tenant, &dd, status, substate.filter(|s| !s.is_empty()))
            .await
    }

    /// Moves a device deployment to `status` now.
    async fn set_status(
        &self,
        tenant: &TenantId,
        dd: &DeviceDeployment,
        status: DeviceStatus,
        substate: Option<&str>,
    ) -> Result<()> {
        let now = self.clock.now();
        Ok(self
            .store
            .set_device_status(tenant, &dd.id, status, substate, now)
            .await?)
    }

    /// The device's part in a deployment (404 when it has none).
    pub(crate) async fn device_deployment(
        &self,
        tenant: &TenantId,
        deployment: &DeploymentId,
        device: &DeviceId,
    ) -> Result<DeviceDeployment> {
        let dd = self.store.get_device_deployment(tenant, deployment, device);
        found(dd.await?, "deployment")
    }

    /// Stores the log a device uploads for a deployment.
    pub async fn upload_log(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        deployment: &DeploymentId,
        messages: Vec<LogMessage>,
    ) -> Result<()> {
        if messages.is_empty() {
            return Err(Error::BadRequest("messages: cannot be blank".to_owned()));
        }
        let dd = self.device_deployment(tenant, deployment, device).await?;
        let json =
            serde_json::to_string(&messages).map_err(|e| Error::BadRequest(e.to_string()))?;
        self.store.save_log(tenant, &dd.id, &json).await?;
        Ok(())
    }
}
