//! The gateway's routing rules: which routes need which token, and that internal routes
//! never appear on the public router.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use mender_core::service::Routers;
use mender_core::verify::{ForwardedRequest, TokenVerifier};
use mender_core::{ApiError, Identity};
use mender_gateway::{GatewayConfig, compose};
use tower::ServiceExt;

/// Accepts exactly the token it was built with.
struct Fixed {
    token: &'static str,
    device: bool,
}

#[async_trait::async_trait]
impl TokenVerifier for Fixed {
    async fn verify(&self, req: &ForwardedRequest) -> Result<Identity, ApiError> {
        match mender_core::identity::extract_token(&req.headers) {
            Some(t) if t == self.token => Ok(Identity {
                subject: format!("subject-of-{t}"),
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

async fn call(
    method: &str,
    uri: &str,
    token: Option<&str>,
) -> (StatusCode, serde_json::Value, String) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = app()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let rid = resp
        .headers()
        .get("x-men-requestid")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::String(
        String::from_utf8_lossy(&body).into(),
    ));
    (status, json, rid)
}

#[tokio::test]
async fn management_routes_need_a_user_token() {
    let (s, body, rid) = call("GET", "/api/management/v1/useradm/users", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "unauthorized");
    assert_eq!(body["request_id"], rid);
    assert!(!rid.is_empty());
    assert_eq!(
        call("GET", "/api/management/v1/useradm/users", Some("dev"))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let (s, body, _) = call("GET", "/api/management/v1/useradm/users", Some("user")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body, "subject-of-user");
}

#[tokio::test]
async fn device_routes_need_a_device_token() {
    assert_eq!(
        call("GET", "/api/devices/v1/inventory/device/attributes", None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(
            "GET",
            "/api/devices/v1/inventory/device/attributes",
            Some("user")
        )
        .await
        .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(
            "GET",
            "/api/devices/v1/inventory/device/attributes",
            Some("dev")
        )
        .await
        .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn open_routes_need_no_token_and_internal_routes_are_absent() {
    assert_eq!(
        call("POST", "/api/management/v1/useradm/auth/login", None)
            .await
            .0,
        StatusCode::OK
    );
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
    let req = Request::builder()
        .uri("/nowhere")
        .header("x-men-requestid", "abc-123")
        .body(Body::empty())
        .unwrap();
    let resp = app().oneshot(req).await.unwrap();
    assert_eq!(resp.headers()["x-men-requestid"], "abc-123");
    let body: serde_json::Value =
        serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(body["request_id"], "abc-123");
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
    let resp = app.oneshot(req).await.unwrap();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"ota.example.com:8443");
}
