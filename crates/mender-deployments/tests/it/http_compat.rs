//! Upstream's exact behaviour (mender-rs issue 14): deployment statistics from creation to
//! the end, the `created_before`/`created_after` bounds and the order of the list checks,
//! the storage limit (internal routes, enforced on uploads), the next release's software
//! list, the lenient and strict list queries, release edits of unknown releases, and the 405
//! of `artifacts/directupload`.

use axum::http::StatusCode;
use mender_core::Timestamp;
use mender_db::testing::Backend;
use mender_testkit::http::{TestClient, TestResponse};
use mender_testkit::json::strings;
use serde_json::{Value, json};

use crate::common::*;

mender_db::each_backend!(
    statistics_right_after_creation,
    counts_through_a_whole_deployment,
    created_bounds_and_check_order,
    storage_limit_routes_and_enforcement,
    storage_limit_hostile_bodies,
    software_list_and_tags,
    lenient_artifact_and_release_lists,
    strict_device_lists,
    release_edits_check_the_body_first,
    directupload_is_not_allowed,
);

const SOFTWARE: &str = "/api/management/v1alpha1/deployments/software";

/// Every status at 0 but `pending`, keys in Go's (sorted) order, as upstream writes them.
fn stats_text(pending: u64) -> String {
    format!(
        "{{\"aborted\":0,\"already-installed\":0,\"decommissioned\":0,\"downloading\":0,\
         \"failure\":0,\"installing\":0,\"noartifact\":0,\"pause_before_committing\":0,\
         \"pause_before_installing\":0,\"pause_before_rebooting\":0,\"pending\":{pending},\
         \"rebooting\":0,\"success\":0}}"
    )
}

/// `GET` as the user: the response, whatever its status.
async fn get(env: &Env, uri: &str) -> TestResponse {
    env.mgmt.get(uri).send().await
}

/// The error text of a `GET` answered with `status`.
async fn get_error(client: &TestClient, uri: &str, status: StatusCode) -> String {
    client.get(uri).send().await.assert_error(status)
}

/// Every `Link` header value.
fn links(r: &TestResponse) -> Vec<String> {
    r.headers
        .get_all("link")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// The non-zero counts of a statistics object.
fn nonzero(stats: &Value) -> Value {
    let m: serde_json::Map<String, Value> = stats
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, v)| **v != json!(0))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Value::Object(m)
}

// ---- item 1: statistics ----

async fn statistics_right_after_creation(backend: Backend) {
    let env = env(backend).await;
    // Group and fleet deployments without devices are refused before the artifact is looked
    // up: 400, not 422.
    let body = json!({"name": "n", "artifact_name": "missing"});
    let r = env.mgmt.post(&format!("{DEP}/group/nobody")).json(&body);
    assert_eq!(
        r.send().await.assert_error(StatusCode::BAD_REQUEST),
        "No devices for the deployment"
    );
    let all = json!({"name": "n", "artifact_name": "missing", "all_devices": true});
    let r = env.mgmt.post(DEP).json(&all).send().await;
    assert_eq!(
        r.assert_error(StatusCode::BAD_REQUEST),
        "No devices for the deployment"
    );
    let listed = json!({"name": "n", "artifact_name": "missing", "devices": ["d1"]});
    let r = env.mgmt.post(DEP).json(&listed).send().await;
    assert_eq!(
        r.assert_error(StatusCode::UNPROCESSABLE_ENTITY),
        "No artifact for the deployment"
    );

    let art = make_artifact("rel-st", &["dt"]);
    upload(&env, &art, "").await;
    env.inventory.groups.lock().unwrap().extend([
        ("g".to_owned(), "g1".to_owned()),
        ("g".to_owned(), "g2".to_owned()),
        ("h".to_owned(), "h1".to_owned()),
    ]);
    // a device list counts every entry, unknown devices and duplicates too
    let listed = create_deployment(
        &env,
        json!({"name": "l", "artifact_name": "rel-st", "devices": ["d1", "d2", "d2", "zz"]}),
    )
    .await;
    env.clock.advance(std::time::Duration::from_secs(1));
    let r = env
        .mgmt
        .post(&format!("{DEP}/group/g"))
        .json(&json!({"name": "g", "artifact_name": "rel-st"}));
    let group = location_id(&expect(r, StatusCode::CREATED, "group").await);
    env.clock.advance(std::time::Duration::from_secs(1));
    let fleet = create_deployment(
        &env,
        json!({"name": "a", "artifact_name": "rel-st", "all_devices": true}),
    )
    .await;
    for (id, n) in [(&listed, 4), (&group, 2), (&fleet, 3)] {
        let r = get_ok(&env, &format!("{DEP}/{id}/statistics")).await;
        assert_eq!(r.text(), stats_text(n));
        let r = get_ok(&env, &format!("{DEP}/{id}")).await;
        let want = format!(
            "\"statistics\":{{\"status\":{},\"total_size\":0}}",
            stats_text(n)
        );
        assert!(r.text().contains(&want), "{}", r.text());
        let d = r.json();
        assert_eq!(
            (d["status"].clone(), d["device_count"].clone()),
            (json!("pending"), json!(0))
        );
        assert_eq!(d["max_devices"], n);
    }
    // the lists and statistics/list show the same counts
    let list = get_json(&env, &format!("{V2}/deployments?sort=asc")).await;
    assert_eq!(list[0]["statistics"]["status"]["pending"], 4);
    assert_eq!(list[0]["statistics"]["total_size"], 0);
    assert_eq!(list[2]["statistics"]["status"]["pending"], 3);
    let ids = json!({"deployment_ids": [group]});
    let r = env.mgmt.post(&format!("{DEP}/statistics/list")).json(&ids);
    let r = expect(r, StatusCode::OK, "statistics/list").await;
    assert_eq!(r.json()[0]["stats"]["pending"], 2);
    assert_eq!(r.json()[0]["stats"].as_object().unwrap().len(), 13);
}

