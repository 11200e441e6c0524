//! Test fixtures: a service per backend with disk blobs, fake workflows and inventory,
//! request helpers and real artifacts made by `/usr/bin/mender-artifact`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, header};
use http_body_util::BodyExt;
use mender_api::inventory::{InventoryClient, InventoryError};
use mender_api::workflows::{StartError, StartedWorkflow, WorkflowStarter};
use mender_core::Identity;
use mender_deployments::{DeploymentsConfig, Service};
use serde_json::Value;
use tower::ServiceExt;

#[derive(Default)]
pub struct FakeWorkflows(pub Mutex<Vec<(String, Value)>>);

#[async_trait::async_trait]
impl WorkflowStarter for FakeWorkflows {
    async fn start_workflow(
        &self,
        name: &str,
        inputs: Value,
    ) -> Result<StartedWorkflow, StartError> {
        self.0.lock().unwrap().push((name.to_owned(), inputs));
        Ok(StartedWorkflow {
            id: "job".into(),
            name: name.into(),
        })
    }
}

#[derive(Default)]
pub struct FakeInventory {
    pub groups: Mutex<Vec<(String, String)>>,
}

#[async_trait::async_trait]
impl InventoryClient for FakeInventory {
    async fn devices_in_group(&self, _t: &str, group: &str) -> Result<Vec<String>, InventoryError> {
        Ok(self
            .groups
            .lock()
            .unwrap()
            .iter()
            .filter(|(g, _)| g == group)
            .map(|(_, d)| d.clone())
            .collect())
    }
    async fn all_devices(&self, _t: &str) -> Result<Vec<String>, InventoryError> {
        Ok(self
            .groups
            .lock()
            .unwrap()
            .iter()
            .map(|(_, d)| d.clone())
            .collect())
    }
}

pub struct Env {
    pub svc: Arc<Service>,
    pub mgmt: Router,
    pub devices: Router,
    pub open: Router,
    pub internal: Router,
    pub blob_dir: PathBuf,
    pub workflows: Arc<FakeWorkflows>,
    pub inventory: Arc<FakeInventory>,
    pub backend: &'static str,
    _guards: (Option<tempfile::TempDir>, tempfile::TempDir),
}

pub async fn envs_with(config: DeploymentsConfig) -> Vec<Env> {
    let mut out = Vec::new();
    for (db, guard) in mender_db::testing::all("deployments", Service::migrations()).await {
        let dir = tempfile::tempdir().unwrap();
        let blob_dir = dir.path().join("blobs");
        let blobs = Arc::new(mender_blob::FsBlobStore::new(&blob_dir).await.unwrap());
        let workflows = Arc::new(FakeWorkflows::default());
        let inventory = Arc::new(FakeInventory::default());
        let backend = db.backend();
        let mut cfg = config.clone();
        cfg.resolve_presign_secret(dir.path()).unwrap();
        let svc = Service::new(db, blobs, cfg, workflows.clone(), inventory.clone());
        let r = svc.routers();
        out.push(Env {
            svc,
            mgmt: r.management,
            devices: r.devices,
            open: r.open,
            internal: r.internal,
            blob_dir,
            workflows,
            inventory,
            backend,
            _guards: (guard, dir),
        });
    }
    out
}

pub async fn envs() -> Vec<Env> {
    let cfg = DeploymentsConfig {
        url_scheme: "http".into(),
        url_hostname: "mender.test".into(),
        ..Default::default()
    };
    envs_with(cfg).await
}

pub fn user() -> Identity {
    Identity {
        subject: "user-1".into(),
        is_user: true,
        ..Default::default()
    }
}

pub fn dev(id: &str) -> Identity {
    Identity {
        subject: id.into(),
        is_device: true,
        ..Default::default()
    }
}

pub async fn call(
    router: &Router,
    id: Option<Identity>,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> Response<Body> {
    let mut b = Request::builder().method(method).uri(uri);
    if body.is_some() {
        b = b.header(header::CONTENT_TYPE, "application/json");
    }
    let mut req = b
        .body(body.map_or_else(Body::empty, |v| Body::from(v.to_string())))
        .unwrap();
    if let Some(id) = id {
        req.extensions_mut().insert(id);
    }
    router.clone().oneshot(req).await.unwrap()
}

pub async fn send(router: &Router, req: Request<Body>) -> Response<Body> {
    router.clone().oneshot(req).await.unwrap()
}

pub async fn bytes(r: Response<Body>) -> Vec<u8> {
    r.into_body().collect().await.unwrap().to_bytes().to_vec()
}

pub async fn json(r: Response<Body>) -> Value {
    let b = bytes(r).await;
    serde_json::from_slice(&b)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&b)))
}

/// A multipart body with text parts then the artifact part, sent chunked like mender-cli.
pub fn upload_request(uri: &str, parts: &[(&str, &str)], artifact: &[u8]) -> Request<Body> {
    let boundary = "XxBoundaryxX";
    let mut body = Vec::new();
    for (k, v) in parts {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"artifact\"; filename=\"a.mender\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(artifact);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = body
        .chunks(1000)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    let mut req = Request::builder()
        .method("POST")
        .uri(uri)
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from_stream(futures::stream::iter(chunks)))
        .unwrap();
    req.extensions_mut().insert(user());
    req
}

/// Makes a single-file module artifact with the real tool (payload padded to > 4 KiB).
pub fn make_artifact(dir: &Path, name: &str, device_types: &[&str]) -> Vec<u8> {
    let payload = dir.join(format!("{name}-payload"));
    let mut data = Vec::new();
    for i in 0..6000u32 {
        data.push((i.wrapping_mul(2654435761) >> 13) as u8);
    }
    std::fs::write(&payload, &data).unwrap();
    let out = dir.join(format!("{name}.mender"));
    let mut cmd = std::process::Command::new("/usr/bin/mender-artifact");
    cmd.args([
        "write",
        "module-image",
        "-T",
        "single-file",
        "-n",
        name,
        "-o",
    ])
    .arg(&out);
    for t in device_types {
        cmd.args(["-t", t]);
    }
    cmd.arg("-f").arg(&payload).arg("--compression").arg("none");
    let st = cmd.output().unwrap();
    assert!(
        st.status.success(),
        "mender-artifact failed: {}",
        String::from_utf8_lossy(&st.stderr)
    );
    std::fs::read(out).unwrap()
}

/// Files in the blob directory (temporary files excluded).
pub fn blob_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

pub async fn upload(env: &Env, artifact: &[u8], description: &str) -> String {
    let r = send(
        &env.mgmt,
        upload_request(
            "/api/management/v1/deployments/artifacts",
            &[
                ("size", &artifact.len().to_string()),
                ("description", description),
            ],
            artifact,
        ),
    )
    .await;
    let status = r.status();
    let loc = r
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(
        status,
        201,
        "{}: upload failed: {}",
        env.backend,
        String::from_utf8_lossy(&bytes(r).await)
    );
    loc.unwrap().rsplit('/').next().unwrap().to_owned()
}
