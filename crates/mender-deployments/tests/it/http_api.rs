//! HTTP behaviour of deployments: artifact upload/list/download with real artifacts, hostile
//! uploads, the device update flow, status rules, releases and generated artifacts.

use axum::http::{Method, StatusCode};
use mender_core::Clock;
use mender_db::testing::Backend;
use mender_testkit::http::{TestClient, TestResponse};
use serde_json::{Value, json};

use crate::common::*;

mender_db::each_backend!(
    artifact_upload_list_download,
    hostile_uploads_store_nothing,
    device_update_flow,
    abort_and_decommission_rules,
    releases_tags_and_types,
    generate_artifact_in_process,
);

/// Sends `method uri` with an optional JSON body.
async fn call(client: &TestClient, method: Method, uri: &str, body: Option<Value>) -> TestResponse {
    let req = client.request(method, uri);
    match body {
        Some(b) => req.json(&b).send().await,
        None => req.send().await,
    }
}

/// Asserts a response's status, showing its body when it differs.
#[track_caller]
fn status_is(r: &TestResponse, want: u16, what: &str) {
    assert_eq!(r.status, want, "{what}: {}", r.text());
}

// ---- artifacts ----

async fn artifact_upload_list_download(backend: Backend) {
    let tmp = tempfile::tempdir().unwrap();
    let art = make_artifact(tmp.path(), "app-1.0", &["qemux86-64", "rpi4"]);
    let env = env(backend).await;
    let id = upload(&env, &art, "first build").await;
    listed_with_parsed_metadata(&env, &id, &art).await;
    shown_edited_and_filtered(&env, &id).await;
    duplicate_name_and_types_refused(&env, &art).await;
    download_link_serves_ranges_and_refuses_tampering(&env, &id, &art).await;
    deleted_with_its_file(&env, &id).await;
}

async fn listed_with_parsed_metadata(env: &Env, id: &str, art: &[u8]) {
    let list = get_json(env, ART).await;
    let a = &list[0];
    assert_eq!(a["id"], id);
    assert_eq!(a["name"], "app-1.0");
    assert_eq!(a["description"], "first build");
    assert_eq!(a["device_types_compatible"], json!(["qemux86-64", "rpi4"]));
    assert_eq!(a["info"], json!({"format": "mender", "version": 3}));
    assert_eq!(a["signed"], false);
    assert_eq!(a["size"], art.len());
    assert_eq!(a["updates"][0]["type_info"]["type"], "single-file");
    assert_eq!(a["updates"][0]["files"][0]["size"], 6000);
    assert_eq!(
        a["artifact_provides"]["rootfs-image.single-file.version"],
        "app-1.0"
    );
}

async fn shown_edited_and_filtered(env: &Env, id: &str) {
    let r = call(
        &env.mgmt,
        Method::PUT,
        &format!("{ART}/{id}"),
        Some(json!({"description": "edited"})),
    )
    .await;
    status_is(&r, 204, "edit");
    let a = get_json(env, &format!("{ART}/{id}")).await;
    assert_eq!(a["description"], "edited");
    let v2 = get_json(env, "/api/management/v2/deployments/artifacts?name=app*").await;
    assert_eq!(v2.as_array().unwrap().len(), 1);
    let v2 = get_json(env, "/api/management/v2/deployments/artifacts?name=app").await;
    assert!(v2.as_array().unwrap().is_empty());
    let r = env.mgmt.get(&format!("{ART}/nope")).send().await;
    status_is(&r, 404, "unknown artifact");
}

async fn duplicate_name_and_types_refused(env: &Env, art: &[u8]) {
    let r = post_upload(&env.mgmt, ART, &[], art).await;
    status_is(&r, 409, "duplicate");
    assert_eq!(get_json(env, ART).await.as_array().unwrap().len(), 1);
}

