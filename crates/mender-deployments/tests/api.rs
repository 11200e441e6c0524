//! HTTP behaviour of deployments on both backends: artifact upload/list/download with real
//! artifacts, hostile uploads, the device update flow, status rules and signed links.

mod common;

use axum::body::Body;
use axum::http::{Request, header};
use common::*;
use serde_json::json;

const ART: &str = "/api/management/v1/deployments/artifacts";
const DEP: &str = "/api/management/v1/deployments/deployments";
const NEXT: &str = "/api/devices/v1/deployments/device/deployments/next";

fn path_and_query(uri: &str) -> String {
    let rest = uri.split_once("://").unwrap().1;
    rest[rest.find('/').unwrap()..].to_owned()
}

#[tokio::test]
async fn artifact_upload_list_download() {
    let tmp = tempfile::tempdir().unwrap();
    let art = make_artifact(tmp.path(), "app-1.0", &["qemux86-64", "rpi4"]);
    for env in envs().await {
        let id = upload(&env, &art, "first build").await;
        let list = json(call(&env.mgmt, Some(user()), "GET", ART, None).await).await;
        let a = &list[0];
        assert_eq!(a["id"], id.as_str(), "{}", env.backend);
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

        // show, edit, v2 list with prefix filter
        let r = call(
            &env.mgmt,
            Some(user()),
            "PUT",
            &format!("{ART}/{id}"),
            Some(json!({"description": "edited"})),
        )
        .await;
        assert_eq!(r.status(), 204);
        let a =
            json(call(&env.mgmt, Some(user()), "GET", &format!("{ART}/{id}"), None).await).await;
        assert_eq!(a["description"], "edited");
        let v2 = json(
            call(
                &env.mgmt,
                Some(user()),
                "GET",
                "/api/management/v2/deployments/artifacts?name=app*",
                None,
            )
            .await,
        )
        .await;
        assert_eq!(v2.as_array().unwrap().len(), 1);
        let v2 = json(
            call(
                &env.mgmt,
                Some(user()),
                "GET",
                "/api/management/v2/deployments/artifacts?name=app",
                None,
            )
            .await,
        )
        .await;
        assert!(v2.as_array().unwrap().is_empty());
        assert_eq!(
            call(&env.mgmt, Some(user()), "GET", &format!("{ART}/nope"), None)
                .await
                .status(),
            404
        );

        // duplicate name and device types → 409
        let r = send(&env.mgmt, upload_request(ART, &[], &art)).await;
        assert_eq!(r.status(), 409, "{}", env.backend);
        assert_eq!(
            json(call(&env.mgmt, Some(user()), "GET", ART, None).await)
                .await
                .as_array()
                .unwrap()
                .len(),
            1
        );

        // download link: full body, Range resume, tamper and expiry
        let link = json(
            call(
                &env.mgmt,
                Some(user()),
                "GET",
                &format!("{ART}/{id}/download"),
                None,
            )
            .await,
        )
        .await;
        let uri = link["uri"].as_str().unwrap();
        assert!(
            uri.starts_with("http://mender.test/api/devices/v1/deployments/download/"),
            "{uri}"
        );
        let pq = path_and_query(uri);
        let r = call(&env.open, None, "GET", &pq, None).await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "application/vnd.mender-artifact"
        );
        assert_eq!(
            r.headers()[header::CONTENT_LENGTH],
            art.len().to_string().as_str()
        );
        assert_eq!(bytes(r).await, art, "download must be byte-identical");
        let req = Request::builder()
            .uri(&pq)
            .header(header::RANGE, "bytes=100-")
            .body(Body::empty())
            .unwrap();
        let r = send(&env.open, req).await;
        assert_eq!(r.status(), 206);
        assert_eq!(
            r.headers()[header::CONTENT_RANGE],
            format!("bytes 100-{}/{}", art.len() - 1, art.len()).as_str()
        );
        assert_eq!(bytes(r).await, &art[100..]);
        let req = Request::builder()
            .uri(&pq)
            .header(header::RANGE, format!("bytes={}-", art.len()))
            .body(Body::empty())
            .unwrap();
        assert_eq!(send(&env.open, req).await.status(), 416);
        let tampered = pq.replace("x-men-signature=", "x-men-signature=A");
        assert_eq!(
            call(&env.open, None, "GET", &tampered, None).await.status(),
            403
        );
        let other = pq.replace(&id, &uuid::Uuid::new_v4().to_string());
        assert_eq!(
            call(&env.open, None, "GET", &other, None).await.status(),
            403
        );
        let bare = pq.split('?').next().unwrap().to_owned();
        assert_eq!(
            call(&env.open, None, "GET", &bare, None).await.status(),
            400
        );
        let expired = env.svc.app().sign_path(
            &bare,
            time::OffsetDateTime::now_utc() - time::Duration::minutes(1),
            "",
        );
        assert_eq!(
            call(&env.open, None, "GET", &format!("{bare}?{expired}"), None)
                .await
                .status(),
            403
        );

        // delete
        assert_eq!(
            call(
                &env.mgmt,
                Some(user()),
                "DELETE",
                &format!("{ART}/{id}"),
                None
            )
            .await
            .status(),
            204
        );
        assert_eq!(
            call(
                &env.mgmt,
                Some(user()),
                "DELETE",
                &format!("{ART}/{id}"),
                None
            )
            .await
            .status(),
            404
        );
        assert!(blob_files(&env.blob_dir).is_empty());
    }
}

