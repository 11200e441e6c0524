//! Serving: binds the public and internal ports, starts the workflow workers, prints what a
//! person needs to get going, and shuts down gracefully.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::compose;
use crate::config::Config;
use crate::listener;
use crate::tls::{self, TlsFiles};

/// A running server.
pub struct Running {
    /// Where the public port listens.
    pub public_addr: SocketAddr,
    /// Where the internal port listens, if it is served.
    pub internal_addr: Option<SocketAddr>,
    /// The TLS files in use (none in plain-HTTP mode).
    pub tls: Option<TlsFiles>,
    /// The public URL to give to devices and users.
    pub url: String,
    /// How long start-up took.
    pub startup: Duration,
    /// The open-files limit after raising it, and the connections allowed per port.
    pub open_files: OpenFiles,
    shutdown: watch::Sender<bool>,
    ports: watch::Sender<Option<Duration>>,
    tasks: JoinSet<anyhow::Result<()>>,
    /// True when there was no user at start (the banner then says how to create one).
    pub needs_admin: bool,
}

/// The open-files limit and what it leaves for connections.
#[derive(Debug, Clone, Copy)]
pub struct OpenFiles {
    /// The soft limit in force (raised to the hard limit at start when possible).
    pub limit: u64,
    /// Connections allowed on each port.
    pub max_connections: usize,
}

/// Files kept for databases, the blob store, logs and the like, beyond connections.
const RESERVED_FILES: u64 = 256;

/// Connections per port when `server.max_connections` is 0 and the open-files limit allows it.
const AUTO_MAX_CONNECTIONS: usize = 10_000;

/// Raises the open-files soft limit to the hard limit and sizes the connection cap to fit:
/// each port may hold at most what the limit leaves after [`RESERVED_FILES`]. `configured` 0
/// takes what fits (up to [`AUTO_MAX_CONNECTIONS`]) without a warning; a set value that does
/// not fit is lowered with one.
pub fn open_files(configured: usize, ports: u64) -> OpenFiles {
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "cannot raise the open-files limit");
            rlimit::Resource::NOFILE
                .get()
                .map_or(1024, |(soft, _)| soft)
        }
    };
    let wanted = if configured == 0 {
        AUTO_MAX_CONNECTIONS
    } else {
        configured
    };
    let room = limit.saturating_sub(RESERVED_FILES) / ports.max(1);
    let max_connections = usize::try_from(room)
        .unwrap_or(usize::MAX)
        .clamp(16, wanted.max(16));
    if configured != 0 && max_connections < configured {
        tracing::warn!(
            limit,
            configured,
            max_connections,
            "the open-files limit allows fewer connections than server.max_connections: raise the limit (ulimit -n, LimitNOFILE=) to allow more"
        );
    }
    OpenFiles {
        limit,
        max_connections,
    }
}

/// Runs one port's server as a task; its error names the port.
fn spawn_serving(
    tasks: &mut JoinSet<anyhow::Result<()>>,
    serving: impl Future<Output = std::io::Result<()>> + Send + 'static,
    port: &'static str,
) {
    tasks.spawn(async move { serving.await.context(port) });
}

/// Binds `addr` for `what`, or says what to do.
fn bind(addr: SocketAddr, hint: &str) -> anyhow::Result<tokio::net::TcpListener> {
    let std_listener = std::net::TcpListener::bind(addr)
        .with_context(|| format!("cannot listen on {addr}: {hint}"))?;
    std_listener.set_nonblocking(true)?;
    Ok(tokio::net::TcpListener::from_std(std_listener)?)
}

