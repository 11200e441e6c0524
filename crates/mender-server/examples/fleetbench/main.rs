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
//!
//! - `next --hostile-conns N --login-flood C`: measures `next` once more while slow
//!   connections and wrong-password logins hit the server (`attack`).
//!
//! Modules: `harness` (client, management calls, bounded load, statistics), `auth`, `next`,
//! `attack`.

mod attack;
mod auth;
mod harness;
mod next;

use std::time::Duration;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

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
    /// After the steady state, measure again while this many slow TLS connections trickle
    /// header lines (each opened again when the server closes it); 0: no such measurement.
    #[arg(long, default_value_t = 0)]
    hostile_conns: usize,
    /// ... and while this many workers log in with wrong passwords.
    #[arg(long, default_value_t = 0)]
    login_flood: usize,
    /// The server's certificate (PEM), trusted by the slow connections' TLS handshakes.
    #[arg(long)]
    ca: Option<std::path::PathBuf>,
}

#[tokio::main]
async fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Auth(a) => auth::auth_bench(a).await,
        Cmd::Next(a) => next::next_bench(a).await,
    }
}
