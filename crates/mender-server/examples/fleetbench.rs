//! Fleet benchmarks against a running `mender-server`, run by hand through
//! `scripts/bench-devices.sh` (never in CI, never asserted):
//!
//! - `auth`: per device key type, creates and accepts devices through the management API, then
//!   replays their signed auth requests for a fixed time and prints req/s and latency.
//! - `next`: seeds a fleet (real preauthorized devices with tokens plus inventory-only
//!   accepted devices), uploads an artifact, deploys it to all devices, then loads
//!   `GET .../deployments/next` with the real devices' tokens and prints req/s and latency.
//!
//! Load goes to loopback only; every loop is bounded in count and in time.
//!
//! `cargo run --release -p mender-server --example fleetbench -- auth|next --help`

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use bytes::Bytes;
use clap::{Args, Parser, Subcommand};
use futures::StreamExt;
use mender_testkit::{AuthRequest, DeviceKey};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const AUTH_PATH: &str = "/api/devices/v1/authentication/auth_requests";
const DEVAUTH: &str = "/api/management/v2/devauth/devices";
const NEXT_PATH: &str = "/api/devices/v1/deployments/device/deployments/next";
/// A cap on requests per load worker, so a load loop is bounded in count as well as time.
const MAX_REQUESTS_PER_WORKER: usize = 10_000_000;
/// Longest wait for asynchronous work (workflows filling the inventory).
const MAX_WAIT: Duration = Duration::from_secs(1800);

#[derive(Parser)]
#[command(about = "Device fleet benchmarks against a running mender-server (loopback only)")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Signed auth requests per second, per device key type.
    Auth(AuthArgs),
    /// `next` requests per second with a large fleet and one deployment to all devices.
    Next(NextArgs),
}

#[derive(Args, Clone)]
struct Common {
    /// Public URL of the server (https://127.0.0.1:PORT).
    #[arg(long)]
    url: String,
    /// Management user.
    #[arg(long)]
    user: String,
    /// Its password.
    #[arg(long)]
    password: String,
    /// Seconds of load per measurement.
    #[arg(long, default_value_t = 10)]
    secs: u64,
    /// Concurrent requests during load and seeding.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// The server's process id: when given, its CPU time per measurement is printed too
    /// (client and server share this machine's cores).
    #[arg(long)]
    server_pid: Option<u32>,
}

#[derive(Args)]
struct AuthArgs {
    #[command(flatten)]
    common: Common,
    /// Devices per key type.
    #[arg(long, default_value_t = 50)]
    devices: usize,
    /// Key types, comma-separated: rsa2048, rsa3072, p256, p384, p521, ed25519.
    #[arg(long, default_value = "rsa2048,rsa3072,p256,p384,p521,ed25519")]
    types: String,
}

#[derive(Args)]
struct NextArgs {
    #[command(flatten)]
    common: Common,
    /// Internal API URL (http://127.0.0.1:PORT), for inventory-only devices.
    #[arg(long)]
    internal_url: String,
    /// Real devices: preauthorized, authenticated, holding tokens; they send the load.
    #[arg(long, default_value_t = 2000)]
    real: usize,
    /// Accepted devices in total; the rest are created in inventory only.
    #[arg(long, default_value_t = 100_000)]
    total: usize,
    /// The artifact file to upload and deploy.
    #[arg(long)]
    artifact: std::path::PathBuf,
    /// Its artifact name (must differ from `--installed`, or `next` answers 204).
    #[arg(long)]
    artifact_name: String,
    /// The artifact name the devices report as installed.
    #[arg(long, default_value = "release-1")]
    installed: String,
    /// The device type the devices report.
    #[arg(long, default_value = "test-device")]
    device_type: String,
}

#[tokio::main]
async fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Auth(a) => auth_bench(a).await,
        Cmd::Next(a) => next_bench(a).await,
    }
}

// ---------------------------------------------------------------------------------------------
// Shared pieces: client, management calls, bounded load, statistics.

fn loopback_only(url: &str) -> Result<()> {
    let u = reqwest::Url::parse(url).with_context(|| format!("parsing {url}"))?;
    let host = u.host_str().unwrap_or_default();
    ensure!(
        host == "localhost" || host.starts_with("127.") || host == "[::1]",
        "load is only sent to this machine (loopback), not {host}"
    );
    Ok(())
}

