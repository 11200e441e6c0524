//! Test harness: a Service per backend with a shared test key, and request helpers that
//! authenticate management calls the way the gateway does (verifier, then Identity).

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use axum::response::IntoResponse;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http_body_util::BodyExt;
use mender_core::jwt::SigningKey;
use mender_core::verify::ForwardedRequest;
use mender_useradm::store::{self, UseradmStore};
use mender_useradm::{Keys, Service, UseradmConfig};
use tower::ServiceExt;

/// The PEM of the key every test service signs with (RSA generation is slow).
pub fn test_pem() -> &'static str {
    static PEM: OnceLock<String> = OnceLock::new();
    PEM.get_or_init(|| SigningKey::generate_rsa().unwrap().1)
}

pub fn test_keys() -> Keys {
    Keys::from_keys(vec![(0, SigningKey::from_pem(test_pem()).unwrap())], 0).unwrap()
}

pub fn test_config() -> UseradmConfig {
    UseradmConfig {
        bcrypt_cost: 4,
        ..UseradmConfig::default()
    }
}

/// One backend under test.
pub struct Env {
    pub backend: &'static str,
    pub svc: Arc<Service>,
    pub store: Arc<dyn UseradmStore>,
    pub open: Router,
    pub management: Router,
    pub internal: Router,
    _dir: Option<tempfile::TempDir>,
}

pub async fn envs_with(config: UseradmConfig) -> Vec<Env> {
    let mut out = Vec::new();
    for (db, dir) in mender_db::testing::all("useradm", mender_useradm::migrations()).await {
        let backend = db.backend();
        let store = store::for_db(&db);
        let svc = Service::new(db, test_keys(), config.clone());
        let r = svc.routers();
        out.push(Env {
            backend,
            svc,
            store,
            open: r.open,
            management: r.management,
            internal: r.internal,
            _dir: dir,
        });
    }
    out
}

pub async fn envs() -> Vec<Env> {
    envs_with(test_config()).await
}

/// A response, read whole.
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
    pub fn text(&self) -> String {
        String::from_utf8(self.body.to_vec()).unwrap()
    }
    /// Asserts an upstream error body with this status.
    pub fn assert_error(&self, status: StatusCode) -> String {
        assert_eq!(self.status, status, "body: {}", self.text());
        let v = self.json();
        assert!(v.get("request_id").is_some(), "{v}");
        v["error"].as_str().expect("error message").to_owned()
    }
}

pub async fn send(router: &Router, req: Request<Body>) -> Resp {
    let resp = router.clone().oneshot(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Resp {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

pub fn req(method: Method, uri: &str) -> axum::http::request::Builder {
    Request::builder().method(method).uri(uri)
}

pub fn json_req(method: Method, uri: &str, body: serde_json::Value) -> Request<Body> {
    req(method, uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

pub fn basic(email: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{email}:{password}")))
}

impl Env {
    /// Logs in; panics unless 200.
    pub async fn login(&self, email: &str, password: &str) -> String {
        let r = send(
            &self.open,
            req(Method::POST, "/api/management/v1/useradm/auth/login")
                .header(header::AUTHORIZATION, basic(email, password))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "login {}: {}",
            self.backend,
            r.text()
        );
        r.text()
    }

    /// Creates a user through the service and logs in.
    pub async fn user(&self, email: &str, password: &str) -> (String, String) {
        let u = self.svc.create_user(email, password).await.unwrap();
        (u.id, self.login(email, password).await)
    }

    /// A management request as the gateway forwards it: verified first, then the Identity
    /// travels in the request extensions.
    pub async fn mgmt(&self, token: &str, mut req: Request<Body>) -> Resp {
        req.headers_mut().insert(
            header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        let fwd = ForwardedRequest {
            method: req.method().clone(),
            uri: req.uri().to_string(),
            headers: req.headers().clone(),
        };
        match self.svc.verifier().verify(&fwd).await {
            Ok(identity) => {
                req.extensions_mut().insert(identity);
                send(&self.management, req).await
            }
            Err(e) => {
                let resp = e.into_response();
                let (parts, body) = resp.into_parts();
                Resp {
                    status: parts.status,
                    headers: parts.headers,
                    body: body.collect().await.unwrap().to_bytes(),
                }
            }
        }
    }

    /// Calls the internal verify endpoint for a token.
    pub async fn verify_http(&self, token: &str) -> Resp {
        send(
            &self.internal,
            req(Method::POST, "/api/internal/v1/useradm/auth/verify")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .header("X-Forwarded-Uri", "/api/management/v1/useradm/users")
                .header("X-Forwarded-Method", "GET")
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }
}

pub const MGMT: &str = "/api/management/v1/useradm";
pub const INTERNAL: &str = "/api/internal/v1/useradm";