/// Starts every service and both ports; returns once they listen.
pub async fn start(config: Config, run_workers: bool) -> anyhow::Result<Running> {
    let started = Instant::now();
    config.validate()?;
    let internal_secret = config.internal_secret()?;
    let trusted = config
        .server
        .trusted_proxy_nets()
        .map_err(anyhow::Error::msg)?;
    let services = compose::build(&config).await?;
    let (shutdown, shutdown_rx) = watch::channel(false);
    let (ports, ports_rx) = watch::channel(None);
    let mut tasks = JoinSet::new();
    let open_files = open_files(
        config.server.max_connections,
        if config.internal_listen.is_some() {
            2
        } else {
            1
        },
    );
    let limits = Arc::new(listener::Limits::from_config(
        &config.server,
        open_files.max_connections,
    ));

    let public = bind(
        config.listen,
        "is another server using the port? Choose another with --listen ADDR:PORT",
    )?;
    let public_addr = public.local_addr()?;
    let hostname = config.effective_hostname();
    let app = mender_gateway::with_client_addr(services.routers.public.clone(), trusted.clone());
    let (tls_files, acceptor) = if config.tls.plain_http {
        (None, None)
    } else {
        let files = tls::ensure(
            config.tls.cert.as_deref(),
            config.tls.key.as_deref(),
            &config.data_dir,
            &hostname,
        )?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls::server_config(&files)?));
        (Some(files), Some(acceptor))
    };
    spawn_serving(
        &mut tasks,
        listener::serve(
            public,
            acceptor,
            app,
            limits.clone(),
            ports_rx.clone(),
            "public port",
        ),
        "public port",
    );

    let internal_addr = match config.internal_listen {
        Some(addr) => {
            let l = bind(addr, "choose another internal_listen address")?;
            let bound = l.local_addr()?;
            let mut app = mender_gateway::with_client_addr(
                services.routers.internal.clone(),
                trusted.clone(),
            );
            if let Some(secret) = internal_secret {
                app = mender_gateway::require_secret(app, secret);
            }
            spawn_serving(
                &mut tasks,
                listener::serve(l, None, app, limits, ports_rx, "internal port"),
                "internal port",
            );
            Some(bound)
        }
        None => None,
    };

    if run_workers {
        let engine = services.workflows.clone();
        let rx = shutdown_rx.clone();
        tasks.spawn(async move {
            engine.spawn_workers(rx).await.context("workflow workers")?;
            Ok(())
        });
    }

    spawn_outbox(&mut tasks, &services, &config, shutdown_rx.clone());

    let scheme = if config.tls.plain_http {
        "http"
    } else {
        "https"
    };
    let shown_host = if public_addr.ip().is_unspecified() {
        hostname.clone()
    } else {
        public_addr.ip().to_string()
    };
    let url = format!("{scheme}://{}:{}", bracket(&shown_host), public_addr.port());
    let needs_admin = !services.useradm.has_users().await?;
    Ok(Running {
        public_addr,
        internal_addr,
        tls: tls_files,
        url,
        startup: started.elapsed(),
        open_files,
        shutdown,
        ports,
        tasks,
        needs_admin,
    })
}

/// Runs deviceauth's outbox relay (in every serving process, workers or not: it only queues
/// jobs) and, when configured, the start-up reconciliation in the background, so that a large
/// installation does not wait for it to serve.
fn spawn_outbox(
    tasks: &mut JoinSet<anyhow::Result<()>>,
    services: &compose::Services,
    config: &Config,
    shutdown: watch::Receiver<bool>,
) {
    let relay = services
        .deviceauth
        .outbox_relay(services.workflows.clone(), config.outbox.relay_settings());
    tasks.spawn(async move {
        relay
            .spawn(shutdown)
            .await
            .context("deviceauth outbox relay")?;
        Ok(())
    });
    if !config.outbox.reconcile_at_start {
        return;
    }
    let admission = crate::adapters::AdmissionAdapter(services.deviceauth.clone());
    let inventory = crate::adapters::InventoryDirectoryAdapter(services.inventory.clone());
    tasks.spawn(async move {
        match crate::reconcile::reconcile(&admission, &inventory).await {
            Ok(r) => tracing::info!(
                reprovisioned = r.reprovisioned,
                removed_from_inventory = r.removed,
                redecommissioned = r.redecommissioned,
                failed = r.failed,
                "reconciled device authentication and inventory"
            ),
            // The server works without it; the next start tries again.
            Err(e) => {
                tracing::error!(error = %e, "cannot reconcile device authentication and inventory");
            }
        }
        Ok(())
    });
}

