//! Test fixtures: a service on a fresh database of one backend with disk blobs, a manual
//! clock, fake workflows and inventory, clients for each router, and real artifacts made by
//! `/usr/bin/mender-artifact`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use mender_api::inventory::{InventoryClient, InventoryError};
use mender_api::workflows::{StartError, StartedWorkflow, WorkflowStarter};
use mender_core::Identity;
use mender_core::clock::ManualClock;
use mender_db::testing::{Backend, TestDb};
use mender_deployments::{DeploymentsConfig, SCHEMA, Service};
use mender_testkit::http::{TestClient, TestResponse};
use serde_json::Value;

pub const ART: &str = "/api/management/v1/deployments/artifacts";
pub const DEP: &str = "/api/management/v1/deployments/deployments";
pub const NEXT: &str = "/api/devices/v1/deployments/device/deployments/next";
pub const INTERNAL: &str = "/api/internal/v1/deployments";

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

/// One service and its surroundings.
pub struct Env {
    pub svc: Arc<Service>,
    /// The management routes, called as [`user`].
    pub mgmt: TestClient,
    /// The device routes, without an identity: see [`Env::device`].
    pub devices: TestClient,
    pub open: TestClient,
    pub internal: TestClient,
    pub blob_dir: PathBuf,
    pub workflows: Arc<FakeWorkflows>,
    pub inventory: Arc<FakeInventory>,
    pub clock: Arc<ManualClock>,
    _guards: (TestDb, tempfile::TempDir),
}

impl Env {
    /// The device routes called as device `id`.
    pub fn device(&self, id: &str) -> TestClient {
        self.devices.as_identity(dev(id))
    }

    /// The management routes called as a user of `tenant`.
    pub fn tenant_user(&self, tenant: &str) -> TestClient {
        let mut u = user();
        u.tenant = tenant.into();
        self.mgmt.as_identity(u)
    }
}

pub async fn env_with(backend: Backend, config: DeploymentsConfig) -> Env {
    let db = backend.open(&SCHEMA).await;
    let dir = tempfile::tempdir().unwrap();
    let blob_dir = dir.path().join("blobs");
    let blobs = Arc::new(mender_blob::FsBlobStore::new(&blob_dir).await.unwrap());
    let workflows = Arc::new(FakeWorkflows::default());
    let inventory = Arc::new(FakeInventory::default());
    let clock = ManualClock::starting_now();
    let mut cfg = config;
    cfg.resolve_presign_secret(dir.path()).unwrap();
    let svc = Service::new(
        db.db(),
        clock.clone(),
        blobs,
        cfg,
        workflows.clone(),
        inventory.clone(),
    )
    .unwrap();
    let r = svc.routers();
    Env {
        svc,
        mgmt: TestClient::new(r.management).as_identity(user()),
        devices: TestClient::new(r.devices),
        open: TestClient::new(r.open),
        internal: TestClient::new(r.internal),
        blob_dir,
        workflows,
        inventory,
        clock,
        _guards: (db, dir),
    }
}

/// Links point at `http://mender.test`.
pub async fn env(backend: Backend) -> Env {
    let cfg = DeploymentsConfig {
        url_scheme: "http".into(),
        url_hostname: "mender.test".into(),
        ..Default::default()
    };
    env_with(backend, cfg).await
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

/// The path and query of an absolute URL.
pub fn path_and_query(uri: &str) -> String {
    let rest = uri.split_once("://").unwrap().1;
    rest[rest.find('/').unwrap()..].to_owned()
}

/// The last segment of a `Location` header.
pub fn location_id(r: &TestResponse) -> String {
    let loc = r.header("location").expect("Location header");
    loc.rsplit('/').next().unwrap().to_owned()
}

/// A multipart body: text parts, then a file part named `file_part`.
pub fn multipart(boundary: &str, parts: &[(&str, &str)], file_part: &str, file: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for (k, v) in parts {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{file_part}\"; filename=\"a.mender\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

/// Posts an upload form (text parts, then the artifact part) to `uri`, chunked like
/// mender-cli sends it.
pub async fn post_upload(
    client: &TestClient,
    uri: &str,
    parts: &[(&str, &str)],
    artifact: &[u8],
) -> TestResponse {
    let boundary = "XxBoundaryxX";
    let body = multipart(boundary, parts, "artifact", artifact);
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = body
        .chunks(1000)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    client
        .post(uri)
        .header(
            "content-type",
            &format!("multipart/form-data; boundary={boundary}"),
        )
        .stream(futures::stream::iter(chunks))
        .send()
        .await
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

/// Uploads an artifact as the user; its id.
pub async fn upload(env: &Env, artifact: &[u8], description: &str) -> String {
    let r = post_upload(
        &env.mgmt,
        ART,
        &[
            ("size", &artifact.len().to_string()),
            ("description", description),
        ],
        artifact,
    )
    .await;
    r.assert_status(axum::http::StatusCode::CREATED);
    location_id(&r)
}

/// Creates a deployment as the user; its id.
pub async fn create_deployment(env: &Env, body: Value) -> String {
    let r = env.mgmt.post(DEP).json(&body).send().await;
    r.assert_status(axum::http::StatusCode::CREATED);
    let loc = r.header("location").unwrap();
    assert!(
        loc.starts_with("/api/management/v1/deployments/deployments/"),
        "{loc}"
    );
    location_id(&r)
}

/// A `GET` as the user, answered 200 with JSON.
pub async fn get_json(env: &Env, uri: &str) -> Value {
    let r = env.mgmt.get(uri).send().await;
    r.assert_status(axum::http::StatusCode::OK);
    r.json()
}
