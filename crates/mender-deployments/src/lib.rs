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
use mender_db::{Db, Migrations};
use sqlx::migrate::Migrator;

pub use app::App;
pub use app::generate::{GENERATE_WORKFLOW, GenerateJob};
pub use config::DeploymentsConfig;

static MIG_SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static MIG_POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// The deployments service.
pub struct Service {
    app: Arc<App>,
}

impl Service {
    /// The service's migrations, for [`Db::connect`].
    pub fn migrations() -> Migrations {
        Migrations {
            sqlite: &MIG_SQLITE,
            postgres: &MIG_POSTGRES,
        }
    }

    /// Builds the service. When `config.presign_secret` is unset, a random secret is used for
    /// this process only; call [`DeploymentsConfig::resolve_presign_secret`] first to keep
    /// links valid across restarts.
    pub fn new(
        db: Db,
        blobs: Arc<dyn BlobStore>,
        config: DeploymentsConfig,
        workflows: Arc<dyn WorkflowStarter>,
        inventory: Arc<dyn InventoryClient>,
    ) -> Arc<Service> {
        let store: Arc<dyn store::DeploymentsStore> = match db {
            Db::Sqlite(p) => Arc::new(store::sqlite::SqliteStore::new(p)),
            Db::Postgres(p) => Arc::new(store::postgres::PgStore::new(p)),
        };
        let secret = config.presign_secret.as_deref().and_then(presign::decode_secret).unwrap_or_else(|| {
            if config.presign_secret.is_some() {
                tracing::error!("deployments presign_secret is not valid base64; using a temporary secret");
            } else {
                tracing::warn!("no deployments presign secret configured; download links will not survive a restart");
            }
            let mut k = vec![0u8; 32];
            let _ = aws_lc_rs::rand::fill(&mut k);
            k
        });
        Arc::new(Service {
            app: Arc::new(App {
                store,
                blobs,
                presigner: presign::Presigner::new(&secret),
                config,
                workflows,
                inventory,
            }),
        })
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
        self.app.generate_artifact(&job).await
    }

    /// The service's routes: management v1/v2, device v1, the open signed-download route and
    /// the internal API.
    pub fn routers(&self) -> Routers {
        let st = self.app.clone();
        Routers {
            open: http::download::routes().with_state(st.clone()),
            management: Router::new()
                .merge(http::management_v1::routes())
                .merge(http::management_v2::routes())
                .with_state(st.clone()),
            devices: http::devices_v1::routes().with_state(st.clone()),
            internal: http::internal_v1::routes().with_state(st),
        }
    }
}

impl DeploymentsConfig {
    /// Fills `presign_secret` from `<data_dir>/keys/deployments/presign.key`, creating that
    /// file with a random secret on first start; a configured secret is checked instead.
    pub fn resolve_presign_secret(&mut self, data_dir: &Path) -> std::io::Result<()> {
        use base64::Engine;
        let key = presign::load_or_create_secret(self.presign_secret.as_deref(), data_dir)?;
        self.presign_secret = Some(base64::engine::general_purpose::STANDARD.encode(key));
        Ok(())
    }
}