async fn download_link_serves_ranges_and_refuses_tampering(env: &Env, id: &str, art: &[u8]) {
    let link = get_json(env, &format!("{ART}/{id}/download")).await;
    let uri = link["uri"].as_str().unwrap();
    assert!(
        uri.starts_with("http://mender.test/api/devices/v1/deployments/download/"),
        "{uri}"
    );
    let pq = path_and_query(uri);
    let r = env.open.get(&pq).send().await;
    status_is(&r, 200, "download");
    assert_eq!(
        r.header("content-type"),
        Some("application/vnd.mender-artifact")
    );
    assert_eq!(
        r.header("content-length"),
        Some(art.len().to_string().as_str())
    );
    assert_eq!(r.body, art, "download must be byte-identical");

    let r = env.open.get(&pq).header("range", "bytes=100-").send().await;
    status_is(&r, 206, "range");
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes 100-{}/{}", art.len() - 1, art.len()).as_str())
    );
    assert_eq!(r.body, &art[100..]);
    let r = env
        .open
        .get(&pq)
        .header("range", &format!("bytes={}-", art.len()))
        .send()
        .await;
    status_is(&r, 416, "range past the end");

    let bare = pq.split('?').next().unwrap().to_owned();
    let expired = env.svc.app().sign_path(
        &bare,
        env.clock.now() - std::time::Duration::from_secs(60),
        &Default::default(),
    );
    for (what, uri, want) in [
        (
            "tampered signature",
            pq.replace("x-men-signature=", "x-men-signature=A"),
            403,
        ),
        (
            "other artifact",
            pq.replace(id, &uuid::Uuid::new_v4().to_string()),
            403,
        ),
        ("no signature", bare.clone(), 400),
        ("expired", format!("{bare}?{expired}"), 403),
    ] {
        let r = env.open.get(&uri).send().await;
        status_is(&r, want, what);
    }

    // The link handed out above stops working once the clock passes its expiry (15 min).
    env.clock
        .advance(std::time::Duration::from_secs(15 * 60 + 1));
    let r = env.open.get(&pq).send().await;
    assert_eq!(
        r.assert_error(StatusCode::FORBIDDEN),
        "the link has expired"
    );
}

async fn deleted_with_its_file(env: &Env, id: &str) {
    let r = env.mgmt.delete(&format!("{ART}/{id}")).send().await;
    status_is(&r, 204, "delete");
    let r = env.mgmt.delete(&format!("{ART}/{id}")).send().await;
    status_is(&r, 404, "delete again");
    assert!(blob_files(&env.blob_dir).is_empty());
}

async fn hostile_uploads_store_nothing(backend: Backend) {
    let tmp = tempfile::tempdir().unwrap();
    let art = make_artifact(tmp.path(), "hostile", &["dt"]);
    let mut corrupt = art.clone();
    let n = corrupt.len();
    corrupt[n - 3000] ^= 0xff; // inside the payload: checksum mismatch or tar error
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", art[..art.len() / 2].to_vec()),
        ("corrupt", corrupt),
        (
            "not an artifact",
            b"hello, this is not a tar file at all".repeat(200),
        ),
        ("empty", Vec::new()),
    ];
    let env = env(backend).await;
    for (what, body) in &cases {
        let r = post_upload(&env.mgmt, ART, &[("description", "x")], body).await;
        let e = r.assert_error(StatusCode::BAD_REQUEST);
        assert!(e.contains("artifact"), "{what}: {e}");
    }
    let r = post_upload(&env.mgmt, ART, &[("size", "99999999999999")], &art).await;
    status_is(&r, 413, "declared size over the limit");
    let r = post_upload(&env.mgmt, ART, &[("description", "only text")], b"").await;
    status_is(&r, 400, "empty artifact part");
    let r = env
        .mgmt
        .post(ART)
        .header("content-type", "multipart/form-data; boundary=b")
        .body("--b\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\nx\r\n--b--\r\n")
        .send()
        .await;
    status_is(&r, 400, "no artifact part");
    let r = env.mgmt.post(ART).json(&json!({})).send().await;
    status_is(&r, 400, "not multipart");
    assert!(
        blob_files(&env.blob_dir).is_empty(),
        "{:?}",
        blob_files(&env.blob_dir)
    );
    assert!(get_json(&env, ART).await.as_array().unwrap().is_empty());

    // oversize by the configured limit
    let cfg = mender_deployments::DeploymentsConfig {
        max_image_size: 4096,
        ..Default::default()
    };
    let small = env_with(backend, cfg).await;
    let r = post_upload(&small.mgmt, ART, &[], &art).await;
    status_is(&r, 413, "over the configured limit");
    assert!(blob_files(&small.blob_dir).is_empty());
}

// ---- the device update flow ----

const BODY_D1: fn() -> Value = || json!({"artifact_name": "old", "device_type": "dt", "rootfs-image.single-file.version": "old"});

