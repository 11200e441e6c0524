//! Static groups: a device's group, bulk membership changes, a group's devices with paging,
//! removing groups, and the internal and legacy group routes.

use axum::http::StatusCode;
use mender_db::testing::Backend;
use mender_inventory::InventoryConfig;
use serde_json::json;

use crate::common::Want::{Body, Error, Status, Total};
use crate::common::{Api, Call, INTERNAL, MGMT, script, user, value_of};

mender_db::each_backend!(groups);

async fn groups(backend: Backend) {
    let n = json!([{"name":"n","value":1}]);
    let devices = [("d1", n.clone()), ("d2", n.clone()), ("d3", n)];
    let api = Api::with_devices(backend, InventoryConfig::default(), &devices).await;
    a_device_joins_a_group(&api).await;
    devices_join_in_bulk(&api).await;
    a_group_lists_its_devices(&api).await;
    devices_leave_and_groups_go(&api).await;
    internal_and_legacy_routes(&api).await;
}

async fn a_device_joins_a_group(api: &Api) {
    let (c, group) = (api.user(), format!("{MGMT}/devices/d1/group"));
    let prod = json!({"group":"prod"});
    script(vec![
        // No group is `null`: upstream's code and the response's description (the schema
        // types `group` as a non-nullable string).
        (c.get(&group), Body(json!({"group": null}))),
        (
            c.get(&format!("{MGMT}/devices/nope/group")),
            Error(StatusCode::NOT_FOUND, "Device not found".into()),
        ),
        (c.put(&group).json(&prod), Status(StatusCode::NO_CONTENT)),
        (
            c.put(&group).json(&json!({"group":"bad name"})),
            Status(StatusCode::BAD_REQUEST),
        ),
        (
            c.put(&group).json(&json!({"group":""})),
            Status(StatusCode::BAD_REQUEST),
        ),
        (
            c.put(&group).json(&json!({})),
            Status(StatusCode::BAD_REQUEST),
        ),
        (
            c.put(&format!("{MGMT}/devices/nope/group")).json(&prod),
            Status(StatusCode::NOT_FOUND),
        ),
        (c.get(&group), Body(json!({"group": "prod"}))),
    ])
    .await;
    assert_eq!(
        value_of(&api.device_json("d1").await, "system", "group"),
        Some(json!("prod"))
    );
}

async fn devices_join_in_bulk(api: &Api) {
    let (c, prod) = (api.user(), format!("{MGMT}/groups/prod/devices"));
    let d3 = format!("{MGMT}/devices/d3/group");
    script(vec![
        (
            c.patch(&prod).json(&json!(["d1", "d2", "nope"])),
            Body(json!({"matched_count": 2, "updated_count": 1})),
        ),
        (
            c.patch(&prod).json(&json!([])),
            Status(StatusCode::BAD_REQUEST),
        ),
        (
            c.put(&d3).json(&json!({"group":"test"})),
            Status(StatusCode::NO_CONTENT),
        ),
        (
            c.get(&format!("{MGMT}/groups")),
            Body(json!(["prod", "test"])),
        ),
    ])
    .await;
}

/// A group's devices with paging, and the v1 list filtered by group.
async fn a_group_lists_its_devices(api: &Api) {
    let c = api.user();
    let r = c
        .get(&format!("{MGMT}/groups/prod/devices?per_page=1"))
        .call()
        .await;
    assert_eq!(r.json(), json!(["d1"]));
    assert_eq!(r.headers["x-total-count"], "2");
    assert!(r.headers["link"].to_str().unwrap().contains("rel=\"next\""));
    script(vec![
        (
            c.get(&format!("{MGMT}/groups/none/devices")),
            Status(StatusCode::NOT_FOUND),
        ),
        (c.get(&format!("{MGMT}/devices?group=prod")), Total("2")),
        (
            c.get(&format!("{MGMT}/devices?has_group=false")),
            Total("0"),
        ),
    ])
    .await;
}

async fn devices_leave_and_groups_go(api: &Api) {
    let c = api.user();
    let path = |p: &str| format!("{MGMT}{p}");
    script(vec![
        // Not in that group.
        (
            c.delete(&path("/devices/d1/group/test")),
            Status(StatusCode::NOT_FOUND),
        ),
        (
            c.delete(&path("/devices/d1/group/prod")),
            Status(StatusCode::NO_CONTENT),
        ),
        (
            c.delete(&path("/groups/prod/devices"))
                .json(&json!(["d2", "d3"])),
            Body(json!({"updated_count": 1})),
        ),
        (
            c.delete(&path("/groups/test")),
            Body(json!({"updated_count": 1})),
        ),
        (
            c.delete(&path("/groups/bad%20name")),
            Status(StatusCode::BAD_REQUEST),
        ),
        (c.get(&path("/groups")), Body(json!([]))),
    ])
    .await;
}

/// Internal device groups and the legacy alias of the management routes.
async fn internal_and_legacy_routes(api: &Api) {
    let (c, legacy) = (api.internal(), api.internal().as_identity(user()));
    let groups_of = |dev: &str| format!("{INTERNAL}/tenants//devices/{dev}/groups");
    script(vec![
        (
            legacy
                .put("/api/0.1.0/devices/d1/group")
                .json(&json!({"group":"g"})),
            Status(StatusCode::NO_CONTENT),
        ),
        (c.get(&groups_of("d1")), Body(json!({"groups": ["g"]}))),
        (c.get(&groups_of("d2")), Body(json!({"groups": []}))),
    ])
    .await;
}