fn bracket(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

impl Running {
    /// Prints where the server is and what to do next.
    pub fn print_banner(&self, config: &Config) {
        let data =
            std::fs::canonicalize(&config.data_dir).unwrap_or_else(|_| config.data_dir.clone());
        let db = config.database().map(|d| d.describe()).unwrap_or_default();
        println!(
            "mender-server {} is ready (started in {} ms)",
            env!("CARGO_PKG_VERSION"),
            self.startup.as_millis()
        );
        println!("  URL:            {}", self.url);
        println!("  listening on:   {}", self.public_addr);
        if let Some(addr) = self.internal_addr {
            println!("  internal API:   http://{addr} (keep it private)");
        }
        println!(
            "  open files:     {} (up to {} connections per port)",
            self.open_files.limit, self.open_files.max_connections
        );
        println!("  data directory: {}", data.display());
        println!("  database:       {db}");
        match &self.tls {
            Some(t) if t.self_signed => println!(
                "  TLS:            self-signed certificate {}\n                  (devices: ServerCertificate in mender.conf; mender-cli: SSL_CERT_FILE={})",
                t.cert.display(),
                t.cert.display()
            ),
            Some(t) => println!("  TLS:            {}", t.cert.display()),
            None => {
                println!("  TLS:            off (plain HTTP; run behind a TLS-terminating proxy)");
            }
        }
        if self.needs_admin {
            println!(
                "  No user exists yet. Create the first administrator with:\n    mender-server user create --email admin@example.com --password 'CHOOSE-A-PASSWORD' --data-dir {}",
                data.display()
            );
        }
        println!(
            "  Log in with:    mender-cli --server {} login --username admin@example.com",
            self.url
        );
    }

    /// Writes where the server listens as a JSON object (`url`, `public_addr`,
    /// `internal_addr`, `certificate`), atomically: a reader sees the whole file or none.
    pub fn write_ready_file(&self, path: &std::path::Path) -> std::io::Result<()> {
        let doc = serde_json::json!({
            "url": self.url,
            "public_addr": self.public_addr.to_string(),
            "internal_addr": self.internal_addr.map(|a| a.to_string()),
            "certificate": self.tls.as_ref().map(|t| t.cert.display().to_string()),
        });
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, format!("{doc:#}\n"))?;
        std::fs::rename(&tmp, path)
    }

    /// A handle that stops the server from another task.
    pub fn stopper(&self) -> Stopper {
        Stopper {
            shutdown: self.shutdown.clone(),
            ports: self.ports.clone(),
        }
    }

    /// Asks everything to stop: ports finish their requests (up to `grace`), workers stop
    /// taking jobs.
    pub fn shutdown(&self, grace: Duration) {
        self.stopper().stop(grace);
    }

    /// Waits until every task ended; the first error wins.
    pub async fn wait(mut self) -> anyhow::Result<()> {
        let mut result = Ok(());
        while let Some(r) = self.tasks.join_next().await {
            let r = r.map_err(anyhow::Error::from).and_then(|r| r);
            if let Err(e) = r {
                if result.is_ok() {
                    result = Err(e);
                }
                self.shutdown(Duration::from_secs(5));
            }
        }
        result
    }
}

/// Stops a running server from anywhere.
#[derive(Clone)]
pub struct Stopper {
    shutdown: watch::Sender<bool>,
    ports: watch::Sender<Option<Duration>>,
}

impl Stopper {
    /// Ports finish their requests (up to `grace`), workers stop taking jobs.
    pub fn stop(&self, grace: Duration) {
        let _ = self.shutdown.send(true);
        let _ = self.ports.send(Some(grace));
    }
}

/// Runs until SIGINT or SIGTERM, then shuts down gracefully.
pub async fn run_until_signal(running: Running) -> anyhow::Result<()> {
    let stopper = running.stopper();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        stopper.stop(Duration::from_secs(10));
    });
    running.wait().await
}

/// Resolves on SIGINT or SIGTERM.
pub async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Room per port that the open-files limit leaves.
    fn room(limit: u64, ports: u64) -> usize {
        usize::try_from(limit.saturating_sub(RESERVED_FILES) / ports).unwrap_or(usize::MAX)
    }

    #[test]
    fn connection_cap_fits_the_open_files_limit() {
        let auto = open_files(0, 2);
        assert_eq!(
            auto.max_connections,
            room(auto.limit, 2).clamp(16, AUTO_MAX_CONNECTIONS)
        );
        let small = open_files(20, 2);
        assert_eq!(small.max_connections, room(small.limit, 2).clamp(16, 20));
        let huge = open_files(usize::MAX, 1);
        assert_eq!(huge.max_connections, room(huge.limit, 1).max(16));
    }
}