/// HTTP/1.1 like mender-client; the server's self-signed certificate is accepted because the
/// target is checked to be loopback.
fn client(conc: usize) -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .http1_only()
        .pool_max_idle_per_host(conc * 2)
        .timeout(Duration::from_secs(120))
        .build()?)
}

/// A logged-in management API client.
struct Mgmt {
    http: reqwest::Client,
    url: String,
    token: String,
}

/// Status, headers and body text of an answer.
struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    /// The last path segment of the `Location` header (the created resource's id).
    fn location_id(&self) -> Result<String> {
        let loc = self
            .headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .context("no Location header")?;
        Ok(loc.rsplit('/').next().unwrap_or_default().to_owned())
    }
}

impl Mgmt {
    async fn login(http: reqwest::Client, c: &Common) -> Result<Self> {
        let r = http
            .post(format!("{}/api/management/v1/useradm/auth/login", c.url))
            .basic_auth(&c.user, Some(&c.password))
            .send()
            .await
            .context("login")?;
        ensure!(
            r.status() == StatusCode::OK,
            "login answered {}",
            r.status()
        );
        Ok(Mgmt {
            http,
            url: c.url.clone(),
            token: r.text().await?,
        })
    }

    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Answer> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        answer(req).await
    }
}

async fn answer(req: reqwest::RequestBuilder) -> Result<Answer> {
    let r = req.send().await?;
    let status = r.status();
    let headers = r.headers().clone();
    let text = r.text().await?;
    Ok(Answer {
        status,
        headers,
        text,
    })
}

/// Runs `f(0..n)` with `conc` in flight; fails on the first error (seeding must be complete).
async fn for_each<F, Fut, T>(n: usize, conc: usize, f: F) -> Result<Vec<T>>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut out: Vec<(usize, T)> = Vec::with_capacity(n);
    let mut s = futures::stream::iter((0..n).map(|i| {
        let fut = f(i);
        async move { fut.await.map(|v| (i, v)) }
    }))
    .buffer_unordered(conc.max(1));
    while let Some(r) = s.next().await {
        out.push(r?);
    }
    out.sort_by_key(|(i, _)| *i);
    Ok(out.into_iter().map(|(_, v)| v).collect())
}

/// What one load request came back with.
enum Outcome {
    /// The expected answer.
    Ok,
    /// Another HTTP status.
    Status(u16),
    /// No HTTP answer (connection error, timeout).
    Transport(String),
}

/// Latencies of successful requests and counts of everything else.
#[derive(Default)]
struct Stats {
    lat: Vec<Duration>,
    statuses: BTreeMap<u16, u64>,
    transport: u64,
    first_transport_error: Option<String>,
    elapsed: Duration,
}

impl Stats {
    fn record(&mut self, o: Outcome, took: Duration) {
        match o {
            Outcome::Ok => self.lat.push(took),
            Outcome::Status(s) => *self.statuses.entry(s).or_default() += 1,
            Outcome::Transport(e) => {
                self.transport += 1;
                self.first_transport_error.get_or_insert(e);
            }
        }
    }

    fn merge(&mut self, o: Stats) {
        self.lat.extend(o.lat);
        for (k, v) in o.statuses {
            *self.statuses.entry(k).or_default() += v;
        }
        self.transport += o.transport;
        if self.first_transport_error.is_none() {
            self.first_transport_error = o.first_transport_error;
        }
    }

    fn pct(&self, p: f64) -> f64 {
        let i = ((self.lat.len() as f64 * p) as usize).min(self.lat.len().saturating_sub(1));
        self.lat.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e3)
    }

    fn failures(&self) -> u64 {
        self.statuses.values().sum::<u64>() + self.transport
    }

    fn line(&mut self, label: &str, conc: usize) -> String {
        self.lat.sort_unstable();
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let mut s = format!(
            "{label}: {} ok in {:.1}s with {conc} in flight => {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            self.lat.len(),
            secs,
            self.lat.len() as f64 / secs,
            self.pct(0.50),
            self.pct(0.99),
            self.lat.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
        );
        if self.failures() > 0 {
            let codes: Vec<String> = self
                .statuses
                .iter()
                .map(|(k, v)| format!("{v}x{k}"))
                .collect();
            s.push_str(&format!(
                "; NOT OK: {} [{}] transport errors {}{}",
                self.failures(),
                codes.join(", "),
                self.transport,
                self.first_transport_error
                    .as_deref()
                    .map(|e| format!(" (first: {e})"))
                    .unwrap_or_default()
            ));
        }
        s
    }
}

