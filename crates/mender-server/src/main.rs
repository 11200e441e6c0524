//! The `mender-server` command line: `serve`, `worker`, `user create` and `config`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use mender_server::config::{Config, LogFormat};
use mender_server::dispatch::LocalDispatcher;

/// A Mender-compatible OTA update server: every Mender service in one binary.
#[derive(Parser)]
#[command(name = "mender-server", version, about)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Command,
}

/// Flags every command understands.
#[derive(Args)]
struct Common {
    /// Configuration file (TOML); see mender-server.example.toml.
    #[arg(long, global = true, env = "MENDER_SERVER_CONFIG")]
    config: Option<PathBuf>,
    /// Directory for databases, keys, certificates and artifacts [default: ./data].
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Use PostgreSQL instead of SQLite, e.g. postgres://mender@db:5432/mender.
    #[arg(long, global = true)]
    database_url: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the Mender APIs (and run the workflow workers).
    Serve(ServeArgs),
    /// Run only workflow workers, against the same database as a server.
    Worker(WorkerArgs),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Show or check the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Args)]
struct ServeArgs {
    /// Public HTTPS address [default: 0.0.0.0:8443].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Internal API address (service-to-service and workflows APIs); off when not given.
    #[arg(long)]
    internal_listen: Option<SocketAddr>,
    /// Host name for URLs and the generated certificate [default: this machine's name].
    #[arg(long)]
    hostname: Option<String>,
    /// PEM certificate for the public port (with --tls-key).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for the public port (with --tls-cert).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve plain HTTP (behind a TLS-terminating proxy).
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
    plain_http: bool,
    /// Do not run workflow workers in this process (run `mender-server worker` instead).
    #[arg(long)]
    no_workers: bool,
    /// Once serving, write the URL and the bound addresses as JSON to this file (for scripts
    /// and supervisors; with port 0 it tells which port was picked).
    #[arg(long)]
    ready_file: Option<PathBuf>,
}

#[derive(Args)]
struct WorkerArgs {
    /// The server's internal API URL, where workflow tasks reach our services, e.g. http://127.0.0.1:9080.
    #[arg(long)]
    internal_url: String,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user (the way to make the first administrator).
    Create {
        /// Login email.
        #[arg(long)]
        email: String,
        /// Password (at least 8 characters). Prefer --password-file on shared machines.
        #[arg(
            long,
            required_unless_present = "password_file",
            conflicts_with = "password_file"
        )]
        password: Option<String>,
        /// Read the password from this file.
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the example configuration with every key and its default.
    Example,
    /// Load the configuration (file, environment, flags) and print it, or say what is wrong.
    Check,
}

const EXAMPLE: &str = include_str!("../../../mender-server.example.toml");

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load_config(common: &Common) -> anyhow::Result<Config> {
    let mut config = Config::load(common.config.as_deref(), std::env::vars())?;
    if let Some(d) = &common.data_dir {
        config.data_dir = d.clone();
    }
    if let Some(u) = &common.database_url {
        config.database_url = u.clone();
    }
    Ok(config)
}

fn init_logs(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut config = load_config(&cli.common)?;
    match cli.command {
        Command::Serve(args) => {
            if let Some(l) = args.listen {
                config.listen = l;
            }
            if let Some(l) = args.internal_listen {
                config.internal_listen = Some(l);
            }
            if let Some(h) = args.hostname {
                config.hostname = h;
            }
            if args.tls_cert.is_some() {
                config.tls.cert = args.tls_cert;
                config.tls.key = args.tls_key;
            }
            if args.plain_http {
                config.tls.plain_http = true;
            }
            config.validate()?;
            init_logs(&config);
            let running = mender_server::start(config.clone(), !args.no_workers).await?;
            running.print_banner(&config);
            if let Some(path) = &args.ready_file {
                running
                    .write_ready_file(path)
                    .with_context(|| format!("cannot write the ready file {}", path.display()))?;
            }
            mender_server::serve::run_until_signal(running).await
        }
        Command::Worker(args) => {
            config.validate()?;
            init_logs(&config);
            let network: Arc<dyn mender_workflows::HttpDispatcher> =
                Arc::new(mender_workflows::ReqwestDispatcher::new());
            let dispatcher = Arc::new(
                LocalDispatcher::new(Some(args.internal_url), network)
                    .with_internal_secret(config.internal_secret()?),
            );
            let engine = mender_server::compose::workflows(
                &config,
                mender_core::clock::system(),
                dispatcher,
            )
            .await?;
            let (tx, rx) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                mender_server::serve::wait_for_signal().await;
                let _ = tx.send(true);
            });
            println!(
                "mender-server worker running; database: {}",
                config.database()?.describe()
            );
            engine.spawn_workers(rx).await.context("workflow workers")?;
            Ok(())
        }
        Command::User(UserCommand::Create {
            email,
            password,
            password_file,
        }) => {
            let password = match (password, password_file) {
                (Some(p), _) => p,
                (None, Some(f)) => std::fs::read_to_string(&f)
                    .with_context(|| format!("cannot read {}", f.display()))?
                    .trim_end_matches(['\n', '\r'])
                    .to_owned(),
                (None, None) => anyhow::bail!("give --password or --password-file"),
            };
            config.validate()?;
            let useradm =
                mender_server::compose::useradm(&config, mender_core::clock::system()).await?;
            let user = useradm
                .create_user(&email, &password)
                .await
                .map_err(|e| anyhow::anyhow!("cannot create user {email}: {e}"))?;
            println!("created user {} (id {})", user.email, user.id);
            Ok(())
        }
        Command::Config(ConfigCommand::Example) => {
            print!("{EXAMPLE}");
            Ok(())
        }
        Command::Config(ConfigCommand::Check) => {
            config.validate()?;
            // Secrets are shown only as set or not.
            let mut shown = config.clone();
            if !shown.admin.password.is_empty() {
                shown.admin.password = "***".into();
            }
            if shown.deployments.presign_secret.is_some() {
                shown.deployments.presign_secret = Some("***".into());
            }
            shown.database_url = mender_db::redact(&shown.database_url);
            println!(
                "{}",
                toml::to_string_pretty(&shown).context("cannot render the configuration")?
            );
            Ok(())
        }
    }
}
