//! A management-API client for end-to-end tests: a fresh server with an admin, log in, call,
//! poll, and the management steps several tests take (accept, decommission, deploy).

#![allow(dead_code)]

use std::time::{Duration, Instant};

use serde_json::Value;

use super::{ADMIN_EMAIL, ADMIN_PASSWORD, ServerProcess, create_user};

/// A fresh server (in a temp dir that lives as long as the returned guard) with the admin
/// user created by `mender-server user create`, and that admin logged in.
pub async fn start_with_admin() -> (tempfile::TempDir, ServerProcess, Mgmt) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let server = ServerProcess::start(&data, &[], &[]);
    assert!(
        create_user(&data, ADMIN_EMAIL, ADMIN_PASSWORD)
            .status
            .success()
    );
    let m = Mgmt::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    (tmp, server, m)
}

/// A logged-in management API client (or, through [`Mgmt::with_token`], any bearer token).
#[derive(Clone)]
pub struct Mgmt {
    pub http: reqwest::Client,
    pub url: String,
    pub token: String,
}

/// A decoded answer.
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub text: String,
    pub headers: reqwest::header::HeaderMap,
}

impl Answer {
    /// Reads a whole response; a body that is not JSON decodes as `null`.
    async fn read(resp: reqwest::Response) -> Self {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            body,
            text,
            headers,
        }
    }
}

