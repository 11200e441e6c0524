//! `internal_v1`: health, tenants, provisioning and decommissioning devices, per-scope
//! attribute updates with `If-Unmodified-Since`, bulk status updates with revisions, and
//! reindexing; every tenant route also with an empty tenant segment.

use axum::http::StatusCode;
use mender_db::testing::Backend;
use mender_inventory::InventoryConfig;
use serde_json::json;

use crate::common::{Api, Call, INTERNAL, MGMT, value_of};

mender_db::each_backend!(internal_api);

async fn internal_api(backend: Backend) {
    let api = Api::new(backend, InventoryConfig::default()).await;
    health_and_tenants(&api).await;
    provision_device(&api).await;
    scope_updates_and_preconditions(&api).await;
    status_updates_need_newer_revisions(&api).await;
    reindex_for_devicemonitor_only(&api).await;
    decommission_keeps_other_tenants(&api).await;
}

async fn health_and_tenants(api: &Api) {
    let c = api.internal();
    for path in ["alive", "health"] {
        let r = c.get(&format!("{INTERNAL}/{path}")).call().await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{path}");
    }
    let tenants = format!("{INTERNAL}/tenants");
    let r = c
        .post(&tenants)
        .json(&json!({"tenant_id":"t1"}))
        .call()
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = c.post(&tenants).json(&json!({})).call().await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

/// `provision_device`: creating an existing device again is fine.
async fn provision_device(api: &Api) {
    let devices = format!("{INTERNAL}/tenants//devices");
    let body =
        json!({"id":"dev1","attributes":[{"name":"status","scope":"identity","value":"accepted"}]});
    let r = api.internal().post(&devices).json(&body).call().await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.headers["location"], "devices/dev1");
    let r = api.internal().post(&devices).json(&body).call().await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = api
        .internal()
        .post(&devices)
        .json(&json!({"attributes":[]}))
        .call()
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        value_of(&api.device_json("dev1").await, "identity", "status"),
        Some(json!("accepted"))
    );
}

/// `update_device_inventory` of one scope, with `If-Unmodified-Since` (second precision).
async fn scope_updates_and_preconditions(api: &Api) {
    let uri = format!("{INTERNAL}/tenants//device/dev1/attribute/scope/identity");
    let r = api
        .internal()
        .patch(&uri)
        .json(&json!([{"name":"mac","value":"00:01"}]))
        .call()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        value_of(&api.device_json("dev1").await, "identity", "mac"),
        Some(json!("00:01"))
    );
    let r = api
        .internal()
        .patch(&format!(
            "{INTERNAL}/tenants//device/dev1/attribute/scope/bogus"
        ))
        .json(&json!([{"name":"a","value":"1"}]))
        .call()
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // The device's updated_ts becomes the clock's 2024-05-06T07:08:09.123Z.
    assert_eq!(
        api.put_inventory("dev1", json!([{"name":"a","value":"1"}]))
            .await,
        StatusCode::OK
    );
    let cases = [
        (
            "Mon, 01 Jan 2001 00:00:00 GMT",
            StatusCode::PRECONDITION_FAILED,
        ),
        ("garbage", StatusCode::BAD_REQUEST),
        (
            "Mon, 06 May 2024 07:08:08 GMT",
            StatusCode::PRECONDITION_FAILED,
        ),
        // Within the same second is not after it.
        ("Mon, 06 May 2024 07:08:09 GMT", StatusCode::OK),
    ];
    for (since, want) in cases {
        let r = api
            .internal()
            .patch(&uri)
            .header("if-unmodified-since", since)
            .json(&json!([{"name":"mac","value":"x"}]))
            .call()
            .await;
        assert_eq!(r.status, want, "{since}: {}", r.text());
    }
    let r = api
        .internal()
        .patch(&format!(
            "{INTERNAL}/tenants//device/dev1/attribute/scope/system"
        ))
        .json(&json!([{"name":"check_in_time","value":"nope"}]))
        .call()
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

/// `update_device_status`: revisions must grow; in bulk, stale entries are skipped.
async fn status_updates_need_newer_revisions(api: &Api) {
    let st = format!("{INTERNAL}/tenants//devices/status/rejected");
    let r = api
        .internal()
        .post(&st)
        .json(&json!([{"id":"dev1","revision":2}]))
        .call()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        value_of(&api.device_json("dev1").await, "identity", "status"),
        Some(json!("rejected"))
    );
    let r = api
        .internal()
        .post(&st)
        .json(&json!([{"id":"dev1","revision":1}]))
        .call()
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = api
        .internal()
        .post(&st)
        .json(&json!([{"id":"dev1","revision":1},{"id":"dev2","revision":1}]))
        .call()
        .await;
    assert_eq!(r.json(), json!({"created_count": 1}));
    let r = api
        .internal()
        .post(&format!("{INTERNAL}/tenants//devices/status/bogus"))
        .json(&json!([]))
        .call()
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = api
        .internal()
        .post(&format!(
            "{INTERNAL}/tenants//devices/status/decommissioned"
        ))
        .json(&json!([{"id":"dev2","revision":0}]))
        .call()
        .await;
    assert_eq!(r.json(), json!({"deleted_count": 1}));
}

async fn reindex_for_devicemonitor_only(api: &Api) {
    let reindex = format!("{INTERNAL}/tenants//devices/dev1/reindex");
    let r = api
        .internal()
        .post(&format!("{reindex}?service=devicemonitor"))
        .call()
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        value_of(&api.device_json("dev1").await, "monitor", "alerts"),
        Some(json!(false))
    );
    // The first `service` counts.
    for q in ["?service=x", "?service=x&service=devicemonitor"] {
        let r = api.internal().post(&format!("{reindex}{q}")).call().await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}");
    }
}

/// `decommission_device`: removes the device of one tenant only; a missing one is fine.
async fn decommission_keeps_other_tenants(api: &Api) {
    let r = api
        .internal()
        .post(&format!("{INTERNAL}/tenants/t1/devices"))
        .json(&json!({"id":"dev1"}))
        .call()
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let delete = format!("{INTERNAL}/tenants//devices/dev1");
    let r = api.internal().delete(&delete).call().await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = api.user().get(&format!("{MGMT}/devices/dev1")).call().await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = api
        .internal()
        .get(&format!("{INTERNAL}/tenants/t1/devices/dev1/groups"))
        .call()
        .await;
    assert_eq!(r.status, StatusCode::OK, "other tenant keeps its device");
    let r = api.internal().delete(&delete).call().await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
}
