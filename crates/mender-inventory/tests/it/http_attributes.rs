//! `PATCH /api/internal/v1/inventory/tenants/{tenant_id}/device/{device_id}/attributes`, as
//! upstream's next release has it: an upsert keeping each attribute's own scope, with
//! `If-Unmodified-Since`, the `check_in_time` rule, upstream's validation messages, and no
//! change to `updated_ts`; also with an empty tenant segment. Plus the rules shared with the
//! device and tags routes (the same decoding upstream does).

use std::time::Duration;

use axum::http::StatusCode;
use mender_db::testing::Backend;
use mender_inventory::InventoryConfig;
use mender_testkit::json::find;
use serde_json::{Value, json};

use crate::common::Want::{Error, Status};
use crate::common::{
    Api, Call, DEVICE_ATTRS, INTERNAL, MGMT, START_TEXT, expect, script, value_of,
};

mender_db::each_backend!(
    upserts_keep_each_scope,
    preconditions_and_check_in_time,
    upstream_validation_messages,
    hostile_bodies_write_nothing,
    tenants_and_empty_segments,
    device_and_tag_routes_decode_like_upstream,
    array_attributes_are_capped,
);

/// The route for device `dev` of the default tenant (empty tenant segment).
fn oss(dev: &str) -> String {
    format!("{INTERNAL}/tenants//device/{dev}/attributes")
}

/// Whether device `dev` of the default tenant exists.
async fn exists(api: &Api, dev: &str) -> bool {
    let r = api
        .user()
        .get(&format!("{MGMT}/devices/{dev}"))
        .call()
        .await;
    r.status == StatusCode::OK
}

async fn upserts_keep_each_scope(backend: Backend) {
    let api = Api::new(backend, InventoryConfig::default()).await;
    let c = api.internal();
    // An empty list (or null) creates the missing device; the answer is an empty 200.
    for (dev, body) in [("d1", "[]"), ("d2", "null")] {
        let r = c.patch(&oss(dev)).json_text(body).call().await;
        assert_eq!(
            (r.status, r.text()),
            (StatusCode::OK, String::new()),
            "{body}"
        );
        assert!(exists(&api, dev).await, "{dev}");
    }
    let body = json!([
        {"name":"mac","value":"00:01","scope":"identity"},
        {"name":"a","value":"1"},
        {"name":"b","value":"2","scope":""},
        {"name":"tier","value":"micro","scope":"system"},
        {"name":"x","value":[1,2],"scope":"custom","description":"d"},
        {"name":"t","value":"v","scope":"tags","timestamp":"2020-01-01T00:00:00Z"},
    ]);
    expect(c.patch(&oss("d1")).json(&body), Status(StatusCode::OK)).await;
    let d = api.device_json("d1").await;
    for (scope, name, value) in [
        ("identity", "mac", json!("00:01")),
        ("inventory", "a", json!("1")),
        ("inventory", "b", json!("2")),
        ("system", "tier", json!("micro")),
        ("custom", "x", json!([1, 2])),
        ("tags", "t", json!("v")),
    ] {
        assert_eq!(
            value_of(&d, scope, name),
            Some(value),
            "{scope}/{name}: {d}"
        );
    }
    let attrs = d["attributes"].as_array().unwrap();
    let x = attrs.iter().find(|a| a["name"] == "x").unwrap();
    assert_eq!(x["description"], "d");
    // The timestamp is read-only: dropped.
    let t = attrs.iter().find(|a| a["name"] == "t").unwrap();
    assert!(t.get("timestamp").is_none(), "{t}");
    // Neither the upsert nor the creation sets updated_ts.
    assert!(d.get("updated_ts").is_none(), "{d}");

    // A later upsert merges, keeps a description it does not name, and still leaves
    // updated_ts as the device's own inventory update set it.
    api.report("d1", json!([{"name":"a","value":"1"}])).await;
    api.clock.advance(Duration::from_secs(3600));
    let again = json!([{"name":"x","value":[3],"scope":"custom"},{"name":"mac","value":"00:02","scope":"identity"}]);
    expect(c.patch(&oss("d1")).json(&again), Status(StatusCode::OK)).await;
    let d = api.device_json("d1").await;
    assert_eq!(value_of(&d, "custom", "x"), Some(json!([3])));
    assert_eq!(value_of(&d, "identity", "mac"), Some(json!("00:02")));
    assert_eq!(d["updated_ts"], START_TEXT);
    let x = find(&d["attributes"], "name", "x").clone();
    assert_eq!(x["description"], "d");
    // The identity value is searchable at once.
    let found = api
        .search(json!({"filters":[{"scope":"identity","attribute":"mac","type":"$eq","value":"00:02"}]}))
        .await;
    assert_eq!(found.headers["x-total-count"], "1");
}