/// Closed-loop load: `conc` workers call `call(item)` until `secs` have passed, worker `w`
/// cycling over items `w, w + conc, ...` modulo `items`.
async fn timed_load<F, Fut>(secs: u64, conc: usize, items: usize, call: F) -> Stats
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send,
{
    let call = Arc::new(call);
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..conc {
        let call = call.clone();
        workers.spawn(async move {
            let mut st = Stats::default();
            let mut item = w;
            for _ in 0..MAX_REQUESTS_PER_WORKER {
                if Instant::now() >= deadline {
                    break;
                }
                let t = Instant::now();
                let o = call(item % items).await;
                st.record(o, t.elapsed());
                item += conc;
            }
            st
        });
    }
    let mut all = Stats::default();
    while let Some(r) = workers.join_next().await {
        match r {
            Ok(st) => all.merge(st),
            Err(e) => all.record(Outcome::Transport(format!("worker: {e}")), Duration::ZERO),
        }
    }
    all.elapsed = start.elapsed();
    all
}

/// One pass over every item (each exactly once), timed, with `conc` in flight.
async fn one_pass<F, Fut>(conc: usize, items: usize, call: F) -> Stats
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Outcome>,
{
    let start = Instant::now();
    let call = &call;
    let mut s = futures::stream::iter((0..items).map(|i| async move {
        let t = Instant::now();
        let o = call(i).await;
        (o, t.elapsed())
    }))
    .buffer_unordered(conc.max(1));
    let mut st = Stats::default();
    while let Some((o, took)) = s.next().await {
        st.record(o, took);
    }
    st.elapsed = start.elapsed();
    st
}

/// User + system CPU seconds of a process so far (Linux `/proc/<pid>/stat`, 100 ticks/s).
fn cpu_secs(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// " (server RSS N KiB)" when the server's pid is known, for spotting memory growth.
fn server_rss(c: &Common) -> String {
    c.server_pid
        .and_then(|p| std::fs::read_to_string(format!("/proc/{p}/status")).ok())
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:").map(|v| v.trim().to_owned()))
        })
        .map(|v| format!(" (server RSS {v})"))
        .unwrap_or_default()
}

/// CPU use of the server and of this load generator over one measurement.
struct CpuMeter {
    server: Option<String>,
    start: (Option<f64>, Option<f64>),
}

impl CpuMeter {
    fn start(c: &Common) -> Self {
        let server = c.server_pid.map(|p| p.to_string());
        let start = (server.as_deref().and_then(cpu_secs), cpu_secs("self"));
        CpuMeter { server, start }
    }

    /// "server X cores, Y ms CPU/request; loadgen Z cores" for `ok` requests in `st`.
    fn report(&self, st: &Stats) -> String {
        let secs = st.elapsed.as_secs_f64().max(1e-9);
        let n = st.lat.len().max(1) as f64;
        let mut out = Vec::new();
        if let (Some(a), Some(b)) = (self.start.0, self.server.as_deref().and_then(cpu_secs)) {
            out.push(format!(
                "server {:.2} cores, {:.2} ms CPU/request",
                (b - a) / secs,
                (b - a) * 1e3 / n
            ));
        }
        if let (Some(a), Some(b)) = (self.start.1, cpu_secs("self")) {
            out.push(format!("loadgen {:.2} cores", (b - a) / secs));
        }
        out.join("; ")
    }
}

fn secs_since(t: Instant) -> String {
    format!("{:.1}s", t.elapsed().as_secs_f64())
}

/// A prepared auth request: the exact bytes and their signature.
#[derive(Clone)]
struct Signed {
    body: Bytes,
    signature: String,
}

