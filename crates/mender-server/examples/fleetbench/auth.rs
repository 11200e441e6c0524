//! `auth`: per key type, devices are created (first signed auth request, 401), accepted through
//! the management API, then their signed auth requests are replayed for a fixed time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use bytes::Bytes;
use mender_testkit::AuthRequest;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::{
    CpuMeter, Mgmt, Outcome, accepted_in_inventory, client, for_each, loopback_only, make_keys,
    secs_since, timed_load,
};
use crate::{AUTH_PATH, AuthArgs, Common, DEVAUTH};

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

/// Runs the `auth` benchmark.
pub(crate) async fn auth_bench(a: AuthArgs) -> Result<()> {
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
            m.call(
                Method::PUT,
                &format!("{DEVAUTH}/{id}/auth/{aid}/status"),
                Some(&json!({"status": "accepted"})),
            )
            .await?
            .expect(StatusCode::NO_CONTENT, "accept")?;
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
        let list = m
            .get_ok(
                &format!("{DEVAUTH}?status=pending&per_page=500&page={page}"),
                "list",
            )
            .await?
            .json();
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
