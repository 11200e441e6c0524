//! Shared pieces of the fleet benchmarks: the loopback-only HTTP client, management API calls,
//! bounded concurrent loops, closed-loop timed load, latency statistics and CPU/memory readings
//! of the server process.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use futures::StreamExt;
use mender_testkit::DeviceKey;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::{Common, MAX_REQUESTS_PER_WORKER};

pub(crate) fn loopback_only(url: &str) -> Result<()> {
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
pub(crate) fn client(conc: usize) -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .http1_only()
        .pool_max_idle_per_host(conc * 2)
        .timeout(Duration::from_secs(120))
        .build()?)
}

/// A logged-in management API client.
pub(crate) struct Mgmt {
    pub(crate) http: reqwest::Client,
    pub(crate) url: String,
    pub(crate) token: String,
}

/// Status, headers and body text of an answer.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) text: String,
}

impl Answer {
    /// This answer if its status is `want`; otherwise an error naming `what`, the status and
    /// the body.
    pub(crate) fn expect(self, want: StatusCode, what: &str) -> Result<Self> {
        ensure!(
            self.status == want,
            "{what} answered {}: {}",
            self.status,
            self.text
        );
        Ok(self)
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    /// The last path segment of the `Location` header (the created resource's id).
    pub(crate) fn location_id(&self) -> Result<String> {
        let loc = self
            .headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .context("no Location header")?;
        Ok(loc.rsplit('/').next().unwrap_or_default().to_owned())
    }
}

impl Mgmt {
    pub(crate) async fn login(http: reqwest::Client, c: &Common) -> Result<Self> {
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

    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        answer(req).await
    }

    /// GET `path`, expecting 200.
    pub(crate) async fn get_ok(&self, path: &str, what: &str) -> Result<Answer> {
        self.call(Method::GET, path, None)
            .await?
            .expect(StatusCode::OK, what)
    }
}

pub(crate) async fn answer(req: reqwest::RequestBuilder) -> Result<Answer> {
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
pub(crate) async fn for_each<F, Fut, T>(n: usize, conc: usize, f: F) -> Result<Vec<T>>
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
pub(crate) enum Outcome {
    /// The expected answer.
    Ok,
    /// Another HTTP status.
    Status(u16),
    /// No HTTP answer (connection error, timeout).
    Transport(String),
}

/// Latencies of successful requests and counts of everything else.
#[derive(Default)]
pub(crate) struct Stats {
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

    pub(crate) fn line(&mut self, label: &str, conc: usize) -> String {
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
pub(crate) async fn timed_load<F, Fut>(secs: u64, conc: usize, items: usize, call: F) -> Stats
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
pub(crate) async fn one_pass<F, Fut>(conc: usize, items: usize, call: F) -> Stats
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
pub(crate) fn server_rss(c: &Common) -> String {
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
pub(crate) struct CpuMeter {
    server: Option<String>,
    start: (Option<f64>, Option<f64>),
}

impl CpuMeter {
    pub(crate) fn start(c: &Common) -> Self {
        let server = c.server_pid.map(|p| p.to_string());
        let start = (server.as_deref().and_then(cpu_secs), cpu_secs("self"));
        CpuMeter { server, start }
    }

    /// "server X cores, Y ms CPU/request; loadgen Z cores" for `ok` requests in `st`.
    pub(crate) fn report(&self, st: &Stats) -> String {
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

pub(crate) fn secs_since(t: Instant) -> String {
    format!("{:.1}s", t.elapsed().as_secs_f64())
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
pub(crate) async fn make_keys(kind: &str, n: usize) -> Result<Vec<DeviceKey>> {
    let kind = kind.to_owned();
    tokio::task::spawn_blocking(move || (0..n).map(|_| make_key(&kind)).collect())
        .await
        .context("key generation task")?
}

/// Polls the inventory's count of `identity/status=accepted` devices until it reaches `total`
/// or `max_wait` passes; returns the last count and how long it waited.
pub(crate) async fn accepted_in_inventory(
    m: &Mgmt,
    total: usize,
    max_wait: Duration,
) -> Result<(usize, String)> {
    let t = Instant::now();
    let mut last = 0;
    while t.elapsed() < max_wait {
        let a = m
            .get_ok(
                "/api/management/v1/inventory/devices?identity/status=accepted&per_page=1",
                "inventory list",
            )
            .await?;
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
