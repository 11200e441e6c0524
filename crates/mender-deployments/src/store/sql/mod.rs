//! [`SqlStore`]: the one [`DeploymentsStore`] implementation, on [`mender_db`], for SQLite
//! and PostgreSQL alike. Each statement is written once; each topic trait is implemented in
//! its own module:
//! - `artifacts`: [`ArtifactStore`](super::ArtifactStore), artifacts and releases,
//! - `deployments`: [`DeploymentStore`](super::DeploymentStore), deployments, statistics and
//!   the status they derive,
//! - `devices`: [`DeviceDeploymentStore`](super::DeviceDeploymentStore), device deployments
//!   and logs,
//! - `settings`: [`SettingsStore`](super::SettingsStore), storage settings,
//! - `rows`: row types, the column encodings and shared query pieces.

mod artifacts;
mod deployments;
mod devices;
mod rows;
mod settings;

use mender_db::Db;

use super::{DeploymentsStore, Result};

/// The deployments store on either backend (a database opened with [`crate::SCHEMA`]).
#[derive(Debug, Clone)]
pub struct SqlStore(pub Db);

#[async_trait::async_trait]
impl DeploymentsStore for SqlStore {
    async fn ping(&self) -> Result<()> {
        Ok(self.0.ping().await?)
    }
}