#[tokio::test]
async fn hostile_uploads_store_nothing() {
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
    for env in envs().await {
        for (what, body) in &cases {
            let r = send(
                &env.mgmt,
                upload_request(ART, &[("description", "x")], body),
            )
            .await;
            assert_eq!(r.status(), 400, "{} {what}", env.backend);
            let e = json(r).await;
            assert!(
                e["error"].as_str().unwrap().contains("artifact"),
                "{what}: {e}"
            );
        }
        let r = send(
            &env.mgmt,
            upload_request(ART, &[("size", "99999999999999")], &art),
        )
        .await;
        assert_eq!(r.status(), 413);
        let r = send(
            &env.mgmt,
            upload_request(ART, &[("description", "only text")], b""),
        )
        .await;
        assert_eq!(r.status(), 400);
        let mut no_artifact = Request::builder()
            .method("POST")
            .uri(ART)
            .header(header::CONTENT_TYPE, "multipart/form-data; boundary=b")
            .body(Body::from(
                "--b\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\nx\r\n--b--\r\n",
            ))
            .unwrap();
        no_artifact.extensions_mut().insert(user());
        assert_eq!(send(&env.mgmt, no_artifact).await.status(), 400);
        let r = call(&env.mgmt, Some(user()), "POST", ART, Some(json!({}))).await;
        assert_eq!(r.status(), 400);
        assert!(
            blob_files(&env.blob_dir).is_empty(),
            "{}: {:?}",
            env.backend,
            blob_files(&env.blob_dir)
        );
        assert!(
            json(call(&env.mgmt, Some(user()), "GET", ART, None).await)
                .await
                .as_array()
                .unwrap()
                .is_empty()
        );
    }
    // oversize by the configured limit
    let cfg = mender_deployments::DeploymentsConfig {
        max_image_size: 4096,
        ..Default::default()
    };
    for env in envs_with(cfg).await {
        let r = send(&env.mgmt, upload_request(ART, &[], &art)).await;
        assert_eq!(r.status(), 413, "{}", env.backend);
        assert!(blob_files(&env.blob_dir).is_empty());
    }
}

async fn create_ok(env: &Env, body: serde_json::Value) -> String {
    let r = call(&env.mgmt, Some(user()), "POST", DEP, Some(body)).await;
    let status = r.status();
    let loc = r
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(
        status,
        201,
        "{}: {}",
        env.backend,
        String::from_utf8_lossy(&bytes(r).await)
    );
    let loc = loc.unwrap();
    assert!(loc.starts_with("/api/management/v1/deployments/deployments/"));
    loc.rsplit('/').next().unwrap().to_owned()
}

