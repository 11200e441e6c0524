//! Configuration deployments, identical-deployment conflicts, artifact edit rules, storage
//! settings and the storage limit, over HTTP, with hostile input.

use axum::http::{Method, StatusCode};
use mender_core::Clock;
use mender_db::testing::Backend;
use mender_testkit::http::{TestClient, TestRequest};
use serde_json::{Value, json};

use crate::common::*;

mender_db::each_backend!(
    configuration_deployment_flow,
    configuration_link_with_tenant_and_escaped_device_type,
    configuration_deployment_hostile_input,
    identical_active_deployment_conflicts,
    artifact_edit_rules,
    storage_settings_and_limits,
);

const DEP_ID: &str = "0d3c7b9e-3f5c-4e7e-9a61-5b6f2f3c1a10";
const CONFIG_DOWNLOAD: &str = "/api/devices/v1/deployments/download/configuration";

fn config_url(tenant: &str, dep: &str, dev: &str) -> String {
    format!("{INTERNAL}/tenants/{tenant}/configuration/deployments/{dep}/devices/{dev}")
}

/// A request with any content type and body.
fn raw(client: &TestClient, method: Method, uri: &str, ct: &str, body: Vec<u8>) -> TestRequest {
    client
        .request(method, uri)
        .header("content-type", ct)
        .body(body)
}

async fn deployments(client: &TestClient, query: &str) -> Vec<Value> {
    let r = expect(client.get(&format!("{DEP}{query}")), StatusCode::OK, query).await;
    r.json().as_array().unwrap().clone()
}

/// Aborts a deployment as the user.
async fn abort(env: &Env, did: &str) {
    let r = env.mgmt.put(&format!("{DEP}/{did}/status"));
    let aborted = json!({"status": "aborted"});
    expect(r.json(&aborted), StatusCode::NO_CONTENT, "abort").await;
}