async fn counts_through_a_whole_deployment(backend: Backend) {
    let art = make_artifact("rel-c", &["dt"]);
    let size = art.len() as u64;
    let env = env(backend).await;
    let env = &env;
    upload(env, &art, "").await;
    let did = create_deployment(
        env,
        json!({"name": "c", "artifact_name": "rel-c",
               "devices": ["ok", "same", "other-type", "gone", "never"]}),
    )
    .await;
    let show = || async { get_json(env, &format!("{DEP}/{did}")).await };
    let stats = || async { nonzero(&show().await["statistics"]["status"]) };
    let check_in = |device: &str, artifact: &str, dt: &str| {
        let query = format!("artifact_name={artifact}&device_type={dt}");
        let device = device.to_owned();
        async move { env.next(&device, &query).await.status }
    };

    // a device that joins stays pending until it reports
    assert_eq!(check_in("ok", "old", "dt").await, StatusCode::OK);
    assert_eq!(stats().await, json!({"pending": 5}));
    let d = show().await;
    assert_eq!(d["device_count"], 1);
    assert_eq!(d["statistics"]["total_size"], size);
    // asking again hands out the same artifact: counted once
    assert_eq!(check_in("ok", "old", "dt").await, StatusCode::OK);
    assert_eq!(show().await["statistics"]["total_size"], size);
    for status in ["downloading", "installing"] {
        env.report("ok", &did, status)
            .await
            .assert_status(StatusCode::NO_CONTENT);
    }
    assert_eq!(stats().await, json!({"installing": 1, "pending": 4}));
    assert_eq!(show().await["status"], "inprogress");
    env.report("ok", &did, "success")
        .await
        .assert_status(StatusCode::NO_CONTENT);
    // already installed, and no compatible artifact: nothing handed out
    assert_eq!(
        check_in("same", "rel-c", "dt").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        check_in("other-type", "old", "zz").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        stats().await,
        json!({"already-installed": 1, "noartifact": 1, "pending": 2, "success": 1})
    );
    assert_eq!(show().await["statistics"]["total_size"], size);
    // a device decommissioned mid-update
    assert_eq!(check_in("gone", "old", "dt").await, StatusCode::OK);
    assert_eq!(show().await["statistics"]["total_size"], 2 * size);
    let r = env
        .internal
        .delete(&format!("{INTERNAL}/tenants//deployments/devices/gone"));
    expect(r, StatusCode::NO_CONTENT, "decommission").await;
    assert_eq!(
        stats().await,
        json!({"already-installed": 1, "decommissioned": 1, "noartifact": 1, "pending": 1,
               "success": 1})
    );
    let d = show().await;
    assert_eq!(
        (d["status"].clone(), d["device_count"].clone()),
        (json!("inprogress"), json!(4))
    );
    let r = env
        .mgmt
        .get(&format!("{DEP}/{did}/statistics"))
        .send()
        .await;
    assert_eq!(nonzero(&r.json())["pending"], 1);

    // a device decommissioned before it joined: it gets a decommissioned device deployment
    // in the oldest deployment it is in, and (as upstream) still counts as pending there
    let r = env
        .internal
        .delete(&format!("{INTERNAL}/tenants//deployments/devices/never"));
    expect(r, StatusCode::NO_CONTENT, "decommission").await;
    assert_eq!(nonzero(&show().await["statistics"]["status"])["pending"], 1);
    assert_eq!(show().await["device_count"], 5);
    let devs = get_json(env, &format!("{DEP}/{did}/devices")).await;
    let never: Vec<&Value> = devs
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["id"] == "never")
        .collect();
    assert_eq!(never[0]["status"], "decommissioned");
    assert_eq!(
        env.next("never", "artifact_name=o&device_type=dt")
            .await
            .status,
        StatusCode::NO_CONTENT
    );

    // abort: the counts become those of the device deployments
    let r = env.mgmt.put(&format!("{DEP}/{did}/status"));
    expect(
        r.json(&json!({"status": "aborted"})),
        StatusCode::NO_CONTENT,
        "abort",
    )
    .await;
    assert_eq!(
        stats().await,
        json!({"already-installed": 1, "decommissioned": 2, "noartifact": 1, "success": 1})
    );
    let d = show().await;
    assert_eq!(d["status"], "finished");
    assert_eq!(d["statistics"]["total_size"], 2 * size);
    // the device's history shows the deployment with its counts
    let hist = get_json(env, &format!("{DEP}/devices/ok")).await;
    assert_eq!(hist[0]["deployment"]["statistics"]["status"]["success"], 1);
    assert_eq!(hist[0]["deployment"]["statistics"]["total_size"], 2 * size);
}

