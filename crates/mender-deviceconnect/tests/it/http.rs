//! The plain HTTP routes: the management status view and the internal device life cycle.

use axum::http::StatusCode;
use mender_db::testing::Backend;
use mender_testkit::identity;
use serde_json::json;

use crate::common::{INTERNAL, START_TEXT, env, mgmt};

async fn provisioned_devices_show_as_disconnected(backend: Backend) {
    let e = env(backend).await;
    let r = e.status("", "dev-1").await;
    assert_eq!(r.assert_error(StatusCode::NOT_FOUND), "device not found");
    e.provision_in("", "dev-1")
        .await
        .assert_status(StatusCode::CREATED);
    // Again: the record stays.
    e.provision_in("", "dev-1")
        .await
        .assert_status(StatusCode::CREATED);
    let r = e.status("", "dev-1").await;
    r.assert_status(StatusCode::OK);
    assert_eq!(
        r.json(),
        json!({
            "device_id": "dev-1",
            "status": "disconnected",
            "created_ts": START_TEXT,
            "updated_ts": START_TEXT,
        })
    );
    // Another tenant's user does not see it.
    e.status("t2", "dev-1")
        .await
        .assert_status(StatusCode::NOT_FOUND);
    // The open-source path with an empty tenant segment.
    let decommission = || {
        e.internal
            .delete(&format!("{INTERNAL}/tenants//devices/dev-1"))
            .send()
    };
    decommission().await.assert_status(StatusCode::ACCEPTED);
    e.status("", "dev-1")
        .await
        .assert_status(StatusCode::NOT_FOUND);
    decommission().await.assert_status(StatusCode::NOT_FOUND);
}

async fn internal_input_is_checked(backend: Backend) {
    let e = env(backend).await;
    let url = format!("{INTERNAL}/tenants/t/devices");
    for body in [r#"{}"#, r#"{"device_id":""}"#] {
        let r = e.internal.post(&url).json_text(body).send().await;
        r.assert_status(StatusCode::BAD_REQUEST);
    }
    let r = e.internal.post(&url).json_text("{").send().await;
    r.assert_status(StatusCode::BAD_REQUEST);
    e.provision_in("t", "a")
        .await
        .assert_status(StatusCode::CREATED);
    e.provision_in("t", "b")
        .await
        .assert_status(StatusCode::CREATED);
    let r = e
        .internal
        .delete(&format!("{INTERNAL}/tenants/t"))
        .send()
        .await;
    r.assert_status(StatusCode::NO_CONTENT);
    e.status("t", "a")
        .await
        .assert_status(StatusCode::NOT_FOUND);
    for p in ["health", "alive"] {
        let r = e.internal.get(&format!("{INTERNAL}/{p}")).send().await;
        r.assert_status(StatusCode::NO_CONTENT);
    }
}

async fn a_device_token_cannot_read_the_status(backend: Backend) {
    let e = env(backend).await;
    e.provision_in("", "dev-1").await;
    let r = e
        .management
        .as_identity(identity::device("dev-1"))
        .get(&mgmt("dev-1"))
        .send()
        .await;
    assert_eq!(
        r.assert_error(StatusCode::BAD_REQUEST),
        "missing or non-user identity in the authorization headers"
    );
}

mender_db::each_backend!(
    provisioned_devices_show_as_disconnected,
    internal_input_is_checked,
    a_device_token_cannot_read_the_status
);
