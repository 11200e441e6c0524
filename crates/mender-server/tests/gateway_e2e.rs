//! The gateway in the real binary: a device token never opens a management route and a user
//! token never a device route; revoked and rejected devices lose access at once; hostile
//! bodies (endless chunked, oversize, malformed) get clear 4xx answers; internal APIs are not
//! on the public port; artifact generation runs through the `generate_artifact` workflow.

// Tests may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::ServerProcess;
use common::mgmt::{Mgmt, accept_pending, start_with_admin, wait_device_gone, wait_for};
use mender_testkit::mender_artifact::{run, tool, write_module_image};
use mender_testkit::{DeviceClient, DeviceKey};
use serde_json::{Value, json};

/// A simulated device (Ed25519 key, identity `mac`) that asked to join, was pending, and was
/// accepted; returns it with its device id.
async fn accepted_device(server: &ServerProcess, m: &Mgmt, mac: &str) -> (DeviceClient, String) {
    let pem = std::fs::read(server.cert.as_ref().unwrap()).unwrap();
    let dev = DeviceClient::builder(
        server.url.clone(),
        DeviceKey::ed25519(),
        json!({"mac": mac}),
    )
    .root_cert_pem(pem)
    .build()
    .unwrap();
    assert_eq!(
        dev.authenticate().await.unwrap(),
        None,
        "pending devices get 401"
    );
    let id = accept_pending(m, mac, String::new).await;
    assert!(dev.authenticate().await.unwrap().is_some());
    (dev, id)
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_only_open_their_own_routes() {
    let (_tmp, server, m) = start_with_admin().await;
    let (dev, id) = accepted_device(&server, &m, "02:00:00:00:00:01").await;
    let device_token = dev.token().unwrap();

    // The device token works on device routes...
    assert_eq!(
        dev.put_inventory(&[("os", json!("linux"))]).await.unwrap(),
        200
    );
    // ...and never on management routes.
    let as_device = m.with_token(&device_token);
    for path in [
        "/api/management/v1/useradm/users",
        "/api/management/v2/devauth/devices",
        "/api/management/v1/inventory/devices",
    ] {
        let a = as_device.get(path).await;
        assert_eq!(a.status, 401, "{path}");
        assert!(
            a.body["error"].is_string() && a.body["request_id"].is_string(),
            "{}",
            a.text
        );
    }
    // The user token never opens device routes.
    let a = m
        .call(
            "PUT",
            "/api/devices/v1/inventory/device/attributes",
            Some(json!([{"name": "os", "value": "evil"}])),
        )
        .await;
    assert_eq!(a.status, 401);
    // Internal APIs are not on the public port, whatever the token.
    for path in [
        "/api/internal/v1/useradm/health",
        "/api/v1/workflow/provision_device",
        "/api/internal/v1/devauth/tokens/verify",
    ] {
        assert_eq!(m.get(path).await.status, 404, "{path}");
    }
    // A forged token (alg none, same claims) is refused.
    let claims = device_token.split('.').nth(1).unwrap();
    let forged = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{claims}.");
    let a = m
        .with_token(&forged)
        .get("/api/devices/v1/deployments/device/deployments/next?artifact_name=a&device_type=b")
        .await;
    assert_eq!(a.status, 401);

    // Rejecting the device stops its token at once.
    let d = m
        .get(&format!("/api/management/v2/devauth/devices/{id}"))
        .await;
    let aid = d.body["auth_sets"][0]["id"].as_str().unwrap().to_owned();
    m.set_auth_status(&id, &aid, "rejected").await;
    assert_eq!(
        dev.put_inventory(&[("os", json!("linux"))]).await.unwrap(),
        401
    );

    // Logging out revokes the user token.
    let a = m
        .call("POST", "/api/management/v1/useradm/auth/logout", None)
        .await;
    assert_eq!(a.status, 202);
    assert_eq!(m.get("/api/management/v1/useradm/users").await.status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn decommissioned_device_token_stops_working() {
    let (_tmp, server, m) = start_with_admin().await;
    let (dev, id) = accepted_device(&server, &m, "02:00:00:00:00:03").await;
    assert_eq!(
        dev.put_inventory(&[("os", json!("linux"))]).await.unwrap(),
        200
    );
    m.decommission(&id).await;
    assert_eq!(
        dev.put_inventory(&[("os", json!("linux"))]).await.unwrap(),
        401
    );
    wait_device_gone(&m, &id).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_bodies_get_clear_4xx() {
    let (_tmp, server, m) = start_with_admin().await;
    let http = server.client();
    let users = format!("{}/api/management/v1/useradm/users", server.url);

    // An endless chunked body is cut off at the limit with 413.
    let chunks =
        futures::stream::iter((0..100_000).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1024])));
    let r = http
        .post(&users)
        .bearer_auth(&m.token)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("too large"),
        "{body}"
    );

    for (ct, body, want) in [
        ("application/json", "{\"email\": ", 400),
        ("text/plain", "{}", 415),
        ("application/json", "[1,2,3]", 400),
        (
            "application/json",
            "{\"email\":\"é@例え.jp\",\"password\":\"correct-horse-battery\"}",
            400,
        ),
    ] {
        let r = http
            .post(&users)
            .bearer_auth(&m.token)
            .header("content-type", ct)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), want, "{ct} {body}");
        let b: Value = r.json().await.unwrap();
        assert!(b["error"].is_string() && b["request_id"].is_string());
    }
    // Nothing was written.
    let list = m.get("/api/management/v1/useradm/users").await;
    assert_eq!(list.body.as_array().unwrap().len(), 1);

    // Malformed Basic credentials and a very long password on login.
    let login = format!("{}/api/management/v1/useradm/auth/login", server.url);
    let r = http
        .post(&login)
        .header("authorization", "Basic !!!not-base64")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .post(&login)
        .basic_auth("admin@example.com", Some("x".repeat(5_000)))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    // A device auth request with garbage is a 400, not a 5xx.
    let r = http
        .post(format!(
            "{}/api/devices/v1/authentication/auth_requests",
            server.url
        ))
        .header("content-type", "application/json")
        .header("x-men-signature", "AAAA")
        .body("{\"id_data\": 5}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

/// `POST /artifacts/generate` stores the file and starts the `generate_artifact` workflow,
/// which builds a single-file artifact in-process; the result is listed and parses.
#[tokio::test(flavor = "multi_thread")]
async fn generated_artifact_appears() {
    let (tmp, _server, m) = start_with_admin().await;
    let r = m
        .post_multipart(
            "/api/management/v1/deployments/artifacts/generate",
            &[
                ("name", "generated-1"),
                ("description", "made by the server"),
                ("device_types_compatible", "test-device"),
                ("type", "single_file"),
                (
                    "args",
                    "{\"dest_dir\":\"/opt/app\",\"filename\":\"app.bin\"}",
                ),
            ],
            ("file", "app.bin", &[b'x'; 10_000]),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let art = wait_for(60, "the generated artifact", String::new, || async {
        let list = m.get("/api/management/v1/deployments/artifacts").await;
        list.body
            .as_array()?
            .iter()
            .find(|a| a["name"] == "generated-1")
            .cloned()
    })
    .await;
    assert_eq!(art["description"], "made by the server");
    assert_eq!(art["device_types_compatible"], json!(["test-device"]));
    assert_eq!(art["updates"][0]["type_info"]["type"], "single-file");
    let names: Vec<&str> = art["updates"][0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"app.bin"), "{art}");
    // The real mender-artifact reads what the server generated.
    let bytes = m.download_artifact(art["id"].as_str().unwrap()).await;
    let path = tmp.path().join("generated.mender");
    std::fs::write(&path, &bytes).unwrap();
    let listing = run(tool().arg("read").arg(&path));
    assert!(listing.contains("generated-1"), "{listing}");
}

/// The devices a deployment was made for, sorted.
async fn deployment_devices(m: &Mgmt, deployment: &str) -> Vec<String> {
    let a = m
        .get(&format!(
            "/api/management/v1/deployments/deployments/{deployment}/device_list"
        ))
        .await;
    let mut ids: Vec<String> = a
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

/// Deployments ask the real inventory (through `mender-api`'s `InventoryClient`) which devices
/// a group or "all devices" means.
#[tokio::test(flavor = "multi_thread")]
async fn group_and_fleet_deployments_use_the_inventory() {
    let (tmp, server, m) = start_with_admin().await;
    let (_d1, id1) = accepted_device(&server, &m, "02:00:00:00:00:11").await;
    let (_d2, id2) = accepted_device(&server, &m, "02:00:00:00:00:12").await;
    // Provisioning reaches inventory through a workflow: wait for both.
    wait_for(30, "both devices in inventory", String::new, || async {
        let a = m.get("/api/management/v1/inventory/devices").await;
        (a.body.as_array().map(Vec::len) == Some(2)).then_some(())
    })
    .await;
    let a = m
        .call(
            "PUT",
            &format!("/api/management/v1/inventory/devices/{id1}/group"),
            Some(json!({"group": "canary"})),
        )
        .await;
    assert_eq!(a.status, 204, "{}", a.text);

    // An artifact to deploy, made by the real tool.
    let art = tmp.path().join("a.mender");
    let payload = tmp.path().join("payload");
    std::fs::write(&payload, vec![b'p'; 6000]).unwrap();
    run(write_module_image("single-file", "dev", "fleet-1")
        .arg("-o")
        .arg(&art)
        .arg("-f")
        .arg(&payload));
    let r = m
        .post_multipart(
            "/api/management/v1/deployments/artifacts",
            &[],
            ("artifact", "a.mender", &std::fs::read(&art).unwrap()),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);

    let canary = m
        .create(
            "/api/management/v1/deployments/deployments/group/canary",
            json!({"name": "canary", "artifact_name": "fleet-1"}),
        )
        .await;
    assert_eq!(deployment_devices(&m, &canary).await, vec![id1.clone()]);
    let everyone = m
        .create(
            "/api/management/v1/deployments/deployments",
            json!({"name": "everyone", "artifact_name": "fleet-1", "all_devices": true}),
        )
        .await;
    let mut want = vec![id1, id2];
    want.sort();
    assert_eq!(deployment_devices(&m, &everyone).await, want);
    let a = m
        .call(
            "POST",
            "/api/management/v1/deployments/deployments/group/nobody",
            Some(json!({"name": "none", "artifact_name": "fleet-1"})),
        )
        .await;
    assert!(
        a.status == 400 || a.status == 404,
        "{} {}",
        a.status,
        a.text
    );
}
