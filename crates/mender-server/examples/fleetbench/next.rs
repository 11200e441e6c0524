//! `next`: seeds a fleet (real preauthorized devices holding tokens plus inventory-only accepted
//! devices), uploads an artifact, deploys it to all devices, then loads `GET next` with the
//! real devices' tokens.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use mender_testkit::AuthRequest;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::attack::Attack;
use crate::harness::{
    CpuMeter, Mgmt, Outcome, accepted_in_inventory, answer, client, for_each, loopback_only,
    make_keys, one_pass, secs_since, server_rss, timed_load,
};
use crate::{AUTH_PATH, DEVAUTH, MAX_WAIT, NEXT_PATH, NextArgs};

/// Runs the `next` benchmark.
pub(crate) async fn next_bench(a: NextArgs) -> Result<()> {
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
    let dep_id = m
        .call(
            Method::POST,
            "/api/management/v1/deployments/deployments",
            Some(&json!({"name": "fleetbench", "artifact_name": a.artifact_name, "all_devices": true})),
        )
        .await?
        .expect(StatusCode::CREATED, "create deployment")?
        .location_id()?;
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
    let mut st = timed_load(c.secs, c.concurrency, tokens.len(), call.clone()).await;
    println!(
        "{}  [{} token holders cycling, {} accepted devices; {}]",
        st.line("next, steady state", c.concurrency),
        tokens.len(),
        a.total,
        cpu.report(&st)
    );
    if a.hostile_conns > 0 || a.login_flood > 0 {
        let ca =
            a.ca.as_deref()
                .context("--ca (the server's certificate) is needed for the attack")?;
        let attack = Attack::start(&c.url, ca, a.hostile_conns, a.login_flood, &c.user)?;
        // The slow connections open over the first 5 s.
        tokio::time::sleep(std::time::Duration::from_secs(6)).await;
        let cpu = CpuMeter::start(c);
        let mut st = timed_load(c.secs, c.concurrency, tokens.len(), call).await;
        println!(
            "{}  [{} slow connections, {} wrong-password login workers; {}]",
            st.line("next, steady state under attack", c.concurrency),
            a.hostile_conns,
            a.login_flood,
            cpu.report(&st)
        );
        println!("{}", attack.stop().await);
    }
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
            m.call(Method::POST, DEVAUTH, Some(&body))
                .await?
                .expect(StatusCode::CREATED, "preauthorize")?;
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
            Ok(r.expect(StatusCode::OK, "auth of a preauthorized device")?
                .text)
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
            answer(http.post(url).json(&body))
                .await?
                .expect(StatusCode::CREATED, "inventory add")?;
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

/// Times the first and the last page (500 devices) of the accepted-device listing: creating a
/// deployment to all devices pages through this list.
async fn list_page_times(m: &Mgmt, total: usize) -> Result<()> {
    let mut out = Vec::new();
    for page in [1, total.div_ceil(500)] {
        let t = Instant::now();
        m.get_ok(
            &format!(
                "/api/management/v1/inventory/devices?identity/status=accepted&per_page=500&page={page}"
            ),
            "inventory list",
        )
        .await?;
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
    answer(
        m.http
            .post(format!("{}/api/management/v1/deployments/artifacts", m.url))
            .bearer_auth(&m.token)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body),
    )
    .await?
    .expect(StatusCode::CREATED, "upload")?
    .location_id()
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
