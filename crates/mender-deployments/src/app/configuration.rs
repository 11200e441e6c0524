//! Configuration deployments (used by deviceconfig): a one-device deployment whose artifact is
//! not stored but generated on each download — a version-3 `mender-configure` artifact whose
//! meta-data is the configuration — behind upstream's HMAC-signed download link.

use mender_core::{DeploymentId, DeviceId, TenantId, Timestamp};
use serde_json::{Map, Value};

use super::artifacts::{Link, link_lifetime};
use super::{App, LinkBase, check, is_uuid, length_within};
use crate::error::{Error, Result};
use crate::model::{Deployment, DeploymentKind, DeploymentStatus};
use crate::store::StoreError;

/// Path prefix of the signed configuration download route.
pub const CONFIG_DOWNLOAD_PREFIX: &str = "/api/devices/v1/deployments/download/configuration";

/// Update module of configuration artifacts.
pub const CONFIGURE_TYPE: &str = "mender-configure";
/// Provide set to the deployment's name.
pub const CONFIGURE_PROVIDE: &str = "data-partition.mender-configure.version";
/// Provides cleared by a configuration artifact.
pub const CONFIGURE_CLEARS: &str = "data-partition.mender-configure.*";

/// What the internal API asks to deploy to one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConfigurationDeployment {
    /// Deployment name; also the generated artifact's name.
    pub name: String,
    /// The configuration: the text of a JSON object.
    pub configuration: String,
}

/// The decoded path of a configuration download (what the signature covers).
pub fn config_download_path(deployment_id: &str, device_type: &str, device_id: &str) -> String {
    format!("{CONFIG_DOWNLOAD_PREFIX}/{deployment_id}/{device_type}/{device_id}")
}

/// Builds the `mender-configure` artifact upstream generates (no compression, no payload
/// files, meta-data = configuration), its files dated `mtime`.
pub fn build_configuration_artifact(
    name: &str,
    device_type: &str,
    configuration: Map<String, Value>,
    mtime: Timestamp,
) -> std::result::Result<Vec<u8>, mender_artifact::Error> {
    let spec = mender_artifact::ArtifactSpec {
        name: name.to_owned(),
        device_types: vec![device_type.to_owned()],
        artifact_group: None,
        depends_artifact_names: Vec::new(),
        depends_groups: Vec::new(),
        payloads: vec![mender_artifact::Payload {
            payload_type: CONFIGURE_TYPE.to_owned(),
            files: Vec::new(),
            artifact_provides: [(CONFIGURE_PROVIDE.to_owned(), name.to_owned())].into(),
            artifact_depends: Map::new(),
            clears_artifact_provides: vec![CONFIGURE_CLEARS.to_owned()],
            meta_data: Some(configuration),
        }],
        compression: mender_artifact::Compression::None,
        mtime: mtime.to_datetime(),
    };
    mender_artifact::write_artifact(Vec::new(), spec)
}

fn parse_configuration(text: &str) -> Option<Map<String, Value>> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    }
}

