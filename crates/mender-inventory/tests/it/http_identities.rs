//! `POST /api/management/v2alpha1/inventory/identities/search`, which upstream so far only
//! specifies: a prefix of the device id, of an `identity` attribute or of the tag `name`;
//! attribute selection; paging with `X-Total-Count` and `Link`; 400 for a body that breaks
//! the specification's rules.

use axum::http::StatusCode;
use mender_db::testing::Backend;
use mender_inventory::InventoryConfig;
use mender_testkit::json::strings;
use serde_json::{Value, json};

use crate::common::Want::{Error, Status, Total};
use crate::common::{Api, Call, INTERNAL, MGMT, expect, ids_of, script};

mender_db::each_backend!(identity_search);

const SEARCH: &str = "/api/management/v2alpha1/inventory/identities/search";

fn by(scope: &str, name: &str, prefix: &str) -> Value {
    json!({"scope": scope, "name": name, "value_prefix": prefix})
}

/// Devices `dev` of `tenant` with identity attributes.
async fn identity(api: &Api, tenant: &str, dev: &str, attrs: Value) {
    let r = api
        .internal()
        .patch(&format!(
            "{INTERNAL}/tenants/{tenant}/device/{dev}/attribute/scope/identity"
        ))
        .json(&attrs)
        .call()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

async fn identity_search(backend: Backend) {
    let api = Api::new(backend, InventoryConfig::default()).await;
    let mac = |v: &str| json!([{"name":"mac","value":v}]);
    identity(&api, "", "dev-1", mac("00:01:02")).await;
    identity(
        &api,
        "",
        "dev-2",
        json!([{"name":"mac","value":"00:01:ff"},{"name":"serial","value":["SN-1","SN-2"]}]),
    )
    .await;
    identity(&api, "", "dev-3", mac("00:02")).await;
    identity(&api, "", "abc", mac("zz")).await;
    // Another tenant's device never shows.
    identity(&api, "t1", "dev-9", mac("00:01:aa")).await;
    let tags = format!("{MGMT}/devices/dev-1/tags");
    let r = api
        .user()
        .put(&tags)
        .json(&json!([{"name":"name","value":"kitchen"}]))
        .call()
        .await;
    assert_eq!(r.status, StatusCode::OK);
    api.report("dev-3", json!([{"name":"os","value":"linux"}]))
        .await;

    matches(&api).await;
    selection_and_paging(&api).await;
    refusals(&api).await;
    hostile(&api).await;
}

async fn matches(api: &Api) {
    let c = api.user();
    for (body, want) in [
        (by("identity", "mac", "00:01"), vec!["dev-1", "dev-2"]),
        (by("identity", "mac", "00:01:f"), vec!["dev-2"]),
        (
            by("identity", "mac", "00:0"),
            vec!["dev-1", "dev-2", "dev-3"],
        ),
        (by("identity", "serial", "SN-2"), vec!["dev-2"]),
        (by("identity", "mac", "0:01"), vec![]),
        (
            by("identity", "id", "dev-"),
            vec!["dev-1", "dev-2", "dev-3"],
        ),
        (by("identity", "id", "ab"), vec!["abc"]),
        (by("tags", "name", "kit"), vec!["dev-1"]),
        (by("tags", "name", "Kit"), vec![]),
        (by("identity", "nope", "0"), vec![]),
    ] {
        let r = c.post(SEARCH).json(&body).call().await;
        assert_eq!(r.status, StatusCode::OK, "{body}: {}", r.text());
        assert_eq!(ids_of(&r.json()), want, "{body}");
        assert_eq!(r.headers["x-total-count"], want.len().to_string(), "{body}");
    }
}

async fn selection_and_paging(api: &Api) {
    let c = api.user();
    let mut body = by("identity", "id", "dev-");
    body["attributes"] = json!([{"scope":"identity","attribute":"mac"}]);
    let r = c.post(SEARCH).json(&body).call().await;
    let devs = r.json();
    for d in devs.as_array().unwrap() {
        let names = strings(&d["attributes"], "name");
        // The selected attribute, and updated_ts as the filter search keeps it.
        let want: &[&str] = if d["id"] == "dev-3" {
            &["mac", "updated_ts"]
        } else {
            &["mac"]
        };
        assert_eq!(names, want, "{d}");
    }
    body["page"] = json!(2);
    body["per_page"] = json!(1);
    let r = expect(c.post(SEARCH).json(&body), Total("3")).await;
    assert_eq!(ids_of(&r.json()), ["dev-2"]);
    assert_eq!(
        r.headers["link"],
        format!(
            "<{SEARCH}?page=1&per_page=1>; rel=\"first\", <{SEARCH}?page=1&per_page=1>; \
             rel=\"prev\", <{SEARCH}?page=3&per_page=1>; rel=\"next\""
        )
    );
    // Pages below 1 mean the first, page sizes below 1 the default.
    body["page"] = json!(0);
    body["per_page"] = json!(-5);
    let r = expect(c.post(SEARCH).json(&body), Total("3")).await;
    assert_eq!(ids_of(&r.json()), ["dev-1", "dev-2", "dev-3"]);
    body["page"] = json!(9);
    body["per_page"] = json!(500);
    let r = expect(c.post(SEARCH).json(&body), Total("3")).await;
    assert_eq!(r.json(), json!([]));
}

async fn refusals(api: &Api) {
    let c = api.user();
    let bad = |m: &str| Error(StatusCode::BAD_REQUEST, m.into());
    let with = |key: &str, v: Value| {
        let mut b = by("identity", "mac", "00");
        b[key] = v;
        c.post(SEARCH).json(&b)
    };
    script(vec![
        (
            with("attributes", json!([{"scope":"bogus","attribute":"a"}])),
            bad("scope: must be one of system, identity, inventory, monitor, tags."),
        ),
        (
            with("attributes", json!([{"scope":"identity"}])),
            bad("attribute: cannot be blank."),
        ),
        (
            with("per_page", json!(501)),
            bad("per_page: must be no greater than 500."),
        ),
        (with("page", json!("2")), Status(StatusCode::BAD_REQUEST)),
        (with("page", json!(1.5)), Status(StatusCode::BAD_REQUEST)),
        (with("scope", json!(5)), Status(StatusCode::BAD_REQUEST)),
        (
            with("attributes", json!({"scope":"identity"})),
            Status(StatusCode::BAD_REQUEST),
        ),
    ])
    .await;
    script(vec![
        (
            c.post(SEARCH).json(&json!({})),
            bad("name: cannot be blank; scope: cannot be blank; value_prefix: cannot be blank."),
        ),
        (
            c.post(SEARCH).json(&Value::Null),
            bad("name: cannot be blank; scope: cannot be blank; value_prefix: cannot be blank."),
        ),
        (
            c.post(SEARCH).json(&by("inventory", "mac", "00")),
            bad("scope: must be a valid value."),
        ),
        (
            c.post(SEARCH).json(&by("tags", "color", "r")),
            bad("name: must be a valid value."),
        ),
        (
            c.post(SEARCH).json(&by("identity", "mac", "")),
            bad("value_prefix: cannot be blank."),
        ),
        (
            c.post(SEARCH).json(&json!([])),
            Status(StatusCode::BAD_REQUEST),
        ),
        (
            c.post(SEARCH).json_text(""),
            bad("failed to decode request body: EOF"),
        ),
        (
            c.post(SEARCH)
                .header("content-type", "text/plain")
                .body(by("identity", "mac", "00").to_string()),
            Status(StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ),
    ])
    .await;
}

async fn hostile(api: &Api) {
    let c = api.user();
    for prefix in [
        "00\u{0}".to_owned(),
        "x".repeat(100_000),
        "%_*".to_owned(),
        "' OR 1=1 --".to_owned(),
        char::MAX.to_string(),
    ] {
        for (scope, name) in [("identity", "mac"), ("identity", "id"), ("tags", "name")] {
            let r = c.post(SEARCH).json(&by(scope, name, &prefix)).call().await;
            assert_eq!(
                (r.status, r.json()),
                (StatusCode::OK, json!([])),
                "{scope}/{name}"
            );
            assert_eq!(r.headers["x-total-count"], "0");
        }
    }
    let r = c
        .post(SEARCH)
        .json(&by("identity", "ma\u{0}c", "00"))
        .call()
        .await;
    assert_eq!(r.json(), json!([]));
    // Over the body limit.
    let huge = by("identity", "mac", &"x".repeat(2 * 1024 * 1024));
    expect(
        c.post(SEARCH).json(&huge),
        Status(StatusCode::PAYLOAD_TOO_LARGE),
    )
    .await;
}
