//! Workflow operations: starting jobs, registering and listing definitions, reading jobs.
//! Knows nothing of HTTP.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use mender_core::{JobId, SharedClock, Timestamp};
use mender_queue::JobQueue;
use serde_json::{Map, Value};

use crate::error::Error;
use crate::model::{InputParameter, Job, JobStatus, Workflow};
use crate::store::WorkflowsStore;

/// The answer for one job of a batch: its id, or why it could not be queued.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum BatchItem {
    /// Queued.
    Started {
        /// Job id.
        id: JobId,
        /// Workflow name.
        name: String,
    },
    /// Not queued.
    Failed {
        /// Why.
        error: String,
    },
}

/// The workflows application.
pub struct App {
    store: Arc<dyn WorkflowsStore>,
    queue: Arc<dyn JobQueue>,
    clock: SharedClock,
}

impl App {
    /// An application on a store and a queue; job ids and start times come from `clock`.
    pub fn new(
        store: Arc<dyn WorkflowsStore>,
        queue: Arc<dyn JobQueue>,
        clock: SharedClock,
    ) -> Self {
        Self {
            store,
            queue,
            clock,
        }
    }

    /// Stores definitions that are newer than the stored ones (start-up loading); returns
    /// how many were stored.
    pub async fn load_definitions(&self, defs: Vec<Workflow>) -> Result<usize, Error> {
        let mut stored = 0;
        for wf in defs {
            if self.store.upsert_workflow(&wf).await? {
                tracing::info!(workflow = %wf.name, version = wf.version, "workflow definition loaded");
                stored += 1;
            }
        }
        Ok(stored)
    }

    /// Registers a definition; 409 unless it is newer than the stored one.
    pub async fn register(&self, wf: Workflow) -> Result<(), Error> {
        if wf.name.is_empty() {
            return Err(Error::BadRequest("Workflow missing name".into()));
        }
        if self.store.upsert_workflow(&wf).await? {
            Ok(())
        } else {
            Err(Error::WorkflowExists)
        }
    }

    /// All definitions.
    pub async fn list(&self) -> Result<Vec<Workflow>, Error> {
        Ok(self.store.list_workflows().await?)
    }

    /// Starts a job of workflow `name` with the inputs of a JSON object. `min_version` is
    /// upstream's `X-Workflows-Min-Version`.
    pub async fn start(
        &self,
        name: &str,
        inputs: &Map<String, Value>,
        min_version: Option<&str>,
    ) -> Result<Job, Error> {
        let (workflow, job) = self.prepare(name, inputs, min_version).await?;
        self.submit(&workflow, &job).await?;
        Ok(job)
    }

    /// Starts a job of workflow `name` at most once per `key` (see
    /// `WorkflowStarter::start_workflow_once`): the job id is derived from the key, the job
    /// record is inserted only if missing, and the queue drops a repeated key. A call repeated
    /// after a crash anywhere in here therefore completes the first call's work instead of
    /// starting a second job.
    pub async fn start_once(
        &self,
        name: &str,
        inputs: &Map<String, Value>,
        key: &str,
    ) -> Result<Job, Error> {
        let (workflow, mut job) = self.prepare(name, inputs, None).await?;
        job.id = keyed_id(key);
        if !workflow.ephemeral {
            // `false` when an earlier attempt stored it: keep that record (and its results).
            self.store.insert_job(&job).await?;
        }
        let payload = serde_json::to_value(&job).map_err(|e| Error::BadRequest(e.to_string()))?;
        self.queue
            .enqueue_once(workflow.topic(), payload, key)
            .await?;
        Ok(job)
    }

    /// Starts one job per input object. Every object is validated before any job is queued,
    /// so a bad entry fails the whole batch without starting the others.
    pub async fn start_batch(
        &self,
        name: &str,
        batch: &[Map<String, Value>],
        min_version: Option<&str>,
    ) -> Result<Vec<BatchItem>, Error> {
        let mut prepared = Vec::with_capacity(batch.len());
        for inputs in batch {
            prepared.push(self.prepare(name, inputs, min_version).await?);
        }
        let mut out = Vec::with_capacity(prepared.len());
        for (workflow, job) in prepared {
            out.push(match self.submit(&workflow, &job).await {
                Ok(()) => BatchItem::Started {
                    id: job.id,
                    name: name.to_owned(),
                },
                Err(e) => {
                    tracing::error!(error = %e, "cannot queue a workflow job");
                    BatchItem::Failed {
                        error: "cannot queue the job".into(),
                    }
                }
            });
        }
        Ok(out)
    }

