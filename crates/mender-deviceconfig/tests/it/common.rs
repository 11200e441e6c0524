//! Test harness: the service on a fresh database of one backend with a manual clock and a
//! recording stand-in for deployments, and clients of its routers as the gateway calls them.

use std::sync::Arc;

use axum::http::StatusCode;
use mender_api::testing::RecordingDeployments;
use mender_core::clock::ManualClock;
use mender_core::{Identity, Timestamp};
use mender_db::testing::{Backend, TestDb};
use mender_deviceconfig::{SCHEMA, Service};
use mender_testkit::http::{TestClient, TestResponse};
use mender_testkit::identity;
use serde_json::Value;

/// The management route of device `id`.
pub fn mgmt(id: &str) -> String {
    format!("/api/management/v1/deviceconfig/configurations/device/{id}")
}

/// The device route.
pub const DEVICE: &str = "/api/devices/v1/deviceconfig/configuration";
/// The internal prefix.
pub const INTERNAL: &str = "/api/internal/v1/deviceconfig";

/// Where every test clock starts: 2024-01-02T03:04:05.678Z.
pub const START_MS: i64 = 1_704_164_645_678;
/// [`START_MS`] as the API renders it.
pub const START_TEXT: &str = "2024-01-02T03:04:05.678Z";

/// One service on one backend.
pub struct Env {
    pub clock: Arc<ManualClock>,
    /// What deploying created.
    pub deployments: Arc<RecordingDeployments>,
    /// The management routes, called by a user.
    pub user: TestClient,
    /// The management routes without an identity.
    pub management: TestClient,
    /// The device routes without an identity.
    pub devices: TestClient,
    pub internal: TestClient,
    _db: TestDb,
}

pub async fn env(backend: Backend) -> Env {
    let db = backend.open(&SCHEMA).await;
    let clock = ManualClock::new(Timestamp::from_unix_millis(START_MS));
    let deployments = Arc::new(RecordingDeployments::default());
    let svc = Service::new(db.db(), clock.clone(), deployments.clone());
    let r = svc.routers();
    let management = TestClient::new(r.management);
    Env {
        clock,
        deployments,
        user: management.as_identity(identity::user("user-1")),
        management,
        devices: TestClient::new(r.devices),
        internal: TestClient::new(r.internal),
        _db: db,
    }
}

impl Env {
    /// Device `id`'s client of the device routes.
    pub fn device(&self, id: &str) -> TestClient {
        self.devices.as_identity(identity::device(id))
    }

    /// Provisions device `id` in `tenant`, as the workflow does.
    pub async fn provision_in(&self, tenant: &str, id: &str) -> TestResponse {
        self.internal
            .post(&format!("{INTERNAL}/tenants/{tenant}/devices"))
            .json(&serde_json::json!({ "device_id": id }))
            .send()
            .await
    }

    /// Decommissions device `id` of `tenant`, as the workflow does.
    pub async fn decommission_in(&self, tenant: &str, id: &str) -> TestResponse {
        let uri = format!("{INTERNAL}/tenants/{tenant}/devices/{id}");
        self.internal.delete(&uri).send().await
    }

    /// Creates tenant `body` (`{"tenant_id": ...}`), as the tenant-creation workflow does.
    pub async fn create_tenant(&self, body: &Value) -> TestResponse {
        let uri = format!("{INTERNAL}/tenants");
        self.internal.post(&uri).json(body).send().await
    }

    /// Deletes `tenant`'s data, as the tenant-deletion workflow does.
    pub async fn delete_tenant(&self, tenant: &str) -> TestResponse {
        let uri = format!("{INTERNAL}/tenants/{tenant}");
        self.internal.delete(&uri).send().await
    }

    /// Deploys device `id`'s configuration on `tenant`'s behalf with `body`.
    pub async fn deploy_in(&self, tenant: &str, id: &str, body: &Value) -> TestResponse {
        let uri = format!("{INTERNAL}/tenants/{tenant}/configurations/device/{id}/deploy");
        self.internal.post(&uri).json(body).send().await
    }

    /// Provisions device `id` in the default tenant, expecting 201.
    pub async fn provision(&self, id: &str) {
        self.provision_in("", id)
            .await
            .assert_status(StatusCode::CREATED);
    }

    /// A user sets device `id`'s desired configuration to `config`.
    pub async fn configure(&self, id: &str, config: &Value) -> TestResponse {
        self.user.put(&mgmt(id)).json(config).send().await
    }

    /// A user sets device `id`'s desired configuration to `config`, expecting 204.
    pub async fn configure_ok(&self, id: &str, config: &Value) {
        self.configure(id, config)
            .await
            .assert_status(StatusCode::NO_CONTENT);
    }

