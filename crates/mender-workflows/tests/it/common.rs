//! Test fixtures: the job store and queue databases of one backend on a manual clock, a
//! scripted HTTP dispatcher, and bounded waits for work the workers do in the background.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use mender_core::JobId;
use mender_core::clock::ManualClock;
use mender_db::testing::{Backend, TestDb};
use mender_queue::SqlQueue;
use mender_testkit::TestClient;
use mender_workflows::model::{Job, JobStatus};
use mender_workflows::{HttpDispatcher, Service, WorkflowsConfig};

/// A fresh job store and queue on one backend, both on one manual clock.
pub struct Env {
    /// The job store's database.
    pub db: TestDb,
    pub queue: Arc<SqlQueue>,
    /// Drives job start times and ids (the service) and leases (the queue).
    pub clock: Arc<ManualClock>,
    _queue_db: TestDb,
}

impl Env {
    pub async fn new(backend: Backend) -> Self {
        let db = backend.open(&mender_workflows::SCHEMA).await;
        let queue_db = backend.open(&mender_queue::SCHEMA).await;
        let clock = ManualClock::starting_now();
        let queue = Arc::new(SqlQueue::new(queue_db.db(), clock.clone()));
        Self {
            db,
            queue,
            clock,
            _queue_db: queue_db,
        }
    }

    /// A service on this store, queue and clock; several may share them, as processes do.
    pub async fn service(
        &self,
        dispatcher: Arc<dyn HttpDispatcher>,
        config: WorkflowsConfig,
    ) -> Arc<Service> {
        Service::new(
            self.db.db(),
            self.clock.clone(),
            self.queue.clone(),
            dispatcher,
            config,
        )
        .await
        .unwrap()
    }

    /// Waits (bounded) until every message is acked: a job's status is written before its
    /// message is acked.
    pub async fn drained(&self, what: &str) {
        let queue = self.queue.clone();
        eventually(what, move || {
            let queue = queue.clone();
            async move { queue.is_empty().await.unwrap() }
        })
        .await;
    }
}

/// A client of the service's internal router.
pub fn client(svc: &Service) -> TestClient {
    TestClient::new(svc.routers().internal)
}

/// What the scripted dispatcher answers.
#[derive(Clone)]
pub enum Reply {
    Status(u16, &'static str),
    Error(&'static str),
    Hang,
}

/// A request the dispatcher saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub uri: String,
    pub headers: http::HeaderMap,
    pub body: String,
    pub timeout: Duration,
    /// Real time: retry delays are real waits.
    pub at: Instant,
}

type Script = dyn Fn(&Seen) -> Reply + Send + Sync;

/// An [`HttpDispatcher`] answering from a script and recording every request.
pub struct Scripted {
    script: Box<Script>,
    pub seen: Mutex<Vec<Seen>>,
}

impl Scripted {
    pub fn new(script: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(Self {
            script: Box::new(script),
            seen: Mutex::new(Vec::new()),
        })
    }

    /// A dispatcher answering `matched` to requests whose URI contains `part`, `other` to the
    /// rest.
    pub fn by_uri(part: &'static str, matched: Reply, other: Reply) -> Arc<Self> {
        Self::new(move |s| {
            if s.uri.contains(part) {
                matched.clone()
            } else {
                other.clone()
            }
        })
    }

    /// A dispatcher answering every request with `200` and no body.
    pub fn ok() -> Arc<Self> {
        Self::new(|_| Reply::Status(200, ""))
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits (bounded) until at least `n` requests were sent.
    pub async fn wait_for(self: &Arc<Self>, n: usize, what: &str) {
        let me = self.clone();
        eventually(what, move || {
            let seen = me.seen.lock().unwrap().len();
            async move { seen >= n }
        })
        .await;
    }
}

#[async_trait::async_trait]
impl HttpDispatcher for Scripted {
    async fn send(
        &self,
        req: http::Request<Bytes>,
        timeout: Duration,
    ) -> Result<http::Response<Bytes>, String> {
        let seen = Seen {
            method: req.method().to_string(),
            uri: req.uri().to_string(),
            headers: req.headers().clone(),
            body: String::from_utf8_lossy(req.body()).into_owned(),
            timeout,
            at: Instant::now(),
        };
        self.seen.lock().unwrap().push(seen.clone());
        match (self.script)(&seen) {
            Reply::Status(code, body) => Ok(http::Response::builder()
                .status(code)
                .body(Bytes::from_static(body.as_bytes()))
                .unwrap()),
            Reply::Error(e) => Err(e.to_owned()),
            Reply::Hang => std::future::pending().await,
        }
    }
}

/// Test configuration: fast polling, a 1 s lease, `sh`/`sleep` allowed, service addresses set.
pub fn config() -> WorkflowsConfig {
    WorkflowsConfig {
        concurrency: 2,
        lease_seconds: 1,
        poll_interval_ms: 50,
        env: BTreeMap::from([("INVENTORY_ADDR".to_owned(), "inventory.test:81".to_owned())]),
        cli_commands: BTreeMap::from([
            ("sh".to_owned(), PathBuf::from("/bin/sh")),
            ("sleep".to_owned(), PathBuf::from("/bin/sleep")),
        ]),
        ..WorkflowsConfig::default()
    }
}

/// How long background work may take before a test gives up.
const PATIENCE: Duration = Duration::from_secs(20);

/// Waits until `cond` holds, failing the test with `what` after [`PATIENCE`].
pub async fn eventually<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + PATIENCE;
    while !cond().await {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits (bounded) until the job reaches `done` or `failed`.
pub async fn finished(svc: &Service, id: &JobId) -> Job {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Ok(job) = svc.app().job(id).await
            && matches!(job.status, JobStatus::Done | JobStatus::Failed)
        {
            return job;
        }
        assert!(Instant::now() < deadline, "job {id} did not finish");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Asserts an error in the shape of upstream's workflows handlers: exactly `{"error": ...}`
/// (no `request_id`), JSON as gin writes it; returns the message.
pub fn go_error(resp: &mender_testkit::TestResponse, status: http::StatusCode) -> String {
    resp.assert_status(status);
    let v = resp.json();
    let keys: Vec<&String> = v
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys, ["error"], "body {v}");
    v["error"].as_str().unwrap().to_owned()
}