/// Writes the artifact to a file and has the real mender-artifact tool read it.
fn real_tool_reads(dir: &std::path::Path, bytes: &[u8]) -> String {
    let f = dir.join("config.mender");
    std::fs::write(&f, bytes).unwrap();
    let out = std::process::Command::new("/usr/bin/mender-artifact")
        .arg("read")
        .arg(&f)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mender-artifact read: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

// ---- configuration deployments ----

async fn configuration_deployment_flow(backend: Backend) {
    let tmp = tempfile::tempdir().unwrap();
    let config = json!({"timezone": "Europe/Oslo", "password": "hunter2"});
    let env = env(backend).await;
    created_once(&env, &config).await;
    listed_with_cut_configuration(&env).await;
    let pq = only_the_target_gets_a_link(&env).await;
    download_is_the_generated_artifact(&env, &pq, &config, tmp.path()).await;
    download_refuses_tampering(&env, &pq).await;
    // the device finishes: the deployment is finished
    let r = env.report("dev-1", DEP_ID, "success").await;
    r.assert_status(StatusCode::NO_CONTENT);
    let d = get_json(&env, &format!("{DEP}/{DEP_ID}")).await;
    assert_eq!(d["status"], "finished");
}

async fn created_once(env: &Env, config: &Value) {
    let body = json!({"name": "cfg-1", "configuration": config.to_string()});
    let create = |device: &str| {
        env.internal
            .post(&config_url("", DEP_ID, device))
            .json(&body)
    };
    let r = expect(create("dev-1"), StatusCode::CREATED, "create").await;
    assert_eq!(
        r.header("location"),
        Some(format!("./deployments/{DEP_ID}").as_str())
    );
    // the id is taken
    create("dev-9")
        .send()
        .await
        .assert_error(StatusCode::CONFLICT);
}

async fn listed_with_cut_configuration(env: &Env) {
    let list = deployments(&env.mgmt, "?type=configuration").await;
    assert_eq!(list.len(), 1);
    let d = &list[0];
    assert_eq!(d["id"], DEP_ID);
    assert_eq!(d["type"], "configuration");
    assert_eq!(d["name"], "cfg-1");
    assert_eq!(d["artifact_name"], "cfg-1");
    assert_eq!(d["max_devices"], 1);
    use base64::Engine;
    let shown = base64::engine::general_purpose::STANDARD
        .decode(d["configuration"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&shown).unwrap(),
        json!({"timezone": "Eur...<omitted>", "password": "hun...<omitted>"})
    );
    assert!(deployments(&env.mgmt, "?type=software").await.is_empty());
    let r = env.mgmt.get(&format!("{DEP}?type=firmware")).send().await;
    r.assert_error(StatusCode::BAD_REQUEST);
    let r = env
        .mgmt
        .get("/api/management/v2/deployments/deployments?type=configuration")
        .send()
        .await;
    assert_eq!(r.json().as_array().unwrap().len(), 1);
}

/// The path and query of the link the target device gets.
async fn only_the_target_gets_a_link(env: &Env) -> String {
    // another device gets nothing; the target gets the generated artifact's link
    let req = json!({"artifact_name": "rootfs-1", "device_type": "raspberrypi4"});
    let next = |device: &str| env.device(device).post(NEXT).json(&req);
    expect(next("dev-2"), StatusCode::NO_CONTENT, "dev-2 next").await;
    let n = expect(next("dev-1"), StatusCode::OK, "dev-1 next")
        .await
        .json();
    assert_eq!(n["id"], DEP_ID);
    assert_eq!(n["artifact"]["id"], format!("{DEP_ID}dev-1"));
    assert_eq!(n["artifact"]["artifact_name"], "cfg-1");
    assert_eq!(
        n["artifact"]["device_types_compatible"],
        json!(["raspberrypi4"])
    );
    let uri = n["artifact"]["source"]["uri"].as_str().unwrap().to_owned();
    let prefix =
        format!("http://mender.test{CONFIG_DOWNLOAD}/{DEP_ID}/raspberrypi4/dev-1?x-men-expire=");
    assert!(uri.starts_with(&prefix), "{uri}");
    assert!(uri.contains("&x-men-signature="), "{uri}");
    assert!(!uri.contains("tenant_id"), "no tenant, no tenant_id: {uri}");
    // asking again gives the same deployment
    assert_eq!(next("dev-1").send().await.json()["id"], DEP_ID);
    path_and_query(&uri)
}

async fn download_is_the_generated_artifact(
    env: &Env,
    pq: &str,
    config: &Value,
    tmp: &std::path::Path,
) {
    let r = expect(env.open.get(pq), StatusCode::OK, "download").await;
    assert_eq!(
        r.header("content-type"),
        Some("application/vnd.mender-artifact")
    );
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"artifact.mender\"")
    );
    let art = r.body.to_vec();
    assert_eq!(
        r.header("content-length"),
        Some(art.len().to_string().as_str())
    );
    let meta = mender_artifact::parse(&art[..]).unwrap();
    assert_eq!(meta.info.version, 3);
    assert_eq!(meta.name, "cfg-1");
    assert_eq!(
        meta.device_types_compatible,
        vec!["raspberrypi4".to_owned()]
    );
    assert_eq!(
        meta.updates[0].type_info.type_.as_deref(),
        Some("mender-configure")
    );
    assert_eq!(
        meta.updates[0].meta_data.clone().map(Value::Object),
        Some(config.clone())
    );
    assert_eq!(
        meta.artifact_provides.unwrap()["data-partition.mender-configure.version"],
        "cfg-1"
    );
    assert_eq!(
        meta.clears_artifact_provides.unwrap(),
        vec!["data-partition.mender-configure.*".to_owned()]
    );
    let listing = real_tool_reads(tmp, &art);
    assert!(listing.contains("mender-configure"), "{listing}");
}

