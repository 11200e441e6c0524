//! Deployment operations for users: create (device list, group, all devices), list, show,
//! statistics, device lists, logs, abort, and per-device history management.

use std::collections::{BTreeSet, HashMap};

use mender_core::{ArtifactId, DeploymentId, DeviceId, TenantId};

use super::{App, check, found};
use crate::error::{Error, Result};
use crate::model::{
    Artifact, Deployment, DeploymentFilter, DeploymentKind, DeploymentStatus, DeviceDeployment,
    DeviceDeploymentFilter, DeviceStatus, LogMessage, Statistics,
};
use crate::store::StoreError;

/// What a user asks to deploy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewDeployment {
    /// Deployment name.
    pub name: String,
    /// Release to deploy.
    pub artifact_name: String,
    /// Target devices.
    pub devices: Vec<DeviceId>,
    /// Target every accepted device.
    pub all_devices: bool,
    /// Skip the already-installed check.
    pub force_installation: bool,
}

/// Who a deployment targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Targets {
    /// The devices listed in the request (or all devices).
    Request,
    /// The devices of a static group.
    Group(String),
}

/// A device deployment with what the API shows next to it.
#[derive(Debug, Clone)]
pub struct DeviceDeploymentView {
    /// The device deployment.
    pub dd: DeviceDeployment,
    /// Its assigned artifact, if any and still stored.
    pub artifact: Option<Artifact>,
}

/// One entry of a device's history.
#[derive(Debug, Clone)]
pub struct HistoryEntry {
    /// The deployment.
    pub deployment: Deployment,
    /// The deployment's counts.
    pub stats: Statistics,
    /// The device's part.
    pub device: DeviceDeploymentView,
}

/// Upstream's answer when a group or all-devices deployment finds no accepted device.
pub const NO_DEVICES: &str = "No devices for the deployment";

/// Upstream's answer when no artifact has the deployment's artifact name.
pub const NO_ARTIFACT: &str = "No artifact for the deployment";

/// Upstream's answer when an identical deployment is still unfinished.
pub const CONFLICTING_DEPLOYMENT: &str =
    "Invalid deployment definition: there is already an active deployment with the same parameters";

