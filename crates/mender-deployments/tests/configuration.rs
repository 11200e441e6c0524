//! Configuration deployments, identical-deployment conflicts, artifact edit rules, storage
//! settings and the storage limit, over HTTP on both backends, with hostile input.

mod common;

use axum::body::Body;
use axum::http::{Request, header};
use common::*;
use serde_json::{Value, json};

const INTERNAL: &str = "/api/internal/v1/deployments";
const ART: &str = "/api/management/v1/deployments/artifacts";
const DEP: &str = "/api/management/v1/deployments/deployments";
const NEXT: &str = "/api/devices/v1/deployments/device/deployments/next";
const DEP_ID: &str = "0d3c7b9e-3f5c-4e7e-9a61-5b6f2f3c1a10";

fn path_and_query(uri: &str) -> String {
    let rest = uri.split_once("://").unwrap().1;
    rest[rest.find('/').unwrap()..].to_owned()
}

fn config_url(tenant: &str, dep: &str, dev: &str) -> String {
    format!("{INTERNAL}/tenants/{tenant}/configuration/deployments/{dep}/devices/{dev}")
}

async fn raw(
    router: &axum::Router,
    method: &str,
    uri: &str,
    ct: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, ct)
        .body(Body::from(body))
        .unwrap();
    // Internal routes ignore it; management routes need it.
    req.extensions_mut().insert(user());
    let r = send(router, req).await;
    let status = r.status().as_u16();
    let b = bytes(r).await;
    (status, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

fn assert_error(body: &Value, what: &str) {
    assert!(
        body["error"].is_string(),
        "{what}: no upstream error body: {body}"
    );
}

async fn deployments(env: &Env, id: Option<mender_core::Identity>, query: &str) -> Vec<Value> {
    let r = call(
        &env.mgmt,
        Some(id.unwrap_or_else(user)),
        "GET",
        &format!("{DEP}{query}"),
        None,
    )
    .await;
    assert_eq!(r.status(), 200, "{}", env.backend);
    json(r).await.as_array().unwrap().clone()
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

#[tokio::test]
async fn configuration_deployment_flow() {
    let tmp = tempfile::tempdir().unwrap();
    let config = json!({"timezone": "Europe/Oslo", "password": "hunter2"});
    for env in envs().await {
        let b = env.backend;
        let body = json!({"name": "cfg-1", "configuration": config.to_string()});
        let r = call(
            &env.internal,
            None,
            "POST",
            &config_url("", DEP_ID, "dev-1"),
            Some(body.clone()),
        )
        .await;
        assert_eq!(r.status(), 201, "{b}");
        assert_eq!(
            r.headers()[header::LOCATION].to_str().unwrap(),
            format!("./deployments/{DEP_ID}")
        );
        // the id is taken
        let r = call(
            &env.internal,
            None,
            "POST",
            &config_url("", DEP_ID, "dev-9"),
            Some(body),
        )
        .await;
        assert_eq!(r.status(), 409, "{b}");
        assert_error(&json(r).await, "duplicate id");

        // listed with its type and the cut, encoded configuration
        let list = deployments(&env, None, "?type=configuration").await;
        assert_eq!(list.len(), 1, "{b}");
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
        assert!(deployments(&env, None, "?type=software").await.is_empty());
        let r = call(
            &env.mgmt,
            Some(user()),
            "GET",
            &format!("{DEP}?type=firmware"),
            None,
        )
        .await;
        assert_eq!(r.status(), 400);
        assert_error(&json(r).await, "bad type");
        let r = call(
            &env.mgmt,
            Some(user()),
            "GET",
            "/api/management/v2/deployments/deployments?type=configuration",
            None,
        )
        .await;
        assert_eq!(json(r).await.as_array().unwrap().len(), 1);

        // another device gets nothing; the target gets the generated artifact's link
        let req = json!({"artifact_name": "rootfs-1", "device_type": "raspberrypi4"});
        let r = call(
            &env.devices,
            Some(dev("dev-2")),
            "POST",
            NEXT,
            Some(req.clone()),
        )
        .await;
        assert_eq!(r.status(), 204, "{b}");
        let r = call(
            &env.devices,
            Some(dev("dev-1")),
            "POST",
            NEXT,
            Some(req.clone()),
        )
        .await;
        assert_eq!(r.status(), 200, "{b}");
        let n = json(r).await;
        assert_eq!(n["id"], DEP_ID);
        assert_eq!(n["artifact"]["id"], format!("{DEP_ID}dev-1"));
        assert_eq!(n["artifact"]["artifact_name"], "cfg-1");
        assert_eq!(
            n["artifact"]["device_types_compatible"],
            json!(["raspberrypi4"])
        );
        let uri = n["artifact"]["source"]["uri"].as_str().unwrap().to_owned();
        let prefix = format!(
            "http://mender.test/api/devices/v1/deployments/download/configuration/{DEP_ID}/raspberrypi4/dev-1?x-men-expire="
        );
        assert!(uri.starts_with(&prefix), "{uri}");
        assert!(uri.contains("&x-men-signature="), "{uri}");
        assert!(!uri.contains("tenant_id"), "no tenant, no tenant_id: {uri}");
        // asking again gives the same deployment
        let r = call(&env.devices, Some(dev("dev-1")), "POST", NEXT, Some(req)).await;
        assert_eq!(json(r).await["id"], DEP_ID);

        // the download
        let pq = path_and_query(&uri);
        let r = call(&env.open, None, "GET", &pq, None).await;
        assert_eq!(r.status(), 200, "{b}");
        let h = r.headers().clone();
        assert_eq!(h[header::CONTENT_TYPE], "application/vnd.mender-artifact");
        assert_eq!(
            h[header::CONTENT_DISPOSITION],
            "attachment; filename=\"artifact.mender\""
        );
        let art = bytes(r).await;
        assert_eq!(
            h[header::CONTENT_LENGTH].to_str().unwrap(),
            art.len().to_string()
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
        let listing = real_tool_reads(tmp.path(), &art);
        assert!(listing.contains("mender-configure"), "{listing}");

        // tampering: path, signature, missing or bad parameters, expiry
        let other_type = pq.replace("/raspberrypi4/", "/qemux86-64/");
        let r = call(&env.open, None, "GET", &other_type, None).await;
        assert_eq!(r.status(), 403);
        assert_error(&json(r).await, "other device type");
        let (base, query) = pq.split_once('?').unwrap();
        let forged = pq.replace("x-men-signature=", "x-men-signature=A");
        assert_eq!(
            call(&env.open, None, "GET", &forged, None).await.status(),
            403
        );
        let with_tenant = format!("{pq}&tenant_id=t2");
        assert_eq!(
            call(&env.open, None, "GET", &with_tenant, None)
                .await
                .status(),
            403
        );
        let no_sig: Vec<&str> = query
            .split('&')
            .filter(|p| !p.starts_with("x-men-signature"))
            .collect();
        let r = call(
            &env.open,
            None,
            "GET",
            &format!("{base}?{}", no_sig.join("&")),
            None,
        )
        .await;
        assert_eq!(r.status(), 400);
        assert_error(&json(r).await, "missing signature");
        assert_eq!(call(&env.open, None, "GET", base, None).await.status(), 400);
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
        let r = call(
            &env.open,
            None,
            "GET",
            &format!("{base}?{}", bad_exp.join("&")),
            None,
        )
        .await;
        assert_eq!(r.status(), 400);
        let app = env.svc.app();
        let past = time::OffsetDateTime::now_utc() - time::Duration::minutes(1);
        let path = format!(
            "/api/devices/v1/deployments/download/configuration/{DEP_ID}/raspberrypi4/dev-1"
        );
        let expired = format!("{path}?{}", app.sign_path(&path, past, ""));
        let r = call(&env.open, None, "GET", &expired, None).await;
        assert_eq!(r.status(), 403);
        assert_error(&json(r).await, "expired");
        // a valid signature for a deployment that does not exist, or is not a configuration
        let future = time::OffsetDateTime::now_utc() + time::Duration::minutes(5);
        let ghost = format!(
            "/api/devices/v1/deployments/download/configuration/{}/raspberrypi4/dev-1",
            uuid::Uuid::new_v4()
        );
        let r = call(
            &env.open,
            None,
            "GET",
            &format!("{ghost}?{}", app.sign_path(&ghost, future, "")),
            None,
        )
        .await;
        assert_eq!(r.status(), 404);
        assert_error(&json(r).await, "unknown deployment");

        // the device finishes: the deployment is finished
        let r = call(
            &env.devices,
            Some(dev("dev-1")),
            "PUT",
            &format!("/api/devices/v1/deployments/device/deployments/{DEP_ID}/status"),
            Some(json!({"status": "success"})),
        )
        .await;
        assert_eq!(r.status(), 204);
        let d = json(
            call(
                &env.mgmt,
                Some(user()),
                "GET",
                &format!("{DEP}/{DEP_ID}"),
                None,
            )
            .await,
        )
        .await;
        assert_eq!(d["status"], "finished", "{b}");
    }
}

#[tokio::test]
async fn configuration_link_with_tenant_and_escaped_device_type() {
    for env in envs().await {
        let b = env.backend;
        let dep = uuid::Uuid::new_v4().to_string();
        // the configuration may also be given as an object
        let r = call(
            &env.internal,
            None,
            "POST",
            &config_url("tenant-1", &dep, "dev-1"),
            Some(json!({"name": "cfg ü", "configuration": {"a": "b"}, "retries": 2})),
        )
        .await;
        assert_eq!(r.status(), 201, "{b}");
        // other tenants see nothing
        assert!(deployments(&env, None, "").await.is_empty());
        let mut t1 = user();
        t1.tenant = "tenant-1".into();
        assert_eq!(deployments(&env, Some(t1), "").await.len(), 1);

        let mut d = dev("dev-1");
        d.tenant = "tenant-1".into();
        let r = call(
            &env.devices,
            Some(d),
            "POST",
            NEXT,
            Some(json!({"artifact_name": "a", "device_type": "board rev/2ü"})),
        )
        .await;
        assert_eq!(r.status(), 200, "{b}");
        let uri = json(r).await["artifact"]["source"]["uri"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            uri.contains("/board%20rev%2F2%C3%BC/dev-1?tenant_id=tenant-1&x-men-expire="),
            "{uri}"
        );
        let r = call(&env.open, None, "GET", &path_and_query(&uri), None).await;
        assert_eq!(r.status(), 200, "{b}");
        let meta = mender_artifact::parse(&bytes(r).await[..]).unwrap();
        assert_eq!(meta.name, "cfg ü");
        assert_eq!(
            meta.device_types_compatible,
            vec!["board rev/2ü".to_owned()]
        );
        // the tenant is part of the signature
        let other = path_and_query(&uri).replace("tenant_id=tenant-1", "tenant_id=tenant-2");
        assert_eq!(
            call(&env.open, None, "GET", &other, None).await.status(),
            403
        );
    }
}

#[tokio::test]
async fn configuration_deployment_hostile_input() {
    for env in envs().await {
        let b = env.backend;
        let ok = |dep: &str| config_url("", dep, "dev-1");
        let dep = uuid::Uuid::new_v4().to_string();
        let cases: Vec<(String, Value, u16)> = vec![
            (
                config_url("", "not-a-uuid", "dev-1"),
                json!({"name": "n", "configuration": "{}"}),
                400,
            ),
            (ok(&dep), json!({"configuration": "{\"a\":\"b\"}"}), 400),
            (
                ok(&dep),
                json!({"name": "", "configuration": "{\"a\":\"b\"}"}),
                400,
            ),
            (
                ok(&dep),
                json!({"name": 5, "configuration": "{\"a\":\"b\"}"}),
                400,
            ),
            (ok(&dep), json!({"name": "n"}), 400),
            (ok(&dep), json!({"name": "n", "configuration": ""}), 400),
            (
                ok(&dep),
                json!({"name": "n", "configuration": "[1,2]"}),
                400,
            ),
            (
                ok(&dep),
                json!({"name": "n", "configuration": "{not json"}),
                400,
            ),
            (ok(&dep), json!({"name": "n", "configuration": 5}), 400),
            (
                ok(&dep),
                json!({"name": "x".repeat(4097), "configuration": "{}"}),
                400,
            ),
            (
                ok(&dep),
                json!({"name": "line\nbreak", "configuration": "{}"}),
                400,
            ),
            (ok(&dep), json!(["name"]), 400),
        ];
        for (uri, body, want) in cases {
            let r = call(&env.internal, None, "POST", &uri, Some(body.clone())).await;
            assert_eq!(r.status().as_u16(), want, "{b}: {body}");
            assert_error(&json(r).await, &body.to_string());
        }
        let (s, body) = raw(
            &env.internal,
            "POST",
            &ok(&dep),
            "application/json",
            b"{\"name\":".to_vec(),
        )
        .await;
        assert_eq!(s, 400, "{b}: malformed");
        assert_error(&body, "malformed");
        let (s, _) = raw(
            &env.internal,
            "POST",
            &ok(&dep),
            "text/plain",
            b"{}".to_vec(),
        )
        .await;
        assert_eq!(s, 415, "{b}: content type");
        let huge = format!(
            "{{\"name\":\"n\",\"configuration\":\"{}\"}}",
            "a".repeat(2 * 1024 * 1024)
        );
        let (s, body) = raw(
            &env.internal,
            "POST",
            &ok(&dep),
            "application/json",
            huge.into_bytes(),
        )
        .await;
        assert_eq!(s, 413, "{b}: oversize");
        assert_error(&body, "oversize");
        // nothing was written
        assert!(deployments(&env, None, "").await.is_empty(), "{b}");
        // and the id is still free
        let r = call(
            &env.internal,
            None,
            "POST",
            &ok(&dep),
            Some(json!({"name": "n", "configuration": "{}"})),
        )
        .await;
        assert_eq!(r.status(), 201, "{b}");
    }
}

#[tokio::test]
async fn identical_active_deployment_conflicts() {
    let tmp = tempfile::tempdir().unwrap();
    let art = make_artifact(tmp.path(), "rel-c", &["dt"]);
    for env in envs().await {
        let b = env.backend;
        upload(&env, &art, "").await;
        let body = json!({"name": "n", "artifact_name": "rel-c", "devices": ["d1", "d2"]});
        let r = call(&env.mgmt, Some(user()), "POST", DEP, Some(body.clone())).await;
        assert_eq!(r.status(), 201, "{b}");
        let first = r.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned();
        let r = call(&env.mgmt, Some(user()), "POST", DEP, Some(body.clone())).await;
        assert_eq!(r.status(), 409, "{b}");
        let e = json(r).await;
        assert_eq!(
            e["error"],
            "Invalid deployment definition: there is already an active deployment with the same parameters"
        );
        // any difference in name, devices (or their order) or flags is a new deployment
        for other in [
            json!({"name": "n2", "artifact_name": "rel-c", "devices": ["d1", "d2"]}),
            json!({"name": "n", "artifact_name": "rel-c", "devices": ["d2", "d1"]}),
            json!({"name": "n", "artifact_name": "rel-c", "devices": ["d1", "d2"], "force_installation": true}),
        ] {
            let r = call(&env.mgmt, Some(user()), "POST", DEP, Some(other.clone())).await;
            assert_eq!(r.status(), 201, "{b}: {other}");
        }
        // group deployments: the devices resolved, not the group name, count
        env.inventory
            .groups
            .lock()
            .unwrap()
            .extend([("g1".to_owned(), "d7".to_owned())]);
        let g = json!({"name": "g", "artifact_name": "rel-c"});
        let r = call(
            &env.mgmt,
            Some(user()),
            "POST",
            &format!("{DEP}/group/g1"),
            Some(g.clone()),
        )
        .await;
        assert_eq!(r.status(), 201, "{b}");
        let r = call(
            &env.mgmt,
            Some(user()),
            "POST",
            &format!("{DEP}/group/g1"),
            Some(g),
        )
        .await;
        assert_eq!(r.status(), 409, "{b}");
        // once finished (aborted), the same request is accepted again
        let r = call(
            &env.mgmt,
            Some(user()),
            "PUT",
            &format!("{DEP}/{first}/status"),
            Some(json!({"status": "aborted"})),
        )
        .await;
        assert_eq!(r.status(), 204);
        let r = call(&env.mgmt, Some(user()), "POST", DEP, Some(body)).await;
        assert_eq!(r.status(), 201, "{b}");
        // other tenants are independent
        let mut t = user();
        t.tenant = "t9".into();
        let r = call(
            &env.mgmt,
            Some(t),
            "POST",
            DEP,
            Some(json!({"name": "n", "artifact_name": "rel-c", "devices": ["d1", "d2"]})),
        )
        .await;
        assert_eq!(
            r.status(),
            422,
            "{b}: no artifact in t9, but no conflict either"
        );
    }
}

#[tokio::test]
async fn artifact_edit_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let art = make_artifact(tmp.path(), "rel-e", &["dt"]);
    for env in envs().await {
        let b = env.backend;
        let id = upload(&env, &art, "orig").await;
        let url = format!("{ART}/{id}");
        let put = |body: Option<Value>, u: String| {
            let m = env.mgmt.clone();
            async move { call(&m, Some(user()), "PUT", &u, body).await }
        };
        let r = put(
            Some(json!({"description": "x"})),
            format!("{ART}/not-a-uuid"),
        )
        .await;
        assert_eq!(r.status(), 400, "{b}");
        assert_error(&json(r).await, "bad id");
        let r = put(
            Some(json!({"description": "x"})),
            format!("{ART}/{}", uuid::Uuid::new_v4()),
        )
        .await;
        assert_eq!(r.status(), 404, "{b}");
        let r = put(None, url.clone()).await;
        assert_eq!(r.status(), 400, "{b}: empty body");
        let r = put(Some(json!({"description": "x".repeat(4097)})), url.clone()).await;
        assert_eq!(r.status(), 400, "{b}: long");
        assert_error(&json(r).await, "long");
        let r = put(Some(json!({"description": 7})), url.clone()).await;
        assert_eq!(r.status(), 400, "{b}: not a string");
        let (s, _) = raw(&env.mgmt, "PUT", &url, "application/json", b"{".to_vec()).await;
        assert_eq!(s, 400, "{b}: malformed");
        let r = put(Some(json!({"description": "ünïcode ✓"})), url.clone()).await;
        assert_eq!(r.status(), 204, "{b}");
        let a = json(call(&env.mgmt, Some(user()), "GET", &url, None).await).await;
        assert_eq!(a["description"], "ünïcode ✓");

        // once a deployment (even a finished one) used it: 422, unchanged
        let r = call(
            &env.mgmt,
            Some(user()),
            "POST",
            DEP,
            Some(json!({"name": "n", "artifact_name": "rel-e", "devices": ["d1"]})),
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
        let r = call(
            &env.mgmt,
            Some(user()),
            "PUT",
            &format!("{DEP}/{did}/status"),
            Some(json!({"status": "aborted"})),
        )
        .await;
        assert_eq!(r.status(), 204);
        let r = put(Some(json!({"description": "later"})), url.clone()).await;
        assert_eq!(r.status(), 422, "{b}");
        assert_error(&json(r).await, "used");
        let a = json(call(&env.mgmt, Some(user()), "GET", &url, None).await).await;
        assert_eq!(a["description"], "ünïcode ✓");
    }
}

#[tokio::test]
async fn storage_settings_and_limits() {
    let tmp = tempfile::tempdir().unwrap();
    let art = make_artifact(tmp.path(), "rel-s", &["dt"]);
    for env in envs().await {
        let b = env.backend;
        for tenant in ["", "tenant-1"] {
            let url = format!("{INTERNAL}/tenants/{tenant}/storage/settings");
            let r = call(&env.internal, None, "GET", &url, None).await;
            assert_eq!(r.status(), 200, "{b}");
            assert_eq!(json(r).await, Value::Null);
            let good = json!({
                "type": "s3", "region": "eu-west-1", "bucket": "bucket-1",
                "key": "AKIAEXAMPLE", "secret": "very-secret", "uri": "https://s3.example.com",
                "force_path_style": true
            });
            let r = call(&env.internal, None, "PUT", &url, Some(good)).await;
            assert_eq!(r.status(), 204, "{b}");
            let got = json(call(&env.internal, None, "GET", &url, None).await).await;
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
                let r = call(&env.internal, None, "PUT", &url, Some(bad.clone())).await;
                assert_eq!(r.status(), 400, "{b}: {bad}");
                assert_error(&json(r).await, &bad.to_string());
            }
            let (s, body) = raw(
                &env.internal,
                "PUT",
                &url,
                "application/json",
                b"{\"type\":".to_vec(),
            )
            .await;
            assert_eq!(s, 400, "{b}: malformed");
            assert_error(&body, "malformed");
            let (s, _) = raw(&env.internal, "PUT", &url, "application/json", Vec::new()).await;
            assert_eq!(s, 400, "{b}: empty");
            let (s, _) = raw(
                &env.internal,
                "PUT",
                &url,
                "application/json",
                vec![b' '; 2 * 1024 * 1024],
            )
            .await;
            assert_eq!(s, 413, "{b}: oversize");
            let got = json(call(&env.internal, None, "GET", &url, None).await).await;
            assert_eq!(got["bucket"], "bucket-1", "{b}");

            // azure aliases
            let az = json!({"type": "azure", "container_name": "container-1", "account_name": "account", "account_key": "key-12345"});
            let r = call(&env.internal, None, "PUT", &url, Some(az)).await;
            assert_eq!(r.status(), 204, "{b}");
            let got = json(call(&env.internal, None, "GET", &url, None).await).await;
            assert_eq!(got["type"], "azure");
            assert_eq!(got["bucket"], "container-1");
            assert_eq!(got["key"], "account");

            // {} resets to the defaults
            let r = call(&env.internal, None, "PUT", &url, Some(json!({}))).await;
            assert_eq!(r.status(), 204);
            let r = call(&env.internal, None, "GET", &url, None).await;
            assert_eq!(json(r).await, Value::Null, "{b}");
        }

        // limits: storage only; usage is what the tenant stores
        let r = call(
            &env.mgmt,
            Some(user()),
            "GET",
            "/api/management/v1/deployments/limits/storage",
            None,
        )
        .await;
        assert_eq!(json(r).await, json!({"limit": 0, "usage": 0}));
        upload(&env, &art, "").await;
        let r = call(
            &env.mgmt,
            Some(user()),
            "GET",
            "/api/management/v1/deployments/limits/storage",
            None,
        )
        .await;
        assert_eq!(json(r).await, json!({"limit": 0, "usage": art.len()}));
        let r = call(
            &env.mgmt,
            Some(user()),
            "GET",
            "/api/management/v1/deployments/limits/devices",
            None,
        )
        .await;
        assert_eq!(r.status(), 400);
        assert_error(&json(r).await, "limit");
    }
}