fn status_url(did: &str) -> String {
    format!("/api/devices/v1/deployments/device/deployments/{did}/status")
}

async fn device_update_flow(backend: Backend) {
    let tmp = tempfile::tempdir().unwrap();
    let art = make_artifact(tmp.path(), "rel-2", &["dt"]);
    let env = env(backend).await;
    let aid = upload(&env, &art, "").await;
    invalid_deployments_refused(&env).await;
    let did = create_deployment(
        &env,
        json!({"name": "prod", "artifact_name": "rel-2", "devices": ["d1", "d2", "d3"]}),
    )
    .await;
    let d = get_json(&env, &format!("{DEP}/{did}")).await;
    assert_eq!(d["status"], "pending");
    assert_eq!(d["device_count"], 3);
    assert_eq!(d["artifacts"], json!([aid]));
    next_is_routed_and_checked(&env).await;
    first_device_installs(&env, &did, &aid, &art).await;
    other_devices_finish(&env, &did).await;
    finished_deployment_listed(&env, &did, &aid).await;
    // artifacts of finished deployments can be deleted
    let r = env.mgmt.delete(&format!("{ART}/{aid}")).send().await;
    status_is(&r, 204, "delete after the deployment");
}

async fn invalid_deployments_refused(env: &Env) {
    for (body, want) in [
        (
            json!({"name": "d", "artifact_name": "missing", "devices": ["d1"]}),
            422,
        ),
        (json!({"name": "d", "artifact_name": "rel-2"}), 400),
        (
            json!({"name": "d", "artifact_name": "rel-2", "devices": ["d1"], "all_devices": true}),
            400,
        ),
    ] {
        let r = env.mgmt.post(DEP).json(&body).send().await;
        status_is(&r, want, &body.to_string());
    }
}

async fn next_is_routed_and_checked(env: &Env) {
    // v2 next is not routed: the client falls back to v1
    let r = env
        .device("d1")
        .post("/api/devices/v2/deployments/device/deployments/next")
        .json(&json!({"device_provides": {}}))
        .send()
        .await;
    status_is(&r, 404, "v2 next");
    // unknown device: nothing
    let r = env
        .device("zz")
        .get(&format!("{NEXT}?artifact_name=old&device_type=dt"))
        .send()
        .await;
    status_is(&r, 204, "unknown device");
    // missing parameters
    let r = env
        .device("d1")
        .get(&format!("{NEXT}?device_type=dt"))
        .send()
        .await;
    status_is(&r, 400, "no artifact_name");
}

async fn first_device_installs(env: &Env, did: &str, aid: &str, art: &[u8]) {
    // d1: v1 POST with the flat provides map, gets the update
    let d1 = env.device("d1");
    let r = d1.post(NEXT).json(&BODY_D1()).send().await;
    status_is(&r, 200, "next");
    let ins = r.json();
    assert_eq!(ins["id"], did);
    assert_eq!(ins["artifact"]["id"], aid);
    assert_eq!(ins["artifact"]["artifact_name"], "rel-2");
    assert_eq!(ins["artifact"]["device_types_compatible"], json!(["dt"]));
    let pq = path_and_query(ins["artifact"]["source"]["uri"].as_str().unwrap());
    let r = env.open.get(&pq).send().await;
    status_is(&r, 200, "download");
    assert_eq!(r.body, art);
    // the same request again continues the same deployment
    let r = d1.post(NEXT).json(&BODY_D1()).send().await;
    status_is(&r, 200, "next again");

    let url = status_url(did);
    for (who, status, want) in [
        ("d1", "downloading", 204),
        ("d1", "downloading", 204),
        ("d1", "bogus", 400),
        ("d1", "aborted", 400),
        ("d9", "installing", 404),
    ] {
        let r = call(
            &env.device(who),
            Method::PUT,
            &url,
            Some(json!({ "status": status })),
        )
        .await;
        status_is(&r, want, &format!("{who} {status}"));
    }
    let d = get_json(env, &format!("{DEP}/{did}")).await;
    assert_eq!(d["status"], "inprogress");
    for status in ["installing", "success"] {
        let r = call(&d1, Method::PUT, &url, Some(json!({ "status": status }))).await;
        status_is(&r, 204, status);
    }
    // after success: no more update for d1
    let r = d1.post(NEXT).json(&BODY_D1()).send().await;
    status_is(&r, 204, "next after success");
}

