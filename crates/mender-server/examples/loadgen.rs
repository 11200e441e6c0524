//! A small closed-loop load generator for the benchmarks in `scripts/bench.sh`: N workers
//! send the same request for a fixed time and the tool prints requests per second and
//! latency percentiles. Loopback only; it stops by itself.
//!
//! `cargo run --release -p mender-server --example loadgen -- URL METHOD SECONDS CONCURRENCY [HEADER:VALUE]...`

use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(
        args.len() >= 4,
        "usage: loadgen URL METHOD SECONDS CONCURRENCY [Header:Value]..."
    );
    let url = args[0].clone();
    let host = reqwest::Url::parse(&url)?
        .host_str()
        .unwrap_or_default()
        .to_owned();
    anyhow::ensure!(
        host == "localhost" || host.starts_with("127.") || host == "[::1]",
        "load is only sent to this machine (loopback)"
    );
    let method: reqwest::Method = args[1].parse()?;
    let secs: u64 = args[2].parse()?;
    let conc: usize = args[3].parse()?;
    let headers: Vec<(String, String)> = args[4..]
        .iter()
        .filter_map(|h| {
            h.split_once(':')
                .map(|(k, v)| (k.to_owned(), v.trim().to_owned()))
        })
        .collect();
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .pool_max_idle_per_host(conc)
        .build()?;
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..conc {
        let (client, url, method, headers) =
            (client.clone(), url.clone(), method.clone(), headers.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let mut req = client.request(method.clone(), &url);
                for (k, v) in &headers {
                    req = req.header(k, v);
                }
                let t = Instant::now();
                match req.send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        lat.push(t.elapsed());
                    }
                    _ => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        all.extend(l);
        errors += e;
    }
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "{} {}: {} ok, {} errors in {}s with {} workers => {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
        method,
        url,
        all.len(),
        errors,
        secs,
        conc,
        all.len() as f64 / secs as f64,
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3
    );
    Ok(())
}