// ---- item 2: created_before / created_after ----

async fn created_bounds_and_check_order(backend: Backend) {
    let art = make_artifact("rel-t", &["dt"]);
    let env = env(backend).await;
    let env = &env;
    upload(env, &art, "").await;
    const T: i64 = 1_800_000_000;
    let mut ids = Vec::new();
    for (i, ns) in [0, 500_000_000, 1_000_000_000].into_iter().enumerate() {
        env.clock
            .set(Timestamp::from_unix_nanos(T * 1_000_000_000 + ns));
        let body = json!({"name": format!("t{i}"), "artifact_name": "rel-t", "devices": ["d"]});
        ids.push(create_deployment(env, body).await);
    }
    for list in [DEP.to_owned(), format!("{V2}/deployments")] {
        let names = |query: String| {
            let uri = format!("{list}?sort=asc&{query}");
            async move {
                let r = get_ok(env, &uri).await;
                let names = strings(&r.json(), "name");
                (r.header("x-total-count").unwrap().to_owned(), names)
            }
        };
        // T.500 is after the bound T (= T.000)
        assert_eq!(
            names(format!("created_before={T}")).await,
            ("1".into(), vec!["t0".into()])
        );
        assert_eq!(
            names(format!("created_after={T}")).await.1,
            ["t0", "t1", "t2"]
        );
        assert_eq!(
            names(format!("created_after={T}&created_before={T}"))
                .await
                .1,
            ["t0"]
        );
        assert_eq!(names(format!("created_after=%2B{}", T + 1)).await.1, ["t2"]);
        assert_eq!(
            names("created_before=&created_after=".into()).await.1.len(),
            3
        );
        // status=aborted lists finished deployments
        assert!(names("status=aborted".into()).await.1.is_empty());

        let err = |query: &str| {
            let uri = format!("{list}?{query}");
            async move { get_error(&env.mgmt, &uri, StatusCode::BAD_REQUEST).await }
        };
        for (query, want) in [
            (
                "created_before=1.5&created_after=x&sort=up",
                "timestamp parsing failed for created_before parameter: invalid timestamp: 1.5",
            ),
            (
                "created_after=yesterday&sort=up",
                "timestamp parsing failed created_after parameter: invalid timestamp: yesterday",
            ),
            (
                "created_before=99999999999999999999",
                "timestamp parsing failed for created_before parameter: invalid timestamp: \
                 99999999999999999999",
            ),
            (
                "sort=up&status=x",
                "invalid form value: must be one of \"asc\" or \"desc\"",
            ),
            ("status=done&type=x", "unknown status done"),
            ("type=firmware&page=x", "unknown deployment type firmware"),
            ("page=x", "invalid page query: \"x\""),
            (
                "page=1&per_page=0",
                "invalid per_page query: value must be a non-zero positive integer",
            ),
            (
                "per_page=501",
                "parameter \"per_page\" above limit (max: 500)",
            ),
        ] {
            assert_eq!(err(query).await, want, "{list}?{query}");
        }
        // sort is case-insensitive
        let r = env.mgmt.get(&format!("{list}?sort=ASC")).send().await;
        assert_eq!(r.json()[0]["name"], "t0");
    }
    // paging headers: X-Total-Count and first/next/last
    let r = get_ok(env, &format!("{V2}/deployments?per_page=1&name=t0&name=t2")).await;
    assert_eq!(r.header("x-total-count"), Some("2"));
    assert_eq!(
        links(&r),
        [
            format!("<{V2}/deployments?name=t0&name=t2&page=1&per_page=1>; rel=\"first\""),
            format!("<{V2}/deployments?name=t0&name=t2&page=2&per_page=1>; rel=\"next\""),
            format!("<{V2}/deployments?name=t0&name=t2&page=2&per_page=1>; rel=\"last\""),
        ]
    );
    // v2 ignores `search` (v1 reads it)
    let r = get_ok(env, &format!("{V2}/deployments?search=nothing-like-it")).await;
    assert_eq!(r.header("x-total-count"), Some("3"));
    let r = get_ok(env, &format!("{DEP}?search=nothing-like-it")).await;
    assert_eq!(r.header("x-total-count"), Some("0"));
    assert_eq!(ids.len(), 3);
}

// ---- item 3: the storage limit ----

fn limit_url(tenant: &str) -> String {
    format!("{INTERNAL}/tenants/{tenant}/limits/storage")
}

