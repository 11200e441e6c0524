//! Starting workflows: what deviceauth, deployments and others use to ask the workflow
//! engine for work (upstream: `POST /api/v1/workflow/{name}` on the workflows server).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The answer to a started workflow (upstream's 201 body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartedWorkflow {
    /// The job id.
    pub id: String,
    /// The workflow name.
    pub name: String,
}

/// Why a workflow could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// No definition has that name.
    #[error("workflow {0} not found")]
    NotFound(String),
    /// Required input parameters are missing.
    #[error("Missing input parameters: {0:?}")]
    MissingInputs(Vec<String>),
    /// The engine could not store the job.
    #[error("cannot start workflow: {0}")]
    Other(String),
}

/// Starts workflows by name with a JSON object of input parameters.
#[async_trait::async_trait]
pub trait WorkflowStarter: Send + Sync + 'static {
    /// Queues a job of workflow `name`; `inputs` is a JSON object.
    async fn start_workflow(
        &self,
        name: &str,
        inputs: Value,
    ) -> Result<StartedWorkflow, StartError>;

    /// Queues a job of workflow `name` at most once per `key`: a second call with the same
    /// key (a relay retrying after a crash, or two relays delivering the same outbox row)
    /// starts nothing new and answers with the same job id. The key must be unique across
    /// services (an outbox row id qualified by its service).
    async fn start_workflow_once(
        &self,
        name: &str,
        inputs: Value,
        key: &str,
    ) -> Result<StartedWorkflow, StartError>;
}