/// Sends one auth request; `Ok` means 200 with a JWT in the body.
async fn send_auth(http: &reqwest::Client, url: &str, s: &Signed) -> Outcome {
    let r = http
        .post(url)
        .header("content-type", "application/json")
        .header("x-men-signature", &s.signature)
        .body(s.body.clone())
        .send()
        .await;
    match r {
        Err(e) => Outcome::Transport(e.to_string()),
        Ok(r) if r.status() == StatusCode::OK => match r.text().await {
            Ok(t) if t.split('.').count() == 3 => Outcome::Ok,
            Ok(_) => Outcome::Status(299),
            Err(e) => Outcome::Transport(e.to_string()),
        },
        Ok(r) => Outcome::Status(r.status().as_u16()),
    }
}

fn make_key(kind: &str) -> Result<DeviceKey> {
    Ok(match kind {
        "rsa2048" => DeviceKey::rsa(2048),
        "rsa3072" => DeviceKey::rsa(3072),
        "p256" => DeviceKey::ecdsa_p256(),
        "p384" => DeviceKey::ecdsa_p384(),
        "p521" => DeviceKey::ecdsa_p521(),
        "ed25519" => DeviceKey::ed25519(),
        other => bail!("unknown key type {other}"),
    })
}

/// `n` keys of `kind`, generated off the async threads (RSA generation takes a while).
async fn make_keys(kind: &str, n: usize) -> Result<Vec<DeviceKey>> {
    let kind = kind.to_owned();
    tokio::task::spawn_blocking(move || (0..n).map(|_| make_key(&kind)).collect())
        .await
        .context("key generation task")?
}

// ---------------------------------------------------------------------------------------------
// auth: signed auth requests per key type.

async fn auth_bench(a: AuthArgs) -> Result<()> {
    let c = &a.common;
    loopback_only(&c.url)?;
    let http = client(c.concurrency)?;
    let m = Mgmt::login(http.clone(), c).await?;
    let run = std::process::id();
    let url = format!("{}{AUTH_PATH}", c.url);
    for (n, kind) in a
        .types
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .enumerate()
    {
        let t = Instant::now();
        let keys = make_keys(kind, a.devices).await?;
        let keygen = secs_since(t);
        let signed: Vec<Signed> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let id = json!({"mac": format!("bench-{run}-{n}{kind}-{i:05}")});
                // mender-client signs the same bytes on every attempt; RSA PKCS#1 v1.5 and
                // Ed25519 signatures are deterministic and an ECDSA one stays valid, so each
                // device's request is signed once and the load measures the server alone.
                let s = AuthRequest::new(&id).sign(k);
                Signed {
                    body: Bytes::from(s.body),
                    signature: s.signature,
                }
            })
            .collect();
        let t = Instant::now();
        accept_devices(
            &m,
            &http,
            &url,
            &signed,
            &format!("bench-{run}-{n}{kind}-"),
            c,
        )
        .await?;
        let setup = secs_since(t);
        let (h, u, s) = (http.clone(), url.clone(), Arc::new(signed));
        let cpu = CpuMeter::start(c);
        let mut st = timed_load(c.secs, c.concurrency, s.len(), move |i| {
            let (h, u, s) = (h.clone(), u.clone(), s.clone());
            async move { send_auth(&h, &u, &s[i]).await }
        })
        .await;
        println!(
            "{}  [{} devices; keygen {keygen}, create+accept {setup}; {}]",
            st.line(&format!("auth_requests {kind:<8}"), c.concurrency),
            a.devices,
            cpu.report(&st)
        );
    }
    // Status changes reach the inventory through workflows; check none was lost.
    let want = a.devices * a.types.split(',').filter(|k| !k.trim().is_empty()).count();
    let (n, waited) = accepted_in_inventory(&m, want, Duration::from_secs(60)).await?;
    println!(
        "inventory: {n} of {want} accepted devices show identity/status=accepted (after {waited})"
    );
    Ok(())
}

