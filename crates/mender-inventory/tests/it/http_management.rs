//! `management_v1`: device details, tags guarded by ETags, clearing a device's inventory, and
//! the v1 device list with its filters, sort and paging.

use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use mender_db::testing::Backend;
use mender_inventory::InventoryConfig;
use mender_testkit::json::find;
use serde_json::{Value, json};

use crate::common::Want::Status;
use crate::common::{Api, Call, MGMT, START_TEXT, expect, ids_of, script, value_of};

mender_db::each_backend!(tags_etag_and_device_management, v1_list_sort_filter_paging,);

const D1_TAGS: &str = "/api/management/v1/inventory/devices/d1/tags";
const D1: &str = "/api/management/v1/inventory/devices/d1";

async fn tags_etag_and_device_management(backend: Backend) {
    let config = InventoryConfig {
        limit_tags: 2,
        ..Default::default()
    };
    let d1 = [("d1", json!([{"name":"a","value":"1"}]))];
    let api = Api::with_devices(backend, config, &d1).await;
    let (etag, updated) = put_tags_and_read_the_etag(&api).await;
    // Tag changes happen later than the inventory update they must not touch.
    api.clock.advance(Duration::from_secs(5));
    etag_guards_tag_changes(&api, &etag, &updated).await;
    tag_limit_and_unknown_device(&api).await;
    delete_clears_the_inventory_scope_only(&api).await;
}

/// Returns the ETag and the device's `updated_ts`.
async fn put_tags_and_read_the_etag(api: &Api) -> (String, Value) {
    let tags = json!([{"name":"env","value":"test","description":"Env"}]);
    expect(api.user().put(D1_TAGS).json(&tags), Status(StatusCode::OK)).await;
    let r = api.user().get(D1).call().await;
    let etag = r.header("etag").unwrap().to_owned();
    let body = r.json();
    let tag = find(&body["attributes"], "scope", "tags").clone();
    assert_eq!(tag["value"], "test");
    assert!(tag["timestamp"].as_str().is_some(), "tags get a timestamp");
    assert_eq!(tag["timestamp"], START_TEXT, "the clock's time");
    (etag, body["updated_ts"].clone())
}

/// Empty body: 400. Wrong ETag: 412, unchanged. Right one: 200 and a new ETag.
async fn etag_guards_tag_changes(api: &Api, etag: &str, updated: &Value) {
    let c = api.user();
    let x = json!([{"name":"x","value":"1"}]);
    let if_match = |tag: &str| c.patch(D1_TAGS).header("if-match", tag).json(&x);
    script(vec![
        (c.patch(D1_TAGS), Status(StatusCode::BAD_REQUEST)),
        (if_match("nope"), Status(StatusCode::PRECONDITION_FAILED)),
        (if_match(etag), Status(StatusCode::OK)),
    ])
    .await;
    let r = c.get(D1).call().await;
    assert_ne!(r.header("etag").unwrap(), etag);
    let body = r.json();
    assert_eq!(&body["updated_ts"], updated, "tags don't bump updated_ts");
    assert_eq!(value_of(&body, "tags", "x"), Some(json!("1")));
}

/// Tags over the limit of 2 are refused, and so is a device that does not exist.
async fn tag_limit_and_unknown_device(api: &Api) {
    let c = api.user();
    let three = json!([{"name":"a","value":"1"},{"name":"b","value":"1"},{"name":"c","value":"1"}]);
    script(vec![
        (
            c.patch(D1_TAGS).json(&json!([{"name":"y","value":"1"}])),
            Status(StatusCode::BAD_REQUEST),
        ),
        (c.put(D1_TAGS).json(&three), Status(StatusCode::BAD_REQUEST)),
        (
            c.put(&format!("{MGMT}/devices/nope/tags")).json(&json!([])),
            Status(StatusCode::NOT_FOUND),
        ),
    ])
    .await;
    let r = c.get(&format!("{MGMT}/devices/nope")).call().await;
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("Device not found"))
    );
}

/// DELETE clears the inventory scope only; a missing device is fine.
async fn delete_clears_the_inventory_scope_only(api: &Api) {
    expect(api.user().delete(D1), Status(StatusCode::NO_CONTENT)).await;
    let d = api.device_json("d1").await;
    assert_eq!(value_of(&d, "inventory", "a"), None);
    assert_eq!(value_of(&d, "tags", "x"), Some(json!("1")));
    let nope = api.user().delete(&format!("{MGMT}/devices/nope"));
    expect(nope, Status(StatusCode::NO_CONTENT)).await;
}

/// The ids and headers of a v1 list with query `q`.
async fn list(api: &Api, q: &str) -> (Vec<String>, HeaderMap) {
    let r = api.user().get(&format!("{MGMT}/devices{q}")).call().await;
    assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.text());
    (ids_of(&r.json()), r.headers)
}

async fn v1_list_sort_filter_paging(backend: Backend) {
    let inventory = |n: i64, mac: &str| json!([{"name":"n","value":n},{"name":"mac","value":mac}]);
    let devices = [
        ("d1", inventory(3, "00:11")),
        ("d2", inventory(1, "00:22")),
        ("d3", inventory(2, "00:33")),
    ];
    let api = Api::with_devices(backend, InventoryConfig::default(), &devices).await;
    let cases: [(&str, &[&str], &str); 7] = [
        ("?sort=n:asc", &["d2", "d3", "d1"], ""),
        ("?sort=inventory/n:desc", &["d1", "d3", "d2"], ""),
        ("?sort=n", &["d1", "d3", "d2"], "default order is desc"),
        ("?mac=00:22", &["d2"], "colon in value"),
        ("?mac=eq:00:33", &["d3"], ""),
        ("?n=2", &["d3"], "numeric match"),
        ("?inventory/n=5", &[], ""),
    ];
    for (q, want, why) in cases {
        assert_eq!(list(&api, q).await.0, want, "{q} {why}");
    }
    let (ids, h) = list(&api, "?sort=n:asc&page=2&per_page=2").await;
    assert_eq!(ids, vec!["d1"]);
    assert_eq!(h["x-total-count"], "3");
    let link = h["link"].to_str().unwrap();
    assert!(
        link.contains("page=1&per_page=2>; rel=\"prev\"") && !link.contains("next"),
        "{link}"
    );
    for bad in [
        "?sort=n:up",
        "?has_group=perhaps",
        "?per_page=501",
        "?page=0",
    ] {
        let r = api.user().get(&format!("{MGMT}/devices{bad}")).call().await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
}
