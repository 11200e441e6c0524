//! The real Debian mender-client 3.4 joins the fleet: it shows up pending, an admin accepts it,
//! its inventory becomes searchable, and after decommissioning it is gone everywhere.

// Tests may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use common::device::{DeviceSetup, MenderClient};
use common::mgmt::{accept_pending, start_with_admin, wait_device_gone, wait_for};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread")]
async fn mender_client_is_accepted_and_its_inventory_is_searchable() {
    let (tmp, server, m) = start_with_admin().await;
    let device = MenderClient::start(
        &tmp.path().join("device"),
        &server,
        &DeviceSetup {
            mac: "02:12:34:56:78:9a",
            inventory: &[("e2e_run", "alpha"), ("kernel", "6.1.0")],
            ..DeviceSetup::default()
        },
    );
    let log = || device.log_text();

    // 1. The device shows up as pending with its identity; 2. an admin accepts it.
    let pending = m
        .get("/api/management/v2/devauth/devices?status=pending")
        .await;
    let device_id = accept_pending(&m, "02:12:34:56:78:9a", log).await;
    let d = m
        .get(&format!("/api/management/v2/devauth/devices/{device_id}"))
        .await;
    assert_eq!(
        d.body["identity_data"],
        json!({"mac": "02:12:34:56:78:9a"}),
        "{pending:?}",
        pending = pending.text
    );
    assert_eq!(d.body["status"], "accepted");

    // 3. It gets its token and sends its inventory.
    let attrs = wait_for(90, "the device inventory", log, || async {
        let a = m
            .get(&format!("/api/management/v1/inventory/devices/{device_id}"))
            .await;
        let attrs = a.body["attributes"].as_array()?.clone();
        attrs
            .iter()
            .any(|a| a["name"] == "mender_client_version")
            .then_some(attrs)
    })
    .await;
    let value = |name: &str, scope: &str| {
        attrs
            .iter()
            .find(|a| a["name"] == name && a["scope"] == scope)
            .map(|a| a["value"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(value("device_type", "inventory"), "test-device");
    assert_eq!(value("artifact_name", "inventory"), "release-1");
    assert!(
        value("mender_client_version", "inventory")
            .as_str()
            .unwrap()
            .starts_with("3.4")
    );
    assert_eq!(value("e2e_run", "inventory"), "alpha");
    assert_eq!(value("kernel", "inventory"), "6.1.0");
    assert_eq!(value("mac", "identity"), "02:12:34:56:78:9a");
    assert_eq!(value("status", "identity"), "accepted");

    // The inventory is searchable through the v2 filters API.
    let found = m
        .call(
            "POST",
            "/api/management/v2/inventory/filters/search",
            Some(json!({"filters": [{"scope": "inventory", "attribute": "e2e_run", "type": "$eq", "value": "alpha"}]})),
        )
        .await;
    assert_eq!(found.status, 200, "{}", found.text);
    assert_eq!(found.body.as_array().unwrap().len(), 1);
    assert_eq!(found.body[0]["id"], device_id.as_str());

    // 4. Stop the client (a running client would register again), then decommission.
    drop(device);
    m.decommission(&device_id).await;
    wait_device_gone(&m, &device_id).await;
}
