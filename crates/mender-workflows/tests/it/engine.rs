//! The engine on both backends (`engine::sqlite::<name>`, `engine::postgres::<name>`): task
//! runs, retries, skipping, cli, crash recovery, shutdown.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use mender_core::JobId;
use mender_db::testing::Backend;
use mender_queue::JobQueue;
use mender_workflows::Service;
use mender_workflows::definitions;
use mender_workflows::model::{Job, JobStatus};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::common::{Env, Reply, Scripted, client, config, finished};

mender_db::each_backend!(
    provision_device_calls_inventory_and_skips_missing_services,
    configured_services_are_called_with_raw_json,
    failing_task_is_retried_then_fails_the_job,
    transport_errors_and_unavailable_task_types_fail_clearly,
    cli_tasks_capture_output_and_time_out,
    ephemeral_jobs_are_recorded_only_when_they_fail,
    a_dead_workers_job_is_resumed_after_the_lease,
    workers_stop_on_shutdown_and_poison_messages_are_dropped,
    keyed_starts_queue_one_job_per_key,
    finished_jobs_are_pruned_after_the_retention,
);

/// Starts `svc`'s workers; they stop when the sender says so.
fn run_workers(svc: &Arc<Service>) -> (watch::Sender<bool>, JoinHandle<()>) {
    let (stop, rx) = watch::channel(false);
    (stop, svc.spawn_workers(rx))
}

/// Registers the workflow `definition` (upstream's JSON).
async fn register(svc: &Service, definition: &str) {
    let wf = definitions::parse(definition.as_bytes()).unwrap();
    svc.app().register(wf).await.unwrap();
}

/// The inputs of `reindex_inventory` for device `device_id`.
fn reindex_inputs(device_id: &str) -> Value {
    json!({"request_id": "r", "tenant_id": "t", "device_id": device_id, "service": "s"})
}

/// Starts a job of `workflow` with `inputs` (a JSON object).
async fn start_job(svc: &Service, workflow: &str, inputs: Value) -> Job {
    let inputs = inputs.as_object().unwrap();
    svc.app().start(workflow, inputs, None).await.unwrap()
}

async fn provision_device_calls_inventory_and_skips_missing_services(backend: Backend) {
    let env = Env::new(backend).await;
    let d = Scripted::new(|_| Reply::Status(201, ""));
    let svc = env.service(d.clone(), config()).await;
    let (_stop, workers) = run_workers(&svc);
    let inputs = json!({"request_id": "req-1", "device_id": "dev 1", "tenant_id": "",
                        "status": "accepted", "device": {"id": "dev 1", "status": "accepted"}});
    let job = start_job(&svc, "provision_device", inputs).await;
    let job = finished(&svc, &job.id).await;
    assert_eq!(job.status, JobStatus::Done, "{job:?}");
    let summary: Vec<_> = job
        .results
        .iter()
        .map(|r| (r.name.as_str(), r.success, r.skipped, r.attempts))
        .collect();
    assert_eq!(
        summary,
        [
            ("inventory_add_device", true, false, 1),
            ("deviceconnect_add_device", true, true, 0),
            ("deviceconfig_add_device", true, true, 0),
            ("iot_manager_add_device", true, true, 0),
        ]
    );
    let seen = d.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(
        seen[0].uri,
        "http://inventory.test:81/api/internal/v1/inventory/tenants//devices"
    );
    assert_eq!(seen[0].headers["x-men-requestid"], "req-1");
    assert_eq!(seen[0].headers["content-type"], "application/json");
    assert_eq!(seen[0].timeout, Duration::from_secs(30));
    let body: Value = serde_json::from_str(&seen[0].body).unwrap();
    assert_eq!(
        body,
        json!({"id": "dev 1", "attributes": [{"scope": "identity", "name": "status", "value": "accepted"}]})
    );
    assert_eq!(
        job.results[0].http_response.as_ref().unwrap().status_code,
        201
    );
    env.drained("message acked").await;
    workers.abort();
}

