//! The edge of the real binary against hostile and clumsy clients: no panic reaches a
//! client, answers given before the body is read (401, 404, 413) reach the client over
//! HTTP/1.1 and HTTP/2, connections that send nothing or trickle are closed, and the
//! internal port insists on its shared secret.

// Tests may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::ServerProcess;
use common::mgmt::start_with_admin;
use serde_json::Value;

/// Clients for the public (TLS) port: HTTP/1.1 only, and HTTP/2 (prior knowledge over TLS).
fn protocol_clients(server: &ServerProcess) -> Vec<(reqwest::Version, reqwest::Client)> {
    server.protocol_clients(|| reqwest::Client::builder().timeout(Duration::from_secs(60)))
}

/// A hostile public key in an auth request is a 400 with upstream's body, not a dropped
/// connection (it used to panic a worker in the PEM parser).
#[tokio::test(flavor = "multi_thread")]
async fn hostile_pem_in_auth_request_is_400() {
    let (_tmp, server, _m) = start_with_admin().await;
    for (version, http) in protocol_clients(&server) {
        for pubkey in [
            "-----BEGIN -----END -----",
            "-----BEGIN X-----",
            "-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----",
        ] {
            let body = serde_json::json!({
                "id_data": "{\"mac\":\"00:11:22:33:44:55\"}",
                "pubkey": pubkey,
            });
            let r = http
                .post(format!(
                    "{}/api/devices/v1/authentication/auth_requests",
                    server.url
                ))
                .header("x-men-signature", "AAAA")
                .json(&body)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{version:?} {pubkey:?}: {e:?}"));
            assert_eq!(r.status(), 400, "{version:?} {pubkey:?}");
            let b: Value = r.json().await.unwrap();
            assert!(b["error"].is_string() && b["request_id"].is_string(), "{b}");
        }
    }
}

/// A body the client is still sending: `total` bytes in 16 KiB chunks.
fn slow_body(total: usize) -> reqwest::Body {
    let chunks = total / 16_384;
    reqwest::Body::wrap_stream(futures::stream::iter(
        (0..chunks).map(|_| Ok::<_, std::io::Error>(vec![b' '; 16_384])),
    ))
}

/// Answers given before the body is read reach the client on both protocol versions: 413
/// for a 3 MB body, 401 without a token, 404 for an unknown route (small and large bodies).
#[tokio::test(flavor = "multi_thread")]
async fn early_answers_reach_the_client_on_both_protocols() {
    let (_tmp, server, m) = start_with_admin().await;
    let users = format!("{}/api/management/v1/useradm/users", server.url);
    let unknown = format!("{}/api/management/v1/inventory/no-such-route/x", server.url);
    let big = vec![b' '; 3 * 1024 * 1024];
    for (version, http) in protocol_clients(&server) {
        let send = |req: reqwest::RequestBuilder, what: &'static str| async move {
            let r = req
                .send()
                .await
                .unwrap_or_else(|e| panic!("{version:?} {what}: no answer: {e:?}"));
            assert_eq!(r.version(), version, "{what}");
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            (status, body)
        };
        let json = |req: reqwest::RequestBuilder, body: reqwest::Body| {
            req.header("content-type", "application/json").body(body)
        };
        // (request, what it is, status, whether the answer is upstream's error body), in
        // order on the same connection: the last shows it is still good.
        let cases = [
            (
                json(http.post(&users).bearer_auth(&m.token), big.clone().into()),
                "3 MB body to users",
                413,
                true,
            ),
            (
                json(http.post(&users), big.clone().into()),
                "3 MB body without a token",
                401,
                false,
            ),
            (
                json(
                    http.put(&unknown).bearer_auth(&m.token),
                    "{\"a\":\"b\"}".into(),
                ),
                "small PUT to an unknown route",
                404,
                false,
            ),
            (
                json(
                    http.put(&unknown).bearer_auth(&m.token),
                    slow_body(8 * 1024 * 1024),
                ),
                "streaming PUT to an unknown route",
                404,
                false,
            ),
            (
                http.get(&users).bearer_auth(&m.token),
                "a request after the early answers",
                200,
                false,
            ),
        ];
        for (req, what, want, error_body) in cases {
            let (status, body) = send(req, what).await;
            assert_eq!(status, want, "{version:?} {what} {body}");
            if error_body {
                assert!(body["request_id"].is_string(), "{body}");
            }
        }
    }
}