async fn preconditions_and_check_in_time(backend: Backend) {
    let api = Api::new(backend, InventoryConfig::default()).await;
    let c = api.internal();
    // updated_ts: 2024-05-06T07:08:09.123Z.
    api.report("d1", json!([{"name":"a","value":"1"}])).await;
    let mac = json!([{"name":"mac","value":"m","scope":"identity"}]);
    let since = |dev: &str, date: &str| {
        c.patch(&oss(dev))
            .header("if-unmodified-since", date)
            .json(&mac)
    };
    let conflict = || Error(StatusCode::PRECONDITION_FAILED, "write conflict".into());
    let bad = |msg: &str| Error(StatusCode::BAD_REQUEST, msg.into());
    script(vec![
        (since("d1", "Mon, 06 May 2024 07:08:09 GMT"), conflict()),
        (since("d1", "Sun, 05 May 2024 07:08:09 GMT"), conflict()),
        (
            since("d1", "2024-05-06T07:08:10Z"),
            bad("invalid header If-Unmodified-Since: parsing time \"2024-05-06T07:08:10Z\" as \
                 \"Mon, 02 Jan 2006 15:04:05 MST\": cannot parse \"2024-05-06T07:08:10Z\" as \"Mon\""),
        ),
        (
            since("d1", "Mon, 06 May 2024 07:08:09"),
            bad("invalid header If-Unmodified-Since: parsing time \"Mon, 06 May 2024 07:08:09\" \
                 as \"Mon, 02 Jan 2006 15:04:05 MST\": cannot parse \"\" as \"MST\""),
        ),
        // An empty header is no condition.
        (since("d1", ""), Status(StatusCode::OK)),
        (
            since("d1", "Mon, 06 May 2024 07:08:10 GMT"),
            Status(StatusCode::OK),
        ),
        // A device that does not exist yet is created whatever the date.
        (
            since("new", "Mon, 01 Jan 2001 00:00:00 GMT"),
            Status(StatusCode::OK),
        ),
    ])
    .await;
    assert!(exists(&api, "new").await);
    // The conflicting writes wrote nothing.
    assert_eq!(
        value_of(&api.device_json("d1").await, "identity", "mac"),
        Some(json!("m"))
    );

    // system/check_in_time must be RFC 3339; it is kept as a time.
    let check_in = |scope: &str, v: Value| {
        c.patch(&oss("d1"))
            .json(&json!([{"name":"check_in_time","scope":scope,"value":v}]))
    };
    let parse_error = |v: &str| {
        bad(&format!(
            "parsing time \"{v}\" as \"2006-01-02T15:04:05Z07:00\": cannot parse \"{v}\" as \"2006\""
        ))
    };
    script(vec![
        (check_in("system", json!("nope")), parse_error("nope")),
        (check_in("system", json!(5)), parse_error("5")),
        (check_in("system", json!(1_000_000)), parse_error("1e+06")),
        (check_in("system", json!(["a", "b"])), parse_error("[a b]")),
        (
            check_in("system", json!("2024-13-01T00:00:00Z")),
            bad("parsing time \"2024-13-01T00:00:00Z\": month out of range"),
        ),
        // Only the system scope's check_in_time is a time.
        (check_in("inventory", json!("nope")), Status(StatusCode::OK)),
        (
            check_in("system", json!("2024-05-06T09:08:09.5+02:00")),
            Status(StatusCode::OK),
        ),
    ])
    .await;
    let d = api.device_json("d1").await;
    assert_eq!(
        value_of(&d, "system", "check_in_time"),
        Some(json!("2024-05-06T07:08:09.500Z"))
    );
    assert_eq!(
        value_of(&d, "inventory", "check_in_time"),
        Some(json!("nope"))
    );
}

