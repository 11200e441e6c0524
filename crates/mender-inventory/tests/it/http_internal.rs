//! `internal_v1`: health, tenants, provisioning and decommissioning devices, per-scope
//! attribute updates with `If-Unmodified-Since`, bulk status updates with revisions, and
//! reindexing; every tenant route also with an empty tenant segment.

use axum::http::StatusCode;
use mender_db::testing::Backend;
use mender_inventory::InventoryConfig;
use serde_json::{Value, json};

use crate::common::Want::{Body, Error, Status};
use crate::common::{Api, INTERNAL, MGMT, expect, script, value_of};

mender_db::each_backend!(internal_api);

/// A route of the default tenant (empty tenant segment).
fn oss(path: &str) -> String {
    format!("{INTERNAL}/tenants/{path}")
}

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
    let (c, tenants) = (api.internal(), format!("{INTERNAL}/tenants"));
    script(vec![
        (
            c.get(&format!("{INTERNAL}/alive")),
            Status(StatusCode::NO_CONTENT),
        ),
        (
            c.get(&format!("{INTERNAL}/health")),
            Status(StatusCode::NO_CONTENT),
        ),
        (
            c.post(&tenants).json(&json!({"tenant_id":"t1"})),
            Status(StatusCode::CREATED),
        ),
        (
            c.post(&tenants).json(&json!({})),
            Status(StatusCode::BAD_REQUEST),
        ),
    ])
    .await;
}

/// The identity-scope value `name` of device `dev1`.
async fn identity_of(api: &Api, name: &str) -> Option<Value> {
    value_of(&api.device_json("dev1").await, "identity", name)
}

/// `provision_device`: creating an existing device again is fine.
async fn provision_device(api: &Api) {
    let (c, devices) = (api.internal(), oss("/devices"));
    let body =
        json!({"id":"dev1","attributes":[{"name":"status","scope":"identity","value":"accepted"}]});
    let r = expect(c.post(&devices).json(&body), Status(StatusCode::CREATED)).await;
    assert_eq!(r.headers["location"], "devices/dev1");
    script(vec![
        (c.post(&devices).json(&body), Status(StatusCode::CREATED)),
        (
            c.post(&devices).json(&json!({"attributes":[]})),
            Status(StatusCode::BAD_REQUEST),
        ),
    ])
    .await;
    assert_eq!(identity_of(api, "status").await, Some(json!("accepted")));
}

/// `update_device_inventory` of one scope, with `If-Unmodified-Since`. Like upstream, any
/// scope name is accepted, and the header's whole second is compared with the device's
/// millisecond `updated_ts`: a device updated during that second was modified after it.
async fn scope_updates_and_preconditions(api: &Api) {
    let c = api.internal();
    let scope = |s: &str| oss(&format!("/device/dev1/attribute/scope/{s}"));
    let mac = |v: &str| json!([{"name":"mac","value":v}]);
    expect(
        c.patch(&scope("identity")).json(&mac("00:01")),
        Status(StatusCode::OK),
    )
    .await;
    assert_eq!(identity_of(api, "mac").await, Some(json!("00:01")));
    // Upstream stores any scope (this assertion expected 400 before issue 14).
    let bogus = c
        .patch(&scope("bogus"))
        .json(&json!([{"name":"a","value":"1"}]));
    expect(bogus, Status(StatusCode::OK)).await;
    assert_eq!(
        value_of(&api.device_json("dev1").await, "bogus", "a"),
        Some(json!("1"))
    );
    // The device's updated_ts becomes the clock's 2024-05-06T07:08:09.123Z.
    api.report("dev1", json!([{"name":"a","value":"1"}])).await;
    let since = |date: &str| {
        c.patch(&scope("identity"))
            .header("if-unmodified-since", date)
            .json(&mac("x"))
    };
    let bad_check_in = json!([{"name":"check_in_time","value":"nope"}]);
    let write_conflict = || Error(StatusCode::PRECONDITION_FAILED, "write conflict".into());
    script(vec![
        (since("Mon, 01 Jan 2001 00:00:00 GMT"), write_conflict()),
        (
            since("garbage"),
            Error(
                StatusCode::BAD_REQUEST,
                "invalid header If-Unmodified-Since: parsing time \"garbage\" as \"Mon, 02 Jan \
                 2006 15:04:05 MST\": cannot parse \"garbage\" as \"Mon\""
                    .into(),
            ),
        ),
        (since("Mon, 06 May 2024 07:08:08 GMT"), write_conflict()),
        // 07:08:09.123 is after 07:08:09 (this assertion expected 200 before issue 14).
        (since("Mon, 06 May 2024 07:08:09 GMT"), write_conflict()),
        (
            since("Mon, 06 May 2024 07:08:10 GMT"),
            Status(StatusCode::OK),
        ),
        (
            c.patch(&scope("system")).json(&bad_check_in),
            Status(StatusCode::BAD_REQUEST),
        ),
    ])
    .await;
}

/// `update_device_status`: revisions must grow; in bulk, stale entries are skipped.
async fn status_updates_need_newer_revisions(api: &Api) {
    let c = api.internal();
    let to = |status: &str| c.post(&oss(&format!("/devices/status/{status}")));
    let rev = |dev: &str, revision: i64| json!({"id": dev, "revision": revision});
    expect(
        to("rejected").json(&json!([rev("dev1", 2)])),
        Status(StatusCode::OK),
    )
    .await;
    assert_eq!(identity_of(api, "status").await, Some(json!("rejected")));
    script(vec![
        (
            to("rejected").json(&json!([rev("dev1", 1)])),
            Status(StatusCode::CONFLICT),
        ),
        (
            to("rejected").json(&json!([rev("dev1", 1), rev("dev2", 1)])),
            Body(json!({"created_count": 1})),
        ),
        (to("bogus").json(&json!([])), Status(StatusCode::NOT_FOUND)),
        (
            to("decommissioned").json(&json!([rev("dev2", 0)])),
            Body(json!({"deleted_count": 1})),
        ),
    ])
    .await;
}

async fn reindex_for_devicemonitor_only(api: &Api) {
    let c = api.internal();
    let reindex = |q: &str| c.post(&oss(&format!("/devices/dev1/reindex{q}")));
    expect(reindex("?service=devicemonitor"), Status(StatusCode::OK)).await;
    assert_eq!(
        value_of(&api.device_json("dev1").await, "monitor", "alerts"),
        Some(json!(false))
    );
    // The first `service` counts.
    script(vec![
        (reindex("?service=x"), Status(StatusCode::BAD_REQUEST)),
        (
            reindex("?service=x&service=devicemonitor"),
            Status(StatusCode::BAD_REQUEST),
        ),
    ])
    .await;
}

/// `decommission_device`: removes the device of one tenant only; a missing one is fine.
async fn decommission_keeps_other_tenants(api: &Api) {
    let (c, dev1) = (api.internal(), oss("/devices/dev1"));
    let t1 = |path: &str| format!("{INTERNAL}/tenants/t1{path}");
    script(vec![
        (
            c.post(&t1("/devices")).json(&json!({"id":"dev1"})),
            Status(StatusCode::CREATED),
        ),
        (c.delete(&dev1), Status(StatusCode::NO_CONTENT)),
        (
            api.user().get(&format!("{MGMT}/devices/dev1")),
            Status(StatusCode::NOT_FOUND),
        ),
        // The other tenant keeps its device.
        (c.get(&t1("/devices/dev1/groups")), Status(StatusCode::OK)),
        (c.delete(&dev1), Status(StatusCode::NO_CONTENT)),
    ])
    .await;
}
