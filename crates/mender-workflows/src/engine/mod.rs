//! The workers: claim jobs from the queue, run their tasks in order, record results and
//! status, and keep the claim alive with heartbeats while they work.
//!
//! Delivery is at least once. A job whose worker died is claimed again after its lease and
//! resumes: tasks already recorded as succeeded are not run again. Ephemeral jobs record
//! nothing unless they fail, so a redelivered ephemeral job runs all its tasks again.
//!
//! The engine reads no time of day itself: lease expiry and release delays are measured by the
//! queue on its clock (the service's clock in tests), while heartbeat intervals, retry delays
//! and command timeouts are real waits and use `tokio::time`.

mod tasks;

use std::sync::Arc;
use std::time::Duration;

use mender_queue::{Claimed, JobQueue};
use tokio::sync::watch;
use tokio::task::JoinSet;

use mender_core::SharedClock;

use crate::model::{Job, JobStatus, TaskResult, Workflow};
use crate::store::{StoreError, WorkflowsStore};
use crate::template::{Context, EnvSource};

pub(crate) use tasks::TaskRunner;

/// How long a job whose processing hit a store error waits before it is tried again.
const STORE_RETRY_DELAY: Duration = Duration::from_secs(5);
/// Finished jobs deleted per transaction when pruning.
const PRUNE_BATCH: u32 = 1000;

/// Everything a worker needs.
pub(crate) struct Engine {
    pub store: Arc<dyn WorkflowsStore>,
    pub queue: Arc<dyn JobQueue>,
    pub runner: TaskRunner,
    pub env: EnvSource,
    pub topics: Vec<String>,
    pub lease: Duration,
    pub poll_interval: Duration,
    pub max_deliveries: u32,
    /// Finish times (and the pruner's "now") come from here.
    pub clock: SharedClock,
    /// Finished jobs older than this are pruned.
    pub retention: Duration,
    /// How often the pruner runs.
    pub prune_interval: Duration,
}

impl Engine {
    /// Runs `concurrency` workers until `shutdown` turns true; each finishes its current job
    /// first. Aborting the returned task drops every worker at once (as a crash would).
    pub fn spawn(
        self: &Arc<Self>,
        concurrency: usize,
        shutdown: watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        let prefix = uuid::Uuid::new_v4().simple().to_string();
        tokio::spawn(async move {
            // Owned by this task: if it is aborted, the set is dropped and aborts the workers.
            let mut workers = JoinSet::new();
            for n in 0..concurrency.max(1) {
                let engine = engine.clone();
                let shutdown = shutdown.clone();
                let id = format!("{}-{prefix}-{n}", std::process::id());
                workers.spawn(async move { engine.worker(id, shutdown).await });
            }
            let pruner = engine.clone();
            workers.spawn(async move { pruner.pruner(shutdown).await });
            while let Some(res) = workers.join_next().await {
                if let Err(e) = res {
                    tracing::error!(error = %e, "workflow worker ended abnormally");
                }
            }
        })
    }

