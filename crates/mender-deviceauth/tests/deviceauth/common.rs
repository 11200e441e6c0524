//! Test environment: a service per backend, a recording workflow starter, request helpers.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use mender_api::workflows::{StartError, StartedWorkflow, WorkflowStarter};
use mender_core::Identity;
use mender_core::jwt::SigningKey;
use mender_core::service::Routers;
use mender_db::Db;
use mender_deviceauth::{DeviceauthConfig, Service};
use mender_testkit::{AuthRequest, DeviceKey};
use serde_json::Value;
use tower::ServiceExt;

/// Records started workflows.
#[derive(Default)]
pub struct FakeWorkflows {
    pub calls: Mutex<Vec<(String, Value)>>,
}

#[async_trait::async_trait]
impl WorkflowStarter for FakeWorkflows {
    async fn start_workflow(
        &self,
        name: &str,
        inputs: Value,
    ) -> Result<StartedWorkflow, StartError> {
        self.calls.lock().unwrap().push((name.to_owned(), inputs));
        Ok(StartedWorkflow {
            id: "0".repeat(24),
            name: name.to_owned(),
        })
    }
}

impl FakeWorkflows {
    pub fn named(&self, name: &str) -> Vec<Value> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
    pub fn clear(&self) {
        self.calls.lock().unwrap().clear();
    }
    pub fn count(&self) -> usize {
        self.calls.lock().unwrap().len()
    }
}

pub struct Env {
    pub svc: Arc<Service>,
    pub routers: Routers,
    pub wf: Arc<FakeWorkflows>,
    pub db: Db,
    /// A second copy of the service's signing key, for forging tokens in tests.
    pub signer: SigningKey,
    _dir: Option<tempfile::TempDir>,
}

pub async fn envs() -> Vec<Env> {
    envs_with(DeviceauthConfig::default()).await
}

pub async fn envs_with(config: DeviceauthConfig) -> Vec<Env> {
    let mut out = Vec::new();
    for (db, dir) in mender_db::testing::all("deviceauth", Service::migrations()).await {
        let (key, pem) = SigningKey::generate_rsa().unwrap();
        let wf = Arc::new(FakeWorkflows::default());
        let svc = Service::new(db.clone(), key, config.clone(), wf.clone());
        out.push(Env {
            routers: svc.routers(),
            svc,
            wf,
            db,
            signer: SigningKey::from_pem(&pem).unwrap(),
            _dir: dir,
        });
    }
    out
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub async fn send(router: &Router, req: Request<Body>) -> Resp {
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Resp {
        status,
        headers,
        body,
    }
}

pub fn user() -> Identity {
    Identity {
        subject: "user-1".into(),
        token_id: "t".into(),
        is_user: true,
        ..Default::default()
    }
}

impl Env {
    /// A management request as the gateway forwards it (identity in the extensions).
    pub async fn mgmt(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        let mut b = Request::builder().method(method).uri(path);
        if body.is_some() {
            b = b.header("content-type", "application/json");
        }
        let mut req = b
            .body(body.map(|v| Body::from(v.to_string())).unwrap_or_default())
            .unwrap();
        req.extensions_mut().insert(user());
        send(&self.routers.management, req).await
    }

    pub async fn internal(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        let mut b = Request::builder().method(method).uri(path);
        if body.is_some() {
            b = b.header("content-type", "application/json");
        }
        send(
            &self.routers.internal,
            b.body(body.map(|v| Body::from(v.to_string())).unwrap_or_default())
                .unwrap(),
        )
        .await
    }

    /// Posts raw auth request bytes with an optional signature.
    pub async fn auth_raw(&self, body: Vec<u8>, signature: Option<&str>, ctype: &str) -> Resp {
        let mut b = Request::builder()
            .method(Method::POST)
            .uri("/api/devices/v1/authentication/auth_requests")
            .header("content-type", ctype);
        if let Some(s) = signature {
            b = b.header("x-men-signature", s);
        }
        send(&self.routers.open, b.body(Body::from(body)).unwrap()).await
    }

    /// A correctly signed auth request for `identity`.
    pub async fn auth(&self, key: &DeviceKey, identity: &Value) -> Resp {
        let signed = AuthRequest::new(identity).sign(key);
        self.auth_raw(signed.body, Some(&signed.signature), "application/json")
            .await
    }

    pub async fn devices(&self) -> Vec<Value> {
        let r = self
            .mgmt(
                Method::GET,
                "/api/management/v2/devauth/devices?per_page=500",
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        r.json().as_array().cloned().unwrap_or_default()
    }

    /// Finds the only device and accepts its first auth set.
    pub async fn accept(&self, device: &Value) -> Resp {
        let id = device["id"].as_str().unwrap();
        let aid = device["auth_sets"][0]["id"].as_str().unwrap();
        self.mgmt(
            Method::PUT,
            &format!("/api/management/v2/devauth/devices/{id}/auth/{aid}/status"),
            Some(serde_json::json!({"status": "accepted"})),
        )
        .await
    }

    /// Runs the gateway's device-token check.
    pub async fn verify(&self, token: &str) -> Result<Identity, mender_core::ApiError> {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
        let req = mender_core::verify::ForwardedRequest {
            method: Method::GET,
            uri: "/api/devices/v1/inventory/device/attributes".into(),
            headers,
        };
        self.svc.verifier().verify(&req).await
    }

    pub async fn token_rows(&self) -> i64 {
        match &self.db {
            Db::Sqlite(p) => sqlx::query_scalar("SELECT COUNT(*) FROM tokens")
                .fetch_one(p)
                .await
                .unwrap(),
            Db::Postgres(p) => sqlx::query_scalar("SELECT COUNT(*) FROM tokens")
                .fetch_one(p)
                .await
                .unwrap(),
        }
    }

    /// Rows in every table, to assert that a refused request changed nothing.
    pub async fn snapshot(&self) -> Vec<i64> {
        let mut out = Vec::new();
        for t in ["devices", "auth_sets", "tokens", "limits"] {
            let sql = format!("SELECT COUNT(*) FROM {t}");
            let n: i64 = match &self.db {
                Db::Sqlite(p) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_one(p)
                    .await
                    .unwrap(),
                Db::Postgres(p) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_one(p)
                    .await
                    .unwrap(),
            };
            out.push(n);
        }
        out
    }
}
