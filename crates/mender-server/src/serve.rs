//! Serving: binds the public and internal ports, starts the workflow workers, prints what a
//! person needs to get going, and shuts down gracefully.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::compose;
use crate::config::Config;
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
    shutdown: watch::Sender<bool>,
    handles: Vec<axum_server::Handle<SocketAddr>>,
    tasks: JoinSet<anyhow::Result<()>>,
    /// True when there was no user at start (the banner then says how to create one).
    pub needs_admin: bool,
}

/// Runs one port's server (plain or TLS) as a task; its error names the port.
fn spawn_serving(
    tasks: &mut JoinSet<anyhow::Result<()>>,
    serving: impl Future<Output = std::io::Result<()>> + Send + 'static,
    port: &'static str,
) {
    tasks.spawn(async move { serving.await.context(port) });
}

/// Starts every service and both ports; returns once they listen.
pub async fn start(config: Config, run_workers: bool) -> anyhow::Result<Running> {
    let started = Instant::now();
    config.validate()?;
    let services = compose::build(&config).await?;
    let (shutdown, shutdown_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let mut handles = Vec::new();

    let std_listener = std::net::TcpListener::bind(config.listen).with_context(|| {
        format!(
            "cannot listen on {}: is another server using the port? Choose another with --listen ADDR:PORT",
            config.listen
        )
    })?;
    std_listener.set_nonblocking(true)?;
    let public_addr = std_listener.local_addr()?;
    let hostname = config.effective_hostname();
    let handle = axum_server::Handle::new();
    let app = services.routers.public.clone();
    let tls_files = if config.tls.plain_http {
        let server = axum_server::from_tcp(std_listener)?.handle(handle.clone());
        spawn_serving(
            &mut tasks,
            server.serve(app.into_make_service()),
            "public port",
        );
        None
    } else {
        let files = tls::ensure(
            config.tls.cert.as_deref(),
            config.tls.key.as_deref(),
            &config.data_dir,
            &hostname,
        )?;
        let rustls = axum_server::tls_rustls::RustlsConfig::from_pem_file(&files.cert, &files.key)
            .await
            .with_context(|| {
                format!(
                    "cannot load TLS certificate {} / key {}",
                    files.cert.display(),
                    files.key.display()
                )
            })?;
        let server = axum_server::from_tcp_rustls(std_listener, rustls)?.handle(handle.clone());
        spawn_serving(
            &mut tasks,
            server.serve(app.into_make_service()),
            "public port",
        );
        Some(files)
    };
    handles.push(handle);

    let internal_addr = match config.internal_listen {
        Some(addr) => {
            let l = std::net::TcpListener::bind(addr).with_context(|| {
                format!("cannot listen on internal_listen {addr}: choose another address")
            })?;
            l.set_nonblocking(true)?;
            let bound = l.local_addr()?;
            let handle = axum_server::Handle::new();
            let app = services.routers.internal.clone();
            let server = axum_server::from_tcp(l)?.handle(handle.clone());
            spawn_serving(
                &mut tasks,
                server.serve(app.into_make_service()),
                "internal port",
            );
            handles.push(handle);
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
        shutdown,
        handles,
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
            handles: self.handles.clone(),
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
    handles: Vec<axum_server::Handle<SocketAddr>>,
}

impl Stopper {
    /// Ports finish their requests (up to `grace`), workers stop taking jobs.
    pub fn stop(&self, grace: Duration) {
        let _ = self.shutdown.send(true);
        for h in &self.handles {
            h.graceful_shutdown(Some(grace));
        }
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