/// First auth request of each device (401, pending), accept every auth set through the
/// management API, then check each device now gets a token.
async fn accept_devices(
    m: &Mgmt,
    http: &reqwest::Client,
    url: &str,
    signed: &[Signed],
    prefix: &str,
    c: &Common,
) -> Result<()> {
    for_each(signed.len(), c.concurrency, |i| async move {
        match send_auth(http, url, &signed[i]).await {
            Outcome::Status(401) => Ok(()),
            Outcome::Ok => bail!("a new device got a token before being accepted"),
            Outcome::Status(s) => bail!("first auth request answered {s}"),
            Outcome::Transport(e) => bail!("first auth request: {e}"),
        }
    })
    .await?;
    let pending = pending_auth_sets(m, prefix, signed.len()).await?;
    for_each(pending.len(), c.concurrency, |i| {
        let (id, aid) = &pending[i];
        async move {
            let a = m
                .call(
                    Method::PUT,
                    &format!("{DEVAUTH}/{id}/auth/{aid}/status"),
                    Some(&json!({"status": "accepted"})),
                )
                .await?;
            ensure!(
                a.status == StatusCode::NO_CONTENT,
                "accept answered {}: {}",
                a.status,
                a.text
            );
            Ok(())
        }
    })
    .await?;
    for_each(signed.len(), c.concurrency, |i| async move {
        match send_auth(http, url, &signed[i]).await {
            Outcome::Ok => Ok(()),
            Outcome::Status(s) => bail!("auth request after accept answered {s}"),
            Outcome::Transport(e) => bail!("auth request after accept: {e}"),
        }
    })
    .await?;
    Ok(())
}

/// (device id, auth set id) of the pending devices whose `mac` starts with `prefix`.
async fn pending_auth_sets(m: &Mgmt, prefix: &str, want: usize) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for page in 1..=1000 {
        let a = m
            .call(
                Method::GET,
                &format!("{DEVAUTH}?status=pending&per_page=500&page={page}"),
                None,
            )
            .await?;
        ensure!(a.status == StatusCode::OK, "list answered {}", a.status);
        let list = a.json();
        let devices = list.as_array().context("device list is not an array")?;
        for d in devices {
            let ours = d["identity_data"]["mac"]
                .as_str()
                .is_some_and(|s| s.starts_with(prefix));
            if let (true, Some(id), Some(aid)) =
                (ours, d["id"].as_str(), d["auth_sets"][0]["id"].as_str())
            {
                out.push((id.to_owned(), aid.to_owned()));
            }
        }
        if devices.len() < 500 {
            break;
        }
    }
    ensure!(
        out.len() == want,
        "found {} pending devices, expected {want}",
        out.len()
    );
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// next: a big fleet, one deployment to all devices.

async fn next_bench(a: NextArgs) -> Result<()> {
    let c = &a.common;
    loopback_only(&c.url)?;
    loopback_only(&a.internal_url)?;
    ensure!(
        a.real >= 1 && a.real <= a.total,
        "need 1 <= --real <= --total"
    );
    ensure!(
        a.artifact_name != a.installed,
        "the deployed artifact must differ from the installed one"
    );
    let http = client(c.concurrency)?;
    let m = Mgmt::login(http.clone(), c).await?;
    let seeding = Instant::now();

    let tokens = seed_real_devices(&m, &http, &a).await?;
    seed_inventory_devices(&http, &a).await?;
    wait_for_accepted(&m, a.total).await?;
    list_page_times(&m, a.total).await?;
    println!(
        "seeding total: {} for {} accepted devices{}",
        secs_since(seeding),
        a.total,
        server_rss(c)
    );

    let t = Instant::now();
    let artifact_id = upload_artifact(&m, &a).await?;
    println!(
        "artifact upload ({}): {}",
        a.artifact.display(),
        secs_since(t)
    );
    let t = Instant::now();
    let dep = m
        .call(
            Method::POST,
            "/api/management/v1/deployments/deployments",
            Some(&json!({"name": "fleetbench", "artifact_name": a.artifact_name, "all_devices": true})),
        )
        .await?;
    ensure!(
        dep.status == StatusCode::CREATED,
        "create deployment answered {}: {}",
        dep.status,
        dep.text
    );
    let dep_id = dep.location_id()?;
    let created = secs_since(t);
    let shown = m
        .call(
            Method::GET,
            &format!("/api/management/v1/deployments/deployments/{dep_id}"),
            None,
        )
        .await?;
    println!(
        "deployment to all devices created in {created}: device_count {} (artifact {artifact_id}){}",
        shown.json()["device_count"],
        server_rss(c)
    );

    let url = reqwest::Url::parse_with_params(
        &format!("{}{NEXT_PATH}", c.url),
        &[
            ("artifact_name", a.installed.as_str()),
            ("device_type", a.device_type.as_str()),
        ],
    )?
    .to_string();
    let tokens = Arc::new(tokens);
    let call = {
        let (h, u, tk) = (http.clone(), url.clone(), tokens.clone());
        move |i: usize| {
            let (h, u, tk) = (h.clone(), u.clone(), tk.clone());
            async move { send_next(&h, &u, &tk[i]).await }
        }
    };
    // A device's first `next` creates its device deployment; later ones read it.
    let cpu = CpuMeter::start(c);
    let mut first = one_pass(c.concurrency, tokens.len(), &call).await;
    println!(
        "{}  [{}]",
        first.line("next, first call per device", c.concurrency),
        cpu.report(&first)
    );
    let cpu = CpuMeter::start(c);
    let mut st = timed_load(c.secs, c.concurrency, tokens.len(), call).await;
    println!(
        "{}  [{} token holders cycling, {} accepted devices; {}]",
        st.line("next, steady state", c.concurrency),
        tokens.len(),
        a.total,
        cpu.report(&st)
    );
    Ok(())
}