#[tokio::test]
async fn device_update_flow() {
    let tmp = tempfile::tempdir().unwrap();
    let art = make_artifact(tmp.path(), "rel-2", &["dt"]);
    for env in envs().await {
        let aid = upload(&env, &art, "").await;
        // validation
        let r = call(
            &env.mgmt,
            Some(user()),
            "POST",
            DEP,
            Some(json!({"name": "d", "artifact_name": "missing", "devices": ["d1"]})),
        )
        .await;
        assert_eq!(r.status(), 422);
        let r = call(
            &env.mgmt,
            Some(user()),
            "POST",
            DEP,
            Some(json!({"name": "d", "artifact_name": "rel-2"})),
        )
        .await;
        assert_eq!(r.status(), 400);
        let r = call(&env.mgmt, Some(user()), "POST", DEP, Some(json!({"name": "d", "artifact_name": "rel-2", "devices": ["d1"], "all_devices": true}))).await;
        assert_eq!(r.status(), 400);

        let did = create_ok(
            &env,
            json!({"name": "prod", "artifact_name": "rel-2", "devices": ["d1", "d2", "d3"]}),
        )
        .await;
        let d = json(
            call(
                &env.mgmt,
                Some(user()),
                "GET",
                &format!("{DEP}/{did}"),
                None,
            )
            .await,
        )
        .await;
        assert_eq!(d["status"], "pending");
        assert_eq!(d["device_count"], 3);
        assert_eq!(d["artifacts"], json!([aid]));

        // v2 next is not routed: the client falls back to v1
        let r = call(
            &env.devices,
            Some(dev("d1")),
            "POST",
            "/api/devices/v2/deployments/device/deployments/next",
            Some(json!({"device_provides": {}})),
        )
        .await;
        assert_eq!(r.status(), 404);
        // unknown device: nothing
        let r = call(
            &env.devices,
            Some(dev("zz")),
            "GET",
            &format!("{NEXT}?artifact_name=old&device_type=dt"),
            None,
        )
        .await;
        assert_eq!(r.status(), 204);
        // missing parameters
        let r = call(
            &env.devices,
            Some(dev("d1")),
            "GET",
            &format!("{NEXT}?device_type=dt"),
            None,
        )
        .await;
        assert_eq!(r.status(), 400);

        // d1: v1 POST with the flat provides map, gets the update
        let body = json!({"artifact_name": "old", "device_type": "dt", "rootfs-image.single-file.version": "old"});
        let r = call(
            &env.devices,
            Some(dev("d1")),
            "POST",
            NEXT,
            Some(body.clone()),
        )
        .await;
        assert_eq!(r.status(), 200, "{}", env.backend);
        let ins = json(r).await;
        assert_eq!(ins["id"], did.as_str());
        assert_eq!(ins["artifact"]["id"], aid.as_str());
        assert_eq!(ins["artifact"]["artifact_name"], "rel-2");
        assert_eq!(ins["artifact"]["device_types_compatible"], json!(["dt"]));
        let pq = path_and_query(ins["artifact"]["source"]["uri"].as_str().unwrap());
        let r = call(&env.open, None, "GET", &pq, None).await;
        assert_eq!(r.status(), 200);
        assert_eq!(bytes(r).await, art);
        // the same request again continues the same deployment
        assert_eq!(
            call(
                &env.devices,
                Some(dev("d1")),
                "POST",
                NEXT,
                Some(body.clone())
            )
            .await
            .status(),
            200
        );

        let st = |s: &str| json!({"status": s});
        let url = format!("/api/devices/v1/deployments/device/deployments/{did}/status");
        assert_eq!(
            call(
                &env.devices,
                Some(dev("d1")),
                "PUT",
                &url,
                Some(st("downloading"))
            )
            .await
            .status(),
            204
        );
        assert_eq!(
            call(
                &env.devices,
                Some(dev("d1")),
                "PUT",
                &url,
                Some(st("downloading"))
            )
            .await
            .status(),
            204
        );
        assert_eq!(
            call(
                &env.devices,
                Some(dev("d1")),
                "PUT",
                &url,
                Some(st("bogus"))
            )
            .await
            .status(),
            400
        );
        assert_eq!(
            call(
                &env.devices,
                Some(dev("d1")),
                "PUT",
                &url,
                Some(st("aborted"))
            )
            .await
            .status(),
            400
        );
        assert_eq!(
            call(
                &env.devices,
                Some(dev("d9")),
                "PUT",
                &url,
                Some(st("installing"))
            )
            .await
            .status(),
            404
        );
        let d = json(
            call(
                &env.mgmt,
                Some(user()),
                "GET",
                &format!("{DEP}/{did}"),
                None,
            )
            .await,
        )
        .await;
        assert_eq!(d["status"], "inprogress");
        assert_eq!(
            call(
                &env.devices,
                Some(dev("d1")),
                "PUT",
                &url,
                Some(st("installing"))
            )
            .await
            .status(),
            204
        );
        assert_eq!(
            call(
                &env.devices,
                Some(dev("d1")),
                "PUT",
                &url,
                Some(st("success"))
            )
            .await
            .status(),
            204
        );
        // after success: no more update for d1
        assert_eq!(
            call(
                &env.devices,
                Some(dev("d1")),
                "POST",
                NEXT,
                Some(body.clone())
            )
            .await
            .status(),
            204
        );

        // d2 already runs rel-2 → already-installed, 204
        let r = call(
            &env.devices,
            Some(dev("d2")),
            "GET",
            &format!("{NEXT}?artifact_name=rel-2&device_type=dt"),
            None,
        )
        .await;
        assert_eq!(r.status(), 204);
        // d3 changes its data mid-deployment → 409 and failure
        let r = call(
            &env.devices,
            Some(dev("d3")),
            "GET",
            &format!("{NEXT}?artifact_name=old&device_type=dt"),
            None,
        )
        .await;
        assert_eq!(r.status(), 200);
        let r = call(
            &env.devices,
            Some(dev("d3")),
            "GET",
            &format!("{NEXT}?artifact_name=other&device_type=dt"),
            None,
        )
        .await;
        assert_eq!(r.status(), 409);
        // d3 uploads a log
        let log = json!({"messages": [{"timestamp": "2026-01-01T00:00:00Z", "level": "error", "message": "boom"}]});
        let r = call(
            &env.devices,
            Some(dev("d3")),
            "PUT",
            &format!("/api/devices/v1/deployments/device/deployments/{did}/log"),
            Some(log),
        )
        .await;
        assert_eq!(r.status(), 204);
        let r = call(
            &env.mgmt,
            Some(user()),
            "GET",
            &format!("{DEP}/{did}/devices/d3/log"),
            None,
        )
        .await;
        assert_eq!(r.status(), 200);
        assert!(
            String::from_utf8(bytes(r).await)
                .unwrap()
                .contains("error: boom")
        );

        let stats = json(
            call(
                &env.mgmt,
                Some(user()),
                "GET",
                &format!("{DEP}/{did}/statistics"),
                None,
            )
            .await,
        )
        .await;
        assert_eq!(stats["success"], 1);
        assert_eq!(stats["already-installed"], 1);
        assert_eq!(stats["failure"], 1);
        assert_eq!(stats["pending"], 0);
        let d = json(
            call(
                &env.mgmt,
                Some(user()),
                "GET",
                &format!("{DEP}/{did}"),
                None,
            )
            .await,
        )
        .await;
        assert_eq!(d["status"], "finished", "{}", env.backend);
        assert!(d["finished"].is_string());

        let devs = json(
            call(
                &env.mgmt,
                Some(user()),
                "GET",
                &format!("{DEP}/{did}/devices"),
                None,
            )
            .await,
        )
        .await;
        assert_eq!(devs.as_array().unwrap().len(), 3);
        assert_eq!(devs[0]["id"], "d1");
        assert_eq!(devs[0]["status"], "success");
        assert_eq!(devs[0]["image"]["id"], aid.as_str());
        assert_eq!(devs[2]["log"], true);
        let r = call(
            &env.mgmt,
            Some(user()),
            "GET",
            &format!("{DEP}/{did}/devices/list?status=finished&per_page=2"),
            None,
        )
        .await;
        assert_eq!(r.headers()["x-total-count"], "3");
        assert_eq!(json(r).await.as_array().unwrap().len(), 2);
        let ids = json(
            call(
                &env.mgmt,
                Some(user()),
                "GET",
                &format!("{DEP}/{did}/device_list"),
                None,
            )
            .await,
        )
        .await;
        assert_eq!(ids, json!(["d1", "d2", "d3"]));
        let hist = json(
            call(
                &env.mgmt,
                Some(user()),
                "GET",
                "/api/management/v1/deployments/deployments/devices/d1",
                None,
            )
            .await,
        )
        .await;
        assert_eq!(hist[0]["deployment"]["id"], did.as_str());
        assert_eq!(hist[0]["device"]["status"], "success");
        let list = json(
            call(
                &env.mgmt,
                Some(user()),
                "POST",
                &format!("{DEP}/statistics/list"),
                Some(json!({"deployment_ids": [did]})),
            )
            .await,
        )
        .await;
        assert_eq!(list[0]["stats"]["success"], 1);
        let r = call(
            &env.mgmt,
            Some(user()),
            "GET",
            "/api/management/v2/deployments/deployments?status=finished",
            None,
        )
        .await;
        assert_eq!(r.headers()["x-total-count"], "1");

        // artifacts of finished deployments can be deleted
        assert_eq!(
            call(
                &env.mgmt,
                Some(user()),
                "DELETE",
                &format!("{ART}/{aid}"),
                None
            )
            .await
            .status(),
            204
        );
    }
}

