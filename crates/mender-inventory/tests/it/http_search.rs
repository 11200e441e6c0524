//! `management_v2` and `internal_v2`: the filter search (operators with MongoDB semantics,
//! regular expressions matched in Rust, sort, paging, attribute selection, free text), its
//! validation, and the list of filterable attributes.

use axum::http::StatusCode;
use mender_db::testing::Backend;
use mender_inventory::InventoryConfig;
use mender_testkit::json::strings;
use serde_json::{Value, json};

use crate::common::Want::Total;
use crate::common::{Api, Call, SEARCH, ids_of, script};

mender_db::each_backend!(v2_search_operators_sort_select, search_caps);

/// One `inventory` predicate.
fn f(op: &str, attr: &str, v: Value) -> Value {
    json!([{"scope":"inventory","attribute":attr,"type":op,"value":v}])
}

async fn v2_search_operators_sort_select(backend: Backend) {
    let devices = [
        (
            "a",
            json!([{"name":"n","value":1},{"name":"s","value":"alpha"},{"name":"arr","value":["x","y"]}]),
        ),
        (
            "b",
            json!([{"name":"n","value":2},{"name":"s","value":"beta"}]),
        ),
        (
            "c",
            json!([{"name":"n","value":3},{"name":"s","value":"Gamma"},{"name":"t","value":"only-c"}]),
        ),
    ];
    let api = Api::with_devices(backend, InventoryConfig::default(), &devices).await;
    operators(&api).await;
    hostile_regex(&api).await;
    invalid_searches(&api).await;
    sort_paging_selection(&api).await;
    empty_body_and_text(&api).await;
    filter_attributes(&api).await;
    internal_search(&api).await;
}

async fn operators(api: &Api) {
    let cases: Vec<(Value, &[&str], &str)> = vec![
        (f("$eq", "n", json!(2)), &["b"], ""),
        (f("$eq", "arr", json!("y")), &["a"], ""),
        (f("$ne", "n", json!(2)), &["a", "c"], ""),
        (
            f("$ne", "t", json!("x")),
            &["a", "b", "c"],
            "$ne matches missing",
        ),
        (
            f("$in", "s", json!(["beta", "alpha", "zzz"])),
            &["a", "b"],
            "",
        ),
        (f("$in", "n", json!([1, 3])), &["a", "c"], ""),
        (f("$nin", "s", json!(["beta"])), &["a", "c"], ""),
        (f("$exists", "t", json!(true)), &["c"], ""),
        (f("$exists", "t", json!(false)), &["a", "b"], ""),
        (f("$gt", "n", json!(1)), &["b", "c"], ""),
        (f("$gte", "n", json!(2)), &["b", "c"], ""),
        (f("$lt", "n", json!(2)), &["a"], ""),
        (f("$lte", "n", json!(2)), &["a", "b"], ""),
        (
            f("$lt", "s", json!("b")),
            &["a", "c"],
            "byte order, \"Gamma\" < \"b\"",
        ),
        (f("$regex", "s", json!("a$")), &["a", "b", "c"], ""),
        (f("$regex", "s", json!("^g")), &[], ""),
        (f("$regex", "s", json!("/^g/i")), &["c"], ""),
        (f("$regex", "s", json!("et")), &["b"], "unanchored"),
        (
            json!([{"scope":"identity","attribute":"id","type":"$in","value":["a","c"]}]),
            &["a", "c"],
            "",
        ),
        // Predicates combine with AND.
        (
            json!([{"scope":"inventory","attribute":"n","type":"$gt","value":1},{"scope":"inventory","attribute":"s","type":"$regex","value":"^b"}]),
            &["b"],
            "",
        ),
    ];
    for (filters, want, why) in cases {
        assert_eq!(
            api.search_ids(filters.clone()).await,
            want,
            "{filters} {why}"
        );
    }
}

/// Hostile regex: linear time, correct answer.
async fn hostile_regex(api: &Api) {
    let long = format!("{}!", "a".repeat(5000));
    api.report("d", json!([{"name":"s","value":long}])).await;
    let t = std::time::Instant::now();
    assert_eq!(
        api.search_ids(f("$regex", "s", json!("(a+)+$"))).await,
        vec!["a", "b", "c"]
    );
    assert_eq!(
        api.search_ids(f("$regex", "s", json!("^(a+)+$"))).await,
        Vec::<String>::new()
    );
    assert!(
        t.elapsed() < std::time::Duration::from_secs(30),
        "sanity bound only"
    );
}

