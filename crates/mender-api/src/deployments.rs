//! Creating configuration deployments: what deviceconfig asks of deployments when a user
//! deploys a device's configuration (upstream's `deploy_device_configuration` workflow calls
//! deployments' internal `configuration/deployments/{id}/devices/{device}`).

/// One configuration deployment for one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConfigurationDeployment {
    /// Tenant id (`""` in the open-source server).
    pub tenant: String,
    /// The deployment id deviceconfig chose (a UUID), so it can answer with it at once.
    pub deployment_id: String,
    /// The one device it targets.
    pub device_id: String,
    /// Deployment name, also the generated artifact's name.
    pub name: String,
    /// The configuration: the text of a JSON object of strings.
    pub configuration: String,
    /// How often the device may retry a failed deployment (upstream's plan-limited
    /// `retries`; 0 when not asked for).
    pub retries: u64,
}

/// Why a configuration deployment was not created.
#[derive(Debug, thiserror::Error)]
pub enum ConfigurationDeploymentError {
    /// Deployments refused the request (bad input, id taken): the caller's fault.
    #[error("{0}")]
    Rejected(String),
    /// Deployments failed or could not be reached.
    #[error("{0}")]
    Other(String),
}

/// Creates configuration deployments.
#[async_trait::async_trait]
pub trait ConfigurationDeployments: Send + Sync + 'static {
    /// Stores the deployment; the device gets it from its next `next` poll.
    async fn create_configuration_deployment(
        &self,
        deployment: NewConfigurationDeployment,
    ) -> Result<(), ConfigurationDeploymentError>;
}
