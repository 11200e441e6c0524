//! `devices_v1.yaml`: a device reads its desired configuration and reports what it applied.

use std::time::Duration;

use axum::http::StatusCode;
use mender_db::testing::Backend;
use mender_testkit::identity;
use serde_json::{Value, json};

use crate::common::{
    DEVICE, START_TEXT, assert_refuses_configurations, assert_wrong_callers_refused, env,
};

async fn device_reads_its_configuration(backend: Backend) {
    let e = env(backend).await;
    let dev = e.device("dev-1");
    let r = dev.get(DEVICE).send().await;
    assert_eq!(
        r.assert_error(StatusCode::NOT_FOUND),
        "device does not exist"
    );
    e.provision("dev-1").await;
    let r = dev.get(DEVICE).send().await;
    r.assert_status(StatusCode::OK);
    assert_eq!(r.json(), json!({}));
    let config = json!({"b": "2", "a": "1"});
    e.configure_ok("dev-1", &config).await;
    assert_eq!(dev.get(DEVICE).send().await.json(), config);
    // Another device sees its own.
    e.provision("dev-2").await;
    assert_eq!(e.device("dev-2").get(DEVICE).send().await.json(), json!({}));
}

async fn device_reports_its_configuration(backend: Backend) {
    let e = env(backend).await;
    e.provision("dev-1").await;
    e.configure_ok("dev-1", &json!({"a": "1"})).await;
    e.clock.advance(Duration::from_secs(60));
    let reported = json!({"a": "1", "extra": "from the device"});
    let r = e.device("dev-1").put(DEVICE).json(&reported).send().await;
    r.assert_status(StatusCode::NO_CONTENT);
    assert!(r.body.is_empty());
    let v = e.view("dev-1").await;
    assert_eq!(
        v,
        json!({"id": "dev-1", "configured": {"a": "1"}, "reported": reported,
               "updated_ts": START_TEXT, "reported_ts": "2024-01-02T03:05:05.678Z"})
    );
    // A report replaces the previous one; `null` clears it.
    e.device("dev-1")
        .put(DEVICE)
        .json(&Value::Null)
        .send()
        .await
        .assert_status(StatusCode::NO_CONTENT);
    assert_eq!(e.view("dev-1").await["reported"], json!({}));
    // A device that reports before it was provisioned gets a record (upstream upserts),
    // with no `updated_ts` yet; provisioning it afterwards conflicts, which the workflow accepts.
    e.device("dev-9")
        .put(DEVICE)
        .json(&json!({"x": "y"}))
        .send()
        .await
        .assert_status(StatusCode::NO_CONTENT);
    let v = e.view("dev-9").await;
    assert_eq!(
        (&v["reported"], &v["updated_ts"]),
        (&json!({"x": "y"}), &Value::Null)
    );
}

async fn report_refuses_bad_input(backend: Backend) {
    let e = env(backend).await;
    e.provision("dev-1").await;
    e.device("dev-1")
        .put(DEVICE)
        .json(&json!({"keep": "me"}))
        .send()
        .await;
    assert_refuses_configurations(&e.device("dev-1"), "PUT", DEVICE).await;
    assert_eq!(e.view("dev-1").await["reported"], json!({"keep": "me"}));
}

async fn callers_must_be_devices(backend: Backend) {
    let e = env(backend).await;
    e.provision("user-1").await;
    let user = e.devices.as_identity(identity::user("user-1"));
    for method in ["GET", "PUT"] {
        assert_wrong_callers_refused(&e.devices, &user, method, DEVICE).await;
    }
    assert_eq!(e.view("user-1").await["reported"], json!({}));
}

mender_db::each_backend!(
    device_reads_its_configuration,
    device_reports_its_configuration,
    report_refuses_bad_input,
    callers_must_be_devices,
);