async fn download_refuses_tampering(env: &Env, pq: &str) {
    // tampering: path, signature, missing or bad parameters, expiry
    let (base, query) = pq.split_once('?').unwrap();
    let no_sig: Vec<&str> = query
        .split('&')
        .filter(|p| !p.starts_with("x-men-signature"))
        .collect();
    let bad_exp: Vec<String> = query
        .split('&')
        .map(|p| {
            if p.starts_with("x-men-expire") {
                "x-men-expire=tomorrow".to_owned()
            } else {
                p.to_owned()
            }
        })
        .collect();
    let app = env.svc.app();
    let past = env.clock.now() - std::time::Duration::from_secs(60);
    let path = format!("{CONFIG_DOWNLOAD}/{DEP_ID}/raspberrypi4/dev-1");
    let expired = format!("{path}?{}", app.sign_path(&path, past, &Default::default()));
    // a valid signature for a deployment that does not exist
    let future = env.clock.now() + std::time::Duration::from_secs(300);
    let ghost = format!(
        "{CONFIG_DOWNLOAD}/{}/raspberrypi4/dev-1",
        uuid::Uuid::new_v4()
    );
    let ghost = format!(
        "{ghost}?{}",
        app.sign_path(&ghost, future, &Default::default())
    );
    for (what, uri, want) in [
        (
            "other device type",
            pq.replace("/raspberrypi4/", "/qemux86-64/"),
            StatusCode::FORBIDDEN,
        ),
        (
            "forged signature",
            pq.replace("x-men-signature=", "x-men-signature=A"),
            StatusCode::FORBIDDEN,
        ),
        (
            "another tenant",
            format!("{pq}&tenant_id=t2"),
            StatusCode::FORBIDDEN,
        ),
        (
            "missing signature",
            format!("{base}?{}", no_sig.join("&")),
            StatusCode::BAD_REQUEST,
        ),
        ("no parameters", base.to_owned(), StatusCode::BAD_REQUEST),
        (
            "bad expiry",
            format!("{base}?{}", bad_exp.join("&")),
            StatusCode::BAD_REQUEST,
        ),
        ("expired", expired, StatusCode::FORBIDDEN),
        ("unknown deployment", ghost, StatusCode::NOT_FOUND),
    ] {
        expect(env.open.get(&uri), want, what)
            .await
            .assert_error(want);
    }
    // The link itself expires with the clock (the management link lifetime, 15 min).
    env.clock
        .advance(std::time::Duration::from_secs(15 * 60 + 1));
    let r = env.open.get(pq).send().await;
    assert_eq!(
        r.assert_error(StatusCode::FORBIDDEN),
        "the link has expired"
    );
}

async fn configuration_link_with_tenant_and_escaped_device_type(backend: Backend) {
    let env = env(backend).await;
    let dep = uuid::Uuid::new_v4().to_string();
    // the configuration may also be given as an object
    let body = json!({"name": "cfg ü", "configuration": {"a": "b"}, "retries": 2});
    let r = env.internal.post(&config_url("tenant-1", &dep, "dev-1"));
    expect(r.json(&body), StatusCode::CREATED, "create").await;
    // other tenants see nothing
    assert!(deployments(&env.mgmt, "").await.is_empty());
    assert_eq!(deployments(&env.tenant_user("tenant-1"), "").await.len(), 1);

    let mut d = dev("dev-1");
    d.tenant = "tenant-1".into();
    let req = json!({"artifact_name": "a", "device_type": "board rev/2ü"});
    let r = env.devices.as_identity(d).post(NEXT).json(&req);
    let uri = expect(r, StatusCode::OK, "next").await.json()["artifact"]["source"]["uri"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        uri.contains("/board%20rev%2F2%C3%BC/dev-1?tenant_id=tenant-1&x-men-expire="),
        "{uri}"
    );
    let r = expect(
        env.open.get(&path_and_query(&uri)),
        StatusCode::OK,
        "download",
    )
    .await;
    let meta = mender_artifact::parse(&r.body[..]).unwrap();
    assert_eq!(meta.name, "cfg ü");
    assert_eq!(
        meta.device_types_compatible,
        vec!["board rev/2ü".to_owned()]
    );
    // the tenant is part of the signature
    let other = path_and_query(&uri).replace("tenant_id=tenant-1", "tenant_id=tenant-2");
    expect(env.open.get(&other), StatusCode::FORBIDDEN, "other tenant").await;
}