    /// A user deploys device `id`'s configuration with `body`.
    pub async fn deploy(&self, id: &str, body: &Value) -> TestResponse {
        let uri = format!("{}/deploy", mgmt(id));
        self.user.post(&uri).json(body).send().await
    }

    /// The management view of device `id`, expecting 200.
    pub async fn view(&self, id: &str) -> Value {
        self.view_as(&self.user, id).await
    }

    /// The management view of device `id` as a user of `tenant`, expecting 200.
    pub async fn view_in(&self, tenant: &str, id: &str) -> Value {
        let user = self.management.as_identity(Identity {
            subject: "u".into(),
            tenant: tenant.into(),
            is_user: true,
            ..Default::default()
        });
        self.view_as(&user, id).await
    }

    async fn view_as(&self, user: &TestClient, id: &str) -> Value {
        let r = user.get(&mgmt(id)).send().await;
        r.assert_status(StatusCode::OK);
        r.json()
    }
}

/// Asserts a 400 whose message starts with `prefix`.
#[track_caller]
pub fn bad_request(r: &TestResponse, prefix: &str) {
    let msg = r.assert_error(StatusCode::BAD_REQUEST);
    assert!(
        msg.starts_with(prefix),
        "{msg:?} does not start with {prefix:?}"
    );
}

/// Bodies a configuration route must refuse, with the status and the start of the message
/// (upstream's rules, the JSON extractor's answers, and our NUL rule).
pub fn refused_configurations() -> Vec<(&'static str, String, StatusCode, &'static str)> {
    let bad = StatusCode::BAD_REQUEST;
    let invalid = "invalid request body: ";
    let too_many: serde_json::Map<String, Value> = (0..=100)
        .map(|i| (format!("key-{i}"), Value::from("v")))
        .collect();
    vec![
        (
            "empty body",
            String::new(),
            bad,
            "failed to decode request body: EOF",
        ),
        (
            "bad JSON",
            "{\"a\":".into(),
            bad,
            "failed to decode request body",
        ),
        (
            "an array",
            "[]".into(),
            bad,
            "failed to decode request body",
        ),
        (
            "a string",
            "\"a=b\"".into(),
            bad,
            "failed to decode request body",
        ),
        ("a number value", r#"{"a":"1","b":2}"#.into(), bad, invalid),
        ("a boolean value", r#"{"a":false}"#.into(), bad, invalid),
        ("a null value", r#"{"a":null}"#.into(), bad, invalid),
        ("a list value", r#"{"a":[]}"#.into(), bad, invalid),
        ("an object value", r#"{"a":{}}"#.into(), bad, invalid),
        ("an empty key", r#"{"":"v"}"#.into(), bad, invalid),
        (
            "a long key",
            format!(r#"{{"{}":"v"}}"#, "k".repeat(4097)),
            bad,
            invalid,
        ),
        (
            "a long value",
            format!(r#"{{"k":"{}"}}"#, "v".repeat(4097)),
            bad,
            invalid,
        ),
        ("NUL in a key", r#"{"a\u0000":"v"}"#.into(), bad, invalid),
        ("NUL in a value", r#"{"a":"\u0000"}"#.into(), bad, invalid),
        (
            "101 keys",
            Value::Object(too_many).to_string(),
            bad,
            invalid,
        ),
        (
            "a body over 1 MiB",
            format!(r#"{{"k":"{}"}}"#, " ".repeat(1024 * 1024)),
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large",
        ),
    ]
}

/// Sends every [`refused_configurations`] body with `method` to `uri` through `client` and
/// checks each answer.
pub async fn assert_refuses_configurations(client: &TestClient, method: &str, uri: &str) {
    for (what, body, status, prefix) in refused_configurations() {
        let r = client
            .request(method.parse().unwrap(), uri)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await;
        let msg = r.assert_error(status);
        assert!(msg.starts_with(prefix), "{what}: {msg:?}");
    }
    // A body that is not declared as JSON.
    let r = client
        .request(method.parse().unwrap(), uri)
        .header("content-type", "text/plain")
        .body(r#"{"a":"b"}"#)
        .send()
        .await;
    r.assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

/// `method uri` answers 401 without an identity (`anonymous`) and upstream's 403 to a
/// caller of the wrong kind (`wrong`).
pub async fn assert_wrong_callers_refused(
    anonymous: &TestClient,
    wrong: &TestClient,
    method: &str,
    uri: &str,
) {
    let send = |c: &TestClient| {
        c.request(method.parse().unwrap(), uri)
            .json(&serde_json::json!({}))
            .send()
    };
    send(anonymous).await.assert_error(StatusCode::UNAUTHORIZED);
    let r = send(wrong).await;
    assert_eq!(
        r.assert_error(StatusCode::FORBIDDEN),
        "forbidden: invalid identity data",
        "{method} {uri}"
    );
}