/// Digest of what the user asked for, as upstream's `DeploymentConstructor.Checksum`: name,
/// artifact name, the devices in the order given (group and all-device deployments: as
/// inventory listed them), `all_devices` and `force_installation`. The group name is not
/// part of it, so two group deployments resolving to the same devices clash too.
fn constructor_checksum(req: &NewDeployment, devices: &[DeviceId]) -> String {
    use sha2::{Digest, Sha256};
    let doc = serde_json::json!({
        "name": req.name,
        "artifact_name": req.artifact_name,
        "devices": devices,
        "all_devices": req.all_devices,
        "force_installation": req.force_installation,
    });
    let digest = Sha256::digest(doc.to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl App {
    /// Creates a deployment; returns its id. 409 while an unfinished deployment with the same
    /// name, artifact name, devices and flags exists (upstream `ErrConflictingDeployment`).
    pub async fn create_deployment(
        &self,
        tenant: &TenantId,
        req: NewDeployment,
        targets: Targets,
    ) -> Result<DeploymentId> {
        check(&[
            (!req.name.trim().is_empty(), "name: cannot be blank"),
            (
                !req.artifact_name.trim().is_empty(),
                "artifact_name: cannot be blank",
            ),
        ])?;
        let (devices, groups) = match &targets {
            Targets::Group(g) => {
                let devs = self
                    .inventory
                    .devices_in_group(tenant.as_str(), g)
                    .await
                    .map_err(|e| Error::Upstream(e.to_string()))?;
                (
                    devs.into_iter().map(DeviceId::from).collect(),
                    vec![g.clone()],
                )
            }
            Targets::Request => {
                if req.all_devices && !req.devices.is_empty() {
                    return Err(Error::BadRequest(
                        "the deployment can either target all devices or a list of devices, not both".to_owned(),
                    ));
                }
                if req.all_devices {
                    let devs = self
                        .inventory
                        .all_devices(tenant.as_str())
                        .await
                        .map_err(|e| Error::Upstream(e.to_string()))?;
                    (devs.into_iter().map(DeviceId::from).collect(), Vec::new())
                } else {
                    if req.devices.is_empty() {
                        return Err(Error::BadRequest("devices: cannot be blank".to_owned()));
                    }
                    (req.devices.clone(), Vec::new())
                }
            }
        };
        // Upstream refuses an empty group or fleet before it looks for the artifact.
        if devices.is_empty() {
            return Err(Error::BadRequest(NO_DEVICES.to_owned()));
        }
        if devices
            .iter()
            .any(|d| d.is_empty() || d.as_str().len() > 1024)
        {
            return Err(Error::BadRequest("devices: invalid device id".to_owned()));
        }
        let checksum = constructor_checksum(&req, &devices);
        // Every listed device counts, duplicates included, as upstream's `max_devices`.
        let count = i64::try_from(devices.len()).unwrap_or(i64::MAX);
        let devices: Vec<DeviceId> = devices
            .into_iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let artifacts = self
            .store
            .artifacts_by_name(tenant, &req.artifact_name)
            .await?;
        if artifacts.is_empty() {
            return Err(Error::Unprocessable(NO_ARTIFACT.to_owned()));
        }
        let d = Deployment {
            id: DeploymentId::new(mender_core::ids::new_uuid()),
            tenant: tenant.clone(),
            name: req.name,
            artifact_name: req.artifact_name,
            created: self.clock.now(),
            finished: None,
            status: DeploymentStatus::Pending,
            // Devices join when they check in.
            device_count: 0,
            max_devices: count,
            force_installation: req.force_installation,
            groups,
            kind: DeploymentKind::Software,
            configuration: None,
            checksum: Some(checksum),
            total_size: 0,
        };
        let ids: Vec<ArtifactId> = artifacts.into_iter().map(|a| a.id).collect();
        match self.store.insert_deployment(&d, &devices, &ids).await {
            Ok(()) => {}
            Err(StoreError::DeploymentConflict) => {
                return Err(Error::Conflict(CONFLICTING_DEPLOYMENT.to_owned()));
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(deployment_id = %d.id, devices = devices.len(), "deployment created");
        Ok(d.id)
    }

    /// A page of deployments with their statistics, and the total count.
    pub async fn list_deployments(
        &self,
        tenant: &TenantId,
        f: &DeploymentFilter,
    ) -> Result<(Vec<(Deployment, Statistics)>, u64)> {
        let (list, total) = self.store.list_deployments(tenant, f).await?;
        let ids: Vec<DeploymentId> = list.iter().map(|d| d.id.clone()).collect();
        let mut stats = self.store.statistics(tenant, &ids).await?;
        let with_stats = list
            .into_iter()
            .map(|d| {
                let s = stats.remove(&d.id).unwrap_or_default();
                (d, s)
            })
            .collect();
        Ok((with_stats, total))
    }

    /// One deployment.
    pub async fn get_deployment(&self, tenant: &TenantId, id: &DeploymentId) -> Result<Deployment> {
        found(self.store.get_deployment(tenant, id).await?, "deployment")
    }

    /// Candidate artifact ids of a deployment.
    pub async fn deployment_artifacts(
        &self,
        tenant: &TenantId,
        id: &DeploymentId,
    ) -> Result<Vec<ArtifactId>> {
        Ok(self.store.deployment_artifact_ids(tenant, id).await?)
    }

    /// Statistics of one deployment (404 when unknown).
    pub async fn deployment_statistics(
        &self,
        tenant: &TenantId,
        id: &DeploymentId,
    ) -> Result<Statistics> {
        self.get_deployment(tenant, id).await?;
        Ok(self
            .store
            .statistics(tenant, std::slice::from_ref(id))
            .await?
            .remove(id)
            .unwrap_or_default())
    }

    /// Statistics of several deployments, in the order asked, skipping unknown ids.
    pub async fn deployments_statistics(
        &self,
        tenant: &TenantId,
        ids: &[DeploymentId],
    ) -> Result<Vec<(DeploymentId, Statistics)>> {
        if ids.is_empty() {
            return Err(Error::BadRequest(
                "deployment_ids: cannot be blank".to_owned(),
            ));
        }
        let known: BTreeSet<DeploymentId> = self
            .store
            .get_deployments(tenant, ids)
            .await?
            .into_iter()
            .map(|d| d.id)
            .collect();
        let mut stats = self.store.statistics(tenant, ids).await?;
        Ok(ids
            .iter()
            .filter(|i| known.contains(*i))
            .map(|i| (i.clone(), stats.remove(i).unwrap_or_default()))
            .collect())
    }

    /// Aborts a deployment (404 unknown, 422 already finished).
    pub async fn abort_deployment(&self, tenant: &TenantId, id: &DeploymentId) -> Result<()> {
        let d = self.get_deployment(tenant, id).await?;
        if d.status == DeploymentStatus::Finished {
            return Err(Error::Unprocessable(
                "deployment already finished".to_owned(),
            ));
        }
        self.store
            .abort_deployment(tenant, id, self.clock.now())
            .await?;
        Ok(())
    }

    /// Target device ids of a deployment.
    pub async fn deployment_device_ids(
        &self,
        tenant: &TenantId,
        id: &DeploymentId,
    ) -> Result<Vec<DeviceId>> {
        self.get_deployment(tenant, id).await?;
        Ok(self.store.deployment_device_ids(tenant, id).await?)
    }

    /// A page of a deployment's device deployments with their artifacts, and the total.
    pub async fn deployment_devices(
        &self,
        tenant: &TenantId,
        id: &DeploymentId,
        f: &DeviceDeploymentFilter,
    ) -> Result<(Vec<DeviceDeploymentView>, u64)> {
        self.get_deployment(tenant, id).await?;
        let (dds, total) = self.store.list_device_deployments(tenant, id, f).await?;
        Ok((self.with_artifacts(tenant, dds).await?, total))
    }

    async fn with_artifacts(
        &self,
        tenant: &TenantId,
        dds: Vec<DeviceDeployment>,
    ) -> Result<Vec<DeviceDeploymentView>> {
        let mut cache: HashMap<ArtifactId, Option<Artifact>> = HashMap::new();
        let mut out = Vec::with_capacity(dds.len());
        for dd in dds {
            let artifact = match &dd.artifact_id {
                Some(aid) => {
                    if !cache.contains_key(aid) {
                        cache.insert(aid.clone(), self.store.get_artifact(tenant, aid).await?);
                    }
                    cache.get(aid).cloned().flatten()
                }
                None => None,
            };
            out.push(DeviceDeploymentView { dd, artifact });
        }
        Ok(out)
    }

    /// The log a device uploaded for a deployment, as text lines.
    pub async fn device_log(
        &self,
        tenant: &TenantId,
        deployment: &DeploymentId,
        device: &DeviceId,
    ) -> Result<String> {
        let dd = self.device_deployment(tenant, deployment, device).await?;
        let log = found(self.store.get_log(tenant, &dd.id).await?, "log")?;
        let messages: Vec<LogMessage> = serde_json::from_str(&log)
            .map_err(|e| Error::Store(StoreError::Corrupt(e.to_string())))?;
        Ok(messages
            .iter()
            .map(|m| format!("{} {}: {}\n", m.timestamp, m.level, m.message))
            .collect())
    }

    /// A page of a device's deployment history, newest first, and the total.
    pub async fn device_history(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        f: &DeviceDeploymentFilter,
    ) -> Result<(Vec<HistoryEntry>, u64)> {
        let (dds, total) = self.store.device_history(tenant, device, f).await?;
        Ok((self.history_entries(tenant, dds).await?, total))
    }

    /// History entries for device deployment ids.
    pub async fn history_by_ids(
        &self,
        tenant: &TenantId,
        ids: &[String],
    ) -> Result<Vec<HistoryEntry>> {
        let dds = self.store.device_deployments_by_ids(tenant, ids).await?;
        self.history_entries(tenant, dds).await
    }

    async fn history_entries(
        &self,
        tenant: &TenantId,
        dds: Vec<DeviceDeployment>,
    ) -> Result<Vec<HistoryEntry>> {
        let dep_ids: Vec<DeploymentId> = dds
            .iter()
            .map(|d| d.deployment_id.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let deps: HashMap<DeploymentId, Deployment> = self
            .store
            .get_deployments(tenant, &dep_ids)
            .await?
            .into_iter()
            .map(|d| (d.id.clone(), d))
            .collect();
        let stats = self.store.statistics(tenant, &dep_ids).await?;
        let views = self.with_artifacts(tenant, dds).await?;
        Ok(views
            .into_iter()
            .filter_map(|v| {
                deps.get(&v.dd.deployment_id).map(|d| HistoryEntry {
                    deployment: d.clone(),
                    stats: stats.get(&d.id).cloned().unwrap_or_default(),
                    device: v,
                })
            })
            .collect())
    }

    /// Aborts the device's deployments (upstream `AbortDeviceDeployments`): see
    /// [`App::finish_device`].
    pub async fn abort_device_deployments(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
    ) -> Result<()> {
        self.finish_device(tenant, device, DeviceStatus::Aborted)
            .await
    }

    /// Marks the device's deployments `decommissioned` (the device was removed): see
    /// [`App::finish_device`].
    pub async fn decommission_device(&self, tenant: &TenantId, device: &DeviceId) -> Result<()> {
        self.finish_device(tenant, device, DeviceStatus::Decommissioned)
            .await
    }

    /// Upstream's `updateDeviceDeploymentsStatus`: the device's active device deployment
    /// gets `status` (its deployment's counts move), and the next deployment that targets the
    /// device but that it has not joined yet gets a device deployment in `status` right away,
    /// so the device never starts it. That deployment's counts do not move (the device stays
    /// counted as pending there), as upstream.
    async fn finish_device(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        status: DeviceStatus,
    ) -> Result<()> {
        let now = self.clock.now();
        self.store
            .finish_device(tenant, device, status, now)
            .await?;
        let Some(next) = self.store.find_new_deployment(tenant, device).await? else {
            return Ok(());
        };
        let dd = DeviceDeployment {
            id: mender_core::ids::new_uuid(),
            tenant: tenant.clone(),
            deployment_id: next.id,
            device_id: device.clone(),
            status,
            substate: String::new(),
            created: next.created,
            started: Some(now),
            finished: None,
            active: false,
            deleted: None,
            device_type: String::new(),
            artifact_id: None,
            request: None,
            log_available: false,
        };
        self.store.create_device_deployment(&dd).await?;
        Ok(())
    }

    /// Resets a device's history so it becomes eligible for active deployments again.
    pub async fn reset_device_history(&self, tenant: &TenantId, device: &DeviceId) -> Result<()> {
        Ok(self
            .store
            .reset_device_history(tenant, device, self.clock.now())
            .await?)
    }
}
