//! The transactional outbox in deviceauth, on both backends: admission changes and their
//! workflows commit together (a failed outbox write undoes the change), the relay delivers
//! each row once, retries refused rows with back-off on the service clock, drops rows the
//! engine can never start, and wakes on a commit; the reconciliation repairs skip work that
//! is already waiting.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use mender_api::testing::RecordingWorkflows;
use mender_api::workflows::{StartError, StartedWorkflow, WorkflowStarter};
use mender_core::{DeviceId, TenantId, Timestamp};
use mender_db::query;
use mender_db::testing::Backend;
use mender_deviceauth::app::Ctx;
use mender_deviceauth::model::Status;
use mender_deviceauth::store::{DeviceauthStore, SqlStore};
use mender_queue::outbox::{self, OutboxMessage, RelayPass, RelaySettings};
use mender_testkit::DeviceKey;
use serde_json::{Value, json};

use crate::common::{DEVS, Env};

mender_db::each_backend!(
    accept_writes_its_workflows_in_its_transaction,
    a_failed_outbox_write_undoes_the_state_change,
    admission_changes_write_their_workflows,
    refused_rows_back_off_and_are_delivered_once,
    rows_the_engine_can_never_start_are_dropped,
    the_relay_wakes_on_a_commit,
    repairs_skip_work_already_waiting,
    device_briefs_list_every_device_with_its_state,
);

/// The workflows waiting in the outbox, oldest first.
async fn waiting(env: &Env) -> Vec<String> {
    query("SELECT workflow FROM outbox ORDER BY next_attempt_at, id")
        .scalars(&*env.db)
        .await
        .unwrap()
}

/// A device `n` that asked to join once; returns it as the management API shows it.
async fn pending(env: &Env, n: u32) -> Value {
    env.auth(&DeviceKey::ed25519(), &json!({"mac": n})).await;
    env.device_with(&json!({"mac": n})).await
}

fn oss_ctx() -> Ctx {
    Ctx::default()
}

async fn accept_writes_its_workflows_in_its_transaction(backend: Backend) {
    let env = Env::new(backend).await;
    let device = pending(&env, 1).await;
    let id = device["id"].as_str().unwrap();
    env.relay.drain().await.unwrap();
    env.wf_now().clear();

    env.accept(&device)
        .await
        .assert_status(StatusCode::NO_CONTENT);
    // Committed with the device: nothing started yet, both rows waiting.
    assert_eq!(
        waiting(&env).await,
        ["update_device_status", "provision_device"],
        "{}",
        env.backend()
    );
    assert_eq!(env.wf_now().count(), 0);
    let pass = env.relay.run_once().await.unwrap();
    assert_eq!(
        pass,
        RelayPass {
            delivered: 2,
            ..RelayPass::default()
        }
    );
    let provisioned = env.wf_now().named("provision_device");
    assert_eq!(provisioned.len(), 1);
    assert_eq!(provisioned[0]["device_id"], id);
    assert_eq!(provisioned[0]["status"], "accepted");
    assert!(waiting(&env).await.is_empty());
    assert_eq!(env.relay.run_once().await.unwrap(), RelayPass::default());
}

async fn a_failed_outbox_write_undoes_the_state_change(backend: Backend) {
    let env = Env::new(backend).await;
    let device = pending(&env, 2).await;
    let id = device["id"].as_str().unwrap().to_owned();
    // An outbox that cannot be written: the accept must not commit without its workflows.
    query("DROP TABLE outbox").execute(&*env.db).await.unwrap();
    let r = env.accept(&device).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", r.text());
    let d = env.mgmt.get(&format!("{DEVS}/{id}")).send().await.json();
    assert_eq!(d["status"], "pending", "{}", env.backend());
    assert_eq!(d["auth_sets"][0]["status"], "pending");

    let r = env.decommission(&id).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    let decommissioning: bool = query("SELECT decommissioning FROM devices WHERE id = $1")
        .bind(id.as_str())
        .scalar(&*env.db)
        .await
        .unwrap();
    assert!(!decommissioning);
}