async fn storage_limit_routes_and_enforcement(backend: Backend) {
    let small = make_artifact("rel-l1", &["dt"]);
    let other = make_artifact("rel-l2", &["dt"]);
    let env = env(backend).await;
    let mgmt_limits = "/api/management/v1/deployments/limits/storage";
    for tenant in ["", "tenant-1"] {
        let r = expect(env.internal.get(&limit_url(tenant)), StatusCode::OK, "get").await;
        assert_eq!(r.json(), json!({"limit": 0, "usage": 0}));
    }
    // the limit is shared with the management GET; usage is what is stored
    let size = small.len() as u64;
    let limit = size + size / 2;
    let put = |tenant: &str, body: Value| env.internal.put(&limit_url(tenant)).json(&body);
    expect(
        put("", json!({"limit": limit})),
        StatusCode::NO_CONTENT,
        "put",
    )
    .await;
    expect(
        put("tenant-1", json!({"limit": 7, "usage": 3})),
        StatusCode::NO_CONTENT,
        "put",
    )
    .await;
    upload(&env, &small, "").await;
    let want = json!({"limit": limit, "usage": size});
    assert_eq!(get_json(&env, mgmt_limits).await, want);
    let r = expect(env.internal.get(&limit_url("")), StatusCode::OK, "get").await;
    assert_eq!(r.json(), want);
    let t1 = env.tenant_user("tenant-1").get(mgmt_limits).send().await;
    assert_eq!(t1.json(), json!({"limit": 7, "usage": 0}));

    // an upload that would exceed it: 413, nothing stored (declared size, then streamed)
    let blobs = blob_files(&env.blob_dir).len();
    let declared = other.len().to_string();
    for form in [vec![("size", declared.as_str())], vec![]] {
        let r = post_upload(&env.mgmt, ART, &form, &other).send().await;
        assert_eq!(
            r.assert_error(StatusCode::PAYLOAD_TOO_LARGE),
            "storage limit exceeded"
        );
    }
    assert_eq!(blob_files(&env.blob_dir).len(), blobs);
    assert_eq!(get_json(&env, ART).await.as_array().unwrap().len(), 1);
    // a file to generate an artifact from, bigger than the room left: 413
    let fields = [
        ("name", "gen"),
        ("device_types_compatible", "dt"),
        ("type", "single_file"),
    ];
    let file = vec![b'x'; usize::try_from(size).unwrap()];
    let r = post_generate(&env.mgmt, &fields, &file).send().await;
    assert_eq!(
        r.assert_error(StatusCode::PAYLOAD_TOO_LARGE),
        "storage limit exceeded"
    );
    assert!(env.workflows.calls().is_empty());
    assert_eq!(blob_files(&env.blob_dir).len(), blobs);
    // 0 lifts the limit
    expect(put("", json!({"limit": 0})), StatusCode::NO_CONTENT, "put").await;
    upload(&env, &other, "").await;
    let usage = get_json(&env, mgmt_limits).await["usage"].as_u64().unwrap();
    assert_eq!(usage, size + other.len() as u64);
}

async fn storage_limit_hostile_bodies(backend: Backend) {
    let env = env(backend).await;
    let url = limit_url("t");
    for body in [
        json!({}),
        json!({"limit": -1}),
        json!({"limit": "5"}),
        json!({"limit": 1.5}),
        json!({"limit": null}),
        json!([1]),
        json!({"limit": 18_446_744_073_709_551_615_u64}),
    ] {
        let r = env.internal.put(&url).json(&body).send().await;
        r.assert_error(StatusCode::BAD_REQUEST);
    }
    for (ct, body) in [
        ("application/json", "{\"limit\": 5"),
        ("application/json", ""),
        ("application/json", "{\"limit\": 99999999999999999999999}"),
    ] {
        let r = env.internal.put(&url).header("content-type", ct).body(body);
        r.send().await.assert_error(StatusCode::BAD_REQUEST);
    }
    let r = env
        .internal
        .put(&url)
        .header("content-type", "text/plain")
        .body("{\"limit\": 5}");
    r.send()
        .await
        .assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = format!("{{\"limit\": 1, \"pad\": \"{}\"}}", "x".repeat(2 << 20));
    let r = env.internal.put(&url).json_text(huge);
    r.send().await.assert_error(StatusCode::PAYLOAD_TOO_LARGE);
    // nothing was written
    let r = expect(env.internal.get(&url), StatusCode::OK, "get").await;
    assert_eq!(r.json(), json!({"limit": 0, "usage": 0}));
}

// ---- item 4: the software list ----