/// Invalid filters, sorts, pages and selections, and malformed JSON: 400.
async fn invalid_searches(api: &Api) {
    let bad_filters = [
        f("$regex", "s", json!("(")),
        f("$regex", "s", json!("(?=x)")),
        f("$regex", "s", json!("a".repeat(100_000))),
        f("$regex", "s", json!("(\\w{200}){200}")),
        f("$regex", "s", json!(5)),
        f("$in", "s", json!("notarray")),
        f("$exists", "s", json!("yes")),
        f("$gt", "s", json!({"a":1})),
        f("$where", "s", json!("1")),
        f("$eq", "s", json!(null)),
        json!([{"scope":"bogus","attribute":"s","type":"$eq","value":"x"}]),
        json!([{"scope":"inventory","attribute":"","type":"$eq","value":"x"}]),
    ];
    for b in bad_filters {
        let r = api.search(json!({"filters": b})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{b}");
    }
    for b in [
        json!({"sort":[{"scope":"inventory","attribute":"n","order":"up"}]}),
        json!({"page":"x"}),
        json!({"attributes":[{"scope":"inventory"}]}),
    ] {
        assert_eq!(
            api.search(b.clone()).await.status,
            StatusCode::BAD_REQUEST,
            "{b}"
        );
    }
    let r = api.user().post(SEARCH).json_text("{").call().await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

async fn sort_paging_selection(api: &Api) {
    let r = api
        .search(json!({"sort":[{"scope":"inventory","attribute":"n","order":"desc"}],"page":1,"per_page":2,"attributes":[{"scope":"inventory","attribute":"s"}]}))
        .await;
    assert_eq!(r.headers["x-total-count"], "4");
    let body = r.json();
    assert_eq!(ids_of(&body), vec!["c", "b"]);
    let names = strings(&body[0]["attributes"], "name");
    assert_eq!(
        names,
        vec!["s", "updated_ts"],
        "only selected (and updated_ts)"
    );
    assert!(r.headers["link"].to_str().unwrap().contains("rel=\"next\""));
    let r = api
        .search(json!({"sort":[{"scope":"inventory","attribute":"n","order":"asc"}]}))
        .await;
    assert_eq!(
        ids_of(&r.json()),
        vec!["d", "a", "b", "c"],
        "missing first ascending"
    );
}

/// An empty body finds everything; text search matches words, whatever their case.
async fn empty_body_and_text(api: &Api) {
    let r = api.user().post(SEARCH).call().await;
    assert_eq!(r.headers["x-total-count"], "4");
    let r = api.search(json!({"text": "GAMMA"})).await;
    assert_eq!(r.json().as_array().unwrap().len(), 1);
}

async fn filter_attributes(api: &Api) {
    let r = api
        .user()
        .get("/api/management/v2/inventory/filters/attributes")
        .call()
        .await;
    let body = r.json();
    let fa = body.as_array().unwrap();
    assert_eq!(fa[0]["count"], 4, "{body}");
    assert!(
        fa.iter()
            .any(|a| a == &json!({"name":"t","scope":"inventory","count":1}))
    );
    let counts: Vec<i64> = fa.iter().map(|a| a["count"].as_i64().unwrap()).collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]));
}

/// Internal v2 search with device_ids, also with an empty tenant segment.
async fn internal_search(api: &Api) {
    let search = |tenant: &str| {
        let path = format!("/api/internal/v2/inventory/tenants/{tenant}/filters/search");
        api.internal().post(&path)
    };
    script(vec![
        (
            search("").json(&json!({"device_ids":["a","b"]})),
            Total("2"),
        ),
        (search("other").json(&json!({})), Total("0")),
    ])
    .await;
}

/// Searches stay within upstream's page size (500, a 400 beyond as upstream's validator
/// says) and the configured numbers of filters and of regular expressions.
async fn search_caps(backend: Backend) {
    let config = InventoryConfig {
        max_search_filters: 3,
        max_search_regexes: 2,
        ..InventoryConfig::default()
    };
    let api = Api::with_devices(backend, config, &[("a", json!([{"name":"s","value":"x"}]))]).await;
    let pred =
        |op: &str, v: Value| json!({"scope":"inventory","attribute":"s","type":op,"value":v});
    let regex = || pred("$regex", json!("x"));
    let eq = || pred("$eq", json!("x"));
    let cases = [
        (json!({"per_page": 500}), StatusCode::OK, ""),
        (
            json!({"per_page": 501}),
            StatusCode::BAD_REQUEST,
            "per_page: must be no greater than 500.",
        ),
        (
            json!({"filters": [eq(), eq(), regex()]}),
            StatusCode::OK,
            "",
        ),
        (
            json!({"filters": [eq(), eq(), eq(), eq()]}),
            StatusCode::BAD_REQUEST,
            "filters: the number of filters must be no greater than 3.",
        ),
        (json!({"filters": [regex(), regex()]}), StatusCode::OK, ""),
        (
            json!({"filters": [regex(), regex(), regex()]}),
            StatusCode::BAD_REQUEST,
            "filters: the number of $regex filters must be no greater than 2.",
        ),
    ];
    for (body, status, msg) in cases {
        let r = api.search(body.clone()).await;
        assert_eq!(r.status, status, "{body}: {}", r.text());
        if !msg.is_empty() {
            assert_eq!(r.json()["error"], msg, "{body}");
        }
    }
    // The v1 list: a 400 in upstream inventory's words.
    let r = api
        .user()
        .get("/api/management/v1/inventory/devices?per_page=501")
        .call()
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json()["error"],
        "parameter \"per_page\" above limit (max: 500)"
    );
}
