//! HTTP behaviour of deployments: artifact upload/list/download with real artifacts, hostile
//! uploads, the device update flow, status rules, releases and generated artifacts.

use axum::http::StatusCode;
use mender_core::Clock;
use mender_db::testing::Backend;
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

/// A listing as the user: its `X-Total-Count` and its items.
async fn page(env: &Env, uri: &str) -> (String, Value) {
    let r = get_ok(env, uri).await;
    let total = r.header("x-total-count").expect("X-Total-Count");
    (total.to_owned(), r.json())
}

// ---- artifacts ----

async fn artifact_upload_list_download(backend: Backend) {
    let art = make_artifact("app-1.0", &["qemux86-64", "rpi4"]);
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
    let edit = json!({"description": "edited"});
    expect(
        env.mgmt.put(&format!("{ART}/{id}")).json(&edit),
        StatusCode::NO_CONTENT,
        "edit",
    )
    .await;
    let a = get_json(env, &format!("{ART}/{id}")).await;
    assert_eq!(a["description"], "edited");
    for (query, want) in [("name=app*", 1), ("name=app", 0)] {
        let v2 = get_json(env, &format!("{V2}/artifacts?{query}")).await;
        assert_eq!(v2.as_array().unwrap().len(), want, "{query}");
    }
    expect(
        env.mgmt.get(&format!("{ART}/nope")),
        StatusCode::NOT_FOUND,
        "unknown artifact",
    )
    .await;
}

async fn duplicate_name_and_types_refused(env: &Env, art: &[u8]) {
    expect(
        post_upload(&env.mgmt, ART, &[], art),
        StatusCode::CONFLICT,
        "duplicate",
    )
    .await;
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
    let r = expect(env.open.get(&pq), StatusCode::OK, "download").await;
    assert_eq!(
        r.header("content-type"),
        Some("application/vnd.mender-artifact")
    );
    assert_eq!(
        r.header("content-length"),
        Some(art.len().to_string().as_str())
    );
    assert_eq!(r.body, art, "download must be byte-identical");

    let r = expect(
        env.open.get(&pq).header("range", "bytes=100-"),
        StatusCode::PARTIAL_CONTENT,
        "range",
    )
    .await;
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes 100-{}/{}", art.len() - 1, art.len()).as_str())
    );
    assert_eq!(r.body, &art[100..]);
    let past_the_end = format!("bytes={}-", art.len());
    let r = env.open.get(&pq).header("range", &past_the_end);
    expect(r, StatusCode::RANGE_NOT_SATISFIABLE, "range past the end").await;

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
            StatusCode::FORBIDDEN,
        ),
        (
            "other artifact",
            pq.replace(id, &uuid::Uuid::new_v4().to_string()),
            StatusCode::FORBIDDEN,
        ),
        ("no signature", bare.clone(), StatusCode::BAD_REQUEST),
        (
            "expired",
            format!("{bare}?{expired}"),
            StatusCode::FORBIDDEN,
        ),
    ] {
        expect(env.open.get(&uri), want, what).await;
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
    let uri = format!("{ART}/{id}");
    expect(env.mgmt.delete(&uri), StatusCode::NO_CONTENT, "delete").await;
    expect(env.mgmt.delete(&uri), StatusCode::NOT_FOUND, "delete again").await;
    assert!(blob_files(&env.blob_dir).is_empty());
}

async fn hostile_uploads_store_nothing(backend: Backend) {
    let art = make_artifact("hostile", &["dt"]);
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
        let r = post_upload(&env.mgmt, ART, &[("description", "x")], body);
        let e = r.send().await.assert_error(StatusCode::BAD_REQUEST);
        assert!(e.contains("artifact"), "{what}: {e}");
    }
    let too_large = [("size", "99999999999999")];
    let r = post_upload(&env.mgmt, ART, &too_large, &art);
    expect(
        r,
        StatusCode::PAYLOAD_TOO_LARGE,
        "declared size over the limit",
    )
    .await;
    let r = post_upload(&env.mgmt, ART, &[("description", "only text")], b"");
    expect(r, StatusCode::BAD_REQUEST, "empty artifact part").await;
    let r = env
        .mgmt
        .post(ART)
        .header("content-type", "multipart/form-data; boundary=b")
        .body("--b\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\nx\r\n--b--\r\n");
    expect(r, StatusCode::BAD_REQUEST, "no artifact part").await;
    expect(
        env.mgmt.post(ART).json(&json!({})),
        StatusCode::BAD_REQUEST,
        "not multipart",
    )
    .await;
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
    let r = post_upload(&small.mgmt, ART, &[], &art);
    expect(
        r,
        StatusCode::PAYLOAD_TOO_LARGE,
        "over the configured limit",
    )
    .await;
    assert!(blob_files(&small.blob_dir).is_empty());
}