async fn configured_services_are_called_with_raw_json(backend: Backend) {
    let env = Env::new(backend).await;
    let d = Scripted::new(|_| Reply::Status(204, ""));
    let mut cfg = config();
    cfg.env.insert("HAVE_IOT_MANAGER".into(), "true".into());
    cfg.env.insert("IOT_MANAGER_ADDR".into(), "iot:9".into());
    let svc = env.service(d.clone(), cfg).await;
    let (_stop, workers) = run_workers(&svc);
    let devices = json!([{"id": "a", "revision": 2}, {"id": "b", "revision": 1}]);
    let inputs = json!({"request_id": "r", "devices": devices, "device_status": "accepted",
                        "tenant_id": "t/1"});
    start_job(&svc, "update_device_status", inputs).await;
    d.wait_for(2, "both calls made").await;
    let seen = d.seen();
    assert_eq!(
        seen[0].uri,
        "http://inventory.test:81/api/internal/v1/inventory/tenants/t%2F1/devices/status/accepted"
    );
    assert_eq!(seen[1].method, "PUT");
    assert_eq!(
        seen[1].uri,
        "http://iot:9/api/internal/v1/iot-manager/tenants/t%2F1/bulk/devices/status/accepted"
    );
    for s in &seen {
        assert_eq!(serde_json::from_str::<Value>(&s.body).unwrap(), devices);
    }
    workers.abort();
}

fn flaky_workflow() -> &'static str {
    r#"{"name": "flaky", "version": 1, "inputParameters": ["x"], "tasks": [
        {"name": "call", "type": "http", "retries": 2, "retryDelaySeconds": 1,
         "http": {"uri": "http://target/${workflow.input.x}", "method": "POST", "body": "b=${workflow.input.x}"}},
        {"name": "never", "type": "http", "http": {"uri": "http://never", "method": "GET"}}]}"#
}

async fn failing_task_is_retried_then_fails_the_job(backend: Backend) {
    let env = Env::new(backend).await;
    let d = Scripted::by_uri("never", Reply::Status(200, ""), Reply::Status(503, "down"));
    let svc = env.service(d.clone(), config()).await;
    register(&svc, flaky_workflow()).await;
    let (_stop, workers) = run_workers(&svc);
    let c = client(&svc);
    let resp = c
        .post("/api/v1/workflow/flaky")
        .json_text(r#"{"x": "1"}"#)
        .send()
        .await;
    resp.assert_status(StatusCode::CREATED);
    let id = JobId::new(resp.json()["id"].as_str().unwrap());
    finished(&svc, &id).await;

    let seen = d.seen();
    assert_eq!(
        seen.len(),
        3,
        "1 attempt + 2 retries, and the next task never runs"
    );
    for pair in seen.windows(2) {
        assert!(
            pair[1].at - pair[0].at >= Duration::from_millis(950),
            "retry delay respected"
        );
    }
    assert_eq!(seen[0].body, "b=1");
    let resp = c.get(&format!("/api/v1/workflow/flaky/{id}")).send().await;
    resp.assert_status(StatusCode::OK);
    let status = resp.json();
    assert_eq!(status["status"], "failed");
    let results = status["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["attempts"], 3);
    assert_eq!(results[0]["success"], false);
    assert_eq!(
        results[0]["httpResponse"],
        json!({"statusCode": 503, "body": "down"})
    );
    assert_eq!(results[0]["httpRequest"]["uri"], "http://target/1");
    workers.abort();
}

async fn transport_errors_and_unavailable_task_types_fail_clearly(backend: Backend) {
    let env = Env::new(backend).await;
    let d = Scripted::new(|_| Reply::Error("connection refused"));
    let svc = env.service(d.clone(), config()).await;
    let wf = r#"{"name": "mixed", "version": 1, "tasks": [
        {"name": "net", "type": "http", "retries": 1, "http": {"uri": "http://x", "method": "GET"}}]}"#;
    register(&svc, wf).await;
    let nats = r#"{"name": "pub", "version": 1, "tasks": [
        {"name": "n", "type": "nats", "retries": 3, "nats": {"subject": "reporting", "data": {}}}]}"#;
    register(&svc, nats).await;
    let (_stop, workers) = run_workers(&svc);

    let j1 = start_job(&svc, "mixed", json!({})).await;
    let j2 = start_job(&svc, "pub", json!({})).await;
    let r1 = finished(&svc, &j1.id).await;
    assert_eq!((r1.status, r1.results[0].attempts), (JobStatus::Failed, 2));
    assert_eq!(r1.results[0].error.as_deref(), Some("connection refused"));
    let r2 = finished(&svc, &j2.id).await;
    assert_eq!(r2.status, JobStatus::Failed);
    let err = r2.results[0].error.clone().unwrap();
    assert!(
        err.contains("NATS") && err.contains("WORKFLOWS.reporting"),
        "{err}"
    );
    assert_eq!(
        r2.results[0].attempts, 1,
        "no point retrying what cannot work"
    );
    workers.abort();
}

