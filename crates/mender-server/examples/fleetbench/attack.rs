//! Hostile load beside a measurement: slow TLS connections that trickle one header line a
//! second (opened again whenever the server closes one) and a flood of wrong-password logins.
//! Counts what the server did to them; bounded in connections, workers and time.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// What the attack saw, summed over its tasks.
#[derive(Default)]
struct Counts {
    /// Slow connections the server closed (or refused during the handshake); a connection
    /// still open when the attack stops is not counted.
    closed: AtomicU64,
    /// Login answers by status code; transport errors under 0.
    logins: std::sync::Mutex<BTreeMap<u16, u64>>,
}

/// A running attack; [`Attack::stop`] ends it and reports.
pub(crate) struct Attack {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    counts: Arc<Counts>,
    conns: usize,
}

/// A TLS client trusting only the server's certificate (`ca`), offering HTTP/1.1.
fn connector(ca: &Path) -> Result<tokio_rustls::TlsConnector> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in
        CertificateDer::pem_file_iter(ca).with_context(|| format!("reading {}", ca.display()))?
    {
        roots.add(cert?)?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// One slow connection: handshake, a request line, then a header line a second until the
/// server closes it. Returns whether it got as far as a TCP connection.
async fn trickle(addr: &str, tls: &tokio_rustls::TlsConnector) -> bool {
    let Ok(tcp) = tokio::net::TcpStream::connect(addr).await else {
        return false;
    };
    let Ok(name) = rustls::pki_types::ServerName::try_from("localhost") else {
        return true;
    };
    let Ok(mut s) = tls.connect(name, tcp).await else {
        return true;
    };
    if s.write_all(b"GET /api/devices/v1/deployments/device/deployments/next HTTP/1.1\r\n")
        .await
        .is_err()
    {
        return true;
    }
    // Bounded: a server without timeouts holds it for 10 minutes, not forever.
    mender_testkit::slow::trickle_headers(&mut s, "x-slow", 600).await;
    true
}

impl Attack {
    /// Starts `conns` slow connections to `url`'s host and port (trusting `ca`) and
    /// `login_workers` workers logging in to `url` as `user` with a wrong password.
    pub(crate) fn start(
        url: &str,
        ca: &Path,
        conns: usize,
        login_workers: usize,
        user: &str,
    ) -> Result<Self> {
        let u = reqwest::Url::parse(url)?;
        let addr = format!(
            "{}:{}",
            u.host_str().unwrap_or("127.0.0.1"),
            u.port_or_known_default().unwrap_or(443)
        );
        let tls = connector(ca)?;
        let (stop, stop_rx) = watch::channel(false);
        let counts = Arc::new(Counts::default());
        let mut tasks = JoinSet::new();
        for i in 0..conns {
            let (addr, tls, counts, mut stop_rx) =
                (addr.clone(), tls.clone(), counts.clone(), stop_rx.clone());
            tasks.spawn(async move {
                // Spread the first connections over 5 s, as a backlog would see a flood.
                tokio::time::sleep(Duration::from_millis((i % 1000) as u64 * 5)).await;
                while !*stop_rx.borrow() {
                    tokio::select! {
                        connected = trickle(&addr, &tls) => {
                            if connected {
                                counts.closed.fetch_add(1, Ordering::Relaxed);
                            } else {
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            }
                        }
                        _ = stop_rx.changed() => break,
                    }
                }
            });
        }
        let http = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .http1_only()
            .timeout(Duration::from_secs(30))
            .build()?;
        for w in 0..login_workers {
            let (http, counts, stop_rx) = (http.clone(), counts.clone(), stop_rx.clone());
            let login = format!(
                "{}/api/management/v1/useradm/auth/login",
                url.trim_end_matches('/')
            );
            let user = user.to_owned();
            tasks.spawn(async move {
                for n in 0u64..10_000_000 {
                    if *stop_rx.borrow() {
                        break;
                    }
                    let r = http
                        .post(&login)
                        .basic_auth(&user, Some(format!("wrong-{w}-{n}")))
                        .send()
                        .await;
                    let code = r.map_or(0, |r| r.status().as_u16());
                    if let Ok(mut l) = counts.logins.lock() {
                        *l.entry(code).or_default() += 1;
                    }
                }
            });
        }
        Ok(Self {
            stop,
            tasks,
            counts,
            conns,
        })
    }

    /// Stops the attack and describes what the server did with it.
    pub(crate) async fn stop(mut self) -> String {
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
        let logins = self
            .counts
            .logins
            .lock()
            .map(|l| {
                l.iter()
                    .map(|(k, v)| {
                        format!(
                            "{v}x{}",
                            if *k == 0 {
                                "transport error".to_owned()
                            } else {
                                k.to_string()
                            }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        format!(
            "attack: {} slow connections held open, closed by the server {} times; wrong-password logins: {}",
            self.conns,
            self.counts.closed.load(Ordering::Relaxed),
            if logins.is_empty() {
                "none".into()
            } else {
                logins
            }
        )
    }
}
