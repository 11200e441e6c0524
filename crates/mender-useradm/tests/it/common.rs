//! Test harness: a Service per backend with a shared test key and a manual clock, and
//! clients that call management routes the way the gateway does (verifier, then Identity).

use std::sync::{Arc, OnceLock};

use axum::http::{Method, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mender_core::clock::ManualClock;
use mender_core::jwt::SigningKey;
use mender_core::verify::ForwardedRequest;
use mender_core::{ApiError, TenantId, Timestamp, UserId};
use mender_db::testing::{Backend, TestDb};
use mender_testkit::http::{TestClient, TestRequest, TestResponse};
use mender_useradm::model::User;
use mender_useradm::store::{SqlStore, UserRecord, UseradmStore};
use mender_useradm::{Keys, SCHEMA, Service, UseradmConfig};
use serde_json::Value;

pub const MGMT: &str = "/api/management/v1/useradm";
pub const INTERNAL: &str = "/api/internal/v1/useradm";

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

/// Where every test clock starts: 2024-01-02T03:04:05Z.
pub fn start() -> Timestamp {
    Timestamp::from_unix_secs(1_704_164_645)
}

/// One service on one backend.
pub struct Env {
    pub svc: Arc<Service>,
    /// A second handle on the service's database, to look behind the API.
    pub store: SqlStore,
    pub clock: Arc<ManualClock>,
    pub open: TestClient,
    pub internal: TestClient,
    management: TestClient,
    db: TestDb,
}

pub async fn env(backend: Backend) -> Env {
    env_with(backend, test_config()).await
}

pub async fn env_with(backend: Backend, config: UseradmConfig) -> Env {
    let db = backend.open(&SCHEMA).await;
    let clock = ManualClock::new(start());
    let svc = Service::new(db.db(), clock.clone(), test_keys(), config);
    let r = svc.routers();
    Env {
        store: SqlStore(db.db()),
        clock,
        open: TestClient::new(r.open),
        internal: TestClient::new(r.internal),
        management: TestClient::new(r.management),
        svc,
        db,
    }
}

/// The management API's `path`.
pub fn mgmt(path: &str) -> String {
    format!("{MGMT}/{path}")
}

pub fn basic(email: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{email}:{password}")))
}

impl Env {
    pub fn backend(&self) -> &'static str {
        self.db.backend()
    }

    /// A login request with Basic credentials, to send as it is or with a body.
    pub fn login_request(&self, email: &str, password: &str) -> TestRequest {
        self.open
            .post(&format!("{MGMT}/auth/login"))
            .header(header::AUTHORIZATION, &basic(email, password))
    }

    /// Logs in; panics unless 200.
    pub async fn login(&self, email: &str, password: &str) -> String {
        let r = self.login_request(email, password).send().await;
        r.assert_status(StatusCode::OK);
        r.text()
    }

    /// Creates a user through the service.
    pub async fn create_user(&self, email: &str, password: &str) -> User {
        self.svc.create_user(email, password).await.unwrap()
    }

    /// Creates a user through the service and logs in.
    pub async fn user(&self, email: &str, password: &str) -> (UserId, String) {
        let u = self.create_user(email, password).await;
        (u.id, self.login(email, password).await)
    }

    /// What the gateway does before a management request carrying `token`: the service's
    /// verifier checks it (as for `GET /users`), and the request then travels as the
    /// identity it yields. `Err` is the gateway's answer when the token is refused.
    pub async fn gateway(&self, token: &str) -> Result<TestClient, ApiError> {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        let fwd = ForwardedRequest {
            method: Method::GET,
            uri: format!("{MGMT}/users"),
            headers,
        };
        let identity = self.svc.verifier().verify(&fwd).await?;
        Ok(self.management.as_identity(identity))
    }

    /// The management API as the holder of `token`; panics when the gateway refuses it.
    pub async fn as_user(&self, token: &str) -> TestClient {
        self.gateway(token)
            .await
            .unwrap_or_else(|e| panic!("gateway refused the token on {}: {e}", self.backend()))
    }

    /// `method {MGMT}/{path}` as the holder of `token`, with `body` as JSON if there is one.
    pub async fn call(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> TestResponse {
        let mut req = self.as_user(token).await.request(method, &mgmt(path));
        if let Some(body) = body {
            req = req.json(body);
        }
        req.send().await
    }

    /// `GET {MGMT}/{path}` as the holder of `token`.
    pub async fn get(&self, token: &str, path: &str) -> TestResponse {
        self.call(token, Method::GET, path, None).await
    }

    /// `POST {MGMT}/{path}` with a JSON body as the holder of `token`.
    pub async fn post(&self, token: &str, path: &str, body: &Value) -> TestResponse {
        self.call(token, Method::POST, path, Some(body)).await
    }

    /// `PUT {MGMT}/{path}` with a JSON body as the holder of `token`.
    pub async fn put(&self, token: &str, path: &str, body: &Value) -> TestResponse {
        self.call(token, Method::PUT, path, Some(body)).await
    }

    /// `DELETE {MGMT}/{path}` as the holder of `token`.
    pub async fn delete(&self, token: &str, path: &str) -> TestResponse {
        self.call(token, Method::DELETE, path, None).await
    }

    /// The stored user of `tenant` with `email`, which must exist.
    pub async fn stored_user(&self, tenant: &TenantId, email: &str) -> UserRecord {
        self.store
            .get_user_by_email(tenant, email)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no user {email} on {}", self.backend()))
    }

    /// The management router with no identity at all (what a misconfigured gateway would pass).
    pub fn management_without_identity(&self) -> &TestClient {
        &self.management
    }

    /// Asserts that the internal verify endpoint accepts `token`.
    pub async fn assert_valid(&self, token: &str) {
        self.verify_http(token).await.assert_status(StatusCode::OK);
    }

    /// Asserts that the internal verify endpoint refuses `token` (401); the message.
    pub async fn assert_refused(&self, token: &str) -> String {
        self.verify_http(token)
            .await
            .assert_error(StatusCode::UNAUTHORIZED)
    }

    /// Calls the internal verify endpoint for a token.
    pub async fn verify_http(&self, token: &str) -> TestResponse {
        self.internal
            .post(&format!("{INTERNAL}/auth/verify"))
            .bearer(token)
            .header("X-Forwarded-Uri", "/api/management/v1/useradm/users")
            .header("X-Forwarded-Method", "GET")
            .send()
            .await
    }
}
