//! The transactional outbox in the real binary: a failpoint aborts the server process between
//! the accept (or decommission) commit and the start of its workflow, or between the engine
//! queueing a relayed job and the relay deleting the row; after a restart the device is
//! provisioned exactly once (or gone). And start-up reconciliation repairs drift crafted
//! directly in the databases, as crashes before the outbox left it.

// Tests may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::mgmt::{
    Mgmt, accept_pending, inventory_value, pending_device, pending_ids, wait_device_gone, wait_for,
};
use common::{ADMIN_EMAIL, ADMIN_PASSWORD, ServerProcess, create_user};
use mender_db::{DatabaseUrl, Db, query};
use serde_json::json;

/// A data directory with the admin user created.
fn data_dir() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    assert!(
        create_user(&data, ADMIN_EMAIL, ADMIN_PASSWORD)
            .status
            .success()
    );
    (tmp, data)
}

/// Starts the server on `data`, with failpoint `failpoint` armed if given, and logs in.
async fn start(data: &Path, failpoint: Option<&str>) -> (ServerProcess, Mgmt) {
    let env: Vec<(&str, &str)> = failpoint
        .map(|f| vec![("MENDER_FAILPOINT", f)])
        .unwrap_or_default();
    let server = ServerProcess::start(data, &[], &env);
    let m = Mgmt::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    (server, m)
}

/// Sends `method path` and expects the server process to die of the armed failpoint (SIGABRT)
/// while or after answering.
async fn crash_with(
    server: ServerProcess,
    m: &Mgmt,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) {
    // The connection may drop before an answer: the process aborts right after the commit.
    let _ = m.request(method, path, body).send().await;
    let mut server = server;
    let status = server.child.wait().unwrap();
    assert!(
        !status.success(),
        "the failpoint should have aborted the server: {status}"
    );
}

/// Waits until inventory lists `device` as accepted (what group and all-device deployments
/// select on).
async fn wait_provisioned(m: &Mgmt, device: &str) {
    wait_for(
        30,
        "the device to be accepted in inventory",
        String::new,
        || async {
            (inventory_value(m, device, "identity", "status").await == Some(json!("accepted")))
                .then_some(())
        },
    )
    .await;
}

/// The number of inventory entries of `device`.
async fn inventory_entries(m: &Mgmt, device: &str) -> usize {
    let a = m
        .get("/api/management/v1/inventory/devices?per_page=500")
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    a.body
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["id"] == device)
        .count()
}

/// A service's SQLite database in `data`.
async fn db(data: &Path, schema: &mender_db::Schema) -> Db {
    Db::connect(&DatabaseUrl::Sqlite(data.to_owned()), schema)
        .await
        .unwrap()
}

/// How many `provision_device` jobs the engine ever recorded for `device`.
async fn provision_jobs(data: &Path, device: &str) -> i64 {
    let db = db(data, &mender_workflows::SCHEMA).await;
    let n = query(
        "SELECT COUNT(*) FROM jobs WHERE workflow_name = 'provision_device' \
         AND input_parameters LIKE '%' || $1 || '%'",
    )
    .bind(device)
    .scalar(&db)
    .await
    .unwrap();
    db.close().await;
    n
}

async fn crash_between_accept_and_provisioning(failpoint: &str) {
    let (_tmp, data) = data_dir();
    let (server, m) = start(&data, Some(failpoint)).await;
    pending_device(&server, "02:00:00:00:0a:01").await;
    let (id, aid) = pending_ids(&m, "02:00:00:00:0a:01", String::new).await;
    crash_with(
        server,
        &m,
        "PUT",
        &format!("/api/management/v2/devauth/devices/{id}/auth/{aid}/status"),
        Some(json!({"status": "accepted"})),
    )
    .await;

    let (server, m) = start(&data, None).await;
    wait_provisioned(&m, &id).await;
    assert_eq!(inventory_entries(&m, &id).await, 1);
    assert_eq!(
        provision_jobs(&data, &id).await,
        1,
        "provisioned exactly once"
    );
    let a = m
        .get(&format!("/api/management/v2/devauth/devices/{id}"))
        .await;
    assert_eq!(a.body["status"], "accepted", "{}", a.text);
    drop(server);
}

#[tokio::test(flavor = "multi_thread")]
async fn crash_after_accept_commit_provisions_once_after_restart() {
    crash_between_accept_and_provisioning("after-accept-commit").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn crash_after_the_relay_queued_the_job_provisions_once_after_restart() {
    crash_between_accept_and_provisioning("after-outbox-start:provision_device").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn crash_after_decommission_commit_removes_the_device_after_restart() {
    let (_tmp, data) = data_dir();
    let (server, m) = start(&data, None).await;
    pending_device(&server, "02:00:00:00:0a:02").await;
    let id = accept_pending(&m, "02:00:00:00:0a:02", String::new).await;
    wait_provisioned(&m, &id).await;
    server.stop();

    let (server, m) = start(&data, Some("after-decommission-commit")).await;
    crash_with(
        server,
        &m,
        "DELETE",
        &format!("/api/management/v2/devauth/devices/{id}"),
        None,
    )
    .await;

    let (_server, m) = start(&data, None).await;
    wait_device_gone(&m, &id).await;
    assert_eq!(inventory_entries(&m, &id).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn start_up_reconciles_drift_left_before_the_outbox() {
    let (_tmp, data) = data_dir();
    let (server, m) = start(&data, None).await;
    let mut ids = Vec::new();
    for mac in [
        "02:00:00:00:0b:01",
        "02:00:00:00:0b:02",
        "02:00:00:00:0b:03",
    ] {
        pending_device(&server, mac).await;
        let id = accept_pending(&m, mac, String::new).await;
        wait_provisioned(&m, &id).await;
        ids.push(id);
    }
    server.stop();
    let (lost, orphan, stuck) = (&ids[0], &ids[1], &ids[2]);

    // Drift as crashes before the outbox left it: `lost` accepted but never provisioned,
    // `orphan` decommissioned in deviceauth but still in inventory, `stuck` marked for
    // decommissioning without its workflow.
    // Per service, in order: (statement, the device it is run for).
    for (schema, statements) in [
        (
            &mender_inventory::SCHEMA,
            vec![("DELETE FROM devices WHERE id = $1", lost)],
        ),
        (
            &mender_deviceauth::SCHEMA,
            vec![
                ("DELETE FROM tokens WHERE device_id = $1", orphan),
                ("DELETE FROM auth_sets WHERE device_id = $1", orphan),
                ("DELETE FROM devices WHERE id = $1", orphan),
                (
                    "UPDATE devices SET decommissioning = TRUE WHERE id = $1",
                    stuck,
                ),
            ],
        ),
    ] {
        let db = db(&data, schema).await;
        for (sql, device) in statements {
            query(sql).bind(device.as_str()).execute(&db).await.unwrap();
        }
        db.close().await;
    }

    let (server, m) = start(&data, None).await;
    wait_provisioned(&m, lost).await;
    wait_device_gone(&m, orphan).await;
    wait_device_gone(&m, stuck).await;
    assert_eq!(inventory_entries(&m, lost).await, 1);
    assert_eq!(
        provision_jobs(&data, lost).await,
        2,
        "the original and the repair"
    );
    drop(server);
}