/// `GET next` with a device token; `Ok` means 200 with deployment instructions.
async fn send_next(http: &reqwest::Client, url: &str, token: &str) -> Outcome {
    match http.get(url).bearer_auth(token).send().await {
        Err(e) => Outcome::Transport(e.to_string()),
        Ok(r) if r.status() == StatusCode::OK => match r.bytes().await {
            Ok(b) if b.windows(8).any(|w| w == b"artifact") => Outcome::Ok,
            Ok(_) => Outcome::Status(299),
            Err(e) => Outcome::Transport(e.to_string()),
        },
        Ok(r) => Outcome::Status(r.status().as_u16()),
    }
}

/// Preauthorizes `real` Ed25519 devices (management API), then each sends its first auth
/// request and is admitted with a token, as a preauthorized mender-client would be.
async fn seed_real_devices(m: &Mgmt, http: &reqwest::Client, a: &NextArgs) -> Result<Vec<String>> {
    let c = &a.common;
    let run = std::process::id();
    let t = Instant::now();
    let keys = make_keys("ed25519", a.real).await?;
    let ids: Vec<Value> = (0..a.real)
        .map(|i| json!({"mac": format!("fleet-{run}-{i:06}")}))
        .collect();
    let t_pre = Instant::now();
    for_each(a.real, c.concurrency, |i| {
        let body = json!({"identity_data": ids[i], "pubkey": keys[i].public_pem()});
        async move {
            let r = m.call(Method::POST, DEVAUTH, Some(&body)).await?;
            ensure!(
                r.status == StatusCode::CREATED,
                "preauthorize answered {}: {}",
                r.status,
                r.text
            );
            Ok(())
        }
    })
    .await?;
    let pre = secs_since(t_pre);
    let t_auth = Instant::now();
    let url = format!("{}{AUTH_PATH}", c.url);
    let tokens = for_each(a.real, c.concurrency, |i| {
        let s = AuthRequest::new(&ids[i]).sign(&keys[i]);
        let url = &url;
        async move {
            let r = answer(
                http.post(url)
                    .header("content-type", "application/json")
                    .header("x-men-signature", s.signature)
                    .body(s.body),
            )
            .await?;
            ensure!(
                r.status == StatusCode::OK,
                "auth of a preauthorized device answered {}: {}",
                r.status,
                r.text
            );
            Ok(r.text)
        }
    })
    .await?;
    println!(
        "seed real devices: {} Ed25519 devices preauthorized in {pre}, authenticated (token) in {}; {} with key generation",
        a.real,
        secs_since(t_auth),
        secs_since(t)
    );
    Ok(tokens)
}

/// Creates `total - real` accepted devices directly in inventory (internal API), as the
/// provisioning workflow does for an accepted device; they have no deviceauth record.
async fn seed_inventory_devices(http: &reqwest::Client, a: &NextArgs) -> Result<()> {
    let n = a.total - a.real;
    let url = format!(
        "{}/api/internal/v1/inventory/tenants//devices",
        a.internal_url.trim_end_matches('/')
    );
    let seed = u64::from(std::process::id()) << 32 ^ now_nanos();
    let t = Instant::now();
    for_each(n, a.common.concurrency, |i| {
        let body = json!({
            "id": uuid_like(seed, i as u64),
            "attributes": [{"name": "status", "scope": "identity", "value": "accepted"}],
        });
        let url = &url;
        async move {
            let r = answer(http.post(url).json(&body)).await?;
            ensure!(
                r.status == StatusCode::CREATED,
                "inventory add answered {}: {}",
                r.status,
                r.text
            );
            Ok(())
        }
    })
    .await?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "seed inventory-only devices: {n} in {secs:.1}s ({:.0}/s, internal POST /api/internal/v1/inventory/tenants//devices)",
        n as f64 / secs.max(1e-9)
    );
    Ok(())
}