async fn software_list_and_tags(backend: Backend) {
    let env = env(backend).await;
    let env = &env;
    let empty = get_ok(env, SOFTWARE).await;
    assert_eq!(empty.json(), json!([]));
    assert_eq!(empty.header("x-total-count"), Some("0"));
    let tags = get_json(env, &format!("{SOFTWARE}/tags")).await;
    assert_eq!(tags, json!([]));
    for (name, dt) in [
        ("relA", "dt1"),
        ("relA", "dt2"),
        ("relB", "dt1"),
        ("other", "dt3"),
    ] {
        // a release lists its artifacts in upload order
        env.clock.advance(std::time::Duration::from_secs(1));
        upload(env, &make_artifact(name, &[dt]), "").await;
    }
    let put_tags = |name: &str, tags: Value| {
        env.mgmt
            .put(&format!("{V2}/deployments/releases/{name}/tags"))
            .json(&tags)
    };
    expect(
        put_tags("relA", json!(["Beta", "x"])),
        StatusCode::NO_CONTENT,
        "tags",
    )
    .await;
    expect(
        put_tags("relB", json!(["beta"])),
        StatusCode::NO_CONTENT,
        "tags",
    )
    .await;
    let r = env
        .mgmt
        .patch(&format!("{V2}/deployments/releases/relB"))
        .json(&json!({"notes": "n"}));
    expect(r, StatusCode::NO_CONTENT, "notes").await;

    let r = get_ok(env, SOFTWARE).await;
    assert_eq!(r.header("x-total-count"), Some("3"));
    let list = r.json();
    let names = strings(&list, "name");
    assert_eq!(names, ["other", "relA", "relB"]);
    let rel_a = &list[1];
    assert!(rel_a["modified"].is_string());
    let mut shape = rel_a.clone();
    shape.as_object_mut().unwrap().remove("modified");
    assert_eq!(
        shape,
        json!({"name": "relA", "tags": ["beta", "x"], "notes": "", "kind": "release",
               "compatible_types": ["dt1", "dt2"]})
    );
    // upstream's field order
    let text = r.text();
    let at = |k: &str| text.find(&format!("\"{k}\"")).unwrap();
    assert!(at("name") < at("modified") && at("modified") < at("tags"));
    assert!(
        at("tags") < at("notes") && at("notes") < at("kind") && at("kind") < at("compatible_types")
    );

    let names_of = |query: &'static str| async move {
        let v = get_json(env, &format!("{SOFTWARE}?{query}")).await;
        strings(&v, "name")
    };
    assert_eq!(names_of("name=relB&name=other").await, ["other", "relB"]);
    assert_eq!(names_of("name_prefix=rel").await, ["relA", "relB"]);
    assert_eq!(names_of("name_prefix=REL").await, Vec::<String>::new());
    assert_eq!(names_of("kind=release&tag=BETA").await, ["relA", "relB"]);
    assert_eq!(names_of("kind=manifest").await, Vec::<String>::new());
    assert_eq!(
        names_of("update_type=single-file&sort=name:desc").await,
        ["relB", "relA", "other"]
    );
    assert_eq!(
        names_of("update_type=rootfs-image").await,
        Vec::<String>::new()
    );
    assert_eq!(names_of("sort=").await, ["other", "relA", "relB"]);

    let r = get_ok(env, &format!("{SOFTWARE}?per_page=1&page=2&tag=beta")).await;
    assert_eq!(r.header("x-total-count"), Some("2"));
    assert_eq!(r.json()[0]["name"], "relB");
    assert_eq!(
        links(&r),
        [
            format!("<{SOFTWARE}?page=1&per_page=1&tag=beta>; rel=\"first\""),
            format!("<{SOFTWARE}?page=1&per_page=1&tag=beta>; rel=\"prev\""),
            format!("<{SOFTWARE}?page=2&per_page=1&tag=beta>; rel=\"last\""),
        ]
    );

    for (query, want) in [
        (
            "name=a&name_prefix=b&page=0",
            "name: cannot be used with name_prefix; name_prefix: cannot be used with name.",
        ),
        ("kind=firmware", "kind: must be a valid value."),
        ("sort=name", "sort: must be a valid value."),
        (
            "sort=size:asc&kind=x&name=&name_prefix=r",
            "kind: must be a valid value; name: cannot be used with name_prefix; \
             name_prefix: cannot be used with name; sort: must be a valid value.",
        ),
        (
            "page=0",
            "invalid page query: value must be a non-zero positive integer",
        ),
        (
            "per_page=501",
            "parameter \"per_page\" above limit (max: 500)",
        ),
    ] {
        let uri = format!("{SOFTWARE}?{query}");
        let got = get_error(&env.mgmt, &uri, StatusCode::BAD_REQUEST).await;
        assert_eq!(got, want, "{query}");
    }

    let tags = get_json(env, &format!("{SOFTWARE}/tags")).await;
    assert_eq!(tags, json!(["beta", "x"]));
    let tags = get_json(env, &format!("{SOFTWARE}/tags?kind=release")).await;
    assert_eq!(tags, json!(["beta", "x"]));
    let tags = get_json(env, &format!("{SOFTWARE}/tags?kind=manifest")).await;
    assert_eq!(tags, json!([]));
    for (query, want) in [
        ("kind=", "Kind: cannot be blank."),
        ("kind=x", "Kind: must be a valid value."),
        (
            "kind=release&kind=release",
            "only one kind query argument can be specified",
        ),
    ] {
        let uri = format!("{SOFTWARE}/tags?{query}");
        assert_eq!(
            get_error(&env.mgmt, &uri, StatusCode::BAD_REQUEST).await,
            want
        );
    }
    // device tokens are refused
    let r = env.mgmt.as_identity(dev("d")).get(SOFTWARE).send().await;
    r.assert_error(StatusCode::UNAUTHORIZED);
    // hostile values: wildcards are plain text, huge and undecodable values are refused
    let long = "%25_".repeat(5000);
    for query in [
        "name_prefix=%25".to_owned(),
        "name_prefix=_".to_owned(),
        format!("name_prefix={long}"),
        "tag=%00&update_type=%27%3B".to_owned(),
    ] {
        let v = get_json(env, &format!("{SOFTWARE}?{query}")).await;
        assert_eq!(v, json!([]), "{query}");
    }
    for query in ["page=99999999999999999999", "per_page=-0"] {
        let r = env.mgmt.get(&format!("{SOFTWARE}?{query}")).send().await;
        r.assert_error(StatusCode::BAD_REQUEST);
    }
    let r = get_ok(env, &format!("{SOFTWARE}?page=9")).await;
    assert_eq!(r.json(), json!([]));
    assert_eq!(r.header("x-total-count"), Some("3"));
}

