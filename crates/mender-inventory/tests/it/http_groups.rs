//! Static groups: a device's group, bulk membership changes, a group's devices with paging,
//! removing groups, and the internal and legacy group routes.

use axum::http::StatusCode;
use mender_db::testing::Backend;
use mender_inventory::InventoryConfig;
use serde_json::json;

use crate::common::{Api, Call, INTERNAL, MGMT, user, value_of};

mender_db::each_backend!(groups);

async fn groups(backend: Backend) {
    let api = Api::new(backend, InventoryConfig::default()).await;
    for d in ["d1", "d2", "d3"] {
        assert_eq!(
            api.put_inventory(d, json!([{"name":"n","value":1}])).await,
            StatusCode::OK
        );
    }
    a_device_joins_a_group(&api).await;
    devices_join_in_bulk(&api).await;
    a_group_lists_its_devices(&api).await;
    v1_list_by_group(&api).await;
    devices_leave_and_groups_go(&api).await;
    internal_and_legacy_routes(&api).await;
}

async fn a_device_joins_a_group(api: &Api) {
    let group = format!("{MGMT}/devices/d1/group");
    let r = api.user().get(&group).call().await;
    assert_eq!(r.json(), json!({"group": null}));
    let r = api
        .user()
        .put(&group)
        .json(&json!({"group":"prod"}))
        .call()
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    for bad in [json!({"group":"bad name"}), json!({"group":""}), json!({})] {
        let r = api.user().put(&group).json(&bad).call().await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let r = api
        .user()
        .put(&format!("{MGMT}/devices/nope/group"))
        .json(&json!({"group":"prod"}))
        .call()
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = api.user().get(&group).call().await;
    assert_eq!(r.json(), json!({"group": "prod"}));
    assert_eq!(
        value_of(&api.device_json("d1").await, "system", "group"),
        Some(json!("prod"))
    );
}

async fn devices_join_in_bulk(api: &Api) {
    let prod = format!("{MGMT}/groups/prod/devices");
    let r = api
        .user()
        .patch(&prod)
        .json(&json!(["d1", "d2", "nope"]))
        .call()
        .await;
    assert_eq!(r.json(), json!({"matched_count": 2, "updated_count": 1}));
    let r = api.user().patch(&prod).json(&json!([])).call().await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = api
        .user()
        .put(&format!("{MGMT}/devices/d3/group"))
        .json(&json!({"group":"test"}))
        .call()
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = api.user().get(&format!("{MGMT}/groups")).call().await;
    assert_eq!(r.json(), json!(["prod", "test"]));
}

async fn a_group_lists_its_devices(api: &Api) {
    let r = api
        .user()
        .get(&format!("{MGMT}/groups/prod/devices?per_page=1"))
        .call()
        .await;
    assert_eq!(r.json(), json!(["d1"]));
    assert_eq!(r.headers["x-total-count"], "2");
    assert!(r.headers["link"].to_str().unwrap().contains("rel=\"next\""));
    let r = api
        .user()
        .get(&format!("{MGMT}/groups/none/devices"))
        .call()
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

async fn v1_list_by_group(api: &Api) {
    let r = api
        .user()
        .get(&format!("{MGMT}/devices?group=prod"))
        .call()
        .await;
    assert_eq!(r.headers["x-total-count"], "2");
    let r = api
        .user()
        .get(&format!("{MGMT}/devices?has_group=false"))
        .call()
        .await;
    assert_eq!(r.headers["x-total-count"], "0");
}

async fn devices_leave_and_groups_go(api: &Api) {
    let r = api
        .user()
        .delete(&format!("{MGMT}/devices/d1/group/test"))
        .call()
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "not in that group");
    let r = api
        .user()
        .delete(&format!("{MGMT}/devices/d1/group/prod"))
        .call()
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = api
        .user()
        .delete(&format!("{MGMT}/groups/prod/devices"))
        .json(&json!(["d2", "d3"]))
        .call()
        .await;
    assert_eq!(r.json(), json!({"updated_count": 1}));
    let r = api
        .user()
        .delete(&format!("{MGMT}/groups/test"))
        .call()
        .await;
    assert_eq!(r.json(), json!({"updated_count": 1}));
    let r = api
        .user()
        .delete(&format!("{MGMT}/groups/bad%20name"))
        .call()
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = api.user().get(&format!("{MGMT}/groups")).call().await;
    assert_eq!(r.json(), json!([]));
}

/// Internal device groups and the legacy alias of the management routes.
async fn internal_and_legacy_routes(api: &Api) {
    let r = api
        .internal()
        .as_identity(user())
        .put("/api/0.1.0/devices/d1/group")
        .json(&json!({"group":"g"}))
        .call()
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = api
        .internal()
        .get(&format!("{INTERNAL}/tenants//devices/d1/groups"))
        .call()
        .await;
    assert_eq!(r.json(), json!({"groups": ["g"]}));
    let r = api
        .internal()
        .get(&format!("{INTERNAL}/tenants//devices/d2/groups"))
        .call()
        .await;
    assert_eq!(r.json(), json!({"groups": []}));
}
