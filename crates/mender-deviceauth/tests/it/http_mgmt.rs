//! Management (v2) and internal (v1) device endpoints, over HTTP, on both backends.

use axum::http::StatusCode;
use mender_db::testing::Backend;
use mender_testkit::DeviceKey;
use serde_json::{Value, json};

use crate::common::{DEVS, Env, limit_path, links};

mender_db::each_backend!(
    list_search_count_get_and_dismiss,
    dismissing_the_only_preauthorized_set_deletes_the_device,
    internal_health_and_tenants,
    device_list_is_ordered_by_status_then_id_with_upstream_paging,
    internal_update_records_provisioned,
    provisioned_devices_are_not_provisioned_again,
    external_device_route_is_not_served,
);

async fn list_search_count_get_and_dismiss(backend: Backend) {
    let env = Env::new(backend).await;
    for i in 0..5 {
        env.auth(&DeviceKey::ed25519(), &json!({"n": i})).await;
    }
    let all = env.devices().await;
    assert_eq!(all.len(), 5);
    // All pending, so in id order, which is creation order (time-ordered UUIDs).
    let ns: Vec<i64> = all
        .iter()
        .map(|d| d["identity_data"]["n"].as_i64().unwrap())
        .collect();
    assert_eq!(ns, vec![0, 1, 2, 3, 4]);
    env.accept(&all[0]).await;

    listing_pages_and_filters(&env, &all).await;
    search_filters_by_body(&env, &all).await;
    counts_and_internal_views(&env, &all).await;
    let (id1, aid) = device_and_auth_set_status(&env, &all).await;
    dismissing_an_auth_set(&env, &id1, &aid).await;
    unknown_devices_are_not_found(&env).await;
}