#[tokio::test]
async fn abort_and_decommission_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let art = make_artifact(tmp.path(), "rel-3", &["dt"]);
    let other = make_artifact(tmp.path(), "rel-x", &["other-type"]);
    for env in envs().await {
        let aid = upload(&env, &art, "").await;
        upload(&env, &other, "").await;
        env.inventory.groups.lock().unwrap().extend([
            ("g".to_owned(), "a1".to_owned()),
            ("g".to_owned(), "a2".to_owned()),
        ]);
        let r = call(
            &env.mgmt,
            Some(user()),
            "POST",
            &format!("{DEP}/group/g"),
            Some(json!({"name": "grp", "artifact_name": "rel-3"})),
        )
        .await;
        assert_eq!(r.status(), 201);
        let did = r.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned();
        let ids = json(
            call(
                &env.mgmt,
                Some(user()),
                "GET",
                &format!("{DEP}/{did}/device_list"),
                None,
            )
            .await,
        )
        .await;
        assert_eq!(ids, json!(["a1", "a2"]));
        assert_eq!(
            call(
                &env.mgmt,
                Some(user()),
                "POST",
                &format!("{DEP}/group/empty"),
                Some(json!({"name": "n", "artifact_name": "rel-3"}))
            )
            .await
            .status(),
            400
        );

        assert_eq!(
            call(
                &env.devices,
                Some(dev("a1")),
                "GET",
                &format!("{NEXT}?artifact_name=o&device_type=dt"),
                None
            )
            .await
            .status(),
            200
        );
        let url = format!("/api/devices/v1/deployments/device/deployments/{did}/status");
        assert_eq!(
            call(
                &env.devices,
                Some(dev("a1")),
                "PUT",
                &url,
                Some(json!({"status": "downloading"}))
            )
            .await
            .status(),
            204
        );
        // artifact in use by an active deployment
        assert_eq!(
            call(
                &env.mgmt,
                Some(user()),
                "DELETE",
                &format!("{ART}/{aid}"),
                None
            )
            .await
            .status(),
            409
        );
        let r = call(
            &env.mgmt,
            Some(user()),
            "DELETE",
            "/api/management/v2/deployments/deployments/releases?name=rel-3",
            None,
        )
        .await;
        assert_eq!(r.status(), 409);
        assert_eq!(json(r).await["active_deployments"], json!([did]));
        // abort → device gets 409
        assert_eq!(
            call(
                &env.mgmt,
                Some(user()),
                "PUT",
                &format!("{DEP}/{did}/status"),
                Some(json!({"status": "nope"}))
            )
            .await
            .status(),
            400
        );
        assert_eq!(
            call(
                &env.mgmt,
                Some(user()),
                "PUT",
                &format!("{DEP}/{did}/status"),
                Some(json!({"status": "aborted"}))
            )
            .await
            .status(),
            204
        );
        assert_eq!(
            call(
                &env.devices,
                Some(dev("a1")),
                "PUT",
                &url,
                Some(json!({"status": "installing"}))
            )
            .await
            .status(),
            409
        );
        assert_eq!(
            call(
                &env.mgmt,
                Some(user()),
                "PUT",
                &format!("{DEP}/{did}/status"),
                Some(json!({"status": "aborted"}))
            )
            .await
            .status(),
            422
        );
        // a2 never started: the finished deployment gives it nothing
        assert_eq!(
            call(
                &env.devices,
                Some(dev("a2")),
                "GET",
                &format!("{NEXT}?artifact_name=o&device_type=dt"),
                None
            )
            .await
            .status(),
            204
        );
        let stats = json(
            call(
                &env.mgmt,
                Some(user()),
                "GET",
                &format!("{DEP}/{did}/statistics"),
                None,
            )
            .await,
        )
        .await;
        assert_eq!(stats["aborted"], 1);

        // noartifact for an incompatible device type, then decommission of an active one
        let d2 = create_ok(
            &env,
            json!({"name": "n2", "artifact_name": "rel-3", "devices": ["b1", "b2"]}),
        )
        .await;
        assert_eq!(
            call(
                &env.devices,
                Some(dev("b1")),
                "GET",
                &format!("{NEXT}?artifact_name=o&device_type=zzz"),
                None
            )
            .await
            .status(),
            204
        );
        assert_eq!(
            call(
                &env.devices,
                Some(dev("b2")),
                "GET",
                &format!("{NEXT}?artifact_name=o&device_type=dt"),
                None
            )
            .await
            .status(),
            200
        );
        let r = call(
            &env.internal,
            None,
            "DELETE",
            "/api/internal/v1/deployments/tenants//deployments/devices/b2",
            None,
        )
        .await;
        assert_eq!(r.status(), 204);
        let url2 = format!("/api/devices/v1/deployments/device/deployments/{d2}/status");
        assert_eq!(
            call(
                &env.devices,
                Some(dev("b2")),
                "PUT",
                &url2,
                Some(json!({"status": "success"}))
            )
            .await
            .status(),
            409
        );
        let stats = json(
            call(
                &env.mgmt,
                Some(user()),
                "GET",
                &format!("{DEP}/{d2}/statistics"),
                None,
            )
            .await,
        )
        .await;
        assert_eq!(stats["noartifact"], 1);
        let d =
            json(call(&env.mgmt, Some(user()), "GET", &format!("{DEP}/{d2}"), None).await).await;
        assert_eq!(d["status"], "finished");

        // history reset makes a device eligible again for a newer deployment only
        let d3 = create_ok(
            &env,
            json!({"name": "n3", "artifact_name": "rel-3", "devices": ["c1"]}),
        )
        .await;
        assert_eq!(
            call(
                &env.devices,
                Some(dev("c1")),
                "GET",
                &format!("{NEXT}?artifact_name=o&device_type=dt"),
                None
            )
            .await
            .status(),
            200
        );
        assert_eq!(
            call(
                &env.mgmt,
                Some(user()),
                "DELETE",
                "/api/management/v1/deployments/deployments/devices/c1",
                None
            )
            .await
            .status(),
            204
        );
        let stats = json(
            call(
                &env.mgmt,
                Some(user()),
                "GET",
                &format!("{DEP}/{d3}/statistics"),
                None,
            )
            .await,
        )
        .await;
        assert_eq!(stats["aborted"], 1);
        assert_eq!(
            call(
                &env.mgmt,
                Some(user()),
                "DELETE",
                "/api/management/v1/deployments/deployments/devices/c1/history",
                None
            )
            .await
            .status(),
            204
        );
        let hist = json(
            call(
                &env.mgmt,
                Some(user()),
                "GET",
                "/api/management/v1/deployments/deployments/devices/c1",
                None,
            )
            .await,
        )
        .await;
        assert!(hist.as_array().unwrap().is_empty());
    }
}

