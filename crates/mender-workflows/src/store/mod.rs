//! The job store: workflow definitions and jobs with their task results.
//!
//! Both backends run the same SQL (only `TEXT`/`BIGINT` columns, `ON CONFLICT`, sub-selects),
//! so the implementation is written once in [`sql_store!`] and instantiated per pool type in
//! `sqlite.rs` and `postgres.rs`.

use crate::model::{Job, JobStatus, TaskResult, Workflow};

mod postgres;
mod sqlite;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("workflows database error: {0}")]
    Db(#[from] sqlx::Error),
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
    async fn delete_job(&self, id: &str) -> Result<(), StoreError>;
    /// A job with its results.
    async fn get_job(&self, id: &str) -> Result<Option<Job>, StoreError>;
    /// Sets a job's status; returns whether the job exists.
    async fn set_job_status(&self, id: &str, status: JobStatus) -> Result<bool, StoreError>;
    /// Appends a task result to a job.
    async fn add_job_result(&self, id: &str, result: &TaskResult) -> Result<(), StoreError>;
}

/// Row shape of `jobs`.
pub(crate) type JobRow = (String, String, String, String, String, String);

pub(crate) fn job_from_row(row: JobRow, results: Vec<String>) -> Result<Job, StoreError> {
    let (id, workflow_name, version, status, inputs, insert_time) = row;
    Ok(Job {
        id,
        workflow_name,
        version,
        status: JobStatus::parse(&status)
            .ok_or_else(|| StoreError::Data(format!("unknown job status {status:?}")))?,
        input_parameters: serde_json::from_str(&inputs)?,
        results: results
            .iter()
            .map(|r| serde_json::from_str(r))
            .collect::<Result<_, _>>()?,
        insert_time: time::OffsetDateTime::parse(
            &insert_time,
            &time::format_description::well_known::Rfc3339,
        )
        .map_err(|e| StoreError::Data(e.to_string()))?,
    })
}

pub(crate) fn rfc3339(t: time::OffsetDateTime) -> Result<String, StoreError> {
    t.format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| StoreError::Data(e.to_string()))
}

/// Implements [`WorkflowsStore`] for a struct with a `pool` field of an sqlx pool type.
macro_rules! sql_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::WorkflowsStore for $store {
            async fn ping(&self) -> Result<(), $crate::store::StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn upsert_workflow(&self, wf: &$crate::model::Workflow) -> Result<bool, $crate::store::StoreError> {
                let n = sqlx::query(
                    "INSERT INTO workflows (name, version, definition) VALUES ($1, $2, $3) \
                     ON CONFLICT (name) DO UPDATE SET version = excluded.version, definition = excluded.definition \
                     WHERE workflows.version < excluded.version",
                )
                .bind(&wf.name)
                .bind(wf.version)
                .bind(serde_json::to_string(wf)?)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(n == 1)
            }

            async fn get_workflow(&self, name: &str) -> Result<Option<$crate::model::Workflow>, $crate::store::StoreError> {
                let def: Option<String> = sqlx::query_scalar("SELECT definition FROM workflows WHERE name = $1")
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(def.map(|d| serde_json::from_str(&d)).transpose()?)
            }

            async fn list_workflows(&self) -> Result<Vec<$crate::model::Workflow>, $crate::store::StoreError> {
                let defs: Vec<String> = sqlx::query_scalar("SELECT definition FROM workflows ORDER BY name")
                    .fetch_all(&self.pool)
                    .await?;
                Ok(defs.iter().map(|d| serde_json::from_str(d)).collect::<Result<_, _>>()?)
            }

            async fn insert_job(&self, job: &$crate::model::Job) -> Result<bool, $crate::store::StoreError> {
                let n = sqlx::query(
                    "INSERT INTO jobs (id, workflow_name, version, status, input_parameters, insert_time) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
                )
                .bind(&job.id)
                .bind(&job.workflow_name)
                .bind(&job.version)
                .bind(job.status.as_str())
                .bind(serde_json::to_string(&job.input_parameters)?)
                .bind($crate::store::rfc3339(job.insert_time)?)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(n == 1)
            }

            async fn delete_job(&self, id: &str) -> Result<(), $crate::store::StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query("DELETE FROM job_results WHERE job_id = $1").bind(id).execute(&mut *tx).await?;
                sqlx::query("DELETE FROM jobs WHERE id = $1").bind(id).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn get_job(&self, id: &str) -> Result<Option<$crate::model::Job>, $crate::store::StoreError> {
                let row: Option<$crate::store::JobRow> = sqlx::query_as(
                    "SELECT id, workflow_name, version, status, input_parameters, insert_time FROM jobs WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                let Some(row) = row else { return Ok(None) };
                let results: Vec<String> = sqlx::query_scalar("SELECT result FROM job_results WHERE job_id = $1 ORDER BY idx")
                    .bind(id)
                    .fetch_all(&self.pool)
                    .await?;
                $crate::store::job_from_row(row, results).map(Some)
            }

            async fn set_job_status(&self, id: &str, status: $crate::model::JobStatus) -> Result<bool, $crate::store::StoreError> {
                let n = sqlx::query("UPDATE jobs SET status = $1 WHERE id = $2")
                    .bind(status.as_str())
                    .bind(id)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                Ok(n == 1)
            }

            async fn add_job_result(&self, id: &str, result: &$crate::model::TaskResult) -> Result<(), $crate::store::StoreError> {
                sqlx::query(
                    "INSERT INTO job_results (job_id, idx, result) \
                     VALUES ($1, (SELECT COALESCE(MAX(idx), -1) + 1 FROM job_results WHERE job_id = $1), $2)",
                )
                .bind(id)
                .bind(serde_json::to_string(result)?)
                .execute(&self.pool)
                .await?;
                Ok(())
            }
        }
    };
}

pub(crate) use sql_store;