fn now_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// A UUID-shaped (version 4 layout) id, unique per (seed, i).
fn uuid_like(seed: u64, i: u64) -> String {
    // splitmix64 twice: enough spread for ids, no extra dependency.
    let mix = |mut z: u64| {
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let hi = mix(seed ^ mix(i));
    let lo = i;
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xfff,
        (lo >> 48) & 0xfff,
        lo & 0xffff_ffff_ffff
    )
}

/// Polls the inventory until `total` devices have `identity/status=accepted` (the real
/// devices' status arrives through workflows).
async fn wait_for_accepted(m: &Mgmt, total: usize) -> Result<()> {
    let (n, waited) = accepted_in_inventory(m, total, MAX_WAIT).await?;
    ensure!(
        n >= total,
        "inventory shows {n} accepted devices after {waited}, expected {total}"
    );
    println!("inventory shows {n} accepted devices ({waited} after seeding requests ended)");
    Ok(())
}

/// Polls the inventory's count of `identity/status=accepted` devices until it reaches `total`
/// or `max_wait` passes; returns the last count and how long it waited.
async fn accepted_in_inventory(
    m: &Mgmt,
    total: usize,
    max_wait: Duration,
) -> Result<(usize, String)> {
    let t = Instant::now();
    let mut last = 0;
    while t.elapsed() < max_wait {
        let a = m
            .call(
                Method::GET,
                "/api/management/v1/inventory/devices?identity/status=accepted&per_page=1",
                None,
            )
            .await?;
        ensure!(
            a.status == StatusCode::OK,
            "inventory list answered {}",
            a.status
        );
        last = a
            .headers
            .get("x-total-count")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
            .context("no X-Total-Count")?;
        if last >= total {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok((last, secs_since(t)))
}

/// Times the first and the last page (500 devices) of the accepted-device listing: creating a
/// deployment to all devices pages through this list.
async fn list_page_times(m: &Mgmt, total: usize) -> Result<()> {
    let mut out = Vec::new();
    for page in [1, total.div_ceil(500)] {
        let t = Instant::now();
        let a = m
            .call(
                Method::GET,
                &format!(
                    "/api/management/v1/inventory/devices?identity/status=accepted&per_page=500&page={page}"
                ),
                None,
            )
            .await?;
        ensure!(
            a.status == StatusCode::OK,
            "inventory list answered {}",
            a.status
        );
        out.push(format!(
            "page {page}: {:.0} ms",
            t.elapsed().as_secs_f64() * 1e3
        ));
    }
    println!(
        "inventory list of accepted devices, 500 per page: {}",
        out.join(", ")
    );
    Ok(())
}

/// Uploads the artifact (multipart `artifact` field); returns its id.
async fn upload_artifact(m: &Mgmt, a: &NextArgs) -> Result<String> {
    let file =
        std::fs::read(&a.artifact).with_context(|| format!("reading {}", a.artifact.display()))?;
    let boundary = format!("fleetbench{}", now_nanos());
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\nfleetbench\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"artifact\"; filename=\"bench.mender\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let r = answer(
        m.http
            .post(format!("{}/api/management/v1/deployments/artifacts", m.url))
            .bearer_auth(&m.token)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body),
    )
    .await?;
    ensure!(
        r.status == StatusCode::CREATED,
        "upload answered {}: {}",
        r.status,
        r.text
    );
    r.location_id()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_like_ids_are_distinct_and_shaped() {
        let ids: std::collections::HashSet<String> = (0..10_000).map(|i| uuid_like(7, i)).collect();
        assert_eq!(ids.len(), 10_000);
        let one = uuid_like(7, 1);
        let parts: Vec<usize> = one.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12], "{one}");
    }
}