async fn admission_changes_write_their_workflows(backend: Backend) {
    let env = Env::new(backend).await;
    let device = pending(&env, 3).await;
    let id = device["id"].as_str().unwrap().to_owned();
    env.relay.drain().await.unwrap();

    env.set_status(&device, "rejected")
        .await
        .assert_status(StatusCode::NO_CONTENT);
    assert_eq!(waiting(&env).await, ["update_device_status"]);
    env.relay.drain().await.unwrap();

    env.decommission(&id)
        .await
        .assert_status(StatusCode::NO_CONTENT);
    assert_eq!(waiting(&env).await, ["decommission_device"]);
    env.relay.drain().await.unwrap();

    let key = DeviceKey::ed25519();
    env.preauth(&json!({"mac": "p"}), &key.public_pem())
        .await
        .assert_status(StatusCode::CREATED);
    assert_eq!(
        waiting(&env).await,
        ["update_device_status", "update_device_inventory"]
    );
    env.relay.drain().await.unwrap();
    let pre = env.device_with(&json!({"mac": "p"})).await;
    let (pid, paid) = (
        pre["id"].as_str().unwrap(),
        pre["auth_sets"][0]["id"].as_str().unwrap(),
    );
    env.dismiss(pid, paid)
        .await
        .assert_status(StatusCode::NO_CONTENT);
    assert_eq!(waiting(&env).await, ["update_device_status"]);
    env.relay.drain().await.unwrap();
    let last = env.wf_now().named("update_device_status");
    assert_eq!(last.last().unwrap()["device_status"], "decommissioned");
}

async fn refused_rows_back_off_and_are_delivered_once(backend: Backend) {
    let env = Env::new(backend).await;
    let device = pending(&env, 4).await;
    env.relay.drain().await.unwrap();
    env.wf_now().clear();
    env.accept(&device)
        .await
        .assert_status(StatusCode::NO_CONTENT);

    env.wf_now().fail_next(2);
    let pass = env.relay.run_once().await.unwrap();
    assert_eq!((pass.delivered, pass.deferred), (0, 2), "{}", env.backend());
    // Not due again before its back-off (one second) passed on the service clock.
    assert_eq!(env.relay.run_once().await.unwrap(), RelayPass::default());
    env.clock.advance(Duration::from_millis(1_100));
    assert_eq!(env.relay.run_once().await.unwrap().delivered, 2);
    assert_eq!(env.wf_now().named("provision_device").len(), 1);
    assert_eq!(env.wf_now().named("update_device_status").len(), 1);
    assert!(waiting(&env).await.is_empty());
}

/// An engine that knows no workflow.
struct NoWorkflows;

#[async_trait::async_trait]
impl WorkflowStarter for NoWorkflows {
    async fn start_workflow(&self, name: &str, _: Value) -> Result<StartedWorkflow, StartError> {
        Err(StartError::NotFound(name.to_owned()))
    }
    async fn start_workflow_once(
        &self,
        name: &str,
        _: Value,
        _: &str,
    ) -> Result<StartedWorkflow, StartError> {
        Err(StartError::NotFound(name.to_owned()))
    }
}

async fn rows_the_engine_can_never_start_are_dropped(backend: Backend) {
    let env = Env::new(backend).await;
    let store = SqlStore(env.db.db());
    let message = OutboxMessage::new("no_such_workflow", "d1", json!({}));
    store
        .push_outbox(&[message], Timestamp::from_unix_secs(1))
        .await
        .unwrap();
    let relay = env
        .svc
        .outbox_relay(Arc::new(NoWorkflows), RelaySettings::default());
    let pass = relay.run_once().await.unwrap();
    assert_eq!((pass.dropped, pass.deferred), (1, 0), "{}", env.backend());
    assert_eq!(outbox::pending(&env.db).await.unwrap(), 0);
}

