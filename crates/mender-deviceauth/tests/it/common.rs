//! Test environment: a service on a fresh database of one backend with a manual clock and a
//! recording workflow starter, typed clients for its routers, and story steps (sign in a
//! device, list devices, accept one, verify a token).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use axum::http::{HeaderMap, Method};
use mender_api::testing::RecordingWorkflows;
use mender_core::clock::ManualClock;
use mender_core::jwt::SigningKey;
use mender_core::{ApiError, Identity};
use mender_db::query;
use mender_db::testing::{Backend, TestDb};
use mender_deviceauth::{DeviceauthConfig, SCHEMA, Service};
use mender_queue::outbox::{Relay, RelaySettings};
use mender_testkit::http::TestRequest;
use mender_testkit::{AuthRequest, DeviceKey, TestClient, TestResponse};
use serde_json::{Value, json};

/// The device auth request endpoint.
pub const AUTH_REQUESTS: &str = "/api/devices/v1/authentication/auth_requests";
/// The management devices collection.
pub const DEVS: &str = "/api/management/v2/devauth/devices";

/// The internal route of tenant `tenant`'s device limit.
pub fn limit_path(tenant: &str) -> String {
    format!("/api/internal/v1/devauth/tenant/{tenant}/limits/max_devices")
}

pub struct Env {
    pub svc: Arc<Service>,
    /// The open routes (auth requests).
    pub open: TestClient,
    /// The management routes, called as a user.
    pub mgmt: TestClient,
    /// The internal routes.
    pub internal: TestClient,
    wf: Arc<RecordingWorkflows>,
    /// The outbox relay, delivering to `wf` when a test looks at the workflows.
    pub relay: Relay,
    pub clock: Arc<ManualClock>,
    /// A second copy of the service's signing key, for forging tokens in tests.
    pub signer: SigningKey,
    pub db: TestDb,
}

pub fn user() -> Identity {
    Identity {
        token_id: "t".into(),
        ..mender_testkit::identity::user("user-1")
    }
}

impl Env {
    pub async fn new(backend: Backend) -> Env {
        Self::with_config(backend, DeviceauthConfig::default()).await
    }

    pub async fn with_config(backend: Backend, config: DeviceauthConfig) -> Env {
        let db = backend.open(&SCHEMA).await;
        let (key, pem) = SigningKey::generate_rsa().unwrap();
        let wf = Arc::new(RecordingWorkflows::default());
        let clock = ManualClock::starting_now();
        let svc = Service::new(db.db(), clock.clone(), key, config, wf.clone());
        let relay = svc.outbox_relay(wf.clone(), RelaySettings::default());
        let routers = svc.routers();
        Env {
            open: TestClient::new(routers.open),
            mgmt: TestClient::new(routers.management).as_identity(user()),
            internal: TestClient::new(routers.internal),
            svc,
            wf,
            relay,
            clock,
            signer: SigningKey::from_pem(&pem).unwrap(),
            db,
        }
    }

    /// The workflows started so far, after the relay delivered what the outbox holds.
    pub async fn wf(&self) -> &RecordingWorkflows {
        self.relay.drain().await.unwrap();
        &self.wf
    }

    /// The workflows started so far, without relaying the outbox.
    pub fn wf_now(&self) -> &RecordingWorkflows {
        &self.wf
    }

