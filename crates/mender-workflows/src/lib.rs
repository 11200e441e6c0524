//! The workflow engine (upstream `workflows` server and worker): definitions, `${...}`
//! templating, the job store, queue workers and the internal workflows REST API.
//!
//! Wiring: connect the store database with [`SCHEMA`], build a queue
//! (`mender_queue::SqlQueue`, on the same clock), then [`Service::new`]. Mount
//! [`Service::routers`] (internal routes only) and run [`Service::spawn_workers`] in every
//! process that should execute jobs.

pub mod app;
pub mod config;
pub mod definitions;
pub mod dispatch;
mod engine;
pub mod error;
pub mod http;
pub mod model;
pub mod store;
pub mod template;

use std::sync::Arc;
use std::time::Duration;

use mender_core::SharedClock;
use mender_core::service::Routers;
use mender_db::{Db, Schema};
use mender_queue::JobQueue;
use serde_json::Value;
use sqlx::migrate::Migrator;

pub use app::App;
pub use config::WorkflowsConfig;
pub use dispatch::{HttpDispatcher, ReqwestDispatcher};
pub use error::Error;
pub use store::{SqlStore, StoreError, WorkflowsStore};

use engine::{Engine, TaskRunner};
use template::EnvSource;

static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// Database service name of the job store (`workflows.db`, schema `mender_workflows`).
pub const SERVICE: &str = "workflows";

/// The job store's tables: the same SQL on both backends.
pub static SCHEMA: Schema = Schema::portable(SERVICE, &MIGRATIONS);

/// The workflows service: API and workers.
pub struct Service {
    app: Arc<App>,
    engine: Arc<Engine>,
    config: WorkflowsConfig,
}

impl Service {
    /// Builds the service on a migrated store database (see [`SCHEMA`]) and loads the
    /// definitions: the built-in ones, then those of `config.workflows_path`; a definition
    /// replaces a stored one only if its version is higher. Job ids and start times come from
    /// `clock`; leases and release delays are measured by the queue, which should be built on
    /// the same clock.
    pub async fn new(
        db: Db,
        clock: SharedClock,
        queue: Arc<dyn JobQueue>,
        dispatcher: Arc<dyn HttpDispatcher>,
        config: WorkflowsConfig,
    ) -> anyhow::Result<Arc<Self>> {
        let store: Arc<dyn WorkflowsStore> = Arc::new(SqlStore(db));
        let app = Arc::new(App::new(store.clone(), queue.clone(), clock.clone()));
        app.load_definitions(definitions::builtin()).await?;
        if let Some(dir) = &config.workflows_path {
            let defs = definitions::load_dir(dir).map_err(|e| {
                anyhow::anyhow!("cannot read workflow definitions in {}: {e}", dir.display())
            })?;
            app.load_definitions(defs).await?;
        }
        let engine = Arc::new(Engine {
            store,
            queue,
            runner: TaskRunner {
                dispatcher,
                cli_commands: config.cli_commands.clone(),
            },
            env: EnvSource::new(config.env.clone()),
            topics: config.topics.clone(),
            lease: Duration::from_secs(config.lease_seconds.max(1)),
            poll_interval: Duration::from_millis(config.poll_interval_ms.max(10)),
            max_deliveries: config.max_deliveries.max(1),
            clock,
            retention: Duration::from_secs(config.job_retention_seconds),
            prune_interval: Duration::from_secs(config.prune_interval_seconds.max(1)),
        });
        Ok(Arc::new(Self {
            app,
            engine,
            config,
        }))
    }

    /// The application (for the lead's in-process callers and tests).
    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    /// The routes: all internal (`/api/v1/...`, `/status`, `/health`).
    pub fn routers(&self) -> Routers {
        Routers {
            internal: http::internal_v1::router(self.app.clone()),
            ..Routers::default()
        }
    }

    /// Deletes the jobs (and their results) that finished more than
    /// `config.job_retention_seconds` ago; returns how many. The workers' process does this
    /// every `config.prune_interval_seconds` on its own.
    pub async fn prune_finished_jobs(&self) -> Result<u64, StoreError> {
        self.engine.prune().await
    }

    /// Starts `config.concurrency` workers (and the pruner of finished jobs); they stop claiming jobs when `shutdown` becomes
    /// `true` and the handle completes once their current jobs are finished.
    pub fn spawn_workers(
        self: &Arc<Self>,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        self.engine.spawn(self.config.concurrency, shutdown)
    }
}

/// The inputs of a start through [`mender_api::workflows::WorkflowStarter`]: a JSON object.
fn object_inputs(
    inputs: Value,
) -> Result<serde_json::Map<String, Value>, mender_api::workflows::StartError> {
    match inputs {
        Value::Object(map) => Ok(map),
        _ => Err(mender_api::workflows::StartError::Other(
            "workflow inputs must be a JSON object".into(),
        )),
    }
}

/// The starter's answer for a job of `name`, or its error.
fn started(
    name: &str,
    res: Result<model::Job, Error>,
) -> Result<mender_api::workflows::StartedWorkflow, mender_api::workflows::StartError> {
    use mender_api::workflows::{StartError, StartedWorkflow};
    match res {
        Ok(job) => Ok(StartedWorkflow {
            id: job.id.into_string(),
            name: name.to_owned(),
        }),
        Err(Error::WorkflowNotFound) => Err(StartError::NotFound(name.to_owned())),
        Err(e) => Err(e.into()),
    }
}

#[async_trait::async_trait]
impl mender_api::workflows::WorkflowStarter for Service {
    async fn start_workflow(
        &self,
        name: &str,
        inputs: Value,
    ) -> Result<mender_api::workflows::StartedWorkflow, mender_api::workflows::StartError> {
        let inputs = object_inputs(inputs)?;
        started(name, self.app.start(name, &inputs, None).await)
    }

    async fn start_workflow_once(
        &self,
        name: &str,
        inputs: Value,
        key: &str,
    ) -> Result<mender_api::workflows::StartedWorkflow, mender_api::workflows::StartError> {
        let inputs = object_inputs(inputs)?;
        started(name, self.app.start_once(name, &inputs, key).await)
    }
}
