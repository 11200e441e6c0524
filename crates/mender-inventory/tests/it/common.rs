//! What the HTTP tests share: a service on a fresh database of one backend with a manual
//! clock, clients of its routers as the gateway would call them, and the checks every answer
//! must pass.

use std::sync::Arc;

use axum::http::StatusCode;
use mender_core::clock::ManualClock;
use mender_core::{Identity, Timestamp};
use mender_db::testing::{Backend, TestDb};
use mender_inventory::{InventoryConfig, SCHEMA, Service};
use mender_testkit::http::{TestClient, TestRequest, TestResponse};
use mender_testkit::identity;
use serde_json::{Value, json};

/// Where every test's clock starts: 2024-05-06T07:08:09.123Z, a Monday.
pub const START_MS: i64 = 1_714_979_289_123;
/// [`START_MS`] in the stored and rendered text form.
pub const START_TEXT: &str = "2024-05-06T07:08:09.123Z";

/// The management search route.
pub const SEARCH: &str = "/api/management/v2/inventory/filters/search";
/// The device inventory route.
pub const DEVICE_ATTRS: &str = "/api/devices/v1/inventory/device/attributes";
/// The management v1 prefix.
pub const MGMT: &str = "/api/management/v1/inventory";
/// The internal v1 prefix.
pub const INTERNAL: &str = "/api/internal/v1/inventory";

/// The inventory service on a fresh database, and clients of its routers.
pub struct Api {
    /// The service's clock, standing at [`START_MS`] until a test moves it.
    pub clock: Arc<ManualClock>,
    management: TestClient,
    devices: TestClient,
    internal: TestClient,
    _db: TestDb,
}

/// A user of the default tenant.
pub fn user() -> Identity {
    identity::user("user-1")
}

pub use identity::device;

/// Sends a request and checks what every answer must satisfy: never a server error, and
/// every client error in upstream's error body.
pub trait Call {
    /// Sends the request and checks the answer.
    fn call(self) -> impl Future<Output = TestResponse> + Send;
}

impl Call for TestRequest {
    async fn call(self) -> TestResponse {
        let r = self.send().await;
        assert!(
            r.status.as_u16() < 500,
            "answered {}: {}",
            r.status,
            r.text()
        );
        if r.status.is_client_error() {
            r.assert_error(r.status);
        }
        r
    }
}

impl Api {
    /// The service with `config` on a fresh database of `backend`.
    pub async fn new(backend: Backend, config: InventoryConfig) -> Self {
        let db = backend.open(&SCHEMA).await;
        let clock = ManualClock::new(Timestamp::from_unix_millis(START_MS));
        let svc = Service::new(db.db(), clock.clone(), config);
        let r = svc.routers();
        Self {
            clock,
            management: TestClient::new(r.management),
            devices: TestClient::new(r.devices),
            internal: TestClient::new(r.internal),
            _db: db,
        }
    }

    /// The management router, called by [`user`].
    pub fn user(&self) -> TestClient {
        self.management.as_identity(user())
    }

    /// The device router, called by device `id`.
    pub fn device(&self, id: &str) -> TestClient {
        self.devices.as_identity(device(id))
    }

    /// The device router, called with `identity` (or none).
    pub fn devices_as(&self, identity: Option<Identity>) -> TestClient {
        match identity {
            Some(i) => self.devices.as_identity(i),
            None => self.devices.clone(),
        }
    }

    /// The internal router, called by another service (no identity).
    pub fn internal(&self) -> TestClient {
        self.internal.clone()
    }

    /// The service with `config` on a fresh database of `backend`, holding devices that
    /// reported these inventories.
    pub async fn with_devices(
        backend: Backend,
        config: InventoryConfig,
        devices: &[(&str, Value)],
    ) -> Self {
        let api = Self::new(backend, config).await;
        for (dev, attrs) in devices {
            api.report(dev, attrs.clone()).await;
        }
        api
    }

    /// `PUT`s device `dev`'s inventory, which must be accepted.
    pub async fn report(&self, dev: &str, attrs: Value) {
        let status = self.put_inventory(dev, attrs.clone()).await;
        assert_eq!(status, StatusCode::OK, "{dev}: {attrs}");
    }

    /// `PUT`s device `dev`'s inventory.
    pub async fn put_inventory(&self, dev: &str, attrs: Value) -> StatusCode {
        self.device(dev)
            .put(DEVICE_ATTRS)
            .json(&attrs)
            .call()
            .await
            .status
    }

    /// `PATCH`es device `dev`'s inventory.
    pub async fn patch_inventory(&self, dev: &str, attrs: Value) -> TestResponse {
        self.device(dev)
            .patch(DEVICE_ATTRS)
            .json(&attrs)
            .call()
            .await
    }

    /// The management view of device `dev`, which must exist.
    pub async fn device_json(&self, dev: &str) -> Value {
        let r = self
            .user()
            .get(&format!("{MGMT}/devices/{dev}"))
            .call()
            .await;
        r.assert_status(StatusCode::OK);
        r.json()
    }

    /// A management v2 search.
    pub async fn search(&self, body: Value) -> TestResponse {
        self.user().post(SEARCH).json(&body).call().await
    }

    /// The ids a v2 search with `filters` finds, sorted by id.
    pub async fn search_ids(&self, filters: Value) -> Vec<String> {
        let r = self
            .search(json!({"filters": filters, "sort": [{"scope":"identity","attribute":"id","order":"asc"}]}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{filters} -> {}", r.text());
        ids_of(&r.json())
    }
}

/// What a request of a [`script`] must answer.
pub enum Want {
    /// This status.
    Status(StatusCode),
    /// This JSON body.
    Body(Value),
    /// This `X-Total-Count`.
    Total(&'static str),
    /// This status with this upstream error message.
    Error(StatusCode, String),
}

/// Sends a request, checked by [`Call`], and asserts its answer.
pub async fn expect(req: TestRequest, want: Want) -> TestResponse {
    answered(req, want, "").await
}

/// Sends the requests in order, each checked by [`Call`], and asserts each answer.
pub async fn script(steps: Vec<(TestRequest, Want)>) {
    for (i, (req, want)) in steps.into_iter().enumerate() {
        answered(req, want, &format!("step {i}: ")).await;
    }
}

/// [`expect`], with `what` leading the failure message.
async fn answered(req: TestRequest, want: Want, what: &str) -> TestResponse {
    let r = req.call().await;
    match want {
        Want::Status(s) => assert_eq!(r.status, s, "{what}{}", r.text()),
        Want::Body(v) => assert_eq!(r.json(), v, "{what}{}", r.text()),
        Want::Total(n) => assert_eq!(r.headers["x-total-count"], n, "{what}{}", r.text()),
        Want::Error(s, msg) => assert_eq!(r.assert_error(s), msg, "{what}"),
    }
    r
}

/// The `id`s of a list of devices.
pub fn ids_of(devices: &Value) -> Vec<String> {
    mender_testkit::json::strings(devices, "id")
}

/// The value of attribute `scope/name` in a device's JSON.
pub fn value_of(dev: &Value, scope: &str, name: &str) -> Option<Value> {
    dev["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["scope"] == scope && a["name"] == name)
        .map(|a| a["value"].clone())
}