async fn upstream_validation_messages(backend: Backend) {
    let api = Api::new(backend, InventoryConfig::default()).await;
    let c = api.internal();
    let long = "n".repeat(1025);
    let decode = |m: &str| format!("failed to decode request body: {m}");
    let cases: Vec<(String, String)> = vec![
        (
            json!({"name":"a","value":"1"}).to_string(),
            decode("json: cannot unmarshal object into Go value of type []model.DeviceAttribute"),
        ),
        (
            json!(["a"]).to_string(),
            decode("json: cannot unmarshal string into Go value of type model.DeviceAttribute"),
        ),
        (
            json!([{"name":5,"value":"x"}]).to_string(),
            decode(
                "json: cannot unmarshal number into Go struct field DeviceAttribute.name of type string",
            ),
        ),
        (
            json!([{"name":"a","value":"x","timestamp":"yesterday"}]).to_string(),
            decode(
                "parsing time \"yesterday\" as \"2006-01-02T15:04:05Z07:00\": cannot parse \
                 \"yesterday\" as \"2006\"",
            ),
        ),
        (String::new(), decode("EOF")),
        (
            json!([{"name":"","value":"x"}]).to_string(),
            "name: cannot be blank.".into(),
        ),
        (
            json!([{"value":null}]).to_string(),
            "name: cannot be blank; value: supported types are string, float64, and arrays thereof."
                .into(),
        ),
        (
            json!([{"name":"ok","value":"1"},{"name":"a","value":true}]).to_string(),
            "value: supported types are string, float64, and arrays thereof.".into(),
        ),
        (
            json!([{"name":"a","value":{"o":1}}]).to_string(),
            "value: supported types are string, float64, and arrays thereof.".into(),
        ),
        (
            json!([{"name":"a","value":[true]}]).to_string(),
            "value: array values must be either string or float64, not: bool.".into(),
        ),
        (
            json!([{"name":"a","value":[null]}]).to_string(),
            "value: array values must be either string or float64, not: invalid.".into(),
        ),
        (
            json!([{"name":"a","value":[[1]]}]).to_string(),
            "value: array values must be either string or float64, not: slice.".into(),
        ),
        (
            json!([{"name":"a","value":[1,"x"]}]).to_string(),
            "value: array values must be of consistent type: string or float64.".into(),
        ),
        (
            json!([{"name":long,"value":"x"}]).to_string(),
            "name: the length must be between 1 and 1024.".into(),
        ),
        (
            json!([{"name":"a","value":"x","scope":long}]).to_string(),
            "scope: the length must be between 1 and 1024.".into(),
        ),
    ];
    for (body, message) in cases {
        let r = c.patch(&oss("v")).json_text(body.clone()).call().await;
        assert_eq!(r.assert_error(StatusCode::BAD_REQUEST), message, "{body}");
    }
    assert!(!exists(&api, "v").await, "nothing was written");
}