// ---- item 5: query values on the lists ----

async fn lenient_artifact_and_release_lists(backend: Backend) {
    let env = env(backend).await;
    for name in ["b-rel", "a-rel", "c-rel"] {
        upload(&env, &make_artifact(name, &["dt"]), "").await;
    }
    // never a 400: bad values fall back to page 1, 20 per page, the default order
    for list in [
        format!("{ART}/list"),
        format!("{DEP}/releases/list"),
        format!("{V2}/deployments/releases"),
    ] {
        for query in [
            "page=x&per_page=y&sort=bogus",
            "page=-1&per_page=0&sort=name",
            "page=0&per_page=501&sort=size:asc",
            "page=%2B1&per_page=99999999999999999999",
        ] {
            let uri = format!("{list}?{query}");
            let r = get_ok(&env, &uri).await;
            assert_eq!(r.header("x-total-count"), Some("3"), "{uri}");
            assert_eq!(r.json().as_array().unwrap().len(), 3, "{uri}");
            let first = &links(&r)[0];
            assert!(first.contains("page=1&per_page=20"), "{uri}: {first}");
            let name = &r.json()[0];
            let name = name.get("name").or_else(|| name.get("Name")).unwrap();
            assert_eq!(name, "a-rel", "{uri}");
        }
        let r = env
            .mgmt
            .get(&format!("{list}?sort=name:desc&per_page=2"))
            .send()
            .await;
        let first = &r.json()[0];
        let name = first.get("name").or_else(|| first.get("Name")).unwrap();
        assert_eq!(name, "c-rel", "{list}");
        assert_eq!(links(&r).len(), 3, "{list}: first, next, last");
    }
    // v2 artifacts: only per_page > 500 and mixed or repeated name filters are refused
    let v2 = format!("{V2}/artifacts");
    let r = get_ok(&env, &format!("{v2}?page=x&per_page=-5")).await;
    assert_eq!(r.json().as_array().unwrap().len(), 3);
    assert!(r.header("x-total-count").is_none());
    let r = get_ok(&env, &format!("{v2}?per_page=2")).await;
    assert_eq!(
        links(&r),
        [
            format!("<{v2}?page=1&per_page=2>; rel=\"first\""),
            format!("<{v2}?page=2&per_page=2>; rel=\"next\""),
        ]
    );
    let names: Vec<String> = (0..101).map(|i| format!("name=n{i}")).collect();
    let many = names.join("&");
    let long = "x".repeat(4097);
    for (query, want) in [
        (
            "per_page=501",
            "invalid filter: PerPage: must be no greater than 500.",
        ),
        (
            "name=a&name=b*&per_page=501",
            "invalid filter: cannot filter by both exact names and name prefix",
        ),
        (
            "name=a*&name=b*",
            "invalid filter: NamePrefixes: the length must be no more than 1.",
        ),
        (
            many.as_str(),
            "invalid filter: ExactNames: the length must be no more than 100.",
        ),
        (
            &format!("name={long}&description={long}&per_page=600"),
            "invalid filter: Description: the length must be no more than 4096; ExactNames: \
             (0: the length must be no more than 4096.); PerPage: must be no greater than 500.",
        ),
    ] {
        let got = get_error(&env.mgmt, &format!("{v2}?{query}"), StatusCode::BAD_REQUEST).await;
        assert_eq!(got, want, "{}", &query[..query.len().min(40)]);
    }
    // exact, prefix (any case) and escaped-star names
    for (query, want) in [
        ("name=a-rel&name=c-rel", 2),
        ("name=B-*", 1),
        ("name=b-rel\\*", 0),
        ("description=&device_type=D*", 3),
        ("device_type=dt", 3),
        ("device_type=d", 0),
    ] {
        let v = get_json(&env, &format!("{v2}?{query}")).await;
        assert_eq!(v.as_array().unwrap().len(), want, "{query}");
    }
}