async fn configuration_deployment_hostile_input(backend: Backend) {
    let env = env(backend).await;
    let ok = |dep: &str| config_url("", dep, "dev-1");
    let dep = uuid::Uuid::new_v4().to_string();
    let cases: Vec<(String, Value, StatusCode)> = vec![
        (
            config_url("", "not-a-uuid", "dev-1"),
            json!({"name": "n", "configuration": "{}"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            ok(&dep),
            json!({"configuration": "{\"a\":\"b\"}"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            ok(&dep),
            json!({"name": "", "configuration": "{\"a\":\"b\"}"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            ok(&dep),
            json!({"name": 5, "configuration": "{\"a\":\"b\"}"}),
            StatusCode::BAD_REQUEST,
        ),
        (ok(&dep), json!({"name": "n"}), StatusCode::BAD_REQUEST),
        (
            ok(&dep),
            json!({"name": "n", "configuration": ""}),
            StatusCode::BAD_REQUEST,
        ),
        (
            ok(&dep),
            json!({"name": "n", "configuration": "[1,2]"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            ok(&dep),
            json!({"name": "n", "configuration": "{not json"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            ok(&dep),
            json!({"name": "n", "configuration": 5}),
            StatusCode::BAD_REQUEST,
        ),
        (
            ok(&dep),
            json!({"name": "x".repeat(4097), "configuration": "{}"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            ok(&dep),
            json!({"name": "line\nbreak", "configuration": "{}"}),
            StatusCode::BAD_REQUEST,
        ),
        (ok(&dep), json!(["name"]), StatusCode::BAD_REQUEST),
    ];
    for (uri, body, want) in cases {
        let r = expect(env.internal.post(&uri).json(&body), want, &body.to_string()).await;
        r.assert_error(want);
    }
    let huge = format!(
        "{{\"name\":\"n\",\"configuration\":\"{}\"}}",
        "a".repeat(2 * 1024 * 1024)
    );
    for (what, ct, body, want) in [
        (
            "malformed",
            "application/json",
            b"{\"name\":".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "content type",
            "text/plain",
            b"{}".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "oversize",
            "application/json",
            huge.into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ] {
        let r = expect(
            raw(&env.internal, Method::POST, &ok(&dep), ct, body),
            want,
            what,
        )
        .await;
        if want != StatusCode::UNSUPPORTED_MEDIA_TYPE {
            r.assert_error(want);
        }
    }
    // nothing was written
    assert!(deployments(&env.mgmt, "").await.is_empty());
    // and the id is still free
    let body = json!({"name": "n", "configuration": "{}"});
    expect(
        env.internal.post(&ok(&dep)).json(&body),
        StatusCode::CREATED,
        "free id",
    )
    .await;
}

// ---- identical deployments ----

async fn identical_active_deployment_conflicts(backend: Backend) {
    let env = env(backend).await;
    upload(&env, &make_artifact("rel-c", &["dt"]), "").await;
    let body = json!({"name": "n", "artifact_name": "rel-c", "devices": ["d1", "d2"]});
    let first = create_deployment(&env, body.clone()).await;
    let r = env.mgmt.post(DEP).json(&body).send().await;
    assert_eq!(
        r.assert_error(StatusCode::CONFLICT),
        "Invalid deployment definition: there is already an active deployment with the same parameters"
    );
    // any difference in name, devices (or their order) or flags is a new deployment
    for other in [
        json!({"name": "n2", "artifact_name": "rel-c", "devices": ["d1", "d2"]}),
        json!({"name": "n", "artifact_name": "rel-c", "devices": ["d2", "d1"]}),
        json!({"name": "n", "artifact_name": "rel-c", "devices": ["d1", "d2"], "force_installation": true}),
    ] {
        expect(
            env.mgmt.post(DEP).json(&other),
            StatusCode::CREATED,
            &other.to_string(),
        )
        .await;
    }
    // group deployments: the devices resolved, not the group name, count
    env.inventory
        .groups
        .lock()
        .unwrap()
        .extend([("g1".to_owned(), "d7".to_owned())]);
    let g = json!({"name": "g", "artifact_name": "rel-c"});
    let group = || env.mgmt.post(&format!("{DEP}/group/g1")).json(&g);
    expect(group(), StatusCode::CREATED, "group").await;
    expect(group(), StatusCode::CONFLICT, "group again").await;
    // once finished (aborted), the same request is accepted again
    abort(&env, &first).await;
    expect(env.mgmt.post(DEP).json(&body), StatusCode::CREATED, "again").await;
    // other tenants are independent: no artifact in t9, but no conflict either
    let r = env.tenant_user("t9").post(DEP).json(&body);
    expect(r, StatusCode::UNPROCESSABLE_ENTITY, "other tenant").await;
}

// ---- artifact edits ----

async fn artifact_edit_rules(backend: Backend) {
    let env = env(backend).await;
    let id = upload(&env, &make_artifact("rel-e", &["dt"]), "orig").await;
    let url = format!("{ART}/{id}");
    let put = |body: Value, uri: String| env.mgmt.put(&uri).json(&body);
    for (what, body, uri, want) in [
        (
            "bad id",
            json!({"description": "x"}),
            format!("{ART}/not-a-uuid"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "unknown",
            json!({"description": "x"}),
            format!("{ART}/{}", uuid::Uuid::new_v4()),
            StatusCode::NOT_FOUND,
        ),
        (
            "long",
            json!({"description": "x".repeat(4097)}),
            url.clone(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "not a string",
            json!({"description": 7}),
            url.clone(),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        expect(put(body, uri), want, what).await.assert_error(want);
    }
    expect(env.mgmt.put(&url), StatusCode::BAD_REQUEST, "no body").await;
    let r = raw(
        &env.mgmt,
        Method::PUT,
        &url,
        "application/json",
        b"{".to_vec(),
    );
    expect(r, StatusCode::BAD_REQUEST, "malformed").await;
    let r = put(json!({"description": "ünïcode ✓"}), url.clone());
    expect(r, StatusCode::NO_CONTENT, "unicode").await;
    let a = get_json(&env, &url).await;
    assert_eq!(a["description"], "ünïcode ✓");

    // once a deployment (even a finished one) used it: 422, unchanged
    let did = create_deployment(
        &env,
        json!({"name": "n", "artifact_name": "rel-e", "devices": ["d1"]}),
    )
    .await;
    abort(&env, &did).await;
    let r = put(json!({"description": "later"}), url.clone())
        .send()
        .await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
    let a = get_json(&env, &url).await;
    assert_eq!(a["description"], "ünïcode ✓");
}

// ---- storage settings and limits ----

async fn storage_settings_and_limits(backend: Backend) {
    let art = make_artifact("rel-s", &["dt"]);
    let env = env(backend).await;
    for tenant in ["", "tenant-1"] {
        storage_settings_of_tenant(&env, tenant).await;
    }

    // limits: storage only; usage is what the tenant stores
    let limits = "/api/management/v1/deployments/limits";
    let r = get_json(&env, &format!("{limits}/storage")).await;
    assert_eq!(r, json!({"limit": 0, "usage": 0}));
    upload(&env, &art, "").await;
    let r = get_json(&env, &format!("{limits}/storage")).await;
    assert_eq!(r, json!({"limit": 0, "usage": art.len()}));
    let r = env.mgmt.get(&format!("{limits}/devices")).send().await;
    r.assert_error(StatusCode::BAD_REQUEST);
}

async fn storage_settings_of_tenant(env: &Env, tenant: &str) {
    let url = format!("{INTERNAL}/tenants/{tenant}/storage/settings");
    let get = || async {
        expect(env.internal.get(&url), StatusCode::OK, "get")
            .await
            .json()
    };
    let put = |body: &Value| env.internal.put(&url).json(body);
    assert_eq!(get().await, Value::Null);
    let good = json!({
        "type": "s3", "region": "eu-west-1", "bucket": "bucket-1",
        "key": "AKIAEXAMPLE", "secret": "very-secret", "uri": "https://s3.example.com",
        "force_path_style": true
    });
    expect(put(&good), StatusCode::NO_CONTENT, "good").await;
    let got = get().await;
    assert_eq!(got["bucket"], "bucket-1");
    assert_eq!(got["region"], "eu-west-1");
    assert_eq!(got["type"], "s3");
    assert_eq!(got["force_path_style"], true);
    assert_eq!(got["secret"], "very-secret");

    // invalid settings change nothing
    for bad in [
        json!({"type": "s3", "bucket": "bucket-1"}),
        json!({"type": "gcs", "bucket": "bucket-1"}),
        json!({"type": "s3", "region": "eu-west-1", "bucket": "b", "key": "AKIAEXAMPLE", "secret": "very-secret"}),
        json!({"region": 5}),
        json!([1]),
    ] {
        let r = expect(put(&bad), StatusCode::BAD_REQUEST, &bad.to_string()).await;
        r.assert_error(StatusCode::BAD_REQUEST);
    }
    for (what, body, want) in [
        ("malformed", b"{\"type\":".to_vec(), StatusCode::BAD_REQUEST),
        ("empty", Vec::new(), StatusCode::BAD_REQUEST),
        (
            "oversize",
            vec![b' '; 2 * 1024 * 1024],
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ] {
        let r = raw(&env.internal, Method::PUT, &url, "application/json", body);
        let r = expect(r, want, what).await;
        if what == "malformed" {
            r.assert_error(want);
        }
    }
    let got = get().await;
    assert_eq!(got["bucket"], "bucket-1");

    // azure aliases
    let az = json!({"type": "azure", "container_name": "container-1", "account_name": "account", "account_key": "key-12345"});
    expect(put(&az), StatusCode::NO_CONTENT, "azure").await;
    let got = get().await;
    assert_eq!(got["type"], "azure");
    assert_eq!(got["bucket"], "container-1");
    assert_eq!(got["key"], "account");

    // {} resets to the defaults
    expect(put(&json!({})), StatusCode::NO_CONTENT, "reset").await;
    assert_eq!(get().await, Value::Null);
}