    async fn prepare(
        &self,
        name: &str,
        inputs: &Map<String, Value>,
        min_version: Option<&str>,
    ) -> Result<(Workflow, Job), Error> {
        let version = min_version.unwrap_or("").to_owned();
        let min: i64 = version.trim().parse().unwrap_or(0);
        let workflow = match self.store.get_workflow(name).await? {
            Some(w) if w.version >= min => w,
            _ => return Err(Error::WorkflowNotFound),
        };
        let missing: Vec<String> = workflow
            .input_parameters
            .iter()
            .filter(|p| !inputs.contains_key(p.as_str()))
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(Error::MissingInputs(missing));
        }
        let now = self.clock.now();
        let job = Job {
            id: object_id(now),
            workflow_name: name.to_owned(),
            input_parameters: inputs
                .iter()
                .map(|(k, v)| InputParameter::from_json(k, v))
                .collect(),
            status: JobStatus::Pending,
            results: Vec::new(),
            insert_time: now,
            version,
        };
        Ok((workflow, job))
    }

    /// Records (unless ephemeral) and queues a job; a job that cannot be queued is removed.
    async fn submit(&self, workflow: &Workflow, job: &Job) -> Result<(), Error> {
        if !workflow.ephemeral {
            self.store.insert_job(job).await?;
        }
        let payload = serde_json::to_value(job).map_err(|e| Error::BadRequest(e.to_string()))?;
        if let Err(e) = self.queue.enqueue(workflow.topic(), payload).await {
            if !workflow.ephemeral
                && let Err(del) = self.store.delete_job(&job.id).await
            {
                tracing::error!(error = %del, job = %job.id, "cannot remove a job that was not queued");
            }
            return Err(e.into());
        }
        Ok(())
    }

    /// A job by id, as the API renders it.
    pub async fn job(&self, id: &JobId) -> Result<Job, Error> {
        match self.store.get_job(id).await? {
            Some(job) => Ok(job.for_api()),
            None => Err(Error::JobNotFound),
        }
    }

    /// A job of workflow `name` by id.
    pub async fn job_of(&self, name: &str, id: &JobId) -> Result<Job, Error> {
        match self.store.get_job(id).await? {
            Some(job) if job.workflow_name == name => Ok(job.for_api()),
            _ => Err(Error::JobNotFound),
        }
    }

    /// Checks the job store answers.
    pub async fn health(&self) -> Result<(), Error> {
        Ok(self.store.ping().await?)
    }
}

/// A new 24-hex id laid out like a Mongo ObjectID: 4 bytes of the seconds of `now`, 5 random
/// bytes fixed per process, a 3-byte counter.
pub fn object_id(now: Timestamp) -> JobId {
    static RANDOM: std::sync::OnceLock<[u8; 5]> = std::sync::OnceLock::new();
    static COUNTER: std::sync::OnceLock<AtomicU32> = std::sync::OnceLock::new();
    let random = RANDOM.get_or_init(|| {
        let b = uuid::Uuid::new_v4().into_bytes();
        [b[0], b[1], b[2], b[3], b[4]]
    });
    let counter = COUNTER
        .get_or_init(|| {
            let b = uuid::Uuid::new_v4().into_bytes();
            AtomicU32::new(u32::from_be_bytes([0, b[5], b[6], b[7]]))
        })
        .fetch_add(1, Ordering::Relaxed)
        & 0x00ff_ffff;
    let secs = u32::try_from(now.unix_secs()).unwrap_or(u32::MAX);
    let mut bytes = Vec::with_capacity(12);
    bytes.extend_from_slice(&secs.to_be_bytes());
    bytes.extend_from_slice(random);
    bytes.extend_from_slice(&counter.to_be_bytes()[1..]);
    JobId::new(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// The job id of a keyed start: 24 hex digits (like upstream's ids) of the key's SHA-256, the
/// same on every attempt.
pub fn keyed_id(key: &str) -> JobId {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(key.as_bytes());
    JobId::new(
        digest
            .iter()
            .take(12)
            .map(|b| format!("{b:02x}"))
            .collect::<String>(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_ids_are_stable_24_hex() {
        let a = keyed_id("deviceauth/outbox/1");
        assert_eq!(a, keyed_id("deviceauth/outbox/1"));
        assert_ne!(a, keyed_id("deviceauth/outbox/2"));
        assert_eq!(a.as_str().len(), 24);
        assert!(a.as_str().bytes().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn object_ids_are_24_hex_and_unique() {
        let now = Timestamp::from_unix_secs(0x6553_f100);
        let a = object_id(now);
        let b = object_id(now);
        assert_eq!(a.as_str().len(), 24);
        assert!(
            a.as_str()
                .bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
        assert!(a.as_str().starts_with("6553f100"), "{a}");
    }
}
