//! Device configuration through the real binary: an accepted device is provisioned in
//! deviceconfig by the `provision_device` workflow, a user sets and deploys its
//! configuration, the device gets the configuration deployment from `next`, downloads the
//! generated `mender-configure` artifact, reports the configuration it applied, and the
//! management view shows both; decommissioning removes the record again. (Debian's
//! mender-client has no mender-configure module, so a simulated device plays its part.)

// Tests may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use common::mgmt::{accept_pending, pending_device, start_with_admin, wait_for};
use reqwest::Method;
use serde_json::{Value, json};

const MAC: &str = "02:00:00:00:0c:01";
const DEVICE_CONFIG: &str = "/api/devices/v1/deviceconfig/configuration";

fn mgmt_path(id: &str) -> String {
    format!("/api/management/v1/deviceconfig/configurations/device/{id}")
}

#[tokio::test(flavor = "multi_thread")]
async fn configure_a_device_end_to_end() {
    let (_tmp, server, m) = start_with_admin().await;
    let dev = pending_device(&server, MAC).await;
    let id = accept_pending(&m, MAC, || server.stdout()).await;
    assert!(dev.authenticate().await.unwrap().is_some());

    // Accepting provisions the device in deviceconfig (a workflow, so wait for it).
    let view = wait_for(
        60,
        "deviceconfig to know the device",
        || server.stdout(),
        || async {
            let a = m.get(&mgmt_path(&id)).await;
            (a.status == 200).then_some(a.body)
        },
    )
    .await;
    assert_eq!(
        (&view["id"], &view["configured"], &view["reported"]),
        (&json!(id), &json!({}), &json!({}))
    );
    assert!(view["updated_ts"].is_string(), "{view}");

    // The user sets the configuration and deploys it.
    let config = json!({"timezone": "Europe/Oslo", "ntp-server": "pool.ntp.org"});
    let a = m.call("PUT", &mgmt_path(&id), Some(config.clone())).await;
    assert_eq!(a.status, 204, "{}", a.text);
    let a = m
        .call(
            "POST",
            &format!("{}/deploy", mgmt_path(&id)),
            Some(json!({"retries": 0})),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let deployment = a.body["deployment_id"].as_str().unwrap().to_owned();

    // The device finds it at its next poll, and the link serves the generated artifact.
    let next = dev
        .next_deployment("release-1", "test-device")
        .await
        .unwrap()
        .expect("a configuration deployment");
    assert_eq!(next["id"], deployment.as_str(), "{next}");
    assert_eq!(
        next["artifact"]["artifact_name"],
        format!("configuration-{deployment}").as_str()
    );
    let uri = next["artifact"]["source"]["uri"].as_str().unwrap();
    let resp = dev.http().get(uri).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let artifact = resp.bytes().await.unwrap();
    let text = String::from_utf8_lossy(&artifact);
    // An uncompressed version-3 artifact of the mender-configure module whose meta-data is
    // the configuration.
    for needle in [
        "mender-configure",
        "\"timezone\"",
        "Europe/Oslo",
        "pool.ntp.org",
    ] {
        assert!(text.contains(needle), "{needle} not in the artifact");
    }
    let status = format!("/api/devices/v1/deployments/device/deployments/{deployment}/status");
    for s in ["downloading", "installing", "success"] {
        let r = dev
            .request(Method::PUT, &status, Some(&json!({ "status": s })))
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "{s}");
    }

    // mender-configure reads the configuration and reports what it applied.
    let r = dev.get(DEVICE_CONFIG).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), config);
    let r = dev
        .request(Method::PUT, DEVICE_CONFIG, Some(&config))
        .await
        .unwrap();
    assert_eq!(r.status(), 204);

    let view = m.get(&mgmt_path(&id)).await;
    assert_eq!(view.status, 200);
    assert_eq!(view.body["configured"], config);
    assert_eq!(view.body["reported"], config);
    assert_eq!(view.body["deployment_id"], deployment.as_str());
    assert!(view.body["reported_ts"].is_string(), "{}", view.text);

    // Each token opens only its own side.
    let device_token = dev.token().unwrap();
    assert_eq!(
        m.with_token(&device_token)
            .get(&mgmt_path(&id))
            .await
            .status,
        401
    );
    assert_eq!(m.get(DEVICE_CONFIG).await.status, 401);

    // Decommissioning removes the device's configuration (a workflow again).
    m.decommission(&id).await;
    wait_for(
        60,
        "deviceconfig to forget the device",
        || server.stdout(),
        || async { (m.get(&mgmt_path(&id)).await.status == 404).then_some(()) },
    )
    .await;
}