async fn other_devices_finish(env: &Env, did: &str) {
    // d2 already runs rel-2 → already-installed, 204
    let r = env
        .device("d2")
        .get(&format!("{NEXT}?artifact_name=rel-2&device_type=dt"))
        .send()
        .await;
    status_is(&r, 204, "already installed");
    // d3 changes its data mid-deployment → 409 and failure
    let d3 = env.device("d3");
    let r = d3
        .get(&format!("{NEXT}?artifact_name=old&device_type=dt"))
        .send()
        .await;
    status_is(&r, 200, "d3 next");
    let r = d3
        .get(&format!("{NEXT}?artifact_name=other&device_type=dt"))
        .send()
        .await;
    status_is(&r, 409, "d3 changed its data");
    // d3 uploads a log
    let log = json!({"messages": [{"timestamp": "2026-01-01T00:00:00Z", "level": "error", "message": "boom"}]});
    let r = d3
        .put(&format!(
            "/api/devices/v1/deployments/device/deployments/{did}/log"
        ))
        .json(&log)
        .send()
        .await;
    status_is(&r, 204, "log upload");
    let r = env
        .mgmt
        .get(&format!("{DEP}/{did}/devices/d3/log"))
        .send()
        .await;
    status_is(&r, 200, "log");
    assert!(r.text().contains("error: boom"));
}

async fn finished_deployment_listed(env: &Env, did: &str, aid: &str) {
    let stats = get_json(env, &format!("{DEP}/{did}/statistics")).await;
    assert_eq!(stats["success"], 1);
    assert_eq!(stats["already-installed"], 1);
    assert_eq!(stats["failure"], 1);
    assert_eq!(stats["pending"], 0);
    let d = get_json(env, &format!("{DEP}/{did}")).await;
    assert_eq!(d["status"], "finished");
    assert!(d["finished"].is_string());

    let devs = get_json(env, &format!("{DEP}/{did}/devices")).await;
    assert_eq!(devs.as_array().unwrap().len(), 3);
    assert_eq!(devs[0]["id"], "d1");
    assert_eq!(devs[0]["status"], "success");
    assert_eq!(devs[0]["image"]["id"], aid);
    assert_eq!(devs[2]["log"], true);
    let r = env
        .mgmt
        .get(&format!(
            "{DEP}/{did}/devices/list?status=finished&per_page=2"
        ))
        .send()
        .await;
    assert_eq!(r.header("x-total-count"), Some("3"));
    assert_eq!(r.json().as_array().unwrap().len(), 2);
    let ids = get_json(env, &format!("{DEP}/{did}/device_list")).await;
    assert_eq!(ids, json!(["d1", "d2", "d3"]));
    let hist = get_json(env, &format!("{DEP}/devices/d1")).await;
    assert_eq!(hist[0]["deployment"]["id"], did);
    assert_eq!(hist[0]["device"]["status"], "success");
    let r = env
        .mgmt
        .post(&format!("{DEP}/statistics/list"))
        .json(&json!({"deployment_ids": [did]}))
        .send()
        .await;
    assert_eq!(r.json()[0]["stats"]["success"], 1);
    let r = env
        .mgmt
        .get("/api/management/v2/deployments/deployments?status=finished")
        .send()
        .await;
    assert_eq!(r.header("x-total-count"), Some("1"));
}

// ---- abort, decommission, history ----

async fn abort_and_decommission_rules(backend: Backend) {
    let tmp = tempfile::tempdir().unwrap();
    let art = make_artifact(tmp.path(), "rel-3", &["dt"]);
    let other = make_artifact(tmp.path(), "rel-x", &["other-type"]);
    let env = env(backend).await;
    let aid = upload(&env, &art, "").await;
    upload(&env, &other, "").await;
    group_deployment_aborted(&env, &aid).await;
    noartifact_and_decommission(&env).await;
    history_reset_makes_device_eligible(&env).await;
}