async fn hostile_bodies_write_nothing(backend: Backend) {
    let config = InventoryConfig {
        max_document_bytes: 4096,
        ..InventoryConfig::default()
    };
    let api = Api::new(backend, config).await;
    let c = api.internal();
    let many: Vec<Value> = (0..80)
        .map(|i| json!({"name": format!("k{i}"), "value": "x".repeat(20)}))
        .collect();
    let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
    let cases: Vec<(String, StatusCode)> = vec![
        // Over the body limit.
        (
            json!([{"name":"a","value":"x".repeat(5000)}]).to_string(),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        // Each body fits, the document it makes does not.
        (json!(many).to_string(), StatusCode::BAD_REQUEST),
        // No database can index a NUL character.
        (
            json!([{"name":"a","value":"x\u{0}y"}]).to_string(),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!([{"name":"a\u{0}","value":"x"}]).to_string(),
            StatusCode::BAD_REQUEST,
        ),
        (deep, StatusCode::BAD_REQUEST),
        ("[{\"name\":\"a\",".into(), StatusCode::BAD_REQUEST),
        ("\u{feff}[]".into(), StatusCode::BAD_REQUEST),
        ("[\"\\ud800\"]".into(), StatusCode::BAD_REQUEST),
    ];
    for (body, status) in cases {
        let r = c.patch(&oss("h")).json_text(body.clone()).call().await;
        assert_eq!(
            r.status,
            status,
            "{}: {}",
            &body[..body.len().min(60)],
            r.text()
        );
    }
    assert!(!exists(&api, "h").await, "nothing was written");
    // Upstream checks no content type on its internal routes.
    let r = c
        .patch(&oss("h"))
        .header("content-type", "text/plain")
        .body("[]")
        .call()
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

async fn tenants_and_empty_segments(backend: Backend) {
    let api = Api::new(backend, InventoryConfig::default()).await;
    let c = api.internal();
    let t1 = |dev: &str| format!("{INTERNAL}/tenants/t1/device/{dev}/attributes");
    let a = json!([{"name":"a","value":"1"}]);
    let no_id = || Error(StatusCode::BAD_REQUEST, "device id cannot be empty".into());
    script(vec![
        (c.patch(&t1("only-t1")).json(&a), Status(StatusCode::OK)),
        // The tenant's device, not the default tenant's.
        (
            c.get(&format!("{INTERNAL}/tenants/t1/devices/only-t1/groups")),
            Status(StatusCode::OK),
        ),
        (
            api.user().get(&format!("{MGMT}/devices/only-t1")),
            Status(StatusCode::NOT_FOUND),
        ),
        (c.patch(&t1("")).json(&a), no_id()),
        (
            c.patch(&format!("{INTERNAL}/tenants/%00/device/d/attributes"))
                .json(&a),
            Status(StatusCode::BAD_REQUEST),
        ),
        (c.patch(&oss("")).json(&a), no_id()),
        // The scope route refuses an empty device id the same way.
        (
            c.patch(&format!(
                "{INTERNAL}/tenants//device//attribute/scope/identity"
            ))
            .json(&a),
            no_id(),
        ),
    ])
    .await;
}

/// The device and tags routes decode with the same rules (and check the content type).
async fn device_and_tag_routes_decode_like_upstream(backend: Backend) {
    let api = Api::new(backend, InventoryConfig::default()).await;
    api.report("d1", json!([{"name":"a","value":"1"}])).await;
    let tags = format!("{MGMT}/devices/d1/tags");
    let decode = |m: &str| format!("failed to decode request body: {m}");
    script(vec![
        (
            api.device("d1")
                .patch(DEVICE_ATTRS)
                .json(&json!({"name":"a"})),
            Error(
                StatusCode::BAD_REQUEST,
                decode(
                    "json: cannot unmarshal object into Go value of type []model.DeviceAttribute",
                ),
            ),
        ),
        (
            api.device("d1")
                .put(DEVICE_ATTRS)
                .json(&json!([{"name":"a","value":[false]}])),
            Error(
                StatusCode::BAD_REQUEST,
                "value: array values must be either string or float64, not: bool.".into(),
            ),
        ),
        (
            api.user()
                .put(&tags)
                .json(&json!([{"name":"","value":null}])),
            Error(
                StatusCode::BAD_REQUEST,
                "name: cannot be blank; value: supported types are string, float64, and arrays \
                 thereof."
                    .into(),
            ),
        ),
        (
            api.user()
                .put(&tags)
                .header("content-type", "text/plain")
                .body("[]"),
            Status(StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ),
        // A client's tag timestamp is dropped: tags get the server's time.
        (
            api.user()
                .put(&tags)
                .json(&json!([{"name":"t","value":"v","timestamp":"2020-01-01T00:00:00Z"}])),
            Status(StatusCode::OK),
        ),
    ])
    .await;
    let d = api.device_json("d1").await;
    let t = find(&d["attributes"], "scope", "tags").clone();
    assert_eq!(t["timestamp"], START_TEXT, "{t}");
}

/// An array attribute longer than `max_array_len` is a 400 on every route that writes
/// attributes (device PUT and PATCH, tags, internal upsert), and nothing is written.
async fn array_attributes_are_capped(backend: Backend) {
    let config = InventoryConfig {
        max_array_len: 4,
        ..InventoryConfig::default()
    };
    let api = Api::new(backend, config).await;
    let ok = json!([{"name":"arr","value":["a","b","c","d"]}]);
    let long = json!([{"name":"arr","value":["a","b","c","d","e"]}]);
    api.report("d", ok.clone()).await;
    let msg = "value: the array of attribute \"arr\" has more than 4 elements.";
    let bad = || Error(StatusCode::BAD_REQUEST, msg.into());
    script(vec![
        (api.device("d").put(DEVICE_ATTRS).json(&long), bad()),
        (api.device("d").patch(DEVICE_ATTRS).json(&long), bad()),
        (
            api.user()
                .put(&format!("{MGMT}/devices/d/tags"))
                .json(&long),
            bad(),
        ),
        (api.internal().patch(&oss("d")).json(&long), bad()),
        (
            api.internal()
                .post(&format!("{INTERNAL}/tenants//devices"))
                .json(&json!({"id":"n","attributes":[{"name":"arr","value":[1,2,3,4,5]}]})),
            bad(),
        ),
    ])
    .await;
    let dev = api.device_json("d").await;
    assert_eq!(
        value_of(&dev, "inventory", "arr"),
        Some(json!(["a", "b", "c", "d"]))
    );
    assert!(!exists(&api, "n").await, "nothing was written");
}
