//! The real Debian mender-client 3.4 joins the fleet: it shows up pending, an admin accepts it,
//! its inventory becomes searchable, and after decommissioning it is gone everywhere.

mod common;

use std::time::{Duration, Instant};

use common::device::{DeviceSetup, MenderClient};
use common::{ServerProcess, create_user};
use serde_json::{Value, json};

async fn login(server: &ServerProcess, email: &str, password: &str) -> String {
    let resp = server
        .client()
        .post(format!(
            "{}/api/management/v1/useradm/auth/login",
            server.url
        ))
        .basic_auth(email, Some(password))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap()
}

/// Polls `f` every half second until it returns `Some`, or fails after `secs` seconds.
async fn wait_for<T, F, Fut>(secs: u64, what: &str, client: &MenderClient, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; client log:\n{}",
            client.log_text()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn mender_client_is_accepted_and_its_inventory_is_searchable() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let server = ServerProcess::start(&data, &[], &[]);
    assert!(
        create_user(&data, "admin@example.com", "correct-horse-battery")
            .status
            .success()
    );
    let token = login(&server, "admin@example.com", "correct-horse-battery").await;
    let http = server.client();
    let get = |path: String| {
        let (http, token, url) = (http.clone(), token.clone(), server.url.clone());
        async move {
            let r = http
                .get(format!("{url}{path}"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            (status, body)
        }
    };

    let device = MenderClient::start(
        &tmp.path().join("device"),
        &server.url,
        server.cert.as_ref().unwrap(),
        &DeviceSetup {
            mac: "02:12:34:56:78:9a",
            device_type: "test-device",
            artifact_name: "release-1",
            inventory: &[("e2e_run", "alpha"), ("kernel", "6.1.0")],
        },
    );

    // 1. The device shows up as pending.
    let (device_id, auth_id) = wait_for(60, "a pending device", &device, || {
        let get = get.clone();
        async move {
            let (s, body) = get("/api/management/v2/devauth/devices?status=pending".into()).await;
            assert_eq!(s, 200);
            let d = body.as_array()?.first()?.clone();
            assert_eq!(d["identity_data"], json!({"mac": "02:12:34:56:78:9a"}));
            Some((
                d["id"].as_str()?.to_owned(),
                d["auth_sets"][0]["id"].as_str()?.to_owned(),
            ))
        }
    })
    .await;

    // 2. An admin accepts it.
    let resp = http
        .put(format!(
            "{}/api/management/v2/devauth/devices/{device_id}/auth/{auth_id}/status",
            server.url
        ))
        .bearer_auth(&token)
        .json(&json!({"status": "accepted"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);

    // 3. It gets its token and sends its inventory.
    let attrs = wait_for(90, "the device inventory", &device, || {
        let get = get.clone();
        let id = device_id.clone();
        async move {
            let (s, body) = get(format!("/api/management/v1/inventory/devices/{id}")).await;
            if s != 200 {
                return None;
            }
            let attrs = body["attributes"].as_array()?.clone();
            attrs
                .iter()
                .any(|a| a["name"] == "mender_client_version")
                .then_some(attrs)
        }
    })
    .await;
    let value = |name: &str, scope: &str| {
        attrs
            .iter()
            .find(|a| a["name"] == name && a["scope"] == scope)
            .map(|a| a["value"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(value("device_type", "inventory"), "test-device");
    assert_eq!(value("artifact_name", "inventory"), "release-1");
    assert!(
        value("mender_client_version", "inventory")
            .as_str()
            .unwrap()
            .starts_with("3.4")
    );
    assert_eq!(value("e2e_run", "inventory"), "alpha");
    assert_eq!(value("kernel", "inventory"), "6.1.0");
    assert_eq!(value("mac", "identity"), "02:12:34:56:78:9a");
    assert_eq!(value("status", "identity"), "accepted");

    // The inventory is searchable through the v2 filters API.
    let resp = http
        .post(format!("{}/api/management/v2/inventory/filters/search", server.url))
        .bearer_auth(&token)
        .json(&json!({"filters": [{"scope": "inventory", "attribute": "e2e_run", "type": "$eq", "value": "alpha"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let found: Value = resp.json().await.unwrap();
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["id"], device_id.as_str());

    // 4. Stop the client (a running client would re-register), then decommission.
    drop(device);
    let resp = http
        .delete(format!(
            "{}/api/management/v2/devauth/devices/{device_id}",
            server.url
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (a, _) = get(format!("/api/management/v2/devauth/devices/{device_id}")).await;
        let (b, _) = get(format!("/api/management/v1/inventory/devices/{device_id}")).await;
        if a == 404 && b == 404 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after decommissioning: deviceauth {a}, inventory {b}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
