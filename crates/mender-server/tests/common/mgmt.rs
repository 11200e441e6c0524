//! A management-API client for end-to-end tests: log in, call, poll.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use serde_json::Value;

use super::ServerProcess;

/// A logged-in management API client.
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

    /// Sends a request with the token; `body` is sent as JSON when given.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.url))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
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

    /// GET.
    pub async fn get(&self, path: &str) -> Answer {
        self.call("GET", path, None).await
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

/// Waits for the only pending device and accepts it; returns its id.
pub async fn accept_first_pending(m: &Mgmt, context: impl Fn() -> String) -> String {
    let (id, aid) = wait_for(60, "a pending device", &context, || async {
        let a = m
            .get("/api/management/v2/devauth/devices?status=pending")
            .await;
        assert_eq!(a.status, 200);
        let d = a.body.as_array()?.first()?.clone();
        Some((
            d["id"].as_str()?.to_owned(),
            d["auth_sets"][0]["id"].as_str()?.to_owned(),
        ))
    })
    .await;
    let a = m
        .call(
            "PUT",
            &format!("/api/management/v2/devauth/devices/{id}/auth/{aid}/status"),
            Some(serde_json::json!({"status": "accepted"})),
        )
        .await;
    assert_eq!(a.status, 204, "{}", a.text);
    id
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