async fn cli_tasks_capture_output_and_time_out(backend: Backend) {
    let env = Env::new(backend).await;
    let d = Scripted::new(|_| Reply::Status(200, ""));
    let svc = env.service(d.clone(), config()).await;
    let wf = r#"{"name": "cli", "version": 1, "inputParameters": ["who"], "tasks": [
        {"name": "hello", "type": "cli", "cli": {"command": ["sh", "-c", "echo \"{\\\"v\\\": \\\"$0\\\"}\"; echo oops >&2", "${workflow.input.who}"]}},
        {"name": "use", "type": "http", "http": {"uri": "http://h/${encoding=url;hello.json.v}", "method": "GET"}},
        {"name": "slow", "type": "cli", "retries": 0, "cli": {"command": ["sleep", "30"], "executionTimeOut": 1}}]}"#;
    register(&svc, wf).await;
    let bad = r#"{"name": "bad", "version": 1, "tasks": [{"name": "rm", "type": "cli", "cli": {"command": ["rm", "-rf", "/tmp/x"]}}]}"#;
    register(&svc, bad).await;
    let (_stop, workers) = run_workers(&svc);

    let start = Instant::now();
    let j = start_job(&svc, "cli", json!({"who": "wörld; rm -rf /"})).await;
    let job = finished(&svc, &j.id).await;
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "the sleep was killed"
    );
    assert_eq!(job.status, JobStatus::Failed);
    let hello = job.results[0].cli.as_ref().unwrap();
    assert_eq!(
        (hello.output.as_str(), hello.error.as_str(), hello.exit_code),
        ("{\"v\": \"wörld; rm -rf /\"}\n", "oops\n", 0)
    );
    assert_eq!(d.seen()[0].uri, "http://h/w%C3%B6rld%3B+rm+-rf+%2F");
    let slow = &job.results[2];
    assert!(
        !slow.success && slow.error.as_deref().unwrap().contains("timed out"),
        "{slow:?}"
    );
    assert_eq!(slow.cli.as_ref().unwrap().exit_code, -1);

    let j = start_job(&svc, "bad", json!({})).await;
    let job = finished(&svc, &j.id).await;
    assert_eq!(
        job.results[0].error.as_deref(),
        Some("command not allowed: rm")
    );
    workers.abort();
}

async fn ephemeral_jobs_are_recorded_only_when_they_fail(backend: Backend) {
    let env = Env::new(backend).await;
    let d = Scripted::by_uri("fail", Reply::Status(400, "no"), Reply::Status(200, ""));
    let svc = env.service(d.clone(), config()).await;
    let (_stop, workers) = run_workers(&svc);
    let ok = start_job(&svc, "reindex_inventory", reindex_inputs("d")).await;
    let bad = start_job(&svc, "reindex_inventory", reindex_inputs("fail")).await;
    let failed = finished(&svc, &bad.id).await;
    assert_eq!(
        (
            failed.status,
            failed.results.len(),
            failed.results[0].attempts
        ),
        (JobStatus::Failed, 1, 4)
    );
    env.drained("both jobs finished").await;
    assert!(
        d.seen()
            .iter()
            .any(|s| s.uri.ends_with("/tenants/t/devices/d/reindex?service=s"))
    );
    assert!(
        svc.app().job(&ok.id).await.is_err(),
        "successful ephemeral job leaves no record"
    );
    workers.abort();
}