/// A server with short connection timeouts (seconds) and an admin; `extra` adds environment.
async fn start_with_timeouts(
    extra: &[(&str, &str)],
) -> (tempfile::TempDir, ServerProcess, common::mgmt::Mgmt) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut env = vec![
        ("MENDER_SERVER_SERVER__TLS_HANDSHAKE_TIMEOUT", "2"),
        ("MENDER_SERVER_SERVER__HEADER_READ_TIMEOUT", "2"),
        ("MENDER_SERVER_SERVER__IDLE_TIMEOUT", "3"),
        ("MENDER_SERVER_SERVER__BODY_INACTIVITY_TIMEOUT", "2"),
    ];
    env.extend_from_slice(extra);
    let server = ServerProcess::start(&data, &[], &env);
    assert!(
        common::create_user(&data, common::ADMIN_EMAIL, common::ADMIN_PASSWORD)
            .status
            .success()
    );
    let m = common::mgmt::Mgmt::login(&server, common::ADMIN_EMAIL, common::ADMIN_PASSWORD).await;
    (tmp, server, m)
}

/// The server's host:port.
fn addr(server: &ServerProcess) -> String {
    server.url.trim_start_matches("https://").to_owned()
}

/// A TLS client for the server's certificate, offering `alpn`.
fn tls_connector(server: &ServerProcess, alpn: &[&[u8]]) -> tokio_rustls::TlsConnector {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(server.cert.as_ref().unwrap()).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
}

/// Reads until the server closes the connection (EOF or reset); panics after `within`.
async fn closed_within<R: tokio::io::AsyncRead + Unpin>(mut r: R, within: Duration, what: &str) {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; 16_384];
    let read_all = async {
        loop {
            match r.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(within, read_all)
        .await
        .unwrap_or_else(|_| panic!("{what}: the server kept the connection open"));
}

/// How a hostile connection behaves.
#[derive(Clone, Copy, Debug)]
enum Hostile {
    /// TCP only: no TLS handshake.
    Silent,
    /// A TLS handshake, then nothing.
    TlsSilent,
    /// HTTP/1.1: one header line every second, never the end of the header.
    Trickle,
    /// HTTP/2: the preface, then nothing.
    H2Silent,
    /// HTTP/1.1: a header promising a body, ten bytes of it, then nothing.
    StalledBody,
}

/// Opens a hostile connection and returns when the server has closed it; panics if that
/// takes longer than `within`.
async fn hostile(
    server_addr: String,
    tls: tokio_rustls::TlsConnector,
    kind: Hostile,
    within: Duration,
) {
    use tokio::io::AsyncWriteExt;
    let tcp = tokio::net::TcpStream::connect(&server_addr).await.unwrap();
    if let Hostile::Silent = kind {
        return closed_within(tcp, within, "silent TCP").await;
    }
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let Ok(mut s) = tls.connect(name, tcp).await else {
        // Refused before the handshake ended: closed.
        return;
    };
    let what = format!("{kind:?}");
    match kind {
        Hostile::Silent | Hostile::TlsSilent => {}
        Hostile::H2Silent => {
            let _ = s
                .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
                .await;
        }
        Hostile::StalledBody => {
            let _ = s
                .write_all(
                    b"POST /api/management/v1/useradm/auth/login HTTP/1.1\r\nhost: localhost\r\ncontent-length: 1000\r\n\r\n0123456789",
                )
                .await;
        }
        Hostile::Trickle => {
            let _ = s
                .write_all(b"GET /api/devices/v1/deployments/device/deployments/next HTTP/1.1\r\n")
                .await;
            let (r, mut w) = tokio::io::split(s);
            let trickle = async move {
                mender_testkit::slow::trickle_headers(&mut w, "x-trickle", u64::MAX).await;
            };
            tokio::select! {
                _ = closed_within(r, within, &what) => {}
                _ = trickle => {}
            }
            return;
        }
    }
    closed_within(s, within, &what).await;
}

/// Connections that send nothing, trickle header lines, stop after the HTTP/2 preface or
/// stall in a body are closed by the server within its timeouts (2 s; asserted within 3x
/// plus the trickle's own pace).
#[tokio::test(flavor = "multi_thread")]
async fn silent_trickling_and_stalled_connections_are_closed() {
    let (_tmp, server, _m) = start_with_timeouts(&[]).await;
    let tls = tls_connector(&server, &[b"http/1.1"]);
    let h2 = tls_connector(&server, &[b"h2"]);
    let within = Duration::from_secs(10);
    tokio::join!(
        hostile(addr(&server), tls.clone(), Hostile::Silent, within),
        hostile(addr(&server), tls.clone(), Hostile::TlsSilent, within),
        hostile(addr(&server), tls.clone(), Hostile::Trickle, within),
        hostile(addr(&server), h2, Hostile::H2Silent, within),
        hostile(addr(&server), tls, Hostile::StalledBody, within),
    );
}

/// Over the connection cap, new connections are accepted and closed at once, and
/// connections are accepted again once there is room.
#[tokio::test(flavor = "multi_thread")]
async fn connections_over_the_cap_are_closed_at_once() {
    let (_tmp, server, m) = start_with_timeouts(&[
        ("MENDER_SERVER_SERVER__MAX_CONNECTIONS", "16"),
        ("MENDER_SERVER_SERVER__HEADER_READ_TIMEOUT", "30"),
        ("MENDER_SERVER_SERVER__TLS_HANDSHAKE_TIMEOUT", "30"),
    ])
    .await;
    // The login client's keep-alive connection may hold one slot; fill the rest.
    drop(m);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut held = Vec::new();
    for _ in 0..16 {
        held.push(tokio::net::TcpStream::connect(addr(&server)).await.unwrap());
    }
    // Give the server time to accept them all.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let extra = tokio::net::TcpStream::connect(addr(&server)).await.unwrap();
    closed_within(extra, Duration::from_secs(5), "a connection over the cap").await;
    drop(held);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let r = server
        .get("/api/management/v1/useradm/users")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "served again once there is room");
}

