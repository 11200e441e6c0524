//! The routes of issue 14 through the real gateway: the management ones behind user-token
//! verification on the public router, the internal ones on the internal router only.

use std::sync::Arc;

use axum::http::StatusCode;
use mender_core::verify::{ForwardedRequest, TokenVerifier};
use mender_core::{ApiError, Identity};
use mender_db::testing::Backend;
use mender_gateway::{GatewayConfig, compose};
use mender_inventory::{InventoryConfig, SCHEMA, Service};
use mender_testkit::TestClient;
use serde_json::json;

mender_db::each_backend!(new_routes_are_served_behind_their_authentication);

/// Accepts the user token `user` of the default tenant.
struct Users;

#[async_trait::async_trait]
impl TokenVerifier for Users {
    async fn verify(&self, req: &ForwardedRequest) -> Result<Identity, ApiError> {
        match mender_core::identity::request_token(&req.headers) {
            Ok(t) if t.expose_str() == "user" => Ok(mender_testkit::identity::user("user-1")),
            _ => Err(ApiError::unauthorized("unauthorized")),
        }
    }
}

async fn new_routes_are_served_behind_their_authentication(backend: Backend) {
    let db = backend.open(&SCHEMA).await;
    let svc = Service::new(
        db.db(),
        mender_core::clock::ManualClock::new(mender_core::Timestamp::from_unix_secs(0)),
        InventoryConfig::default(),
    );
    let composed = compose(
        svc.routers(),
        GatewayConfig {
            user_verifier: Arc::new(Users),
            device_verifier: None,
            body_limit: 1024 * 1024,
        },
    );
    let (public, internal) = (
        TestClient::new(composed.public),
        TestClient::new(composed.internal),
    );
    let attrs = "/api/internal/v1/inventory/tenants//device/d1/attributes";
    let stats = "/api/internal/v2/inventory/tenants//statistics";
    let r = internal
        .patch(attrs)
        .json(&json!([{"name":"mac","value":"00:01","scope":"identity"}]))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(internal.get(stats).send().await.status, StatusCode::OK);
    // Internal routes never reach the public port.
    for path in [attrs, stats] {
        let r = public.patch(path).bearer("user").send().await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
    }
    let search = "/api/management/v2alpha1/inventory/identities/search";
    let body = json!({"scope":"identity","name":"id","value_prefix":"d"});
    let statistics = "/api/management/v2/inventory/statistics";
    assert_eq!(
        public.get(statistics).send().await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        public.get(statistics).bearer("nope").send().await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        public.post(search).json(&body).send().await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = public.get(statistics).bearer("user").send().await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["devices_by_status"]["accepted"]["standard"], 0);
    let r = public.post(search).bearer("user").json(&body).send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()[0]["id"], "d1");
}
