//! The gateway's routing rules: which routes need which token, and that internal routes
//! never appear on the public router.

// Tests may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::{get, post};
use mender_core::service::Routers;
use mender_core::verify::{ForwardedRequest, TokenVerifier};
use mender_core::{ApiError, Identity};
use mender_gateway::{GatewayConfig, compose};
use mender_testkit::TestClient;
use serde_json::Value;

/// Accepts exactly the token it was built with.
struct Fixed {
    token: &'static str,
    device: bool,
}

#[async_trait::async_trait]
impl TokenVerifier for Fixed {
    async fn verify(&self, req: &ForwardedRequest) -> Result<Identity, ApiError> {
        match mender_core::identity::request_token(&req.headers) {
            Ok(t) if t.expose_str() == self.token => Ok(Identity {
                subject: format!("subject-of-{}", self.token),
                is_device: self.device,
                is_user: !self.device,
                ..Identity::default()
            }),
            _ => Err(ApiError::unauthorized("unauthorized")),
        }
    }
}

async fn whoami(id: Identity) -> String {
    id.subject
}

fn app() -> Router {
    let routers = Routers {
        open: Router::new().route(
            "/api/management/v1/useradm/auth/login",
            post(|| async { "login" }),
        ),
        management: Router::new().route("/api/management/v1/useradm/users", get(whoami)),
        devices: Router::new().route("/api/devices/v1/inventory/device/attributes", get(whoami)),
        internal: Router::new().route("/api/internal/v1/useradm/health", get(|| async { "ok" })),
    };
    compose(
        routers,
        GatewayConfig {
            user_verifier: Arc::new(Fixed {
                token: "user",
                device: false,
            }),
            device_verifier: Some(Arc::new(Fixed {
                token: "dev",
                device: true,
            })),
            body_limit: 16,
        },
    )
    .public
}

/// Calls the public router with an optional bearer token: status, body, request id.
async fn call(method: &str, uri: &str, token: Option<&str>) -> (StatusCode, Value, String) {
    let mut req = TestClient::new(app()).request(method.parse().unwrap(), uri);
    if let Some(t) = token {
        req = req.bearer(t);
    }
    let resp = req.send().await;
    let rid = resp
        .header("x-men-requestid")
        .unwrap_or_default()
        .to_owned();
    let json = serde_json::from_slice(&resp.body).unwrap_or(Value::String(resp.text()));
    (resp.status, json, rid)
}

/// The status alone, for each (token, expected status) of one route.
async fn assert_statuses(method: &str, uri: &str, cases: &[(Option<&str>, StatusCode)]) {
    for &(token, want) in cases {
        assert_eq!(
            call(method, uri, token).await.0,
            want,
            "{method} {uri} {token:?}"
        );
    }
}

#[tokio::test]
async fn management_routes_need_a_user_token() {
    let (s, body, rid) = call("GET", "/api/management/v1/useradm/users", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "unauthorized");
    assert_eq!(body["request_id"], rid);
    assert!(!rid.is_empty());
    assert_statuses(
        "GET",
        "/api/management/v1/useradm/users",
        &[(Some("dev"), StatusCode::UNAUTHORIZED)],
    )
    .await;
    let (s, body, _) = call("GET", "/api/management/v1/useradm/users", Some("user")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body, "subject-of-user");
}

#[tokio::test]
async fn device_routes_need_a_device_token() {
    assert_statuses(
        "GET",
        "/api/devices/v1/inventory/device/attributes",
        &[
            (None, StatusCode::UNAUTHORIZED),
            (Some("user"), StatusCode::UNAUTHORIZED),
            (Some("dev"), StatusCode::OK),
        ],
    )
    .await;
}

#[tokio::test]
async fn open_routes_need_no_token_and_internal_routes_are_absent() {
    assert_statuses(
        "POST",
        "/api/management/v1/useradm/auth/login",
        &[(None, StatusCode::OK)],
    )
    .await;
    let (s, body, _) = call("GET", "/api/internal/v1/useradm/health", Some("user")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "not found");
}

#[tokio::test]
async fn wrong_method_is_405_with_upstream_body() {
    let (s, body, _) = call("DELETE", "/api/management/v1/useradm/auth/login", None).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["error"], "method not allowed");
}

#[tokio::test]
async fn request_id_is_echoed() {
    let resp = TestClient::new(app())
        .get("/nowhere")
        .header("x-men-requestid", "abc-123")
        .send()
        .await;
    assert_eq!(resp.header("x-men-requestid"), Some("abc-123"));
    assert_eq!(resp.json()["request_id"], "abc-123");
}

#[tokio::test]
async fn http2_authority_becomes_the_host_header() {
    let app = mender_gateway::finish(
        Router::new().route(
            "/host",
            get(|h: axum::http::HeaderMap| async move { h["host"].to_str().unwrap().to_owned() }),
        ),
        1024,
    );
    let req = Request::builder()
        .uri("https://ota.example.com:8443/host")
        .version(axum::http::Version::HTTP_2)
        .body(Body::empty())
        .unwrap();
    let resp = TestClient::new(app).send(req).await;
    assert_eq!(resp.text(), "ota.example.com:8443");
}

/// Collects what the access log writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn access_log_has_request_id_status_and_path_but_no_secrets() {
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let resp = TestClient::new(app())
        .get("/api/management/v1/useradm/users?x-men-signature=SIGNED-LINK-SECRET")
        .bearer("TOKEN-SECRET")
        .header("x-men-requestid", "rid-42")
        .send()
        .await;
    assert_eq!(resp.status, StatusCode::UNAUTHORIZED);
    let log = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("finished processing request"))
        .unwrap_or_else(|| panic!("no access log line in {log:?}"));
    for want in [
        "rid-42",
        "status=401",
        "/api/management/v1/useradm/users",
        "GET",
    ] {
        assert!(line.contains(want), "{want} missing from {line}");
    }
    assert!(!log.contains("SECRET"), "a secret reached the log: {log}");
}