async fn the_relay_wakes_on_a_commit(backend: Backend) {
    let env = Env::new(backend).await;
    let device = pending(&env, 5).await;
    let wf = Arc::new(RecordingWorkflows::default());
    // Polling every ten minutes: only the commit's signal can deliver within the test.
    let settings = RelaySettings {
        poll_interval: Duration::from_secs(600),
        ..RelaySettings::default()
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = env.svc.outbox_relay(wf.clone(), settings).spawn(stopped);
    // Let its first pass (which finds the pending device's rows, if any) run.
    tokio::task::yield_now().await;
    env.accept(&device)
        .await
        .assert_status(StatusCode::NO_CONTENT);
    let mut tries = 0;
    while wf.named("provision_device").is_empty() {
        tries += 1;
        assert!(tries < 1_000, "the relay did not wake on the commit");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(true).unwrap();
    task.await.unwrap();
    assert_eq!(wf.named("provision_device").len(), 1);
}

async fn repairs_skip_work_already_waiting(backend: Backend) {
    let env = Env::new(backend).await;
    let app = env.svc.app();
    let ctx = oss_ctx();
    let device = pending(&env, 6).await;
    let id = DeviceId::from(device["id"].as_str().unwrap());
    assert!(!app.reprovision(&ctx, &id).await.unwrap(), "not accepted");
    env.accept(&device)
        .await
        .assert_status(StatusCode::NO_CONTENT);
    assert!(
        !app.reprovision(&ctx, &id).await.unwrap(),
        "provisioning is waiting in the outbox"
    );
    env.relay.drain().await.unwrap();
    assert!(app.reprovision(&ctx, &id).await.unwrap());
    assert_eq!(
        waiting(&env).await,
        ["provision_device", "update_device_inventory"]
    );
    assert!(!app.reprovision(&ctx, &id).await.unwrap());
    env.relay.drain().await.unwrap();

    assert!(!app.redecommission(&ctx, &id).await.unwrap(), "not marked");
    env.decommission(id.as_str())
        .await
        .assert_status(StatusCode::NO_CONTENT);
    assert!(!app.redecommission(&ctx, &id).await.unwrap(), "waiting");
    env.relay.drain().await.unwrap();
    assert!(app.redecommission(&ctx, &id).await.unwrap());
    assert_eq!(waiting(&env).await, ["decommission_device"]);
    assert!(
        !app.reprovision(&ctx, &id).await.unwrap(),
        "decommissioning devices are not provisioned"
    );
}

async fn device_briefs_list_every_device_with_its_state(backend: Backend) {
    let env = Env::new(backend).await;
    let a = pending(&env, 7).await;
    let b = pending(&env, 8).await;
    let c = pending(&env, 9).await;
    env.accept(&a).await.assert_status(StatusCode::NO_CONTENT);
    env.accept(&c).await.assert_status(StatusCode::NO_CONTENT);
    let cid = c["id"].as_str().unwrap();
    env.decommission(cid)
        .await
        .assert_status(StatusCode::NO_CONTENT);
    let app = env.svc.app();
    let got: Vec<(TenantId, String, Status, bool)> = app
        .device_briefs()
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.tenant, d.id.into_string(), d.status, d.decommissioning))
        .collect();
    let mut want = vec![
        (
            a["id"].as_str().unwrap().to_owned(),
            Status::Accepted,
            false,
        ),
        (b["id"].as_str().unwrap().to_owned(), Status::Pending, false),
        (cid.to_owned(), Status::Accepted, true),
    ];
    want.sort_by(|x, y| x.0.cmp(&y.0));
    let want: Vec<_> = want
        .into_iter()
        .map(|(id, s, d)| (TenantId::default_tenant(), id, s, d))
        .collect();
    assert_eq!(got, want, "{}", env.backend());
}