    async fn worker(&self, id: String, mut shutdown: watch::Receiver<bool>) {
        tracing::debug!(worker = %id, "workflow worker started");
        while !*shutdown.borrow() {
            match self.queue.claim(&self.topics, &id, self.lease).await {
                Ok(Some(claimed)) => self.handle(&id, claimed).await,
                Ok(None) => {
                    tokio::select! {
                        () = self.queue.wait_for_work(self.poll_interval) => {}
                        _ = shutdown.changed() => {}
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot claim workflow jobs");
                    tokio::select! {
                        () = tokio::time::sleep(self.poll_interval) => {}
                        _ = shutdown.changed() => {}
                    }
                }
            }
        }
        tracing::debug!(worker = %id, "workflow worker stopped");
    }

    /// Prunes finished jobs every `prune_interval` until `shutdown` turns true.
    async fn pruner(&self, mut shutdown: watch::Receiver<bool>) {
        while !*shutdown.borrow() {
            match self.prune().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(jobs = n, "pruned finished workflow jobs"),
                Err(e) => tracing::warn!(error = %e, "cannot prune finished workflow jobs"),
            }
            tokio::select! {
                () = tokio::time::sleep(self.prune_interval) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// Deletes the jobs (and their results) that finished more than `retention` ago by the
    /// engine's clock; returns how many.
    pub async fn prune(&self) -> Result<u64, StoreError> {
        let now = self.clock.now();
        let before = now - self.retention;
        let mut total = 0;
        loop {
            let n = self
                .store
                .prune_finished_jobs(before, now, PRUNE_BATCH)
                .await?;
            total += n;
            if n < u64::from(PRUNE_BATCH) {
                return Ok(total);
            }
        }
    }

    /// Processes one claimed message while heartbeating, then acks or releases it.
    async fn handle(&self, worker: &str, claimed: Claimed) {
        let work = self.process(&claimed);
        tokio::pin!(work);
        let mut beat = tokio::time::interval((self.lease / 3).max(Duration::from_millis(50)));
        beat.tick().await;
        let outcome = loop {
            tokio::select! {
                r = &mut work => break r,
                _ = beat.tick() => match self.queue.heartbeat(&claimed.id, worker, self.lease).await {
                    Ok(true) => {}
                    Ok(false) => tracing::warn!(message = %claimed.id, "lost the claim on a workflow job; another worker may run it too"),
                    Err(e) => tracing::warn!(error = %e, "workflow job heartbeat failed"),
                },
            }
        };
        let res = match outcome {
            Ok(()) => self.queue.ack(&claimed.id).await,
            Err(e) => {
                tracing::error!(error = %e, message = %claimed.id, "workflow job interrupted by a store error; retrying later");
                self.queue.release(&claimed.id, STORE_RETRY_DELAY).await
            }
        };
        if let Err(e) = res {
            tracing::error!(error = %e, message = %claimed.id, "cannot finish the workflow job message");
        }
    }

    /// Runs a job. `Err` only for store failures, after which the job is tried again.
    async fn process(&self, claimed: &Claimed) -> Result<(), StoreError> {
        let job: Job = match serde_json::from_value(claimed.payload.clone()) {
            Ok(j) => j,
            Err(e) => {
                // Nothing can ever run it: drop it, as upstream terminates undecodable messages.
                tracing::error!(error = %e, message = %claimed.id, "dropping an undecodable workflow job");
                return Ok(());
            }
        };
        if claimed.deliveries > self.max_deliveries {
            tracing::error!(job = %job.id, deliveries = claimed.deliveries, "workflow job keeps failing to finish; giving up");
            self.record_failure(&job, None).await?;
            return Ok(());
        }
        let workflow = match self.store.get_workflow(&job.workflow_name).await? {
            Some(w) if w.version >= job.min_version() => w,
            _ => {
                tracing::warn!(job = %job.id, workflow = %job.workflow_name, "the workflow of this job does not exist");
                self.record_failure(&job, None).await?;
                return Ok(());
            }
        };
        tracing::info!(job = %job.id, workflow = %workflow.name, "workflow job started");
        let mut done: Vec<TaskResult> = Vec::new();
        if !workflow.ephemeral {
            let mut pending = job.clone();
            pending.status = JobStatus::Pending;
            self.store.insert_job(&pending).await?;
            if let Some(stored) = self.store.get_job(&job.id).await? {
                done = stored.results.into_iter().filter(|r| r.success).collect();
            }
            self.store
                .set_job_status(&job.id, JobStatus::Processing, self.clock.now())
                .await?;
        }
        let success = self.run_tasks(&job, &workflow, done).await?;
        if !workflow.ephemeral {
            let status = if success {
                JobStatus::Done
            } else {
                JobStatus::Failed
            };
            self.store
                .set_job_status(&job.id, status, self.clock.now())
                .await?;
        }
        tracing::info!(job = %job.id, workflow = %workflow.name, success, "workflow job finished");
        Ok(())
    }

    /// Runs the tasks not yet done; returns whether all succeeded.
    async fn run_tasks(
        &self,
        job: &Job,
        workflow: &Workflow,
        mut results: Vec<TaskResult>,
    ) -> Result<bool, StoreError> {
        for task in &workflow.tasks {
            if results.iter().any(|r| r.name == task.name && r.success) {
                continue;
            }
            let result = {
                let ctx = Context {
                    inputs: &job.input_parameters,
                    results: &results,
                    env: &self.env,
                };
                self.runner.run(task, &ctx).await
            };
            let success = result.success;
            if !workflow.ephemeral {
                self.store.add_job_result(&job.id, &result).await?;
            } else if !success {
                self.record_failure(job, Some(&result)).await?;
            }
            if !success {
                // Say why: a transport error, or the status the target answered with.
                let status = result.http_response.as_ref().map(|r| r.status_code);
                let exit_code = result.cli.as_ref().map(|c| c.exit_code);
                tracing::warn!(
                    job = %job.id,
                    workflow = %workflow.name,
                    task = %task.name,
                    attempts = result.attempts,
                    status = ?status,
                    exit_code = ?exit_code,
                    error = result.error.as_deref().unwrap_or(""),
                    "workflow task failed"
                );
                return Ok(false);
            }
            results.push(result);
        }
        Ok(true)
    }

    /// Records a job as failed, creating its record if needed (ephemeral jobs have none).
    async fn record_failure(
        &self,
        job: &Job,
        result: Option<&TaskResult>,
    ) -> Result<(), StoreError> {
        // Inserted as processing so no reader sees `failed` before the result is there.
        let mut failed = job.clone();
        failed.status = JobStatus::Processing;
        failed.results.clear();
        self.store.insert_job(&failed).await?;
        if let Some(r) = result {
            self.store.add_job_result(&job.id, r).await?;
        }
        self.store
            .set_job_status(&job.id, JobStatus::Failed, self.clock.now())
            .await?;
        Ok(())
    }
}