    /// The backend's name, for assertion messages.
    pub fn backend(&self) -> &'static str {
        self.db.backend()
    }

    /// An auth request of raw bytes with an optional signature, to send.
    fn auth_request(&self, body: Vec<u8>, signature: Option<&str>, ctype: &str) -> TestRequest {
        let req = self
            .open
            .post(AUTH_REQUESTS)
            .header("content-type", ctype)
            .body(body);
        match signature {
            Some(s) => req.header("x-men-signature", s),
            None => req,
        }
    }

    /// Posts raw auth request bytes with an optional signature.
    pub async fn auth_raw(
        &self,
        body: Vec<u8>,
        signature: Option<&str>,
        ctype: &str,
    ) -> TestResponse {
        self.auth_request(body, signature, ctype).send().await
    }

    /// A correctly signed auth request for `identity`.
    pub async fn auth(&self, key: &DeviceKey, identity: &Value) -> TestResponse {
        self.auth_from(key, identity, IpAddr::V4(Ipv4Addr::UNSPECIFIED))
            .await
    }

    /// A correctly signed auth request for `identity` from client address `from`.
    pub async fn auth_from(&self, key: &DeviceKey, identity: &Value, from: IpAddr) -> TestResponse {
        let signed = AuthRequest::new(identity).sign(key);
        self.auth_request(signed.body, Some(&signed.signature), "application/json")
            .client_addr(from)
            .send()
            .await
    }

    /// The management device list with `query` (empty or starting with `?`).
    pub async fn list(&self, query: &str) -> TestResponse {
        self.mgmt.get(&format!("{DEVS}{query}")).send().await
    }

    /// The management device search with `query` (empty or starting with `?`) and `body`.
    pub async fn search(&self, query: &str, body: &Value) -> TestResponse {
        let uri = format!("{DEVS}/search{query}");
        self.mgmt.post(&uri).json(body).send().await
    }

    /// Every device, oldest first.
    pub async fn devices(&self) -> Vec<Value> {
        let r = self.list("?per_page=500").await;
        r.assert_status(axum::http::StatusCode::OK);
        r.json().as_array().cloned().unwrap_or_default()
    }

    /// The device whose identity data is `identity`, which must exist.
    pub async fn device_with(&self, identity: &Value) -> Value {
        self.devices()
            .await
            .into_iter()
            .find(|d| &d["identity_data"] == identity)
            .unwrap()
    }

    /// Accepts the first auth set of `device`.
    pub async fn accept(&self, device: &Value) -> TestResponse {
        self.set_status(device, "accepted").await
    }

    /// Sets the status of the first auth set of `device`.
    pub async fn set_status(&self, device: &Value, status: &str) -> TestResponse {
        let id = device["id"].as_str().unwrap();
        let aid = device["auth_sets"][0]["id"].as_str().unwrap();
        self.set_auth_status(id, aid, status).await
    }

    /// Sets the status of auth set `aid`, addressed as one of device `id`'s.
    pub async fn set_auth_status(&self, id: &str, aid: &str, status: &str) -> TestResponse {
        self.mgmt
            .put(&format!("{DEVS}/{id}/auth/{aid}/status"))
            .json(&json!({ "status": status }))
            .send()
            .await
    }

    /// Decommissions device `id` through the management API.
    pub async fn decommission(&self, id: &str) -> TestResponse {
        self.mgmt.delete(&format!("{DEVS}/{id}")).send().await
    }

    /// Removes auth set `aid` of device `id` through the management API.
    pub async fn dismiss(&self, id: &str, aid: &str) -> TestResponse {
        self.mgmt
            .delete(&format!("{DEVS}/{id}/auth/{aid}"))
            .send()
            .await
    }

    /// Sets tenant `tenant`'s device limit through the internal API.
    pub async fn put_limit(&self, tenant: &str, limit: Value) -> TestResponse {
        self.internal
            .put(&limit_path(tenant))
            .json(&json!({ "limit": limit }))
            .send()
            .await
    }

    /// The device limit as the management API shows it to the user.
    pub async fn user_limit(&self) -> Value {
        self.mgmt
            .get("/api/management/v2/devauth/limits/max_devices")
            .send()
            .await
            .json()
    }

    /// Runs the gateway's device-token check on a bearer token.
    pub async fn verify(&self, token: &str) -> Result<Identity, ApiError> {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
        self.verify_headers(headers).await
    }

    /// Runs the gateway's device-token check on a request with these headers.
    pub async fn verify_headers(&self, headers: HeaderMap) -> Result<Identity, ApiError> {
        let req = mender_core::verify::ForwardedRequest {
            method: Method::GET,
            uri: "/api/devices/v1/inventory/device/attributes".into(),
            headers,
        };
        self.svc.verifier().verify(&req).await
    }

    pub async fn token_rows(&self) -> i64 {
        query("SELECT COUNT(*) FROM tokens")
            .scalar(&*self.db)
            .await
            .unwrap()
    }

    /// Rows in every table, to assert that a refused request changed nothing.
    pub async fn snapshot(&self) -> Vec<i64> {
        let mut out = Vec::new();
        for sql in [
            "SELECT COUNT(*) FROM devices",
            "SELECT COUNT(*) FROM auth_sets",
            "SELECT COUNT(*) FROM tokens",
            "SELECT COUNT(*) FROM limits",
        ] {
            out.push(query(sql).scalar::<i64>(&*self.db).await.unwrap());
        }
        out
    }

    /// Signs in `key` with `identity`, accepts the new device and returns it with a token.
    pub async fn admitted(&self, key: &DeviceKey, identity: &Value) -> (Value, String) {
        self.auth(key, identity).await;
        let device = self.device_with(identity).await;
        self.accept(&device)
            .await
            .assert_status(axum::http::StatusCode::NO_CONTENT);
        let r = self.auth(key, identity).await;
        r.assert_status(axum::http::StatusCode::OK);
        (device, r.text())
    }
}

/// The values of every `Link` header, in order.
pub fn links(r: &TestResponse) -> Vec<String> {
    r.headers
        .get_all("link")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

pub use mender_testkit::key::{der, spki_pem};

/// The DER inside a PEM block.
pub fn pem_der(pem: &str) -> Vec<u8> {
    mender_core::jwt::pem_decode(pem).unwrap().1
}

impl Env {
    /// Preauthorizes `identity` with `pubkey`.
    pub async fn preauth(&self, identity: &Value, pubkey: &str) -> TestResponse {
        self.mgmt
            .post(DEVS)
            .json(&json!({"identity_data": identity, "pubkey": pubkey}))
            .send()
            .await
    }
}
