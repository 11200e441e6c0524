//! `devices_v1`: devices upload their inventory (PUT replaces, PATCH merges) within the
//! attribute and size limits, on the device route and the legacy `/api/0.1.0/attributes`;
//! times come from the service's clock.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use bytes::Bytes;
use mender_core::Timestamp;
use mender_db::testing::Backend;
use mender_inventory::InventoryConfig;
use mender_testkit::json::find;
use serde_json::{Value, json};

use crate::common::{Api, Call, DEVICE_ATTRS, START_MS, START_TEXT, device, user, value_of};

mender_db::each_backend!(
    device_inventory_put_patch_and_limits,
    concurrent_patches_all_land,
    times_come_from_the_clock,
);

/// Small limits, so that tests reach them.
fn limits() -> InventoryConfig {
    InventoryConfig {
        limit_attributes: 5,
        limit_tags: 2,
        max_document_bytes: 4096,
        ..InventoryConfig::default()
    }
}

async fn device_inventory_put_patch_and_limits(backend: Backend) {
    let api = Api::new(backend, limits()).await;
    put_then_patch_merges(&api).await;
    let before = put_replaces_the_scope(&api).await;
    rejected_bodies(&api).await;
    attribute_limit(&api).await;
    document_size_limit(&api, &before).await;
    only_devices_may_write(&api).await;
    legacy_path(&api).await;
}

