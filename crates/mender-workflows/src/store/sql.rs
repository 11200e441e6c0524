//! [`SqlStore`]: the job store on mender_db, the same statements on SQLite and PostgreSQL
//! (only `TEXT`/`BIGINT` columns, `ON CONFLICT`, sub-selects). Definitions, inputs and
//! results are stored as JSON text, `insert_time` as RFC 3339 text.

use mender_core::{JobId, Timestamp};
use mender_db::{Db, JsonList, QueryBuilder, query};

use super::{StoreError, WorkflowsStore};
use crate::model::{Job, JobStatus, TaskResult, Workflow};

/// The workflows store on either backend (a database opened with [`crate::SCHEMA`]).
#[derive(Debug, Clone)]
pub struct SqlStore(pub Db);

/// A row of `jobs`.
#[derive(sqlx::FromRow)]
struct JobRow {
    #[sqlx(try_from = "String")]
    id: JobId,
    workflow_name: String,
    version: String,
    status: String,
    input_parameters: String,
    insert_time: String,
}

impl JobRow {
    fn into_job(self, results: Vec<String>) -> Result<Job, StoreError> {
        Ok(Job {
            id: self.id,
            workflow_name: self.workflow_name,
            version: self.version,
            status: JobStatus::parse(&self.status)
                .ok_or_else(|| StoreError::Data(format!("unknown job status {:?}", self.status)))?,
            input_parameters: serde_json::from_str(&self.input_parameters)?,
            results: results
                .iter()
                .map(|r| serde_json::from_str(r))
                .collect::<Result<_, _>>()?,
            insert_time: Timestamp::parse_rfc3339(&self.insert_time)
                .map_err(|e| StoreError::Data(format!("job insert_time: {e}")))?,
        })
    }
}

#[async_trait::async_trait]
impl WorkflowsStore for SqlStore {
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(self.0.ping().await?)
    }

    async fn upsert_workflow(&self, wf: &Workflow) -> Result<bool, StoreError> {
        let n = query(
            "INSERT INTO workflows (name, version, definition) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET version = excluded.version, definition = excluded.definition \
             WHERE workflows.version < excluded.version",
        )
        .bind(&wf.name)
        .bind(wf.version)
        .bind(serde_json::to_string(wf)?)
        .execute(&self.0)
        .await?;
        Ok(n == 1)
    }

    async fn get_workflow(&self, name: &str) -> Result<Option<Workflow>, StoreError> {
        let def: Option<String> = query("SELECT definition FROM workflows WHERE name = $1")
            .bind(name)
            .scalar_optional(&self.0)
            .await?;
        Ok(def.map(|d| serde_json::from_str(&d)).transpose()?)
    }

    async fn list_workflows(&self) -> Result<Vec<Workflow>, StoreError> {
        let defs: Vec<String> = query("SELECT definition FROM workflows ORDER BY name")
            .scalars(&self.0)
            .await?;
        Ok(defs
            .iter()
            .map(|d| serde_json::from_str(d))
            .collect::<Result<_, _>>()?)
    }

    async fn insert_job(&self, job: &Job) -> Result<bool, StoreError> {
        let n = query(
            "INSERT INTO jobs (id, workflow_name, version, status, input_parameters, insert_time) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&job.id)
        .bind(&job.workflow_name)
        .bind(&job.version)
        .bind(job.status.as_str())
        .bind(serde_json::to_string(&job.input_parameters)?)
        .bind(job.insert_time.to_rfc3339())
        .execute(&self.0)
        .await?;
        Ok(n == 1)
    }

    async fn delete_job(&self, id: &JobId) -> Result<(), StoreError> {
        let mut tx = self.0.begin_write().await?;
        query("DELETE FROM job_results WHERE job_id = $1")
            .bind(id)
            .execute(&mut tx)
            .await?;
        query("DELETE FROM jobs WHERE id = $1")
            .bind(id)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_job(&self, id: &JobId) -> Result<Option<Job>, StoreError> {
        let row: Option<JobRow> = query(
            "SELECT id, workflow_name, version, status, input_parameters, insert_time \
             FROM jobs WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.0)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let results: Vec<String> =
            query("SELECT result FROM job_results WHERE job_id = $1 ORDER BY idx")
                .bind(id)
                .scalars(&self.0)
                .await?;
        row.into_job(results).map(Some)
    }

    async fn set_job_status(
        &self,
        id: &JobId,
        status: JobStatus,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let finished = status.is_finished().then(|| now.unix_millis());
        let n = query("UPDATE jobs SET status = $1, finished_at = $2 WHERE id = $3")
            .bind(status.as_str())
            .bind(finished)
            .bind(id)
            .execute(&self.0)
            .await?;
        Ok(n == 1)
    }

    async fn add_job_result(&self, id: &JobId, result: &TaskResult) -> Result<(), StoreError> {
        // The next index is computed in the statement, so no read precedes the write.
        query(
            "INSERT INTO job_results (job_id, idx, result) \
             VALUES ($1, (SELECT COALESCE(MAX(idx), -1) + 1 FROM job_results WHERE job_id = $1), $2)",
        )
        .bind(id)
        .bind(serde_json::to_string(result)?)
        .execute(&self.0)
        .await?;
        Ok(())
    }

    async fn prune_finished_jobs(
        &self,
        before: Timestamp,
        now: Timestamp,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let mut tx = self.0.begin_write().await?;
        query(
            "UPDATE jobs SET finished_at = $1 \
             WHERE finished_at IS NULL AND status IN ('done', 'failed')",
        )
        .bind(now.unix_millis())
        .execute(&mut tx)
        .await?;
        let ids: Vec<String> =
            query("SELECT id FROM jobs WHERE finished_at < $1 ORDER BY finished_at, id LIMIT $2")
                .bind(before.unix_millis())
                .bind(i64::from(limit))
                .scalars(&mut tx)
                .await?;
        if ids.is_empty() {
            tx.commit().await?;
            return Ok(0);
        }
        let list = serde_json::to_string(&ids)?;
        for sql in [
            "DELETE FROM job_results WHERE job_id IN (",
            "DELETE FROM jobs WHERE id IN (",
        ] {
            let mut b = QueryBuilder::new(tx.dialect(), sql);
            b.push_json_list(list.clone(), JsonList::Text).push(")");
            b.build().execute(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(ids.len() as u64)
    }
}
