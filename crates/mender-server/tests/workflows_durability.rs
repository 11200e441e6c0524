//! The workflow engine inside the real binary: a job survives `kill -9` of the server and
//! completes after restart, and a failing http task is retried as its definition says, with
//! the attempts visible in the job status API.

// Tests may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use common::ServerProcess;
use serde_json::{Value, json};

/// The service our test workflows call.
#[derive(Default)]
struct Target {
    /// While false, `/slow` never answers (the job is stuck mid-task).
    release_slow: AtomicBool,
    slow_calls: AtomicU32,
    after_calls: AtomicU32,
    flaky_calls: AtomicU32,
    broken_calls: AtomicU32,
}

/// `POST /<task>` on the target: counts the call and answers as that task is meant to.
async fn target_task(State(t): State<Arc<Target>>, Path(task): Path<String>) -> StatusCode {
    match task.as_str() {
        "slow" => {
            t.slow_calls.fetch_add(1, Ordering::SeqCst);
            while !t.release_slow.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            StatusCode::OK
        }
        "after" => {
            t.after_calls.fetch_add(1, Ordering::SeqCst);
            StatusCode::NO_CONTENT
        }
        "flaky" => {
            // Fails twice, then works.
            if t.flaky_calls.fetch_add(1, Ordering::SeqCst) < 2 {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::OK
            }
        }
        "broken" => {
            t.broken_calls.fetch_add(1, Ordering::SeqCst);
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ => StatusCode::NOT_FOUND,
    }
}

async fn start_target() -> (Arc<Target>, String) {
    let state = Arc::new(Target::default());
    let app = Router::new()
        .route("/{task}", post(target_task))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (state, url)
}

fn http_task(name: &str, uri: String, retries: u32) -> Value {
    json!({
        "name": name,
        "type": "http",
        "retries": retries,
        "retryDelaySeconds": 1,
        "http": {
            "uri": uri,
            "method": "POST",
            "contentType": "application/json",
            "json": {"device": "${workflow.input.device_id}"},
            "readTimeOut": 120
        }
    })
}

fn write_definitions(dir: &std::path::Path, target: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let def = |name: &str, tasks: Vec<Value>| {
        json!({
            "name": name,
            "description": "test workflow",
            "version": 1,
            "schemaVersion": 1,
            "inputParameters": ["device_id"],
            "tasks": tasks
        })
    };
    let files = [
        (
            "e2e_durable",
            vec![
                http_task("slow", format!("{target}/slow"), 0),
                http_task("after", format!("{target}/after"), 0),
            ],
        ),
        (
            "e2e_flaky",
            vec![http_task("flaky", format!("{target}/flaky"), 2)],
        ),
        (
            "e2e_broken",
            vec![http_task("broken", format!("{target}/broken"), 2)],
        ),
        (
            "e2e_internal",
            vec![
                http_task("after", format!("{target}/after"), 0),
                // One of our own services, by upstream's host name: a worker process sends it
                // to the server's internal port.
                json!({
                    "name": "useradm_health",
                    "type": "http",
                    "retries": 0,
                    "http": {
                        "uri": "http://mender-useradm:8080/api/internal/v1/useradm/health",
                        "method": "GET",
                        "statusCodes": [204, 200]
                    }
                }),
            ],
        ),
    ];
    for (name, tasks) in files {
        std::fs::write(
            dir.join(format!("{name}.json")),
            serde_json::to_vec_pretty(&def(name, tasks)).unwrap(),
        )
        .unwrap();
    }
}

/// The internal port's shared secret the fixture's server and workers use.
const INTERNAL_SECRET: &str = "e2e-internal-secret-0123456789";

/// A client for the internal port that sends the shared secret.
fn internal_client() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "x-men-internal-secret",
        reqwest::header::HeaderValue::from_static(INTERNAL_SECRET),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

async fn start_job(server: &ServerProcess, name: &str) -> String {
    let url = server.internal_url.as_ref().expect("internal API");
    let resp = internal_client()
        .post(format!("{url}/api/v1/workflow/{name}"))
        .json(&json!({"device_id": "dev-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["name"], name);
    body["id"].as_str().unwrap().to_owned()
}

async fn wait_job(server: &ServerProcess, name: &str, id: &str, want: &str, secs: u64) -> Value {
    let url = server.internal_url.as_ref().expect("internal API");
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let resp = internal_client()
            .get(format!("{url}/api/v1/workflow/{name}/{id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let job: Value = resp.json().await.unwrap();
        if job["status"] == want {
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "job {id} did not become {want}: {job:#}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Starts workflow `name` and waits (up to a minute) until its job is `want`; returns the job.
async fn run_job(server: &ServerProcess, name: &str, want: &str) -> Value {
    let id = start_job(server, name).await;
    wait_job(server, name, &id, want, 60).await
}

/// The target service, the test workflow definitions calling it, and a data directory.
struct Fixture {
    target: Arc<Target>,
    data: PathBuf,
    defs: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Fixture {
    async fn new() -> Self {
        let (target, target_url) = start_target().await;
        let tmp = tempfile::tempdir().unwrap();
        let (data, defs) = (tmp.path().join("data"), tmp.path().join("defs"));
        write_definitions(&defs, &target_url);
        Fixture {
            target,
            data,
            defs,
            _tmp: tmp,
        }
    }

    /// The environment of the server and of a worker: the definitions, quick leases and polls.
    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "MENDER_SERVER_WORKFLOWS__WORKFLOWS_PATH",
                self.defs.display().to_string(),
            ),
            ("MENDER_SERVER_WORKFLOWS__LEASE_SECONDS", "2".into()),
            ("MENDER_SERVER_WORKFLOWS__POLL_INTERVAL_MS", "200".into()),
            ("MENDER_SERVER_INTERNAL_SECRET", INTERNAL_SECRET.into()),
        ]
    }

    /// Starts (or restarts) the server on the data directory.
    fn start(&self, extra_args: &[&str]) -> ServerProcess {
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        ServerProcess::start(&self.data, extra_args, &env)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn job_survives_kill_9_and_completes_after_restart() {
    let f = Fixture::new().await;
    let target = &f.target;
    let server = f.start(&[]);
    let id = start_job(&server, "e2e_durable").await;
    // Wait until a worker is inside the first task, then crash the server.
    let deadline = Instant::now() + Duration::from_secs(30);
    while target.slow_calls.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the job never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_job(&server, "e2e_durable", &id, "processing", 10).await;
    server.kill9();
    assert_eq!(target.after_calls.load(Ordering::SeqCst), 0);

    // The task now answers; a restarted server picks the job up again and finishes it.
    target.release_slow.store(true, Ordering::SeqCst);
    let server = f.start(&[]);
    let job = wait_job(&server, "e2e_durable", &id, "done", 60).await;
    assert!(
        target.slow_calls.load(Ordering::SeqCst) >= 2,
        "the interrupted task ran again"
    );
    assert_eq!(
        target.after_calls.load(Ordering::SeqCst),
        1,
        "the second task ran exactly once"
    );
    let results = job["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{job:#}");
    assert!(results.iter().all(|r| r["success"] == true), "{job:#}");
    let status = server.stop();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_http_tasks_are_retried_as_defined() {
    let f = Fixture::new().await;
    let target = &f.target;
    let server = f.start(&[]);

    // Fails twice, succeeds on the third and last allowed attempt.
    let job = run_job(&server, "e2e_flaky", "done").await;
    assert_eq!(target.flaky_calls.load(Ordering::SeqCst), 3);
    assert_eq!(job["results"][0]["attempts"], 3, "{job:#}");
    assert_eq!(
        job["results"][0]["httpResponse"]["statusCode"], 200,
        "{job:#}"
    );

    // Always fails: 1 + 2 retries, then the job fails and says why.
    let job = run_job(&server, "e2e_broken", "failed").await;
    assert_eq!(target.broken_calls.load(Ordering::SeqCst), 3);
    assert_eq!(job["results"][0]["success"], false, "{job:#}");
    assert_eq!(job["results"][0]["attempts"], 3, "{job:#}");
    assert_eq!(
        job["results"][0]["httpResponse"]["statusCode"], 500,
        "{job:#}"
    );

    // Unknown workflows and missing inputs are refused at the API.
    let url = server.internal_url.clone().unwrap();
    for (name, want) in [("nope", 404), ("e2e_flaky", 400)] {
        let r = internal_client()
            .post(format!("{url}/api/v1/workflow/{name}"))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), want, "{name}");
    }
    server.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn separate_worker_process_runs_jobs() {
    let f = Fixture::new().await;
    let target = &f.target;
    let server = f.start(&["--no-workers"]);
    // Without the shared secret the internal port answers 401.
    let r = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/workflow/e2e_internal",
            server.internal_url.as_ref().unwrap()
        ))
        .json(&json!({"device_id": "dev-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // The worker below sends the secret with its task to our own internal API.
    let id = start_job(&server, "e2e_internal").await;
    // Nobody runs it yet.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(target.after_calls.load(Ordering::SeqCst), 0);

    let mut worker = std::process::Command::new(common::bin());
    worker
        .args(["worker", "--data-dir"])
        .arg(&f.data)
        .args(["--internal-url", server.internal_url.as_ref().unwrap()]);
    for (k, v) in f.env() {
        worker.env(k, v);
    }
    let mut worker = worker.spawn().expect("start the worker");
    let job = wait_job(&server, "e2e_internal", &id, "done", 60).await;
    let _ = worker.kill();
    let _ = worker.wait();
    assert_eq!(target.after_calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        job["results"][1]["httpResponse"]["statusCode"], 204,
        "{job:#}"
    );
    server.stop();
}