impl App {
    /// Creates the configuration deployment `deployment_id` for one device (upstream
    /// `CreateDeviceConfigurationDeployment`). 400 on a bad id, name or configuration, 409
    /// when the id is taken.
    pub async fn create_configuration_deployment(
        &self,
        tenant: &TenantId,
        deployment_id: &DeploymentId,
        device_id: &DeviceId,
        req: NewConfigurationDeployment,
    ) -> Result<DeploymentId> {
        check(&[
            (
                is_uuid(deployment_id.as_str()),
                "Deployment ID must be a valid UUID",
            ),
            (
                !device_id.is_empty() && device_id.as_str().len() <= 1024,
                "device ID missing or too long",
            ),
            (
                length_within(&req.name, 4096),
                "name: the length must be between 1 and 4096",
            ),
            (
                !req.configuration.is_empty(),
                "configuration: cannot be blank",
            ),
        ])?;
        // Upstream only finds out at download time (and fails there); refusing now keeps
        // every stored configuration deployment downloadable.
        let config = parse_configuration(&req.configuration)
            .ok_or_else(|| Error::BadRequest("configuration: must be a JSON object".to_owned()))?;
        let now = self.clock.now();
        build_configuration_artifact(&req.name, "device-type", config, now)
            .map_err(|e| Error::BadRequest(format!("name: {e}")))?;
        let d = Deployment {
            id: deployment_id.clone(),
            tenant: tenant.clone(),
            artifact_name: req.name.clone(),
            name: req.name,
            created: now,
            finished: None,
            status: DeploymentStatus::Pending,
            // The device joins when it checks in.
            device_count: 0,
            max_devices: 1,
            force_installation: false,
            groups: Vec::new(),
            kind: DeploymentKind::Configuration,
            configuration: Some(req.configuration),
            checksum: None,
            total_size: 0,
        };
        match self
            .store
            .insert_deployment(&d, std::slice::from_ref(device_id), &[])
            .await
        {
            Ok(()) => {}
            Err(StoreError::DeploymentConflict) => {
                return Err(Error::Conflict(
                    "Deployment with given ID already exists".to_owned(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(deployment_id = %d.id, "configuration deployment created");
        Ok(d.id)
    }

    /// The signed link a device gets from `next` for a configuration deployment.
    pub(crate) fn configuration_link(
        &self,
        tenant: &TenantId,
        deployment_id: &DeploymentId,
        device_type: &str,
        device_id: &DeviceId,
        base: &LinkBase,
    ) -> Link {
        let lifetime = link_lifetime(self.config.download_expire_seconds);
        let expire = self.clock.now() + lifetime;
        let enc = mender_core::paging::encode;
        let query = self.presigner.sign(
            &config_download_path(deployment_id.as_str(), device_type, device_id.as_str()),
            expire,
            tenant,
        );
        Link {
            uri: format!(
                "{}://{}{CONFIG_DOWNLOAD_PREFIX}/{}/{}/{}?{query}",
                base.scheme,
                base.host,
                enc(deployment_id.as_str()),
                enc(device_type),
                enc(device_id.as_str())
            ),
            expire,
        }
    }

    /// Serves a signed configuration download: checks the link (missing or malformed
    /// parameters 400, bad signature or expired 403) and generates the artifact for the
    /// device type in the path (unknown deployment 404).
    pub async fn configuration_download(
        &self,
        deployment_id: &DeploymentId,
        device_type: &str,
        device_id: &DeviceId,
        query: &[(String, String)],
    ) -> Result<Vec<u8>> {
        let path = config_download_path(deployment_id.as_str(), device_type, device_id.as_str());
        let now = self.clock.now();
        let tenant = self.presigner.verify(&path, query, now)?;
        let not_found =
            || Error::NotFound(format!("deployment with id '{deployment_id}' not found"));
        let d = self
            .store
            .get_deployment(&tenant, deployment_id)
            .await?
            .ok_or_else(not_found)?;
        if d.kind != DeploymentKind::Configuration {
            return Err(not_found());
        }
        let config = d
            .configuration
            .as_deref()
            .and_then(parse_configuration)
            .ok_or_else(|| {
                Error::Store(StoreError::Corrupt(format!(
                    "deployment {deployment_id}: configuration is not a JSON object"
                )))
            })?;
        build_configuration_artifact(&d.artifact_name, device_type, config, now)
            .map_err(|e| Error::BadRequest(format!("cannot generate the artifact: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_artifact_parses_back() {
        let mut cfg = Map::new();
        cfg.insert("timezone".into(), Value::from("UTC"));
        let mtime = Timestamp::from_unix_secs(1_700_000_000);
        let bytes = build_configuration_artifact("cfg-1", "rpi4", cfg.clone(), mtime).unwrap();
        let meta = mender_artifact::parse(&bytes[..]).unwrap();
        assert_eq!(meta.name, "cfg-1");
        assert_eq!(meta.device_types_compatible, vec!["rpi4".to_owned()]);
        assert_eq!(meta.updates.len(), 1);
        assert_eq!(
            meta.updates[0].type_info.type_.as_deref(),
            Some(CONFIGURE_TYPE)
        );
        assert!(meta.updates[0].files.is_empty());
        assert_eq!(meta.updates[0].meta_data, Some(cfg));
        let provides = meta.artifact_provides.unwrap();
        assert_eq!(
            provides.get(CONFIGURE_PROVIDE).map(String::as_str),
            Some("cfg-1")
        );
        assert_eq!(
            meta.clears_artifact_provides.unwrap(),
            vec![CONFIGURE_CLEARS.to_owned()]
        );
    }

    #[test]
    fn only_json_objects_are_configurations() {
        assert!(parse_configuration(r#"{"a":"b"}"#).is_some());
        for bad in ["", "[]", "\"x\"", "1", "{", "null"] {
            assert!(parse_configuration(bad).is_none(), "{bad}");
        }
    }
}