async fn group_deployment_aborted(env: &Env, aid: &str) {
    env.inventory.groups.lock().unwrap().extend([
        ("g".to_owned(), "a1".to_owned()),
        ("g".to_owned(), "a2".to_owned()),
    ]);
    let r = env
        .mgmt
        .post(&format!("{DEP}/group/g"))
        .json(&json!({"name": "grp", "artifact_name": "rel-3"}))
        .send()
        .await;
    status_is(&r, 201, "group deployment");
    let did = location_id(&r);
    let ids = get_json(env, &format!("{DEP}/{did}/device_list")).await;
    assert_eq!(ids, json!(["a1", "a2"]));
    let r = env
        .mgmt
        .post(&format!("{DEP}/group/empty"))
        .json(&json!({"name": "n", "artifact_name": "rel-3"}))
        .send()
        .await;
    status_is(&r, 400, "empty group");

    let r = env
        .device("a1")
        .get(&format!("{NEXT}?artifact_name=o&device_type=dt"))
        .send()
        .await;
    status_is(&r, 200, "a1 next");
    let url = status_url(&did);
    let r = call(
        &env.device("a1"),
        Method::PUT,
        &url,
        Some(json!({"status": "downloading"})),
    )
    .await;
    status_is(&r, 204, "a1 downloading");
    // artifact in use by an active deployment
    let r = env.mgmt.delete(&format!("{ART}/{aid}")).send().await;
    status_is(&r, 409, "artifact in use");
    let r = env
        .mgmt
        .delete("/api/management/v2/deployments/deployments/releases?name=rel-3")
        .send()
        .await;
    status_is(&r, 409, "release in use");
    assert_eq!(r.json()["active_deployments"], json!([did]));
    // abort → device gets 409
    let abort = |status: &'static str| {
        let mgmt = env.mgmt.clone();
        let url = format!("{DEP}/{did}/status");
        async move { call(&mgmt, Method::PUT, &url, Some(json!({ "status": status }))).await }
    };
    status_is(&abort("nope").await, 400, "abort with another status");
    status_is(&abort("aborted").await, 204, "abort");
    let r = call(
        &env.device("a1"),
        Method::PUT,
        &url,
        Some(json!({"status": "installing"})),
    )
    .await;
    status_is(&r, 409, "status after abort");
    status_is(&abort("aborted").await, 422, "abort again");
    // a2 never started: the finished deployment gives it nothing
    let r = env
        .device("a2")
        .get(&format!("{NEXT}?artifact_name=o&device_type=dt"))
        .send()
        .await;
    status_is(&r, 204, "a2 next");
    let stats = get_json(env, &format!("{DEP}/{did}/statistics")).await;
    assert_eq!(stats["aborted"], 1);
}

async fn noartifact_and_decommission(env: &Env) {
    let d2 = create_deployment(
        env,
        json!({"name": "n2", "artifact_name": "rel-3", "devices": ["b1", "b2"]}),
    )
    .await;
    let r = env
        .device("b1")
        .get(&format!("{NEXT}?artifact_name=o&device_type=zzz"))
        .send()
        .await;
    status_is(&r, 204, "incompatible device type");
    let r = env
        .device("b2")
        .get(&format!("{NEXT}?artifact_name=o&device_type=dt"))
        .send()
        .await;
    status_is(&r, 200, "b2 next");
    let r = env
        .internal
        .delete(&format!("{INTERNAL}/tenants//deployments/devices/b2"))
        .send()
        .await;
    status_is(&r, 204, "decommission");
    let r = call(
        &env.device("b2"),
        Method::PUT,
        &status_url(&d2),
        Some(json!({"status": "success"})),
    )
    .await;
    status_is(&r, 409, "status after decommission");
    let stats = get_json(env, &format!("{DEP}/{d2}/statistics")).await;
    assert_eq!(stats["noartifact"], 1);
    let d = get_json(env, &format!("{DEP}/{d2}")).await;
    assert_eq!(d["status"], "finished");
}

async fn history_reset_makes_device_eligible(env: &Env) {
    let d3 = create_deployment(
        env,
        json!({"name": "n3", "artifact_name": "rel-3", "devices": ["c1"]}),
    )
    .await;
    let r = env
        .device("c1")
        .get(&format!("{NEXT}?artifact_name=o&device_type=dt"))
        .send()
        .await;
    status_is(&r, 200, "c1 next");
    let r = env.mgmt.delete(&format!("{DEP}/devices/c1")).send().await;
    status_is(&r, 204, "abort the device's deployments");
    let stats = get_json(env, &format!("{DEP}/{d3}/statistics")).await;
    assert_eq!(stats["aborted"], 1);
    let r = env
        .mgmt
        .delete(&format!("{DEP}/devices/c1/history"))
        .send()
        .await;
    status_is(&r, 204, "reset history");
    let hist = get_json(env, &format!("{DEP}/devices/c1")).await;
    assert!(hist.as_array().unwrap().is_empty());
}