// ---- the device update flow ----

const BODY_D1: fn() -> Value = || json!({"artifact_name": "old", "device_type": "dt", "rootfs-image.single-file.version": "old"});

async fn device_update_flow(backend: Backend) {
    let art = make_artifact("rel-2", &["dt"]);
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
    // Upstream counts devices as they join: none right after creation.
    assert_eq!(d["device_count"], 0);
    assert_eq!(d["max_devices"], 3);
    assert_eq!(d["artifacts"], json!([aid]));
    next_is_routed_and_checked(&env).await;
    first_device_installs(&env, &did, &aid, &art).await;
    other_devices_finish(&env, &did).await;
    finished_deployment_listed(&env, &did, &aid).await;
    // artifacts of finished deployments can be deleted
    let r = env.mgmt.delete(&format!("{ART}/{aid}"));
    expect(r, StatusCode::NO_CONTENT, "delete after the deployment").await;
}

async fn invalid_deployments_refused(env: &Env) {
    for (body, want) in [
        (
            json!({"name": "d", "artifact_name": "missing", "devices": ["d1"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"name": "d", "artifact_name": "rel-2"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"name": "d", "artifact_name": "rel-2", "devices": ["d1"], "all_devices": true}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        expect(env.mgmt.post(DEP).json(&body), want, &body.to_string()).await;
    }
}

/// Asserts the status of each `(device, next query, status)` in turn.
async fn next_answers(env: &Env, cases: &[(&str, &str, u16)]) {
    for (device, query, want) in cases {
        let r = env.next(device, query).await;
        assert_eq!(r.status, *want, "{device} next?{query}: {}", r.text());
    }
}

async fn next_is_routed_and_checked(env: &Env) {
    // v2 next is not routed: the client falls back to v1
    let r = env
        .device("d1")
        .post("/api/devices/v2/deployments/device/deployments/next")
        .json(&json!({"device_provides": {}}));
    expect(r, StatusCode::NOT_FOUND, "v2 next").await;
    // an unknown device gets nothing; missing parameters are refused
    next_answers(
        env,
        &[
            ("zz", "artifact_name=old&device_type=dt", 204),
            ("d1", "device_type=dt", 400),
        ],
    )
    .await;
}

/// Asserts the answer to each `(device, status, answer)` report in turn.
async fn reports_answered(env: &Env, did: &str, cases: &[(&str, &str, u16)]) {
    for (device, status, want) in cases {
        let r = env.report(device, did, status).await;
        assert_eq!(r.status, *want, "{device} {status}: {}", r.text());
    }
}

async fn first_device_installs(env: &Env, did: &str, aid: &str, art: &[u8]) {
    // d1: v1 POST with the flat provides map, gets the update
    let d1 = env.device("d1");
    let ins = expect(d1.post(NEXT).json(&BODY_D1()), StatusCode::OK, "next")
        .await
        .json();
    assert_eq!(ins["id"], did);
    assert_eq!(ins["artifact"]["id"], aid);
    assert_eq!(ins["artifact"]["artifact_name"], "rel-2");
    assert_eq!(ins["artifact"]["device_types_compatible"], json!(["dt"]));
    let pq = path_and_query(ins["artifact"]["source"]["uri"].as_str().unwrap());
    let r = expect(env.open.get(&pq), StatusCode::OK, "download").await;
    assert_eq!(r.body, art);
    // the same request again continues the same deployment
    expect(d1.post(NEXT).json(&BODY_D1()), StatusCode::OK, "next again").await;

    reports_answered(
        env,
        did,
        &[
            ("d1", "downloading", 204),
            ("d1", "downloading", 204),
            ("d1", "bogus", 400),
            ("d1", "aborted", 400),
            ("d9", "installing", 404),
        ],
    )
    .await;
    let d = get_json(env, &format!("{DEP}/{did}")).await;
    assert_eq!(d["status"], "inprogress");
    reports_answered(
        env,
        did,
        &[("d1", "installing", 204), ("d1", "success", 204)],
    )
    .await;
    // after success: no more update for d1
    expect(
        d1.post(NEXT).json(&BODY_D1()),
        StatusCode::NO_CONTENT,
        "next after success",
    )
    .await;
}

async fn other_devices_finish(env: &Env, did: &str) {
    // d2 already runs rel-2 → already-installed, 204; d3 changes its data mid-deployment →
    // 409 and failure
    next_answers(
        env,
        &[
            ("d2", "artifact_name=rel-2&device_type=dt", 204),
            ("d3", "artifact_name=old&device_type=dt", 200),
            ("d3", "artifact_name=other&device_type=dt", 409),
        ],
    )
    .await;
    // d3 uploads a log
    let log = json!({"messages": [{"timestamp": "2026-01-01T00:00:00Z", "level": "error", "message": "boom"}]});
    let r = env
        .device("d3")
        .put(&format!("{DEVICE_DEPLOYMENTS}/{did}/log"))
        .json(&log);
    expect(r, StatusCode::NO_CONTENT, "log upload").await;
    let r = env.mgmt.get(&format!("{DEP}/{did}/devices/d3/log"));
    assert!(
        expect(r, StatusCode::OK, "log")
            .await
            .text()
            .contains("error: boom")
    );
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
    let (total, list) = page(
        env,
        &format!("{DEP}/{did}/devices/list?status=finished&per_page=2"),
    )
    .await;
    assert_eq!((total.as_str(), list.as_array().unwrap().len()), ("3", 2));
    let ids = get_json(env, &format!("{DEP}/{did}/device_list")).await;
    assert_eq!(ids, json!(["d1", "d2", "d3"]));
    let hist = get_json(env, &format!("{DEP}/devices/d1")).await;
    assert_eq!(hist[0]["deployment"]["id"], did);
    assert_eq!(hist[0]["device"]["status"], "success");
    let ids = json!({"deployment_ids": [did]});
    let r = env.mgmt.post(&format!("{DEP}/statistics/list")).json(&ids);
    assert_eq!(r.send().await.json()[0]["stats"]["success"], 1);
    let (total, _) = page(env, &format!("{V2}/deployments?status=finished")).await;
    assert_eq!(total, "1");
}

// ---- abort, decommission, history ----

async fn abort_and_decommission_rules(backend: Backend) {
    let art = make_artifact("rel-3", &["dt"]);
    let other = make_artifact("rel-x", &["other-type"]);
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
    let body = json!({"name": "grp", "artifact_name": "rel-3"});
    let r = env.mgmt.post(&format!("{DEP}/group/g")).json(&body);
    let did = location_id(&expect(r, StatusCode::CREATED, "group deployment").await);
    let ids = get_json(env, &format!("{DEP}/{did}/device_list")).await;
    assert_eq!(ids, json!(["a1", "a2"]));
    let body = json!({"name": "n", "artifact_name": "rel-3"});
    let r = env.mgmt.post(&format!("{DEP}/group/empty")).json(&body);
    expect(r, StatusCode::BAD_REQUEST, "empty group").await;

    next_answers(env, &[("a1", "artifact_name=o&device_type=dt", 200)]).await;
    reports_answered(env, &did, &[("a1", "downloading", 204)]).await;
    // artifact in use by an active deployment
    expect(
        env.mgmt.delete(&format!("{ART}/{aid}")),
        StatusCode::CONFLICT,
        "artifact in use",
    )
    .await;
    let r = env
        .mgmt
        .delete(&format!("{V2}/deployments/releases?name=rel-3"));
    let r = expect(r, StatusCode::CONFLICT, "release in use").await;
    assert_eq!(r.json()["active_deployments"], json!([did]));
    // abort → device gets 409
    let abort = |status: &str| {
        let body = json!({ "status": status });
        env.mgmt.put(&format!("{DEP}/{did}/status")).json(&body)
    };
    expect(
        abort("nope"),
        StatusCode::BAD_REQUEST,
        "abort with another status",
    )
    .await;
    expect(abort("aborted"), StatusCode::NO_CONTENT, "abort").await;
    reports_answered(env, &did, &[("a1", "installing", 409)]).await;
    expect(
        abort("aborted"),
        StatusCode::UNPROCESSABLE_ENTITY,
        "abort again",
    )
    .await;
    // a2 never started: the finished deployment gives it nothing
    next_answers(env, &[("a2", "artifact_name=o&device_type=dt", 204)]).await;
    let stats = get_json(env, &format!("{DEP}/{did}/statistics")).await;
    assert_eq!(stats["aborted"], 1);
}

async fn noartifact_and_decommission(env: &Env) {
    let d2 = create_deployment(
        env,
        json!({"name": "n2", "artifact_name": "rel-3", "devices": ["b1", "b2"]}),
    )
    .await;
    // b1's device type is incompatible
    next_answers(
        env,
        &[
            ("b1", "artifact_name=o&device_type=zzz", 204),
            ("b2", "artifact_name=o&device_type=dt", 200),
        ],
    )
    .await;
    let r = env
        .internal
        .delete(&format!("{INTERNAL}/tenants//deployments/devices/b2"));
    expect(r, StatusCode::NO_CONTENT, "decommission").await;
    reports_answered(env, &d2, &[("b2", "success", 409)]).await;
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
    next_answers(env, &[("c1", "artifact_name=o&device_type=dt", 200)]).await;
    let r = env.mgmt.delete(&format!("{DEP}/devices/c1"));
    expect(r, StatusCode::NO_CONTENT, "abort the device's deployments").await;
    let stats = get_json(env, &format!("{DEP}/{d3}/statistics")).await;
    assert_eq!(stats["aborted"], 1);
    let r = env.mgmt.delete(&format!("{DEP}/devices/c1/history"));
    expect(r, StatusCode::NO_CONTENT, "reset history").await;
    let hist = get_json(env, &format!("{DEP}/devices/c1")).await;
    assert!(hist.as_array().unwrap().is_empty());
}

// ---- releases ----

async fn releases_tags_and_types(backend: Backend) {
    let env = env(backend).await;
    for (name, device_type) in [("relA", "dt1"), ("relA", "dt2"), ("relB", "dt1")] {
        upload(&env, &make_artifact(name, &[device_type]), "").await;
    }
    let (total, rel) = page(&env, &format!("{V2}/deployments/releases")).await;
    assert_eq!(total, "2");
    assert_eq!(rel[0]["name"], "relA");
    assert_eq!(rel[0]["artifacts"].as_array().unwrap().len(), 2);
    let v1 = get_json(&env, &format!("{DEP}/releases?name=relB")).await;
    assert_eq!(v1[0]["Name"], "relB");

    let url = format!("{V2}/deployments/releases/relA");
    let tags = format!("{url}/tags");
    for (req, body, want) in [
        (
            env.mgmt.put(&tags),
            json!(["Beta", "x1"]),
            StatusCode::NO_CONTENT,
        ),
        (
            env.mgmt.put(&tags),
            json!(["bad tag"]),
            StatusCode::BAD_REQUEST,
        ),
        (
            env.mgmt.patch(&url),
            json!({"notes": "n"}),
            StatusCode::NO_CONTENT,
        ),
        (
            env.mgmt.patch(&url),
            json!({"notes": "x".repeat(1025)}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        expect(req.json(&body), want, &body.to_string()).await;
    }
    let r = get_json(&env, &url).await;
    assert_eq!(r["tags"], json!(["beta", "x1"]));
    assert_eq!(r["notes"], "n");
    let r = env.mgmt.get(&format!("{V2}/deployments/releases/none"));
    expect(r, StatusCode::NOT_FOUND, "unknown release").await;
    let tags = get_json(&env, &format!("{V2}/releases/all/tags")).await;
    assert_eq!(tags, json!(["beta", "x1"]));
    let types = get_json(&env, &format!("{V2}/releases/all/types")).await;
    assert_eq!(types, json!(["single-file"]));
    let filtered = get_json(&env, &format!("{V2}/deployments/releases?tag=beta")).await;
    assert_eq!(filtered.as_array().unwrap().len(), 1);
    let r = env
        .mgmt
        .delete(&format!("{V2}/deployments/releases?name=relA"));
    expect(r, StatusCode::NO_CONTENT, "delete release").await;
    let list = get_json(&env, ART).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(blob_files(&env.blob_dir).len(), 1);
}

// ---- generated artifacts ----

async fn generate_artifact_in_process(backend: Backend) {
    let env = env(backend).await;
    let fields = [
        ("name", "gen-1"),
        ("description", "generated"),
        ("device_types_compatible", "dt"),
        ("type", "single_file"),
        ("args", r#"{"dest_dir":"/opt"}"#),
    ];
    let r = post_generate(&env.mgmt, &fields, &[b'x'; 5000]);
    expect(r, StatusCode::CREATED, "generate").await;
    let (name, inputs) = env.workflows.calls()[0].clone();
    assert_eq!(name, "generate_artifact");
    let id = env.svc.run_generate_job(inputs).await.unwrap();
    let a = get_json(&env, &format!("{ART}/{id}")).await;
    assert_eq!(a["name"], "gen-1");
    assert_eq!(a["description"], "generated");
    assert_eq!(a["updates"][0]["type_info"]["type"], "single-file");
    // only the artifact is left, the raw file is gone
    assert_eq!(blob_files(&env.blob_dir).len(), 1);
}