async fn put_then_patch_merges(api: &Api) {
    assert_eq!(
        api.put_inventory(
            "d1",
            json!([{"name":"a","value":"1"},{"name":"b","value":2,"description":"B"},{"name":"c","value":["x","y"]}])
        )
        .await,
        StatusCode::OK
    );
    let d = api.device_json("d1").await;
    assert_eq!(value_of(&d, "inventory", "b"), Some(json!(2)));
    assert_eq!(value_of(&d, "inventory", "c"), Some(json!(["x", "y"])));
    assert!(d["updated_ts"].as_str().is_some());
    assert!(value_of(&d, "system", "created_ts").is_some());

    // PATCH merges; a scope in the body is ignored for devices.
    let r = api
        .patch_inventory(
            "d1",
            json!([{"name":"a","value":"9","scope":"system"},{"name":"d","value":1}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let d = api.device_json("d1").await;
    assert_eq!(value_of(&d, "inventory", "a"), Some(json!("9")));
    assert_eq!(value_of(&d, "inventory", "c"), Some(json!(["x", "y"])));
    assert_eq!(value_of(&d, "system", "a"), None);
    let desc = find(&d["attributes"], "name", "b")["description"].clone();
    assert_eq!(desc, json!("B"));
}

/// PUT replaces the scope; returns the device as it is then.
async fn put_replaces_the_scope(api: &Api) -> Value {
    assert_eq!(
        api.put_inventory("d1", json!([{"name":"a","value":"1"}]))
            .await,
        StatusCode::OK
    );
    let before = api.device_json("d1").await;
    assert_eq!(value_of(&before, "inventory", "c"), None);
    before
}

/// A body that arrives whole or in chunks without a length.
enum Body {
    Whole(String),
    Chunked(String),
}

/// A chunked body without `Content-Length`.
fn chunks(s: String) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    let parts: Vec<Result<Bytes, std::io::Error>> = s
        .into_bytes()
        .chunks(1000)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    futures::stream::iter(parts)
}

/// Rejections leave the document unchanged.
async fn rejected_bodies(api: &Api) {
    let json_body = |v: Value| Body::Whole(v.to_string());
    let big = json!([{"name":"big","value":"x".repeat(5000)}]).to_string();
    let cases: Vec<(Body, &str, StatusCode)> = vec![
        (
            Body::Whole("[{\"name\":\"a\",\"value\":".into()),
            "application/json",
            StatusCode::BAD_REQUEST,
        ),
        (
            Body::Whole("[]".into()),
            "text/plain",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            json_body(json!([{"name":"a","value":null}])),
            "application/json",
            StatusCode::BAD_REQUEST,
        ),
        (
            json_body(json!([{"name":"a","value":[1,"x"]}])),
            "application/json",
            StatusCode::BAD_REQUEST,
        ),
        (
            json_body(json!([{"name":"a","value":{"o":1}}])),
            "application/json",
            StatusCode::BAD_REQUEST,
        ),
        (
            json_body(json!([{"name":"","value":"x"}])),
            "application/json",
            StatusCode::BAD_REQUEST,
        ),
        (
            json_body(json!([{"name":"n".repeat(1025),"value":"x"}])),
            "application/json",
            StatusCode::BAD_REQUEST,
        ),
        (
            json_body(json!({"name":"a"})),
            "application/json",
            StatusCode::BAD_REQUEST,
        ),
        // Over the body limit (4096 here), also when chunked without a length.
        (
            Body::Whole(big.clone()),
            "application/json",
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            Body::Chunked(big),
            "application/json",
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    for (body, content_type, want) in cases {
        let req = api
            .device("d1")
            .patch(DEVICE_ATTRS)
            .header("content-type", content_type);
        let req = match body {
            Body::Whole(b) => req.body(b),
            Body::Chunked(b) => req.stream(chunks(b)),
        };
        let r = req.call().await;
        assert_eq!(r.status, want, "{}", r.text());
    }
}

/// Too many attributes: PUT counts the set, PATCH existing + new.
async fn attribute_limit(api: &Api) {
    let six: Vec<Value> = (0..6)
        .map(|i| json!({"name": format!("k{i}"), "value": i}))
        .collect();
    assert_eq!(
        api.put_inventory("d1", json!(six)).await,
        StatusCode::BAD_REQUEST
    );
    let five: Vec<Value> = (0..5)
        .map(|i| json!({"name": format!("k{i}"), "value": i}))
        .collect();
    let r = api.patch_inventory("d1", json!(five)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "1 existing + 5 new > 5");
    assert_eq!(
        r.json()["error"],
        "the number of attributes in the scope is above the limit"
    );
}

/// Merged document over the size limit, each request under it.
async fn document_size_limit(api: &Api, before: &Value) {
    let r = api
        .patch_inventory("d1", json!([{"name":"p1","value":"x".repeat(2500)}]))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let mid = api.device_json("d1").await;
    let r = api
        .patch_inventory("d1", json!([{"name":"p2","value":"x".repeat(2500)}]))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(api.device_json("d1").await, mid, "nothing written");
    assert_eq!(
        value_of(before, "inventory", "a"),
        value_of(&mid, "inventory", "a")
    );
}

/// Only devices may call; users and callers without identity get 401.
async fn only_devices_may_write(api: &Api) {
    for who in [Some(user()), None] {
        let r = api
            .devices_as(who.clone())
            .put(DEVICE_ATTRS)
            .json(&json!([]))
            .call()
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{who:?}");
    }
}

/// The legacy path on the internal router.
async fn legacy_path(api: &Api) {
    let r = api
        .internal()
        .as_identity(device("d2"))
        .patch("/api/0.1.0/attributes")
        .json(&json!([{"name":"x","value":"1"}]))
        .call()
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        value_of(&api.device_json("d2").await, "inventory", "x"),
        Some(json!("1"))
    );
}

async fn concurrent_patches_all_land(backend: Backend) {
    let api = Arc::new(Api::new(backend, InventoryConfig::default()).await);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..12 {
        let api = api.clone();
        tasks.spawn(async move {
            let body = json!([{"name": format!("k{i}"), "value": i}]);
            api.patch_inventory("race", body).await.status
        });
    }
    while let Some(s) = tasks.join_next().await {
        assert_eq!(s.unwrap(), StatusCode::OK);
    }
    let d = api.device_json("race").await;
    for i in 0..12 {
        assert_eq!(
            value_of(&d, "inventory", &format!("k{i}")),
            Some(json!(i)),
            "lost update"
        );
    }
}

/// `created_ts` and `updated_ts` are the service clock's time in the stored form
/// (milliseconds, fixed width); an unchanged inventory bumps `updated_ts` once a day.
async fn times_come_from_the_clock(backend: Backend) {
    let api = Api::new(backend, InventoryConfig::default()).await;
    // Microseconds on the clock are not kept.
    api.clock
        .set(Timestamp::from_unix_micros(START_MS * 1000 + 456));
    // The system `created_ts` and `updated_ts` and the device's `updated_ts` once `d1` has
    // reported `attrs`.
    let times_after = |attrs: Value| async {
        api.report("d1", attrs).await;
        let d = api.device_json("d1").await;
        (
            value_of(&d, "system", "created_ts"),
            value_of(&d, "system", "updated_ts"),
            d["updated_ts"].clone(),
        )
    };
    // Created at the start, updated at `t`.
    let updated_at = |t: &str| (Some(json!(START_TEXT)), Some(json!(t)), json!(t));
    let (one, two) = (
        json!([{"name":"a","value":"1"}]),
        json!([{"name":"a","value":"2"}]),
    );
    assert_eq!(times_after(one.clone()).await, updated_at(START_TEXT));

    // Later the same day: nothing changed, nothing written.
    api.clock.advance(Duration::from_secs(3600));
    assert_eq!(times_after(one).await, updated_at(START_TEXT));

    // A change is written with the time of the change.
    assert_eq!(
        times_after(two.clone()).await,
        updated_at("2024-05-06T08:08:09.123Z")
    );

    // The next day an unchanged inventory still bumps updated_ts.
    api.clock.advance(Duration::from_secs(24 * 3600));
    assert_eq!(
        times_after(two).await,
        updated_at("2024-05-07T08:08:09.123Z")
    );
}