async fn strict_device_lists(backend: Backend) {
    let art = make_artifact("rel-h", &["dt"]);
    let env = env(backend).await;
    upload(&env, &art, "").await;
    let did = create_deployment(
        &env,
        json!({"name": "h", "artifact_name": "rel-h", "devices": ["d1"]}),
    )
    .await;
    env.next("d1", "artifact_name=o&device_type=dt")
        .await
        .assert_status(StatusCode::OK);
    // a device's deployments: upstream's paging, at most 20 per page, then the status
    let hist = format!("{DEP}/devices/d1");
    for (query, want) in [
        (
            "per_page=21",
            "invalid per_page query: value must be a non-zero positive integer",
        ),
        (
            "per_page=501",
            "parameter \"per_page\" above limit (max: 500)",
        ),
        ("page=x&status=bogus", "invalid page query: \"x\""),
        ("status=bogus", "status: must be a valid value"),
    ] {
        let got = get_error(
            &env.mgmt,
            &format!("{hist}?{query}"),
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert_eq!(got, want, "{query}");
    }
    for query in ["status=pending", "status=active", "per_page=20"] {
        let r = get_ok(&env, &format!("{hist}?{query}")).await;
        assert_eq!(r.header("x-total-count"), Some("1"), "{query}");
        assert_eq!(r.json().as_array().unwrap().len(), 1, "{query}");
        assert!(links(&r)[0].starts_with(&format!("<{hist}?")), "{query}");
    }
    let r = env
        .mgmt
        .get(&format!("{hist}?status=finished"))
        .send()
        .await;
    assert_eq!(r.header("x-total-count"), Some("0"));
    // the same rules on the internal route
    let internal = format!("{INTERNAL}/tenants//deployments/devices/d1?per_page=21");
    get_error(&env.internal, &internal, StatusCode::BAD_REQUEST).await;

    // a deployment's devices: the id must be a UUID, then paging, then status, then 404
    let list = |id: &str, query: &str| format!("{DEP}/{id}/devices/list?{query}");
    let unknown = uuid::Uuid::new_v4().to_string();
    for (uri, status, want) in [
        (
            list("not-a-uuid", "page=0"),
            StatusCode::BAD_REQUEST,
            "ID is not a valid UUID",
        ),
        (
            list(&unknown, "page=0&status=x"),
            StatusCode::BAD_REQUEST,
            "invalid page query: value must be a non-zero positive integer",
        ),
        (
            list(&unknown, "status=x"),
            StatusCode::BAD_REQUEST,
            "status: must be a valid value",
        ),
        (
            list(&unknown, "status=pause"),
            StatusCode::NOT_FOUND,
            "Deployment not found",
        ),
    ] {
        assert_eq!(get_error(&env.mgmt, &uri, status).await, want, "{uri}");
    }
    let r = get_ok(&env, &list(&did, "per_page=500")).await;
    assert_eq!(r.header("x-total-count"), Some("1"));
}

// ---- item 5: release edits ----

async fn release_edits_check_the_body_first(backend: Backend) {
    let env = env(backend).await;
    let patch = |name: &str| env.mgmt.patch(&format!("{V2}/deployments/releases/{name}"));
    let put = |name: &str| {
        env.mgmt
            .put(&format!("{V2}/deployments/releases/{name}/tags"))
    };
    let error = |r: TestResponse, status| r.assert_error(status);
    // unknown release: the body is checked first, then 404
    let r = patch("nope").json_text("").send().await;
    assert_eq!(
        error(r, StatusCode::BAD_REQUEST),
        "malformed JSON in request body: EOF"
    );
    let r = patch("nope").json_text("{\"notes\": ").send().await;
    assert!(error(r, StatusCode::BAD_REQUEST).starts_with("malformed JSON in request body: "));
    let r = patch("nope").json_text("{\"notes\": 5}").send().await;
    assert!(error(r, StatusCode::BAD_REQUEST).starts_with("malformed JSON in request body: "));
    // (notes, the 400's text where the case pins it)
    let bad_notes = [
        (
            "x".repeat(1025),
            Some("invalid request body: release notes too long"),
        ),
        // 1024 bytes of two-byte characters are too long too
        ("é".repeat(513), None),
        (
            "a\u{1}b".to_owned(),
            Some("invalid request body: invalid character '\u{1}' at offset 1"),
        ),
        (
            "ok\u{2028}".to_owned(),
            Some("invalid request body: invalid character '\u{e2}' at offset 2"),
        ),
    ];
    for (notes, want) in bad_notes {
        let r = patch("nope").json(&json!({"notes": notes})).send().await;
        let message = error(r, StatusCode::BAD_REQUEST);
        if let Some(want) = want {
            assert_eq!(message, want, "{notes:?}");
        }
    }
    for body in [json!({"notes": "fine"}), json!({}), json!({"other": 1})] {
        let r = patch("nope").json(&body).send().await;
        assert_eq!(error(r, StatusCode::NOT_FOUND), "release not found");
    }

    let r = put("nope").json_text("[\"a\",").send().await;
    assert!(error(r, StatusCode::BAD_REQUEST).starts_with("malformed JSON in request body: "));
    let r = put("nope").json_text("{\"a\": 1}").send().await;
    assert!(error(r, StatusCode::BAD_REQUEST).starts_with("malformed JSON in request body: "));
    let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
    let r = put("nope").json(&json!(many)).send().await;
    assert_eq!(
        error(r, StatusCode::BAD_REQUEST),
        "invalid request body: the total number of tags per exceeded maximum of 20"
    );
    for (tags, want) in [
        (
            json!(["ok", "bad tag"]),
            "invalid request body: invalid character ' ' in string \"bad tag\"",
        ),
        (
            json!(["ÉTÉ"]),
            "invalid request body: invalid character 'é' in string \"été\"",
        ),
        (json!([""]), "invalid request body: tag cannot be empty"),
        (
            json!(["x".repeat(1025)]),
            "invalid request body: tag must be less than 1024 characters",
        ),
    ] {
        let r = put("nope").json(&tags).send().await;
        assert_eq!(error(r, StatusCode::BAD_REQUEST), want, "{tags}");
    }
    // 21 tags that are 20 once lower-cased and deduplicated pass the check
    let mut dup: Vec<String> = (0..20).map(|i| format!("t{i}")).collect();
    dup.push("T0".into());
    for body in [json!(dup), json!(["fine"]), json!(null), json!([])] {
        let r = put("nope").json(&body).send().await;
        assert_eq!(
            error(r, StatusCode::NOT_FOUND),
            "release not found",
            "{body}"
        );
    }

    // the unique-tag limit: 100 distinct tags in use; one more is a 409, even for an
    // unknown release
    for r in 0..5 {
        let name = format!("r{r}");
        upload(&env, &make_artifact(&name, &["dt"]), "").await;
        let tags: Vec<String> = (0..20).map(|i| format!("r{r}-t{i}")).collect();
        expect(
            put(&name).json(&json!(tags)),
            StatusCode::NO_CONTENT,
            "tags",
        )
        .await;
    }
    for name in ["nope", "r0"] {
        let r = put(name).json(&json!(["brand-new"])).send().await;
        assert_eq!(
            error(r, StatusCode::CONFLICT),
            "the total number of unique tags (100) has been exceeded"
        );
    }
    // nothing half-written by the refused requests
    let r0 = get_json(&env, &format!("{V2}/deployments/releases/r0")).await;
    assert_eq!(r0["tags"].as_array().unwrap().len(), 20);
    assert_eq!(r0["tags"][0], "r0-t0");
    let r = put("r0").json(&json!(["ok", "bad tag"])).send().await;
    error(r, StatusCode::BAD_REQUEST);
    let r = patch("r0").json(&json!({"notes": "a\u{1}b"})).send().await;
    error(r, StatusCode::BAD_REQUEST);
    let r0 = get_json(&env, &format!("{V2}/deployments/releases/r0")).await;
    assert_eq!(
        (r0["tags"][0].clone(), r0["notes"].clone()),
        (json!("r0-t0"), json!(""))
    );
    // tags already in use do not count twice
    expect(
        put("r1").json(&json!(["r0-t0", "R0-T1"])),
        StatusCode::NO_CONTENT,
        "reuse",
    )
    .await;
    let r1 = get_json(&env, &format!("{V2}/deployments/releases/r1")).await;
    assert_eq!(r1["tags"], json!(["r0-t0", "r0-t1"]));
    // tags keep the order given
    expect(
        put("r2").json(&json!(["r2-t5", "R2-T1", "r2-t5"])),
        StatusCode::NO_CONTENT,
        "order",
    )
    .await;
    let r2 = get_json(&env, &format!("{V2}/deployments/releases/r2")).await;
    assert_eq!(r2["tags"], json!(["r2-t5", "r2-t1"]));
    // an existing release: 204 even when nothing changes
    let r = patch("r0").json(&json!({})).send().await;
    r.assert_status(StatusCode::NO_CONTENT);
}

// ---- item 5: direct upload is off ----

async fn directupload_is_not_allowed(backend: Backend) {
    let env = env(backend).await;
    let id = upload(&env, &make_artifact("rel-d", &["dt"]), "").await;
    for (method, uri) in [
        ("POST", format!("{ART}/directupload")),
        ("POST", format!("{ART}/{id}")),
        ("PATCH", format!("{ART}/{id}")),
    ] {
        let m: axum::http::Method = method.parse().unwrap();
        let r = env.mgmt.request(m, &uri).json(&json!({})).send().await;
        assert_eq!(
            r.header("allow"),
            Some("GET, DELETE, PUT, OPTIONS"),
            "{method} {uri}"
        );
        assert_eq!(
            r.assert_error(StatusCode::METHOD_NOT_ALLOWED),
            "method not allowed"
        );
    }
    let r = env
        .mgmt
        .post(&format!("{ART}/directupload/{id}/complete"))
        .json(&json!({}))
        .send()
        .await;
    r.assert_status(StatusCode::NOT_FOUND);
    // the routes of the path still work
    let r = get(&env, &format!("{ART}/{id}")).await;
    r.assert_status(StatusCode::OK);
}