impl Mgmt {
    /// Logs in with HTTP Basic, as mender-cli and the web UI do.
    pub async fn login(server: &ServerProcess, email: &str, password: &str) -> Self {
        let http = server.client();
        let resp = http
            .post(format!(
                "{}/api/management/v1/useradm/auth/login",
                server.url
            ))
            .basic_auth(email, Some(password))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "login");
        let token = resp.text().await.unwrap();
        Mgmt {
            http,
            url: server.url.clone(),
            token,
        }
    }

    /// The same client sending `token` instead (to check what another token opens).
    pub fn with_token(&self, token: &str) -> Self {
        Mgmt {
            token: token.to_owned(),
            ..self.clone()
        }
    }

    /// Sends a request with the token; `body` is sent as JSON when given.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        Answer::read(self.request(method, path, body).send().await.unwrap()).await
    }

    /// A request with the token, for [`call`](Self::call) or a test that reads the answer
    /// itself (or gets none); `body` is sent as JSON when given.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::RequestBuilder {
        let req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.url))
            .bearer_auth(&self.token);
        match body {
            Some(b) => req.json(&b),
            None => req,
        }
    }

    /// GET.
    pub async fn get(&self, path: &str) -> Answer {
        self.call("GET", path, None).await
    }

    /// POSTs `body` to a collection, expecting 201; returns the new resource's id (the last
    /// segment of its `Location`).
    pub async fn create(&self, path: &str, body: Value) -> String {
        let a = self.call("POST", path, Some(body)).await;
        assert_eq!(a.status, 201, "POST {path}: {}", a.text);
        let location = a.headers["location"].to_str().unwrap();
        location.rsplit('/').next().unwrap().to_owned()
    }

    /// POSTs a `multipart/form-data` body: the text `fields`, then `file` (field name, file
    /// name, content) as an octet stream, the way the UI and mender-cli send artifacts.
    pub async fn post_multipart(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        file: (&str, &str, &[u8]),
    ) -> Answer {
        let boundary = "XBOUNDARYX";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .bytes(),
            );
        }
        let (field, filename, content) = file;
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .bytes(),
        );
        body.extend(content);
        body.extend(format!("\r\n--{boundary}--\r\n").bytes());
        let req = self
            .http
            .post(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body);
        Answer::read(req.send().await.unwrap()).await
    }

    /// Sets the status (`accepted`, `rejected`, ...) of a device's auth set, expecting 204.
    pub async fn set_auth_status(&self, device: &str, auth_set: &str, status: &str) {
        let a = self
            .call(
                "PUT",
                &format!("/api/management/v2/devauth/devices/{device}/auth/{auth_set}/status"),
                Some(serde_json::json!({ "status": status })),
            )
            .await;
        assert_eq!(a.status, 204, "{status}: {}", a.text);
    }

    /// Decommissions a device, expecting 204.
    pub async fn decommission(&self, device: &str) {
        let a = self
            .call(
                "DELETE",
                &format!("/api/management/v2/devauth/devices/{device}"),
                None,
            )
            .await;
        assert_eq!(a.status, 204, "{}", a.text);
    }

    /// The stored artifact `id`, fetched through its management download link.
    pub async fn download_artifact(&self, id: &str) -> Vec<u8> {
        let link = self
            .get(&format!(
                "/api/management/v1/deployments/artifacts/{id}/download"
            ))
            .await;
        assert_eq!(link.status, 200, "{}", link.text);
        let resp = self
            .http
            .get(link.body["uri"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        resp.bytes().await.unwrap().to_vec()
    }
}

/// Polls `f` every half second until it returns `Some`; fails after `secs` with `context()`.
pub async fn wait_for<T, F, Fut>(secs: u64, what: &str, context: impl Fn() -> String, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}\n{}",
            context()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Waits for the pending device whose identity is `mac`; returns `(device id, auth set id)`.
pub async fn pending_ids(m: &Mgmt, mac: &str, context: impl Fn() -> String) -> (String, String) {
    wait_for(60, "the pending device", &context, || async {
        let a = m
            .get("/api/management/v2/devauth/devices?status=pending")
            .await;
        assert_eq!(a.status, 200);
        let d = a
            .body
            .as_array()?
            .iter()
            .find(|d| d["identity_data"]["mac"] == mac)?
            .clone();
        Some((
            d["id"].as_str()?.to_owned(),
            d["auth_sets"][0]["id"].as_str()?.to_owned(),
        ))
    })
    .await
}

/// Waits for the pending device whose identity is `mac` and accepts it; returns its id.
pub async fn accept_pending(m: &Mgmt, mac: &str, context: impl Fn() -> String) -> String {
    let (id, aid) = pending_ids(m, mac, context).await;
    m.set_auth_status(&id, &aid, "accepted").await;
    id
}

/// A simulated device (Ed25519 key, identity `mac`) that has asked to join once and was
/// told it is pending (401).
pub async fn pending_device(server: &ServerProcess, mac: &str) -> mender_testkit::DeviceClient {
    let pem = std::fs::read(server.cert.as_ref().unwrap()).unwrap();
    let dev = mender_testkit::DeviceClient::builder(
        server.url.clone(),
        mender_testkit::DeviceKey::ed25519(),
        serde_json::json!({"mac": mac}),
    )
    .root_cert_pem(pem)
    .build()
    .unwrap();
    assert_eq!(
        dev.authenticate().await.unwrap(),
        None,
        "pending devices get 401"
    );
    dev
}

/// Waits until neither devauth nor inventory knows `device` (after decommissioning).
pub async fn wait_device_gone(m: &Mgmt, device: &str) {
    wait_for(30, "the device to disappear", String::new, || async {
        let a = m
            .get(&format!("/api/management/v2/devauth/devices/{device}"))
            .await
            .status;
        let b = m
            .get(&format!("/api/management/v1/inventory/devices/{device}"))
            .await
            .status;
        (a == 404 && b == 404).then_some(())
    })
    .await;
}

/// The value of an inventory attribute of a device, if reported.
pub async fn inventory_value(m: &Mgmt, device: &str, scope: &str, name: &str) -> Option<Value> {
    let a = m
        .get(&format!("/api/management/v1/inventory/devices/{device}"))
        .await;
    if a.status != 200 {
        return None;
    }
    a.body["attributes"]
        .as_array()?
        .iter()
        .find(|x| x["name"] == name && x["scope"] == scope)
        .map(|x| x["value"].clone())
}