async fn a_dead_workers_job_is_resumed_after_the_lease(backend: Backend) {
    let env = Env::new(backend).await;
    let wf = r#"{"name": "two", "version": 1, "tasks": [
        {"name": "first", "type": "http", "http": {"uri": "http://svc/first", "method": "POST"}},
        {"name": "second", "type": "http", "http": {"uri": "http://svc/second", "method": "POST"}}]}"#;
    let hang = Scripted::by_uri("/second", Reply::Hang, Reply::Status(200, "{}"));
    let svc1 = env.service(hang.clone(), config()).await;
    register(&svc1, wf).await;
    let (_stop1, dying) = run_workers(&svc1);
    let job = start_job(&svc1, "two", json!({})).await;
    hang.wait_for(2, "the first worker reached the second task")
        .await;
    // The worker process "dies": no ack, no more heartbeats.
    dying.abort();
    let _ = dying.await;
    assert_eq!(
        svc1.app().job(&job.id).await.unwrap().status,
        JobStatus::Processing
    );
    // The lease runs on the clock: while it stands still, nobody else gets the job ...
    let lease = Duration::from_secs(config().lease_seconds);
    let topics = ["default".to_owned()];
    assert!(
        env.queue
            .claim(&topics, "probe", lease)
            .await
            .unwrap()
            .is_none(),
        "the job is still leased to the dead worker"
    );
    // ... and once it has passed, the next worker resumes the job at once.
    env.clock.advance(lease + Duration::from_millis(1));

    let good = Scripted::new(|_| Reply::Status(200, "{}"));
    let svc2 = env.service(good.clone(), config()).await;
    let (_stop2, workers) = run_workers(&svc2);
    let done = finished(&svc2, &job.id).await;
    assert_eq!(done.status, JobStatus::Done);
    let uris: Vec<_> = good.seen().into_iter().map(|s| s.uri).collect();
    assert_eq!(
        uris,
        ["http://svc/second"],
        "the recorded first task is not repeated"
    );
    assert_eq!(
        done.results
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>(),
        ["first", "second"]
    );
    env.drained("message acked").await;
    workers.abort();
}

async fn workers_stop_on_shutdown_and_poison_messages_are_dropped(backend: Backend) {
    let env = Env::new(backend).await;
    let d = Scripted::new(|_| Reply::Status(200, ""));
    let svc = env.service(d.clone(), config()).await;
    env.queue
        .enqueue("default", json!("not a job"))
        .await
        .unwrap();
    let (stop, workers) = run_workers(&svc);
    env.drained("undecodable message dropped").await;
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), workers)
        .await
        .expect("workers stop")
        .unwrap();
    // A job queued after shutdown stays queued.
    let job = start_job(&svc, "reindex_inventory", reindex_inputs("d")).await;
    // Nothing to wait for: this checks that nothing happens, so give a worker that wrongly
    // survived shutdown (it would be woken by the enqueue at once) a moment to show itself.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!env.queue.is_empty().await.unwrap(), "{}", job.id);
    assert!(d.seen().is_empty());
    let _keep: Arc<dyn JobQueue> = env.queue.clone();
}