#[tokio::test]
async fn releases_tags_and_types() {
    let tmp = tempfile::tempdir().unwrap();
    let a = make_artifact(tmp.path(), "relA", &["dt1"]);
    let b = make_artifact(tmp.path(), "relA", &["dt2"]);
    let c = make_artifact(tmp.path(), "relB", &["dt1"]);
    for env in envs().await {
        upload(&env, &a, "").await;
        upload(&env, &b, "").await;
        upload(&env, &c, "").await;
        let r = call(
            &env.mgmt,
            Some(user()),
            "GET",
            "/api/management/v2/deployments/deployments/releases",
            None,
        )
        .await;
        assert_eq!(r.headers()["x-total-count"], "2");
        let rel = json(r).await;
        assert_eq!(rel[0]["name"], "relA");
        assert_eq!(rel[0]["artifacts"].as_array().unwrap().len(), 2);
        let v1 = json(
            call(
                &env.mgmt,
                Some(user()),
                "GET",
                "/api/management/v1/deployments/deployments/releases?name=relB",
                None,
            )
            .await,
        )
        .await;
        assert_eq!(v1[0]["Name"], "relB");
        let url = "/api/management/v2/deployments/deployments/releases/relA";
        assert_eq!(
            call(
                &env.mgmt,
                Some(user()),
                "PUT",
                &format!("{url}/tags"),
                Some(json!(["Beta", "x1"]))
            )
            .await
            .status(),
            204
        );
        assert_eq!(
            call(
                &env.mgmt,
                Some(user()),
                "PUT",
                &format!("{url}/tags"),
                Some(json!(["bad tag"]))
            )
            .await
            .status(),
            400
        );
        assert_eq!(
            call(
                &env.mgmt,
                Some(user()),
                "PATCH",
                url,
                Some(json!({"notes": "n"}))
            )
            .await
            .status(),
            204
        );
        assert_eq!(
            call(
                &env.mgmt,
                Some(user()),
                "PATCH",
                url,
                Some(json!({"notes": "x".repeat(1025)}))
            )
            .await
            .status(),
            400
        );
        let r = json(call(&env.mgmt, Some(user()), "GET", url, None).await).await;
        assert_eq!(r["tags"], json!(["beta", "x1"]));
        assert_eq!(r["notes"], "n");
        assert_eq!(
            call(
                &env.mgmt,
                Some(user()),
                "GET",
                "/api/management/v2/deployments/deployments/releases/none",
                None
            )
            .await
            .status(),
            404
        );
        let tags = json(
            call(
                &env.mgmt,
                Some(user()),
                "GET",
                "/api/management/v2/deployments/releases/all/tags",
                None,
            )
            .await,
        )
        .await;
        assert_eq!(tags, json!(["beta", "x1"]));
        let types = json(
            call(
                &env.mgmt,
                Some(user()),
                "GET",
                "/api/management/v2/deployments/releases/all/types",
                None,
            )
            .await,
        )
        .await;
        assert_eq!(types, json!(["single-file"]));
        let filtered = json(
            call(
                &env.mgmt,
                Some(user()),
                "GET",
                "/api/management/v2/deployments/deployments/releases?tag=beta",
                None,
            )
            .await,
        )
        .await;
        assert_eq!(filtered.as_array().unwrap().len(), 1);
        assert_eq!(
            call(
                &env.mgmt,
                Some(user()),
                "DELETE",
                "/api/management/v2/deployments/deployments/releases?name=relA",
                None
            )
            .await
            .status(),
            204
        );
        let list = json(call(&env.mgmt, Some(user()), "GET", ART, None).await).await;
        assert_eq!(list.as_array().unwrap().len(), 1);
        assert_eq!(blob_files(&env.blob_dir).len(), 1);
    }
}

#[tokio::test]
async fn generate_artifact_in_process() {
    for env in envs().await {
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
        let mut req = Request::builder()
            .method("POST")
            .uri(format!("{ART}/generate"))
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from(body))
            .unwrap();
        req.extensions_mut().insert(user());
        let r = send(&env.mgmt, req).await;
        assert_eq!(r.status(), 201, "{}", env.backend);
        let (name, inputs) = env.workflows.0.lock().unwrap()[0].clone();
        assert_eq!(name, "generate_artifact");
        let id = env.svc.run_generate_job(inputs).await.unwrap();
        let a =
            json(call(&env.mgmt, Some(user()), "GET", &format!("{ART}/{id}"), None).await).await;
        assert_eq!(a["name"], "gen-1");
        assert_eq!(a["description"], "generated");
        assert_eq!(a["updates"][0]["type_info"]["type"], "single-file");
        // only the artifact is left, the raw file is gone
        assert_eq!(blob_files(&env.blob_dir).len(), 1);
    }
}
