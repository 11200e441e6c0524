//! The job store's contract: [`WorkflowsStore`] over workflow definitions and jobs with their
//! task results, and [`StoreError`]. The one implementation is [`SqlStore`].

use mender_core::{JobId, Timestamp};

use crate::model::{Job, JobStatus, TaskResult, Workflow};

mod sql;

pub use sql::SqlStore;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("workflows {0}")]
    Db(#[from] mender_db::Error),
    /// A stored document could not be encoded or decoded.
    #[error("workflows database holds invalid data: {0}")]
    Data(String),
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        Self::Data(e.to_string())
    }
}

/// Storage of definitions and jobs.
#[async_trait::async_trait]
pub trait WorkflowsStore: Send + Sync {
    /// Checks the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
    /// Stores `wf` unless a definition with that name and the same or a higher version
    /// exists; returns whether it was stored.
    async fn upsert_workflow(&self, wf: &Workflow) -> Result<bool, StoreError>;
    /// The definition named `name`.
    async fn get_workflow(&self, name: &str) -> Result<Option<Workflow>, StoreError>;
    /// All definitions, by name.
    async fn list_workflows(&self) -> Result<Vec<Workflow>, StoreError>;
    /// Records a job (with its results ignored) unless one with its id exists; returns whether
    /// it was inserted.
    async fn insert_job(&self, job: &Job) -> Result<bool, StoreError>;
    /// Removes a job and its results.
    async fn delete_job(&self, id: &JobId) -> Result<(), StoreError>;
    /// A job with its results.
    async fn get_job(&self, id: &JobId) -> Result<Option<Job>, StoreError>;
    /// Sets a job's status at time `now` (which becomes its finish time when the status is
    /// `done` or `failed`); returns whether the job exists.
    async fn set_job_status(
        &self,
        id: &JobId,
        status: JobStatus,
        now: Timestamp,
    ) -> Result<bool, StoreError>;
    /// Appends a task result to a job.
    async fn add_job_result(&self, id: &JobId, result: &TaskResult) -> Result<(), StoreError>;
    /// Deletes up to `limit` jobs (with their results) that finished before `before`, oldest
    /// first; returns how many. Finished jobs without a finish time (from before it was
    /// recorded) are given `now` first.
    async fn prune_finished_jobs(
        &self,
        before: Timestamp,
        now: Timestamp,
        limit: u32,
    ) -> Result<u64, StoreError>;
}
