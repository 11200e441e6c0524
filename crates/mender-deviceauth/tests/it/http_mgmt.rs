//! Management (v2) and internal (v1) device endpoints, over HTTP, on both backends.

use axum::http::StatusCode;
use mender_db::testing::Backend;
use mender_testkit::DeviceKey;
use serde_json::{Value, json};

use crate::common::{DEVS, Env, limit_path};

mender_db::each_backend!(
    list_search_count_get_and_dismiss,
    dismissing_the_only_preauthorized_set_deletes_the_device,
    internal_health_and_tenants,
);

async fn list_search_count_get_and_dismiss(backend: Backend) {
    let env = Env::new(backend).await;
    for i in 0..5 {
        env.auth(&DeviceKey::ed25519(), &json!({"n": i})).await;
    }
    let all = env.devices().await;
    assert_eq!(all.len(), 5);
    // Oldest first.
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
    let r = env
        .mgmt
        .get(&format!("{DEVS}?page=2&per_page=2&status=pending"))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json().as_array().unwrap().len(), 2);
    let link = r.header("link").unwrap();
    assert!(
        link.contains("rel=\"first\"")
            && link.contains("rel=\"prev\"")
            && !link.contains("rel=\"next\""),
        "{link}"
    );
    let r = env.mgmt.get(&format!("{DEVS}?per_page=2")).send().await;
    assert!(
        r.header("link")
            .unwrap()
            .contains("page=2&per_page=2>; rel=\"next\"")
    );
    for bad in ["?status=bogus", "?per_page=501", "?page=0", "?page=x"] {
        assert_eq!(
            env.mgmt.get(&format!("{DEVS}{bad}")).send().await.status,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    let id1 = all[1]["id"].as_str().unwrap();
    let id2 = all[2]["id"].as_str().unwrap();
    let r = env
        .mgmt
        .get(&format!("{DEVS}?id={id1}&id={id2}"))
        .send()
        .await;
    assert_eq!(r.json().as_array().unwrap().len(), 2);
}

async fn search_filters_by_body(env: &Env, all: &[Value]) {
    let id1 = all[1]["id"].as_str().unwrap();
    let search = |body: Value| {
        let url = format!("{DEVS}/search");
        async move { env.mgmt.post(&url).json(&body).send().await }
    };
    let r = search(json!({"status": "accepted"})).await;
    assert_eq!(r.json().as_array().unwrap().len(), 1);
    let r = search(json!({"status": ["pending", "accepted"], "id": [id1]})).await;
    assert_eq!(r.json()[0]["id"], id1);
    let r = search(json!({"id": id1})).await;
    assert_eq!(r.json().as_array().unwrap().len(), 1, "one id as a string");
    for bad in [json!({"status": 1}), json!({"status": ["nope"]})] {
        assert_eq!(
            search(bad.clone()).await.status,
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
    let r = env
        .mgmt
        .put(&format!("{DEVS}/{other_dev}/auth/{aid}/status"))
        .json(&json!({"status": "accepted"}))
        .send()
        .await;
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
    env.wf.clear();
    let set = format!("{DEVS}/{id1}/auth/{aid}");
    assert_eq!(
        env.mgmt.delete(&set).send().await.status,
        StatusCode::NO_CONTENT
    );
    let d = env.mgmt.get(&format!("{DEVS}/{id1}")).send().await.json();
    assert_eq!(d["status"], "noauth");
    assert_eq!(d["auth_sets"], json!([]));
    assert_eq!(
        env.wf.named("update_device_status")[0]["device_status"],
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
    let r = env
        .mgmt
        .post(DEVS)
        .json(&json!({"identity_data": {"p": 1}, "pubkey": key.public_pem()}))
        .send()
        .await;
    let id = r
        .header("location")
        .unwrap()
        .trim_start_matches("devices/")
        .to_owned();
    let device = format!("{DEVS}/{id}");
    let d = env.mgmt.get(&device).send().await.json();
    let aid = d["auth_sets"][0]["id"].as_str().unwrap();
    env.wf.clear();
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
        env.wf.named("update_device_status")[0]["device_status"],
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
