//! Test fixtures: databases for both backends, a scripted HTTP dispatcher, request helpers.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http_body_util::BodyExt;
use mender_db::Db;
use mender_queue::SqlQueue;
use mender_workflows::model::{Job, JobStatus};
use mender_workflows::{HttpDispatcher, Service, WorkflowsConfig};
use serde_json::Value;
use tower::ServiceExt;

/// A fresh workflows database and queue database per backend.
pub struct Backend {
    pub db: Db,
    pub queue: Arc<SqlQueue>,
    _dirs: (Option<tempfile::TempDir>, Option<tempfile::TempDir>),
}

pub async fn backends() -> Vec<Backend> {
    let stores =
        mender_db::testing::all(mender_workflows::SERVICE, mender_workflows::migrations()).await;
    let queues = mender_db::testing::all(mender_queue::SERVICE, mender_queue::migrations()).await;
    stores
        .into_iter()
        .zip(queues)
        .map(|((db, d1), (qdb, d2))| Backend {
            db,
            queue: Arc::new(SqlQueue::new(qdb)),
            _dirs: (d1, d2),
        })
        .collect()
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
    pub at: std::time::Instant,
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

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
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
            at: std::time::Instant::now(),
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

pub async fn service(
    b: &Backend,
    dispatcher: Arc<dyn HttpDispatcher>,
    config: WorkflowsConfig,
) -> Arc<Service> {
    Service::new(b.db.clone(), b.queue.clone(), dispatcher, config)
        .await
        .unwrap()
}

/// Waits until the job reaches `done` or `failed`.
pub async fn finished(svc: &Service, id: &str) -> Job {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(job) = svc.app().job(id).await
            && matches!(job.status, JobStatus::Done | JobStatus::Failed)
        {
            return job;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "job {id} did not finish"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends a request to the internal router; returns status and JSON body (`Null` if empty).
pub async fn call(
    svc: &Service,
    method: &str,
    uri: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let mut req = http::Request::builder().method(method).uri(uri);
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Body::from(body.unwrap_or("").to_owned())).unwrap();
    let resp = svc.routers().internal.oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, json)
}
