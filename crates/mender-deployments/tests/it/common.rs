//! Test fixtures: a service on a fresh database of one backend with disk blobs, a manual
//! clock, fake workflows and inventory, clients for each router, and real artifacts made by
//! `/usr/bin/mender-artifact`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use mender_api::inventory::{InventoryClient, InventoryError};
use mender_api::testing::RecordingWorkflows;
use mender_core::Identity;
use mender_core::clock::ManualClock;
use mender_db::testing::{Backend, TestDb};
use mender_deployments::{DeploymentsConfig, SCHEMA, Service};
use mender_testkit::http::{TestClient, TestRequest, TestResponse};
use mender_testkit::identity;
use serde_json::Value;

pub const ART: &str = "/api/management/v1/deployments/artifacts";
pub const DEP: &str = "/api/management/v1/deployments/deployments";
/// A device's deployments: `next`, and `{id}/status` and `{id}/log` of one deployment.
pub const DEVICE_DEPLOYMENTS: &str = "/api/devices/v1/deployments/device/deployments";
pub const NEXT: &str = "/api/devices/v1/deployments/device/deployments/next";
pub const INTERNAL: &str = "/api/internal/v1/deployments";
/// The management API, version 2 (releases, artifacts listed with paging headers).
pub const V2: &str = "/api/management/v2/deployments";

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
    pub workflows: Arc<RecordingWorkflows>,
    pub inventory: Arc<FakeInventory>,
    pub clock: Arc<ManualClock>,
    /// The service's database (for tests that stage what a crash leaves behind).
    pub db: mender_db::Db,
    _guards: (TestDb, tempfile::TempDir),
}

impl Env {
    /// The device routes called as device `id`.
    pub fn device(&self, id: &str) -> TestClient {
        self.devices.as_identity(dev(id))
    }

    /// `GET next?<query>` as device `id`.
    pub async fn next(&self, id: &str, query: &str) -> TestResponse {
        self.device(id).get(&format!("{NEXT}?{query}")).send().await
    }

    /// Device `id` reports `status` for deployment `did`.
    pub async fn report(&self, id: &str, did: &str, status: &str) -> TestResponse {
        let uri = format!("{DEVICE_DEPLOYMENTS}/{did}/status");
        let body = serde_json::json!({ "status": status });
        self.device(id).put(&uri).json(&body).send().await
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
    let workflows = Arc::new(RecordingWorkflows::default());
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
        db: db.db(),
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
    identity::user("user-1")
}

pub use identity::device as dev;

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

/// An upload form (text parts, then the artifact part) posted to `uri`, chunked like
/// mender-cli sends it.
pub fn post_upload(
    client: &TestClient,
    uri: &str,
    parts: &[(&str, &str)],
    artifact: &[u8],
) -> TestRequest {
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
}

/// A generate-artifact form (text parts, then the `file` part) posted to `{ART}/generate`.
pub fn post_generate(client: &TestClient, parts: &[(&str, &str)], file: &[u8]) -> TestRequest {
    let boundary = "gB";
    client
        .post(&format!("{ART}/generate"))
        .header(
            "content-type",
            &format!("multipart/form-data; boundary={boundary}"),
        )
        .body(multipart(boundary, parts, "file", file))
}

/// Makes a single-file module artifact with the real tool (payload padded to > 4 KiB).
pub fn make_artifact(name: &str, device_types: &[&str]) -> Vec<u8> {
    let mut data = Vec::new();
    for i in 0..6000u32 {
        data.push((i.wrapping_mul(2654435761) >> 13) as u8);
    }
    make_artifact_of(name, device_types, &data, "none")
}

/// Makes a single-file module artifact of `data` with the real tool, its payload compressed
/// with `compression` (`none`, `gzip`, ...).
pub fn make_artifact_of(
    name: &str,
    device_types: &[&str],
    data: &[u8],
    compression: &str,
) -> Vec<u8> {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let payload = dir.join(format!("{name}-payload"));
    std::fs::write(&payload, data).unwrap();
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
    cmd.arg("-f")
        .arg(&payload)
        .arg("--compression")
        .arg(compression);
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
    let size = artifact.len().to_string();
    let form = [("size", size.as_str()), ("description", description)];
    let r = expect(
        post_upload(&env.mgmt, ART, &form, artifact),
        StatusCode::CREATED,
        "upload",
    )
    .await;
    location_id(&r)
}

/// Creates a deployment as the user; its id.
pub async fn create_deployment(env: &Env, body: Value) -> String {
    let r = expect(
        env.mgmt.post(DEP).json(&body),
        StatusCode::CREATED,
        "create deployment",
    )
    .await;
    let loc = r.header("location").unwrap();
    assert!(
        loc.starts_with("/api/management/v1/deployments/deployments/"),
        "{loc}"
    );
    location_id(&r)
}

/// Sends `req` and asserts the answer's status (`what` names the step, shown with the body
/// when it differs); the response.
pub async fn expect(req: TestRequest, want: StatusCode, what: &str) -> TestResponse {
    let r = req.send().await;
    assert_eq!(r.status, want, "{what}: {}", r.text());
    r
}

/// A `GET` as the user, answered 200 with JSON.
pub async fn get_json(env: &Env, uri: &str) -> Value {
    get_ok(env, uri).await.json()
}

/// A user's GET of `uri`, which must answer 200.
pub async fn get_ok(env: &Env, uri: &str) -> TestResponse {
    expect(env.mgmt.get(uri), StatusCode::OK, uri).await
}