// ---- releases ----

async fn releases_tags_and_types(backend: Backend) {
    let tmp = tempfile::tempdir().unwrap();
    let a = make_artifact(tmp.path(), "relA", &["dt1"]);
    let b = make_artifact(tmp.path(), "relA", &["dt2"]);
    let c = make_artifact(tmp.path(), "relB", &["dt1"]);
    let env = env(backend).await;
    for art in [&a, &b, &c] {
        upload(&env, art, "").await;
    }
    let r = env
        .mgmt
        .get("/api/management/v2/deployments/deployments/releases")
        .send()
        .await;
    assert_eq!(r.header("x-total-count"), Some("2"));
    let rel = r.json();
    assert_eq!(rel[0]["name"], "relA");
    assert_eq!(rel[0]["artifacts"].as_array().unwrap().len(), 2);
    let v1 = get_json(
        &env,
        "/api/management/v1/deployments/deployments/releases?name=relB",
    )
    .await;
    assert_eq!(v1[0]["Name"], "relB");

    let url = "/api/management/v2/deployments/deployments/releases/relA";
    for (method, uri, body, want) in [
        (
            Method::PUT,
            format!("{url}/tags"),
            json!(["Beta", "x1"]),
            204,
        ),
        (Method::PUT, format!("{url}/tags"), json!(["bad tag"]), 400),
        (Method::PATCH, url.to_owned(), json!({"notes": "n"}), 204),
        (
            Method::PATCH,
            url.to_owned(),
            json!({"notes": "x".repeat(1025)}),
            400,
        ),
    ] {
        let r = call(&env.mgmt, method, &uri, Some(body.clone())).await;
        status_is(&r, want, &body.to_string());
    }
    let r = get_json(&env, url).await;
    assert_eq!(r["tags"], json!(["beta", "x1"]));
    assert_eq!(r["notes"], "n");
    let r = env
        .mgmt
        .get("/api/management/v2/deployments/deployments/releases/none")
        .send()
        .await;
    status_is(&r, 404, "unknown release");
    let tags = get_json(&env, "/api/management/v2/deployments/releases/all/tags").await;
    assert_eq!(tags, json!(["beta", "x1"]));
    let types = get_json(&env, "/api/management/v2/deployments/releases/all/types").await;
    assert_eq!(types, json!(["single-file"]));
    let filtered = get_json(
        &env,
        "/api/management/v2/deployments/deployments/releases?tag=beta",
    )
    .await;
    assert_eq!(filtered.as_array().unwrap().len(), 1);
    let r = env
        .mgmt
        .delete("/api/management/v2/deployments/deployments/releases?name=relA")
        .send()
        .await;
    status_is(&r, 204, "delete release");
    let list = get_json(&env, ART).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(blob_files(&env.blob_dir).len(), 1);
}

// ---- generated artifacts ----

async fn generate_artifact_in_process(backend: Backend) {
    let env = env(backend).await;
    let boundary = "gB";
    let mut body = String::new();
    for (k, v) in [
        ("name", "gen-1"),
        ("description", "generated"),
        ("device_types_compatible", "dt"),
        ("type", "single_file"),
        ("args", r#"{"dest_dir":"/opt"}"#),
    ] {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"conf.txt\"\r\n\r\n{}\r\n--{boundary}--\r\n", "x".repeat(5000)));
    let r = env
        .mgmt
        .post(&format!("{ART}/generate"))
        .header(
            "content-type",
            &format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await;
    status_is(&r, 201, "generate");
    let (name, inputs) = env.workflows.0.lock().unwrap()[0].clone();
    assert_eq!(name, "generate_artifact");
    let id = env.svc.run_generate_job(inputs).await.unwrap();
    let a = get_json(&env, &format!("{ART}/{id}")).await;
    assert_eq!(a["name"], "gen-1");
    assert_eq!(a["description"], "generated");
    assert_eq!(a["updates"][0]["type_info"]["type"], "single-file");
    // only the artifact is left, the raw file is gone
    assert_eq!(blob_files(&env.blob_dir).len(), 1);
}