async fn listing_pages_and_filters(env: &Env, all: &[Value]) {
    let r = env.list("?page=2&per_page=2&status=pending").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json().as_array().unwrap().len(), 2);
    // One Link header per relation, as upstream sends them.
    let link = links(&r).join(", ");
    assert!(
        link.contains("rel=\"first\"")
            && link.contains("rel=\"prev\"")
            && !link.contains("rel=\"next\""),
        "{link}"
    );
    let r = env.list("?per_page=2").await;
    assert!(
        links(&r)
            .join(", ")
            .contains("page=2&per_page=2>; rel=\"next\"")
    );
    for bad in ["?status=bogus", "?per_page=501", "?page=0", "?page=x"] {
        assert_eq!(env.list(bad).await.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let id1 = all[1]["id"].as_str().unwrap();
    let id2 = all[2]["id"].as_str().unwrap();
    let r = env.list(&format!("?id={id1}&id={id2}")).await;
    assert_eq!(r.json().as_array().unwrap().len(), 2);
}

async fn search_filters_by_body(env: &Env, all: &[Value]) {
    let id1 = all[1]["id"].as_str().unwrap();
    let r = env.search("", &json!({"status": "accepted"})).await;
    assert_eq!(r.json().as_array().unwrap().len(), 1);
    let r = env
        .search("", &json!({"status": ["pending", "accepted"], "id": [id1]}))
        .await;
    assert_eq!(r.json()[0]["id"], id1);
    let r = env.search("", &json!({"id": id1})).await;
    assert_eq!(r.json().as_array().unwrap().len(), 1, "one id as a string");
    for bad in [json!({"status": 1}), json!({"status": ["nope"]})] {
        assert_eq!(
            env.search("", &bad).await.status,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    // A form body filters like the query string.
    let r = env
        .mgmt
        .post(&format!("{DEVS}/search"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("status=pending&id={id1}"))
        .send()
        .await;
    assert_eq!(r.json().as_array().unwrap().len(), 1);
    let r = env
        .mgmt
        .post(&format!("{DEVS}/search"))
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

async fn counts_and_internal_views(env: &Env, all: &[Value]) {
    let id1 = all[1]["id"].as_str().unwrap();
    let count =
        |q: &'static str| async move { env.mgmt.get(&format!("{DEVS}/count{q}")).send().await };
    assert_eq!(count("").await.json(), json!({"count": 5}));
    assert_eq!(count("?status=pending").await.json(), json!({"count": 4}));
    assert_eq!(count("?status=bad").await.status, StatusCode::BAD_REQUEST);
    let internal = |path: String| async move { env.internal.get(&path).send().await };
    let tenants = "/api/internal/v1/devauth/tenants";
    let r = internal(format!("{tenants}//devices/count?status=accepted")).await;
    assert_eq!(r.json(), json!({"count": 1}));
    let r = internal(format!("{tenants}/other/devices/count")).await;
    assert_eq!(r.json(), json!({"count": 0}), "tenants are separate");
    let r = internal(format!("{tenants}//devices?per_page=1")).await;
    assert_eq!(r.json().as_array().unwrap().len(), 1);
    let r = internal(format!("{tenants}//devices/{id1}/status")).await;
    assert_eq!(r.json(), json!({"status": "pending"}));
    assert_eq!(
        internal(format!("{tenants}//devices/nope/status"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

/// Returns the second device's id and its auth set's id.
async fn device_and_auth_set_status(env: &Env, all: &[Value]) -> (String, String) {
    let id1 = all[1]["id"].as_str().unwrap();
    let r = env.mgmt.get(&format!("{DEVS}/{id1}")).send().await;
    assert_eq!(r.status, StatusCode::OK);
    let d = r.json();
    for k in [
        "id",
        "identity_data",
        "status",
        "decommissioning",
        "created_ts",
        "updated_ts",
        "auth_sets",
    ] {
        assert!(d.get(k).is_some(), "{k}");
    }
    let aid = d["auth_sets"][0]["id"].as_str().unwrap();
    let status_path = format!("{DEVS}/{id1}/auth/{aid}/status");
    let st = env.mgmt.get(&status_path).send().await;
    assert_eq!(st.json(), json!({"status": "pending"}));
    let unknown_set = format!("{DEVS}/{id1}/auth/nope/status");
    assert_eq!(
        env.mgmt.get(&unknown_set).send().await.status,
        StatusCode::NOT_FOUND
    );
    let cases = [
        (json!({"status": "preauthorized"}), StatusCode::BAD_REQUEST),
        (json!({"status": "noauth"}), StatusCode::BAD_REQUEST),
        (json!({"status": 3}), StatusCode::BAD_REQUEST),
        (json!({"status": "rejected"}), StatusCode::NO_CONTENT),
    ];
    for (body, want) in cases {
        let r = env.mgmt.put(&status_path).json(&body).send().await;
        assert_eq!(r.status, want, "{body}: {}", r.text());
    }
    let other_dev = all[2]["id"].as_str().unwrap();
    let r = env.set_auth_status(other_dev, aid, "accepted").await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "auth set of another device"
    );
    assert_eq!(
        r.assert_error(StatusCode::BAD_REQUEST),
        "dev auth: dev ID and auth ID mismatch"
    );
    (id1.to_owned(), aid.to_owned())
}

async fn dismissing_an_auth_set(env: &Env, id1: &str, aid: &str) {
    env.wf().await.clear();
    let set = format!("{DEVS}/{id1}/auth/{aid}");
    assert_eq!(
        env.mgmt.delete(&set).send().await.status,
        StatusCode::NO_CONTENT
    );
    let d = env.mgmt.get(&format!("{DEVS}/{id1}")).send().await.json();
    assert_eq!(d["status"], "noauth");
    assert_eq!(d["auth_sets"], json!([]));
    assert_eq!(
        env.wf().await.named("update_device_status")[0]["device_status"],
        "noauth"
    );
    assert_eq!(
        env.mgmt.delete(&set).send().await.status,
        StatusCode::NOT_FOUND
    );
}

async fn unknown_devices_are_not_found(env: &Env) {
    let long = "%C3%A9".repeat(5000);
    for (name, req) in [
        ("get", env.mgmt.get(&format!("{DEVS}/nope"))),
        ("decommission", env.mgmt.delete(&format!("{DEVS}/nope"))),
        ("long id", env.mgmt.get(&format!("{DEVS}/{long}"))),
    ] {
        assert_eq!(req.send().await.status, StatusCode::NOT_FOUND, "{name}");
    }
}

async fn dismissing_the_only_preauthorized_set_deletes_the_device(backend: Backend) {
    let env = Env::new(backend).await;
    let key = DeviceKey::ed25519();
    let r = env.preauth(&json!({"p": 1}), &key.public_pem()).await;
    let id = r
        .header("location")
        .unwrap()
        .trim_start_matches("devices/")
        .to_owned();
    let device = format!("{DEVS}/{id}");
    let d = env.mgmt.get(&device).send().await.json();
    let aid = d["auth_sets"][0]["id"].as_str().unwrap();
    env.wf().await.clear();
    for (req, want) in [
        (
            env.mgmt.delete(&format!("{device}/auth/{aid}")),
            StatusCode::NO_CONTENT,
        ),
        (env.mgmt.get(&device), StatusCode::NOT_FOUND),
    ] {
        assert_eq!(req.send().await.status, want);
    }
    assert_eq!(
        env.wf().await.named("update_device_status")[0]["device_status"],
        "decommissioned"
    );
    // Forced preauthorization of an existing identity adds the key.
    env.auth(&key, &json!({"p": 2})).await;
    let key2 = DeviceKey::ed25519();
    let body = json!({"identity_data": {"p": 2}, "pubkey": key2.public_pem(), "force": true});
    assert_eq!(
        env.mgmt.post(DEVS).json(&body).send().await.status,
        StatusCode::CREATED
    );
    let d = env.devices().await.remove(0);
    assert_eq!(d["status"], "preauthorized");
    assert_eq!(
        env.auth(&key2, &json!({"p": 2})).await.status,
        StatusCode::OK
    );
}

async fn internal_health_and_tenants(backend: Backend) {
    let env = Env::new(backend).await;
    for path in [
        "/api/internal/v1/devauth/alive",
        "/api/internal/v1/devauth/health",
    ] {
        assert_eq!(
            env.internal.get(path).send().await.status,
            StatusCode::NO_CONTENT,
            "{path}"
        );
    }
    let tenants = "/api/internal/v1/devauth/tenants";
    for (body, want) in [
        (json!({"tenant_id": "t1"}), StatusCode::CREATED),
        (json!({"x": 1}), StatusCode::BAD_REQUEST),
        (json!({"tenant_id": ""}), StatusCode::BAD_REQUEST),
    ] {
        let r = env.internal.post(tenants).json(&body).send().await;
        assert_eq!(r.status, want, "{body}");
    }
    let r = env.put_limit("t1", json!(-1)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    env.put_limit("t1", json!(7))
        .await
        .assert_status(StatusCode::NO_CONTENT);
    let r = env.internal.get(&limit_path("t1")).send().await;
    assert_eq!(r.json(), json!({"limit": 7}));
    assert_eq!(
        env.user_limit().await,
        json!({"limit": 0}),
        "the OSS tenant is unaffected"
    );
}

async fn device_list_is_ordered_by_status_then_id_with_upstream_paging(backend: Backend) {
    let env = Env::new(backend).await;
    for i in 0..6 {
        env.auth(&DeviceKey::ed25519(), &json!({"n": i})).await;
    }
    let created = env.devices().await;
    // Statuses against creation order: the newest accepted, one rejected, one preauthorized.
    env.accept(&created[5])
        .await
        .assert_status(StatusCode::NO_CONTENT);
    env.accept(&created[4])
        .await
        .assert_status(StatusCode::NO_CONTENT);
    env.set_status(&created[0], "rejected")
        .await
        .assert_status(StatusCode::NO_CONTENT);
    env.preauth(&json!({"n": "pre"}), &DeviceKey::ed25519().public_pem())
        .await
        .assert_status(StatusCode::CREATED);
    let all = env.devices().await;
    let key = |d: &Value| {
        (
            d["status"].as_str().unwrap().to_owned(),
            d["id"].as_str().unwrap().to_owned(),
        )
    };
    let got: Vec<(String, String)> = all.iter().map(key).collect();
    let mut want = got.clone();
    want.sort();
    assert_eq!(got, want, "status, then id, on {}", env.backend());
    let statuses: Vec<&str> = all.iter().map(|d| d["status"].as_str().unwrap()).collect();
    assert_eq!(
        statuses,
        [
            "accepted",
            "accepted",
            "pending",
            "pending",
            "pending",
            "preauthorized",
            "rejected"
        ]
    );

    // Pages: per_page + 1 rows decide `next`; one Link header per relation; no total count.
    let r = env
        .list("?per_page=3&page=2&status=pending&status=accepted")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json().as_array().unwrap().len(), 2);
    assert_eq!(r.json()[0]["id"], all[3]["id"]);
    assert_eq!(
        links(&r),
        [
            format!("<{DEVS}?page=1&per_page=3&status=pending&status=accepted>; rel=\"first\""),
            format!("<{DEVS}?page=1&per_page=3&status=pending&status=accepted>; rel=\"prev\""),
        ]
    );
    assert!(r.header("x-total-count").is_none());
    let r = env.list("?per_page=3").await;
    assert_eq!(r.json().as_array().unwrap().len(), 3);
    assert_eq!(
        links(&r),
        [
            format!("<{DEVS}?page=1&per_page=3>; rel=\"first\""),
            format!("<{DEVS}?page=2&per_page=3>; rel=\"next\""),
        ]
    );
    let r = env.list("?per_page=7").await;
    assert_eq!(links(&r).len(), 1, "exactly per_page devices: no next");
    // The internal list is the same list.
    let r = env
        .internal
        .get("/api/internal/v1/devauth/tenants//devices?per_page=500")
        .send()
        .await;
    assert_eq!(
        r.json()
            .as_array()
            .unwrap()
            .iter()
            .map(key)
            .collect::<Vec<_>>(),
        got
    );

    // Upstream's 400 texts; paging is checked before the filter.
    for (q, want) in [
        ("?page=x", "invalid page query: \"x\""),
        (
            "?page=0",
            "invalid page query: value must be a non-zero positive integer",
        ),
        (
            "?per_page=-1",
            "invalid per_page query: value must be a non-zero positive integer",
        ),
        (
            "?per_page=501",
            "parameter \"per_page\" above limit (max: 500)",
        ),
        (
            "?status=bogus&page=0",
            "invalid page query: value must be a non-zero positive integer",
        ),
        (
            "?status=bogus",
            "filter status must be one of: accepted, pending, rejected, preauthorized or noauth",
        ),
    ] {
        assert_eq!(
            env.list(q).await.assert_error(StatusCode::BAD_REQUEST),
            want,
            "{q}"
        );
        let r = env
            .internal
            .get(&format!("/api/internal/v1/devauth/tenants/t1/devices{q}"))
            .send()
            .await;
        assert_eq!(
            r.assert_error(StatusCode::BAD_REQUEST),
            want,
            "internal {q}"
        );
    }
    let r = env
        .search("?per_page=0", &json!({"status": "pending"}))
        .await;
    assert_eq!(
        r.assert_error(StatusCode::BAD_REQUEST),
        "invalid per_page query: value must be a non-zero positive integer"
    );
}

/// `SELECT provisioned, revision, updated_ts` of a device.
async fn device_row(env: &Env, id: &str) -> (bool, i64, i64) {
    let row: (bool, i64, i64) =
        mender_db::query("SELECT provisioned, revision, updated_ts FROM devices WHERE id = $1")
            .bind(id)
            .fetch_one(&*env.db)
            .await
            .unwrap();
    row
}

async fn internal_update_records_provisioned(backend: Backend) {
    let env = Env::new(backend).await;
    env.auth(&DeviceKey::ed25519(), &json!({"p": 1})).await;
    let dev = env.devices().await.remove(0);
    let id = dev["id"].as_str().unwrap();
    let path = format!("/api/internal/v1/devauth/tenants//devices/{id}");
    let internal = &env.internal;
    let patch = |body: &'static str| {
        let path = path.clone();
        async move { internal.patch(&path).json_text(body).send().await }
    };
    let (p0, rev0, _) = device_row(&env, id).await;
    assert!(!p0);
    env.clock.advance(std::time::Duration::from_secs(5));
    let r = patch(r#"{"provisioned":true}"#).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    assert!(r.text().is_empty());
    let (p1, rev1, ts1) = device_row(&env, id).await;
    assert_eq!((p1, rev1), (true, rev0 + 1));
    assert_eq!(ts1, mender_core::Clock::now(&*env.clock).unix_secs());
    // `{}` and unknown fields change nothing but still bump the revision; false is written.
    patch(r#"{"other": 1}"#)
        .await
        .assert_status(StatusCode::NO_CONTENT);
    assert!(device_row(&env, id).await.0);
    assert_eq!(device_row(&env, id).await.1, rev0 + 2);
    patch(r#"{"provisioned":false} trailing"#)
        .await
        .assert_status(StatusCode::NO_CONTENT);
    assert!(!device_row(&env, id).await.0);
    // The tenant id in the path scopes the device; unknown devices are 404 with no body.
    for path in [
        "/api/internal/v1/devauth/tenants//devices/nope".to_owned(),
        format!("/api/internal/v1/devauth/tenants/other/devices/{id}"),
    ] {
        let r = env
            .internal
            .patch(&path)
            .json(&json!({"provisioned": true}))
            .send()
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert!(r.text().is_empty(), "{path}: {}", r.text());
    }
    // Malformed bodies: upstream's texts, nothing written.
    let before = device_row(&env, id).await;
    for (body, want) in [
        ("", "invalid request body: EOF"),
        ("  ", "invalid request body: EOF"),
        (
            r#"{"provisioned":"x"}"#,
            "invalid request body: json: cannot unmarshal string into Go struct field DeviceUpdate.provisioned of type bool",
        ),
        (
            r#"{"provisioned":1}"#,
            "invalid request body: json: cannot unmarshal number into Go struct field DeviceUpdate.provisioned of type bool",
        ),
        (
            r#"{"Provisioned":{}}"#,
            "invalid request body: json: cannot unmarshal object into Go struct field DeviceUpdate.provisioned of type bool",
        ),
        (
            "[true]",
            "invalid request body: json: cannot unmarshal array into Go value of type model.DeviceUpdate",
        ),
        (
            r#""yes""#,
            "invalid request body: json: cannot unmarshal string into Go value of type model.DeviceUpdate",
        ),
        (r#"{"provisioned":"#, "invalid request body: unexpected EOF"),
    ] {
        let r = patch(body).await;
        assert_eq!(r.assert_error(StatusCode::BAD_REQUEST), want, "{body:?}");
    }
    let r = patch("{nope").await;
    assert!(
        r.assert_error(StatusCode::BAD_REQUEST)
            .starts_with("invalid request body: ")
    );
    let r = env
        .internal
        .patch(&path)
        .json_text(vec![b' '; 2 * 1024 * 1024])
        .send()
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(device_row(&env, id).await, before);
    // `null` decodes to nothing, as Go's decoder does.
    patch("null").await.assert_status(StatusCode::NO_CONTENT);
}

async fn provisioned_devices_are_not_provisioned_again(backend: Backend) {
    let env = Env::new(backend).await;
    env.auth(&DeviceKey::ed25519(), &json!({"p": 2})).await;
    let dev = env.devices().await.remove(0);
    let id = dev["id"].as_str().unwrap();
    let internal = &env.internal;
    let patch = |provisioned: bool| async move {
        internal
            .patch(&format!("/api/internal/v1/devauth/tenants//devices/{id}"))
            .json(&json!({ "provisioned": provisioned }))
            .send()
            .await
            .assert_status(StatusCode::NO_CONTENT);
    };
    let readmit = || async {
        env.set_status(&dev, "rejected")
            .await
            .assert_status(StatusCode::NO_CONTENT);
        env.wf().await.clear();
        env.accept(&dev).await.assert_status(StatusCode::NO_CONTENT);
    };
    env.accept(&dev).await.assert_status(StatusCode::NO_CONTENT);
    assert_eq!(env.wf().await.named("provision_device").len(), 1);
    // What upstream's provision_device does as its last step.
    patch(true).await;
    readmit().await;
    assert!(env.wf().await.named("provision_device").is_empty());
    assert_eq!(
        env.wf().await.named("update_device_status")[0]["device_status"],
        "accepted"
    );
    patch(false).await;
    readmit().await;
    assert_eq!(env.wf().await.named("provision_device").len(), 1);
}

async fn external_device_route_is_not_served(backend: Backend) {
    // Upstream's open-source deviceauth has no `.../external` route: through the gateway the
    // internal port answers the router's 404 body, whatever the method.
    let env = Env::new(backend).await;
    let routers = env.svc.routers();
    let internal = mender_testkit::TestClient::new(mender_gateway::finish(
        routers.internal,
        mender_core::json::DEFAULT_BODY_LIMIT,
    ));
    env.auth(&DeviceKey::ed25519(), &json!({"x": 1})).await;
    let id = env.devices().await[0]["id"].as_str().unwrap().to_owned();
    for tenant in ["", "t1"] {
        let path = format!("/api/internal/v1/devauth/tenants/{tenant}/devices/{id}/external");
        let body = json!({"id": id, "name": "dev", "provider": "iot-hub"});
        for req in [
            internal.put(&path).json(&body),
            internal.get(&path),
            internal.post(&path).json(&body),
        ] {
            let r = req.send().await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
            let b = r.json();
            assert_eq!(b["error"], "not found");
            assert_eq!(b["request_id"], r.header("x-men-requestid").unwrap());
        }
    }
}