/// What an outbox relay relies on: a start repeated with the same key (after a crash between
/// the start and the outbox row's deletion) queues nothing new and names the same job, for
/// recorded and ephemeral workflows alike; the job runs once.
async fn keyed_starts_queue_one_job_per_key(backend: Backend) {
    use mender_api::workflows::WorkflowStarter;
    let env = Env::new(backend).await;
    let d = Scripted::new(|_| Reply::Status(201, ""));
    let svc = env.service(d.clone(), config()).await;
    let inputs = json!({"request_id": "r", "device_id": "dev-k", "tenant_id": "",
                        "status": "accepted", "device": {"id": "dev-k"}});
    let first = svc
        .start_workflow_once("provision_device", inputs.clone(), "deviceauth/outbox/1")
        .await
        .unwrap();
    let again = svc
        .start_workflow_once("provision_device", inputs.clone(), "deviceauth/outbox/1")
        .await
        .unwrap();
    assert_eq!(first, again);
    let other = svc
        .start_workflow_once("provision_device", inputs, "deviceauth/outbox/2")
        .await
        .unwrap();
    assert_ne!(other.id, first.id);
    for _ in 0..2 {
        svc.start_workflow_once("reindex_inventory", reindex_inputs("dev-k"), "k-eph")
            .await
            .unwrap();
    }
    assert_eq!(env.queue.len().await.unwrap(), 3, "{}", env.db.backend());

    let (_stop, workers) = run_workers(&svc);
    env.drained("the keyed jobs").await;
    let job = finished(&svc, &JobId::new(first.id.clone())).await;
    assert_eq!(job.status, JobStatus::Done, "{job:?}");
    // A repeat after the job ran still starts nothing.
    svc.start_workflow_once(
        "provision_device",
        json!({"request_id": "r", "device_id": "dev-k",
        "tenant_id": "", "status": "accepted", "device": {}}),
        "deviceauth/outbox/1",
    )
    .await
    .unwrap();
    assert!(env.queue.is_empty().await.unwrap());
    // Two provisioning jobs (keys 1 and 2), one reindex: one inventory call each.
    assert_eq!(d.seen().len(), 3);
    workers.abort();
}

/// A finished job is kept for `job_retention_seconds` by the service's clock, then pruned:
/// on demand, and by the workers' process on its own every `prune_interval_seconds`.
async fn finished_jobs_are_pruned_after_the_retention(backend: Backend) {
    let env = Env::new(backend).await;
    let mut cfg = config();
    cfg.job_retention_seconds = 7 * 24 * 3600;
    cfg.prune_interval_seconds = 1;
    let svc = env
        .service(Scripted::new(|_| Reply::Status(201, "")), cfg)
        .await;
    let (stop, workers) = run_workers(&svc);
    let first = start_job(&svc, "provision_device", provision_inputs("a")).await;
    assert_eq!(finished(&svc, &first.id).await.status, JobStatus::Done);
    env.clock.advance(Duration::from_secs(7 * 24 * 3600 - 1));
    assert_eq!(
        svc.prune_finished_jobs().await.unwrap(),
        0,
        "not old enough"
    );
    assert!(svc.app().job(&first.id).await.is_ok());
    env.clock.advance(Duration::from_secs(2));
    // The periodic pruner gets it.
    crate::common::eventually("the pruner deletes the old job", || {
        let svc = svc.clone();
        let id = first.id.clone();
        async move { svc.app().job(&id).await.is_err() }
    })
    .await;
    let second = start_job(&svc, "provision_device", provision_inputs("b")).await;
    assert_eq!(finished(&svc, &second.id).await.status, JobStatus::Done);
    stop.send(true).unwrap();
    workers.await.unwrap();
    env.clock.advance(Duration::from_secs(7 * 24 * 3600 + 1));
    assert_eq!(svc.prune_finished_jobs().await.unwrap(), 1);
    let r = client(&svc)
        .get(&format!("/api/v1/workflow/provision_device/{}", second.id))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// The inputs of `provision_device` for device `id`.
fn provision_inputs(id: &str) -> Value {
    json!({"request_id": "r", "device_id": id, "tenant_id": "", "status": "accepted",
           "device": {"id": id, "status": "accepted"}})
}