/// The acceptance test of the hardening issue: 1,000 idle, trickling and stalled TLS
/// connections are all closed by the server (whose timeouts are 2 to 3 s), and meanwhile an
/// accepted device keeps polling for its next deployment without a single error.
#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_hostile_connections_are_closed_while_a_device_polls() {
    // This process holds the 1,000 client ends.
    rlimit::increase_nofile_limit(u64::MAX).unwrap();
    let (_tmp, server, m) = start_with_timeouts(&[]).await;
    let mac = "00:00:00:00:0a:01";
    let dev = common::mgmt::pending_device(&server, mac).await;
    common::mgmt::accept_pending(&m, mac, || server.stdout()).await;
    common::mgmt::wait_for(
        60,
        "the device's token",
        || server.stdout(),
        || async { dev.authenticate().await.unwrap() },
    )
    .await;

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller = tokio::spawn({
        let stop = stop.clone();
        async move {
            let mut polls = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let next = dev.next_deployment("release-1", "test-device").await;
                assert!(next.unwrap().is_none(), "no deployment for the device");
                polls += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            polls
        }
    });

    let tls = tls_connector(&server, &[b"http/1.1"]);
    let h2 = tls_connector(&server, &[b"h2"]);
    let kinds = [
        Hostile::TlsSilent,
        Hostile::Trickle,
        Hostile::H2Silent,
        Hostile::StalledBody,
        Hostile::Silent,
    ];
    // Without timeouts the trickling ones would never be closed; the bound only keeps a
    // broken server from hanging the suite.
    let within = Duration::from_secs(90);
    let mut attackers = tokio::task::JoinSet::new();
    for i in 0..1000u64 {
        let kind = kinds[(i % 5) as usize];
        let tls = if matches!(kind, Hostile::H2Silent) {
            h2.clone()
        } else {
            tls.clone()
        };
        let server_addr = addr(&server);
        attackers.spawn(async move {
            // Spread over 5 s, as a listen backlog would see a real flood.
            tokio::time::sleep(Duration::from_millis(i * 5)).await;
            hostile(server_addr, tls, kind, within).await;
        });
    }
    while let Some(done) = attackers.join_next().await {
        done.unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let polls = poller.await.unwrap();
    assert!(
        polls >= 5,
        "the device polled {polls} times during the attack"
    );
}
