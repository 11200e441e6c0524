//! The deployments service: artifacts (streamed upload and parsing, signed downloads),
//! releases, deployments (software, and configuration deployments whose artifact is generated
//! per download), the device update flow (`next`, status, logs) and per-tenant storage
//! settings, over SQLite or PostgreSQL and a [`mender_blob::BlobStore`].

pub mod app;
pub mod config;
pub mod error;
pub mod http;
pub mod model;
pub mod presign;
pub mod storage_settings;
pub mod store;

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use mender_api::inventory::InventoryClient;
use mender_api::workflows::WorkflowStarter;
use mender_blob::BlobStore;
use mender_core::service::Routers;
use mender_core::{Secret, SharedClock};
use mender_db::{Db, Schema};
use sqlx::migrate::Migrator;

pub use app::App;
pub use app::generate::{GENERATE_WORKFLOW, GenerateJob};
pub use config::DeploymentsConfig;

/// The service name: its SQLite file is `deployments.db`, its PostgreSQL schema
/// `mender_deployments`.
pub const SERVICE: &str = "deployments";

static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// The deployments tables; the same SQL on both backends.
pub static SCHEMA: Schema = Schema::portable(SERVICE, &MIGRATIONS);

/// The deployments service.
pub struct Service {
    app: Arc<App>,
}

impl Service {
    /// Builds the service on a migrated database (see [`SCHEMA`]). When
    /// `config.presign_secret` is unset, a random secret is used for this process only; call
    /// [`DeploymentsConfig::resolve_presign_secret`] first to keep links valid across
    /// restarts. Fails only when no random secret can be had.
    pub fn new(
        db: Db,
        clock: SharedClock,
        blobs: Arc<dyn BlobStore>,
        config: DeploymentsConfig,
        workflows: Arc<dyn WorkflowStarter>,
        inventory: Arc<dyn InventoryClient>,
    ) -> std::io::Result<Arc<Service>> {
        let secret = presign_secret(&config, presign::random_secret)?;
        Ok(Arc::new(Service {
            app: Arc::new(App {
                store: Arc::new(store::SqlStore(db)),
                clock,
                blobs,
                presigner: presign::Presigner::new(secret.expose()),
                config,
                workflows,
                inventory,
            }),
        }))
    }

    /// Sweeps artifact storage at start: orphan files and abandoned id reservations (see
    /// [`App::sweep_artifact_storage`]).
    pub async fn sweep_storage(&self) -> Result<app::sweep::SweepReport, error::Error> {
        self.app.sweep_artifact_storage().await
    }

    /// The operations, for in-process callers (e.g. the generate-artifact job).
    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    /// Runs a `generate_artifact` job in-process: builds the single-file artifact from the
    /// raw upload and stores it. `inputs` are the workflow inputs ([`GenerateJob`]).
    pub async fn run_generate_job(
        &self,
        inputs: serde_json::Value,
    ) -> Result<String, error::Error> {
        let job: GenerateJob = serde_json::from_value(inputs)
            .map_err(|e| error::Error::BadRequest(format!("invalid generate job: {e}")))?;
        Ok(self.app.generate_artifact(&job).await?.into_string())
    }

    /// The service's routes: management v1/v2/v1alpha1, device v1, the open signed-download
    /// route and the internal API.
    pub fn routers(&self) -> Routers {
        let st = self.app.clone();
        Routers {
            open: http::download::routes().with_state(st.clone()),
            management: Router::new()
                .merge(http::management_v1::routes())
                .merge(http::management_v2::routes())
                .merge(http::management_v1alpha1::routes())
                .with_state(st.clone()),
            devices: http::devices_v1::routes().with_state(st.clone()),
            internal: http::internal_v1::routes().with_state(st),
        }
    }
}

/// The configured link-signing secret, or one from `random` (for this process only).
fn presign_secret(
    config: &DeploymentsConfig,
    random: impl FnOnce() -> std::io::Result<Secret<Vec<u8>>>,
) -> std::io::Result<Secret<Vec<u8>>> {
    let configured = config.presign_secret.as_ref();
    if let Some(k) = configured.and_then(|s| presign::decode_secret(s.expose_str())) {
        return Ok(k);
    }
    if configured.is_some() {
        tracing::error!("deployments presign_secret is not valid base64; using a temporary secret");
    } else {
        tracing::warn!(
            "no deployments presign secret configured; download links will not survive a restart"
        );
    }
    random()
}

impl DeploymentsConfig {
    /// Fills `presign_secret` from `<data_dir>/keys/deployments/presign.key`, creating that
    /// file with a random secret on first start; a configured secret is checked instead.
    pub fn resolve_presign_secret(&mut self, data_dir: &Path) -> std::io::Result<()> {
        use base64::Engine;
        let key = presign::load_or_create_secret(self.presign_secret.as_ref(), data_dir)?;
        self.presign_secret = Some(Secret::new(
            base64::engine::general_purpose::STANDARD.encode(key.expose()),
        ));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_link_secret_without_randomness() {
        let failing = || Err(std::io::Error::other("no randomness"));
        let unset = DeploymentsConfig::default();
        assert!(presign_secret(&unset, failing).is_err());
        let invalid = DeploymentsConfig {
            presign_secret: Some("!!!".into()),
            ..Default::default()
        };
        assert!(presign_secret(&invalid, failing).is_err());
        let set = DeploymentsConfig {
            presign_secret: Some("c2VjcmV0".into()),
            ..Default::default()
        };
        assert_eq!(presign_secret(&set, failing).unwrap().expose(), b"secret");
        let random = presign_secret(&unset, presign::random_secret).unwrap();
        assert_eq!(random.expose().len(), 32);
        assert!(random.expose().iter().any(|b| *b != 0));
    }
}
