//! The gateway in the real binary: a device token never opens a management route and a user
//! token never a device route; revoked and rejected devices lose access at once; hostile
//! bodies (endless chunked, oversize, malformed) get clear 4xx answers; internal APIs are not
//! on the public port; artifact generation runs through the `generate_artifact` workflow;
//! gin's trailing-slash redirects, Traefik's token check on every path under a service's
//! prefix, and 405 `Allow`, over HTTP/1.1 and HTTP/2.

// Tests may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::ServerProcess;
use common::mgmt::{
    Mgmt, accept_pending, inventory_value, pending_device, start_with_admin, wait_device_gone,
    wait_for,
};
use mender_testkit::DeviceClient;
use mender_testkit::json::strings;
use mender_testkit::mender_artifact::{run, tool, write_module_image};
use serde_json::{Value, json};

/// A simulated device (Ed25519 key, identity `mac`) that asked to join, was pending, and was
/// accepted; returns it with its device id.
async fn accepted_device(server: &ServerProcess, m: &Mgmt, mac: &str) -> (DeviceClient, String) {
    let dev = pending_device(server, mac).await;
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
    let names = strings(&art["updates"][0]["files"], "name");
    assert!(names.iter().any(|n| n == "app.bin"), "{art}");
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
    for id in [&id1, &id2] {
        let a = m
            .call(
                "PUT",
                &format!("/api/management/v1/inventory/devices/{id}/group"),
                Some(json!({"group": "canary"})),
            )
            .await;
        assert_eq!(a.status, 204, "{}", a.text);
    }
    // A rejected member stays in the group but is no longer a deployment target.
    let auth_set = m
        .get(&format!("/api/management/v2/devauth/devices/{id2}"))
        .await
        .body["auth_sets"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    m.set_auth_status(&id2, &auth_set, "rejected").await;
    wait_for(30, "the rejection in inventory", String::new, || async {
        let status = inventory_value(&m, &id2, "identity", "status").await;
        (status == Some(json!("rejected"))).then_some(())
    })
    .await;

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
    assert_eq!(deployment_devices(&m, &everyone).await, vec![id1]);
    let a = m
        .call(
            "POST",
            "/api/management/v1/deployments/deployments/group/nobody",
            Some(json!({"name": "none", "artifact_name": "fleet-1"})),
        )
        .await;
    assert_eq!(a.status, 400, "{}", a.text);
    assert_eq!(a.body["error"], "No devices for the deployment");
}

/// The answer to one raw request: status, protocol version, headers and body text.
struct Raw {
    status: u16,
    version: reqwest::Version,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

/// One request that follows no redirect, with an optional bearer token and JSON body.
async fn raw(
    http: &reqwest::Client,
    method: &str,
    url: impl reqwest::IntoUrl,
    token: Option<&str>,
    body: Option<String>,
) -> Raw {
    let mut req = http.request(method.parse().unwrap(), url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b);
    }
    let resp = req.send().await.unwrap();
    Raw {
        status: resp.status().as_u16(),
        version: resp.version(),
        headers: resp.headers().clone(),
        text: resp.text().await.unwrap(),
    }
}

/// Clients for the public (TLS) and internal (plain) ports that do not follow redirects:
/// HTTP/1.1 only, and HTTP/2 (prior knowledge, over TLS and as h2c).
fn protocol_clients(server: &ServerProcess) -> Vec<(reqwest::Version, reqwest::Client)> {
    server.protocol_clients(|| {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
    })
}

/// Asserts gin's redirect answer: status by method, relative `Location` with the query, the
/// small HTML body for GET only, no request id.
fn assert_redirect(r: &Raw, method: &str, location: &str, what: &str) {
    let want_status = if method == "GET" { 301 } else { 307 };
    assert_eq!(r.status, want_status, "{what}: {}", r.text);
    assert_eq!(r.header("location"), Some(location), "{what}");
    assert_eq!(r.header("x-men-requestid"), None, "{what}");
    if method == "GET" {
        assert_eq!(
            r.text,
            format!(
                "<a href=\"{}\">Moved Permanently</a>.\n\n",
                location.replace('&', "&amp;")
            ),
            "{what}"
        );
        assert_eq!(
            r.header("content-type"),
            Some("text/html; charset=utf-8"),
            "{what}"
        );
    } else {
        assert_eq!(r.text, "", "{what}");
        assert_eq!(r.header("content-type"), None, "{what}");
    }
}

/// gin's `RedirectTrailingSlash` on the internal and the public port, over both protocol
/// versions: the redirect runs no handler (a body sent along is not used) and, on the public
/// port, comes after the token check of the path's prefix.
#[tokio::test(flavor = "multi_thread")]
async fn trailing_slash_redirects_like_gin() {
    let (_tmp, server, m) = start_with_admin().await;
    let internal = server.internal_url.clone().unwrap();
    let at = |p: &str| format!("{internal}{p}");
    let definition = |name: &str| {
        json!({"name": name, "version": 1, "tasks": [], "inputParameters": []}).to_string()
    };
    for (version, http) in protocol_clients(&server) {
        let v = format!("{version:?}");
        let name = format!("via-slash-{}", v.replace(['/', '.'], "-"));
        // Internal port (workflows): 307 for POST, the body is not registered.
        let url = at("/api/v1/metadata/workflows/");
        let r = raw(&http, "POST", &url, None, Some(definition(&name))).await;
        assert_eq!(r.version, version);
        assert_redirect(&r, "POST", "/api/v1/metadata/workflows", &v);
        let list = raw(&http, "GET", at("/api/v1/metadata/workflows"), None, None).await;
        assert_eq!(list.status, 200);
        assert!(
            !list.text.contains(&name),
            "{v}: the redirect registered nothing"
        );
        let r = raw(&http, "GET", &format!("{url}?a=1&b=2"), None, None).await;
        assert_redirect(&r, "GET", "/api/v1/metadata/workflows?a=1&b=2", &v);
        let r = raw(
            &http,
            "POST",
            at("/api/v1/workflow/provision_device/"),
            None,
            Some("{}".into()),
        )
        .await;
        assert_redirect(&r, "POST", "/api/v1/workflow/provision_device", &v);
        // No route of the same method: no redirect.
        let r = raw(&http, "DELETE", &url, None, None).await;
        assert_eq!(r.status, 404, "{v}");
        assert!(r.header("x-men-requestid").is_some(), "{v}");

        // Public port: the user token is checked first, then the redirect.
        let url = format!("{}/api/management/v1/inventory/devices/?page=1", server.url);
        let r = raw(&http, "GET", &url, None, None).await;
        assert_eq!(r.version, version);
        assert_eq!(r.status, 401, "{v}: {}", r.text);
        let r = raw(&http, "GET", &url, Some(&m.token), None).await;
        assert_redirect(&r, "GET", "/api/management/v1/inventory/devices?page=1", &v);
        let r = raw(
            &http,
            "POST",
            &format!("{}/api/management/v1/useradm/users/", server.url),
            Some(&m.token),
            Some(json!({"email": "slash@example.com", "password": "long-enough-pw"}).to_string()),
        )
        .await;
        assert_redirect(&r, "POST", "/api/management/v1/useradm/users", &v);
        // Login needs no token: redirected as it is.
        let r = raw(
            &http,
            "POST",
            &format!("{}/api/management/v1/useradm/auth/login/", server.url),
            None,
            None,
        )
        .await;
        assert_redirect(&r, "POST", "/api/management/v1/useradm/auth/login", &v);
    }
    let users = m.get("/api/management/v1/useradm/users").await;
    assert_eq!(
        users.body.as_array().unwrap().len(),
        1,
        "no user created through a redirect"
    );
}

/// Every path under a service's management or device prefix needs a token, served or not
/// (Traefik's routers); paths outside every prefix are a 404 whatever the token. Bodies sent
/// along are never read.
#[tokio::test(flavor = "multi_thread")]
async fn unserved_paths_under_service_prefixes_need_a_token() {
    let (_tmp, server, m) = start_with_admin().await;
    let (dev, _id) = accepted_device(&server, &m, "02:00:00:00:00:21").await;
    let device_token = dev.token().unwrap();
    // Small enough to be sent whole before the early answer (a bigger one races the
    // server closing the connection, as any early answer does).
    let big = "x".repeat(8 * 1024);
    for (version, http) in protocol_clients(&server) {
        let v = format!("{version:?}");
        let url = |p: &str| format!("{}{p}", server.url);
        // The 401s of served management and device routes, for comparison.
        let served = |path: &str| raw(&http, "GET", url(path), None, None);
        let served_user = served("/api/management/v1/useradm/users").await;
        let served_device = served("/api/devices/v1/deployments/device/deployments/next").await;
        assert_eq!((served_user.status, served_device.status), (401, 401));
        for (method, path, good, other) in [
            // Served prefixes (deviceconfig), on paths no route has.
            (
                "GET",
                "/api/management/v1/deviceconfig/configurations",
                &m.token,
                &device_token,
            ),
            (
                "PUT",
                "/api/management/v2/inventory/nothing",
                &m.token,
                &device_token,
            ),
            (
                "POST",
                "/api/management/v1/iot-manager/integrations",
                &m.token,
                &device_token,
            ),
            (
                "GET",
                "/api/devices/v1/deviceconnect/nothing",
                &device_token,
                &m.token,
            ),
            (
                "PUT",
                "/api/devices/v1/deviceconfig/nothing",
                &device_token,
                &m.token,
            ),
        ] {
            let what = format!("{v} {method} {path}");
            for token in [None, Some(other.as_str())] {
                let r = raw(&http, method, &url(path), token, Some(big.clone())).await;
                assert_eq!(r.version, version, "{what}");
                assert_eq!(r.status, 401, "{what} {token:?}: {}", r.text);
                assert!(r.header("x-men-requestid").is_some(), "{what}");
                if token.is_none() {
                    let served = if path.starts_with("/api/devices/") {
                        &served_device
                    } else {
                        &served_user
                    };
                    assert_eq!(r.json()["error"], served.json()["error"], "{what}");
                    assert_eq!(
                        r.header("www-authenticate"),
                        served.header("www-authenticate"),
                        "{what}"
                    );
                }
            }
            let r = raw(&http, method, &url(path), Some(good), Some("{}".into())).await;
            assert_eq!(r.status, 404, "{what}: {}", r.text);
            assert_eq!(r.json()["error"], "not found", "{what}");
            assert_eq!(
                r.json()["request_id"].as_str(),
                r.header("x-men-requestid"),
                "{what}"
            );
        }
        for path in [
            "/api/management/v1/auditlogs/logs",
            "/api/devices/v1/foo",
            "/api/internal/v1/devauth/tokens/verify",
        ] {
            for token in [None, Some(m.token.as_str())] {
                let r = raw(&http, "POST", &url(path), token, Some("{}".into())).await;
                assert_eq!(r.status, 404, "{v} {path} {token:?}: {}", r.text);
            }
        }
    }
}

/// 405 answers list the allowed methods as gin does (`Allow: GET, POST`), after the token
/// check on protected prefixes.
#[tokio::test(flavor = "multi_thread")]
async fn method_not_allowed_has_gins_allow_header() {
    let (_tmp, server, m) = start_with_admin().await;
    for (version, http) in protocol_clients(&server) {
        let v = format!("{version:?}");
        let url = |p: &str| format!("{}{p}", server.url);
        let r = raw(
            &http,
            "DELETE",
            &url("/api/management/v1/useradm/auth/login"),
            None,
            Some("{}".into()),
        )
        .await;
        assert_eq!(r.version, version);
        assert_eq!(r.status, 405, "{v}");
        assert_eq!(r.json()["error"], "method not allowed", "{v}");
        assert_eq!(r.header("allow"), Some("POST"), "{v}");
        let users = url("/api/management/v1/useradm/users");
        let r = raw(&http, "PATCH", &users, None, None).await;
        assert_eq!(r.status, 401, "{v}: the token check comes first");
        let r = raw(&http, "PATCH", &users, Some(&m.token), Some("{}".into())).await;
        assert_eq!(r.status, 405, "{v}");
        assert_eq!(r.header("allow"), Some("GET, POST"), "{v}");
    }
}
