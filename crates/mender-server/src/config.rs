//! The server configuration: defaults, then a TOML file, then `MENDER_SERVER_*` environment
//! variables, then command-line flags. Unknown keys are errors, so a typo never silently
//! falls back to a default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use mender_core::Secret;
use serde::{Deserialize, Serialize};

/// Prefix of environment variables that set configuration keys; `__` separates sections,
/// e.g. `MENDER_SERVER_USERADM__JWT_EXP_TIMEOUT=3600`.
pub const ENV_PREFIX: &str = "MENDER_SERVER_";

/// The whole configuration of `mender-server`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Directory for databases, keys, the generated TLS certificate and artifacts.
    pub data_dir: PathBuf,
    /// Address of the public HTTPS port (devices, users, mender-cli).
    pub listen: SocketAddr,
    /// Host name devices and users reach the server by; put in the generated certificate and
    /// in printed URLs. Empty: the machine's host name.
    pub hostname: String,
    /// Address of the internal API port (service-to-service and workflows APIs). Empty: not
    /// served. Never expose it to devices or users.
    pub internal_listen: Option<SocketAddr>,
    /// Shared secret every request to the internal port must carry (header
    /// `X-MEN-Internal-Secret`); `worker` sends it. Required when `internal_listen` is not a
    /// loopback address. Never printed.
    #[serde(skip_serializing)]
    pub internal_secret: Option<Secret>,
    /// File holding `internal_secret` (trailing newline ignored); instead of `internal_secret`.
    pub internal_secret_file: Option<PathBuf>,
    /// Database: empty for SQLite files in the data directory, or `postgres://USER@HOST:PORT/DB`.
    pub database_url: String,
    /// Largest accepted JSON request body in bytes (upstream `request_size_limit`).
    pub request_size_limit: usize,
    /// TLS on the public port.
    pub tls: TlsConfig,
    /// Connections on both ports: timeouts, limits, trusted proxies.
    pub server: ServerConfig,
    /// Logging.
    pub log: LogConfig,
    /// First administrator, created at start when no user exists yet (for unattended installs).
    pub admin: AdminConfig,
    /// User administration.
    pub useradm: mender_useradm::UseradmConfig,
    /// The workflow engine.
    pub workflows: mender_workflows::WorkflowsConfig,
    /// Device authentication.
    pub deviceauth: mender_deviceauth::DeviceauthConfig,
    /// Device inventory.
    pub inventory: mender_inventory::InventoryConfig,
    /// Artifacts, releases and deployments.
    pub deployments: mender_deployments::DeploymentsConfig,
    /// The transactional outbox relays and the start-up reconciliation between services.
    pub outbox: OutboxConfig,
}

/// How services' outbox rows reach the workflow engine, and whether start-up repairs drift.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboxConfig {
    /// How often a relay looks for rows it was not told about (rows of other processes,
    /// retries), in milliseconds. Rows committed in this process are relayed at once.
    pub poll_interval_ms: u64,
    /// Rows a relay takes per pass.
    pub batch: u32,
    /// Longest wait between two attempts of a row the workflow engine refused, in seconds.
    pub max_backoff_seconds: u64,
    /// At start, provision accepted devices missing from inventory and remove inventory
    /// entries of devices deviceauth no longer has.
    pub reconcile_at_start: bool,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            poll_interval_ms: 1000,
            batch: 100,
            max_backoff_seconds: 300,
            reconcile_at_start: true,
        }
    }
}

impl OutboxConfig {
    /// The relay settings these keys describe.
    pub fn relay_settings(&self) -> mender_queue::outbox::RelaySettings {
        mender_queue::outbox::RelaySettings {
            poll_interval: std::time::Duration::from_millis(self.poll_interval_ms),
            batch: self.batch,
            max_backoff: std::time::Duration::from_secs(self.max_backoff_seconds),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if !(10..=600_000).contains(&self.poll_interval_ms) {
            return Err(ConfigError::Invalid(
                "outbox.poll_interval_ms must be between 10 and 600000 (ten minutes)".into(),
            ));
        }
        if !(1..=10_000).contains(&self.batch) {
            return Err(ConfigError::Invalid(
                "outbox.batch must be between 1 and 10000".into(),
            ));
        }
        if !(1..=86_400).contains(&self.max_backoff_seconds) {
            return Err(ConfigError::Invalid(
                "outbox.max_backoff_seconds must be between 1 and 86400 (a day)".into(),
            ));
        }
        Ok(())
    }
}

/// TLS settings of the public port.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain. Empty: a self-signed certificate is generated in `<data_dir>/tls/`.
    pub cert: Option<PathBuf>,
    /// PEM private key of `cert`.
    pub key: Option<PathBuf>,
    /// Serve plain HTTP, for running behind a proxy that terminates TLS.
    pub plain_http: bool,
}

/// Connection handling on the public and internal ports. Times are in seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// A TLS handshake must finish within this time.
    pub tls_handshake_timeout: u64,
    /// The first request of a connection, and the header of every HTTP/1.1 request, must
    /// arrive within this time (a connection that sends nothing, or trickles, is closed).
    pub header_read_timeout: u64,
    /// A connection with no request in flight is closed after this time.
    pub idle_timeout: u64,
    /// A request or response body that moves no byte for this long is cut (uploads and
    /// downloads get this inactivity timeout, never a total one).
    pub body_inactivity_timeout: u64,
    /// Open connections per port; more are accepted and closed at once (logged at most every
    /// 10 s). 0: as many as the open-files limit allows, at most 10,000. A set value is lowered
    /// at start (with a warning) when the open-files limit cannot hold it.
    pub max_connections: usize,
    /// HTTP/2: concurrent streams per connection.
    pub h2_max_concurrent_streams: u32,
    /// HTTP/2: largest header list (decoded) per request, in bytes.
    pub h2_max_header_list_size: u32,
    /// HTTP/2: ping an idle peer this often ...
    pub h2_keepalive_interval: u64,
    /// ... and close the connection when the ping is not answered within this time.
    pub h2_keepalive_timeout: u64,
    /// An answer given before the request body was read (401, 404, 413): up to this many
    /// bytes of the rest of the body are read and discarded, so that the client, still
    /// sending, receives the answer instead of a reset connection.
    pub early_answer_drain_bytes: u64,
    /// ... for at most this long.
    pub early_answer_drain_timeout: u64,
    /// Proxies (CIDRs, e.g. "10.0.0.0/8", "::1/128") whose `X-Forwarded-For` is believed: the
    /// client address is then the right-most address in it that is not a trusted proxy.
    /// Empty: the TCP peer is the client.
    pub trusted_proxies: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            tls_handshake_timeout: 10,
            header_read_timeout: 15,
            idle_timeout: 60,
            body_inactivity_timeout: 60,
            max_connections: 0,
            h2_max_concurrent_streams: 100,
            h2_max_header_list_size: 32 * 1024,
            h2_keepalive_interval: 30,
            h2_keepalive_timeout: 20,
            early_answer_drain_bytes: 8 * 1024 * 1024,
            early_answer_drain_timeout: 10,
            trusted_proxies: Vec::new(),
        }
    }
}

impl ServerConfig {
    /// Checks the values; the error says which key to fix.
    pub fn validate(&self) -> Result<(), String> {
        for (key, v) in [
            ("tls_handshake_timeout", self.tls_handshake_timeout),
            ("header_read_timeout", self.header_read_timeout),
            ("idle_timeout", self.idle_timeout),
            ("body_inactivity_timeout", self.body_inactivity_timeout),
            ("h2_keepalive_interval", self.h2_keepalive_interval),
            ("h2_keepalive_timeout", self.h2_keepalive_timeout),
            (
                "early_answer_drain_timeout",
                self.early_answer_drain_timeout,
            ),
        ] {
            if v == 0 || v > 86_400 {
                return Err(format!(
                    "server.{key} is {v}: give a number of seconds from 1 to 86400"
                ));
            }
        }
        if self.max_connections != 0 && self.max_connections < 16 {
            return Err(format!(
                "server.max_connections is {}: allow at least 16 connections (or 0 for as many as the open-files limit allows)",
                self.max_connections
            ));
        }
        if self.h2_max_concurrent_streams == 0 {
            return Err("server.h2_max_concurrent_streams must be at least 1".into());
        }
        if self.h2_max_header_list_size < 4096 {
            return Err("server.h2_max_header_list_size must be at least 4096 bytes".into());
        }
        self.trusted_proxy_nets()?;
        Ok(())
    }

    /// `trusted_proxies` parsed.
    pub fn trusted_proxy_nets(&self) -> Result<Vec<mender_gateway::IpNet>, String> {
        self.trusted_proxies
            .iter()
            .map(|s| {
                s.parse().map_err(|e| {
                    format!("server.trusted_proxies: {s:?} is not an address or CIDR ({e})")
                })
            })
            .collect()
    }
}

/// Log settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` for people, `json` for log collectors.
    pub format: LogFormat,
    /// Filter in `RUST_LOG` syntax, e.g. `info` or `info,mender_workflows=debug`.
    pub level: String,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The administrator created at first start.
#[derive(Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// Email (login name) of the first administrator.
    pub email: String,
    /// Password of the first administrator. Prefer `password_file`.
    pub password: String,
    /// File holding the password of the first administrator (trailing newline ignored).
    pub password_file: Option<PathBuf>,
}

impl std::fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminConfig")
            .field("email", &self.email)
            .field(
                "password",
                &if self.password.is_empty() { "" } else { "***" },
            )
            .field("password_file", &self.password_file)
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            listen: SocketAddr::from(([0, 0, 0, 0], 8443)),
            hostname: String::new(),
            internal_listen: None,
            internal_secret: None,
            internal_secret_file: None,
            database_url: String::new(),
            request_size_limit: mender_core::json::DEFAULT_BODY_LIMIT,
            tls: TlsConfig::default(),
            server: ServerConfig::default(),
            log: LogConfig::default(),
            admin: AdminConfig::default(),
            useradm: Default::default(),
            workflows: Default::default(),
            deviceauth: Default::default(),
            inventory: Default::default(),
            deployments: Default::default(),
            outbox: Default::default(),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

/// Why the configuration could not be loaded; each message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML or names unknown keys.
    #[error("configuration file {path} is invalid: {message}")]
    File {
        /// File.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An environment variable does not fit the configuration.
    #[error("environment variable {var} does not fit the configuration: {message}")]
    Env {
        /// Variable name.
        var: String,
        /// What is wrong.
        message: String,
    },
    /// The merged configuration is invalid.
    #[error("{0}")]
    Invalid(String),
}

/// The configuration `table` describes, or why it describes none.
fn decode(table: toml::Table) -> Result<Config, String> {
    toml::Value::Table(table)
        .try_into::<Config>()
        .map_err(|e| e.to_string())
}

impl Config {
    /// Loads defaults, then `file` (if any), then environment variables from `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut table = toml::Table::new();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            table = text.parse::<toml::Table>().map_err(|e| ConfigError::File {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
            // Check the file alone first so that its errors name the file.
            decode(table.clone()).map_err(|message| ConfigError::File {
                path: path.to_owned(),
                message,
            })?;
        }
        for (var, value) in env {
            let Some(key) = var.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let path: Vec<String> = key.split("__").map(str::to_ascii_lowercase).collect();
            if path.iter().any(String::is_empty) {
                return Err(ConfigError::Env {
                    var,
                    message: "empty key segment".into(),
                });
            }
            set_path(&mut table, &path, env_value(&value));
            // Check after each variable so that its error names the variable.
            decode(table.clone()).map_err(|message| ConfigError::Env {
                var: var.clone(),
                message,
            })?;
        }
        decode(table).map_err(ConfigError::Invalid)
    }

    /// Checks settings that depend on each other.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match (&self.tls.cert, &self.tls.key) {
            (Some(_), None) | (None, Some(_)) => {
                return Err(ConfigError::Invalid(
                    "tls.cert and tls.key go together: set both (--tls-cert FILE --tls-key FILE) or neither".into(),
                ));
            }
            _ => {}
        }
        if self.tls.plain_http && self.tls.cert.is_some() {
            return Err(ConfigError::Invalid(
                "tls.plain_http serves no TLS, so tls.cert/tls.key would be ignored: choose one"
                    .into(),
            ));
        }
        if !self.database_url.is_empty() {
            mender_db::DatabaseUrl::parse(&self.database_url)
                .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        }
        self.useradm.validate().map_err(ConfigError::Invalid)?;
        self.deviceauth.validate().map_err(ConfigError::Invalid)?;
        self.server.validate().map_err(ConfigError::Invalid)?;
        if self.internal_secret.is_some() && self.internal_secret_file.is_some() {
            return Err(ConfigError::Invalid(
                "internal_secret and internal_secret_file both set: choose one".into(),
            ));
        }
        if let Some(addr) = self.internal_listen
            && !addr.ip().is_loopback()
            && self.internal_secret.is_none()
            && self.internal_secret_file.is_none()
        {
            return Err(ConfigError::Invalid(format!(
                "internal_listen {addr} is not a loopback address, and the internal API has no authentication of its own: set internal_secret_file (or internal_secret) to a shared secret that workers send, or listen on 127.0.0.1"
            )));
        }
        if self.request_size_limit < 1024 {
            return Err(ConfigError::Invalid(
                "request_size_limit must be at least 1024 bytes".into(),
            ));
        }
        self.inventory.validate().map_err(ConfigError::Invalid)?;
        self.deployments.validate().map_err(ConfigError::Invalid)?;
        self.workflows.validate().map_err(ConfigError::Invalid)?;
        self.outbox.validate()
    }

    /// The database location: PostgreSQL if configured, else SQLite files in the data directory.
    pub fn database(&self) -> Result<mender_db::DatabaseUrl, ConfigError> {
        if self.database_url.is_empty() {
            Ok(mender_db::DatabaseUrl::Sqlite(self.data_dir.clone()))
        } else {
            mender_db::DatabaseUrl::parse(&self.database_url)
                .map_err(|e| ConfigError::Invalid(e.to_string()))
        }
    }

    /// The internal port's shared secret, from `internal_secret` or `internal_secret_file`.
    pub fn internal_secret(&self) -> Result<Option<Secret>, ConfigError> {
        if let Some(path) = &self.internal_secret_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                ConfigError::Invalid(format!(
                    "cannot read internal_secret_file {}: {e}",
                    path.display()
                ))
            })?;
            let secret = text.trim_end_matches(['\n', '\r']);
            if secret.len() < 16 {
                return Err(ConfigError::Invalid(format!(
                    "internal_secret_file {} holds fewer than 16 characters: use a long random secret",
                    path.display()
                )));
            }
            return Ok(Some(Secret::new(secret.to_owned())));
        }
        match &self.internal_secret {
            Some(s) if s.expose_str().len() < 16 => Err(ConfigError::Invalid(
                "internal_secret has fewer than 16 characters: use a long random secret".into(),
            )),
            other => Ok(other.clone()),
        }
    }

    /// The host name for URLs and the certificate.
    pub fn effective_hostname(&self) -> String {
        if !self.hostname.is_empty() {
            return self.hostname.clone();
        }
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into())
    }
}

/// Environment values are TOML values when they parse as such (numbers, booleans, arrays),
/// strings otherwise.
fn env_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .filter(|v| !v.is_table())
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) {
    let (last, parents) = path.split_last().expect("non-empty path");
    let mut cur = table;
    for p in parents {
        let entry = cur
            .entry(p.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        cur = entry.as_table_mut().expect("table");
    }
    cur.insert(last.clone(), value);
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../../mender-server.example.toml");

    fn keys(prefix: &str, v: &toml::Value, out: &mut Vec<String>) {
        if let toml::Value::Table(t) = v {
            for (k, v) in t {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                if v.is_table() {
                    keys(&p, v, out);
                } else {
                    out.push(p);
                }
            }
        }
    }

    /// The example file documents every key with its default value.
    #[test]
    fn example_config_matches_the_config_type() {
        let parsed: Config = toml::from_str(EXAMPLE).expect("example parses into Config");
        assert_eq!(
            parsed,
            Config::default(),
            "the example must show the defaults"
        );
        let mut want = Vec::new();
        keys(
            "",
            &toml::Value::try_from(Config::default()).unwrap(),
            &mut want,
        );
        // Optional keys without a default are documented as comments `# key = ...`.
        for k in want {
            let leaf = k.rsplit('.').next().unwrap();
            assert!(
                EXAMPLE.lines().any(|l| l
                    .trim_start_matches('#')
                    .trim_start()
                    .starts_with(&format!("{leaf} ="))),
                "the example config does not document {k}"
            );
        }
    }

    #[test]
    fn env_overrides_file_and_unknown_keys_fail() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(&f, "data_dir = \"/srv/a\"\n[useradm]\njwt_issuer = \"x\"\n").unwrap();
        let c = Config::load(
            Some(&f),
            [
                (
                    "MENDER_SERVER_USERADM__JWT_EXP_TIMEOUT".to_string(),
                    "60".to_string(),
                ),
                (
                    "MENDER_SERVER_HOSTNAME".to_string(),
                    "ota.example.com".to_string(),
                ),
                ("OTHER".to_string(), "ignored".to_string()),
            ],
        )
        .unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/srv/a"));
        assert_eq!(c.useradm.jwt_issuer, "x");
        assert_eq!(c.useradm.jwt_exp_timeout, 60);
        assert_eq!(c.hostname, "ota.example.com");

        let e = Config::load(
            None,
            [("MENDER_SERVER_LISTEN_ADDR".to_string(), "x".to_string())],
        )
        .unwrap_err();
        assert!(e.to_string().contains("MENDER_SERVER_LISTEN_ADDR"), "{e}");
        std::fs::write(&f, "lisen = \"0.0.0.0:1\"\n").unwrap();
        let e = Config::load(Some(&f), []).unwrap_err();
        assert!(e.to_string().contains("lisen"), "{e}");
        let e = Config::load(
            None,
            [("MENDER_SERVER_LISTEN".to_string(), "nope".to_string())],
        )
        .unwrap_err();
        assert!(e.to_string().contains("MENDER_SERVER_LISTEN"), "{e}");
    }

    #[test]
    fn validate_explains_what_to_fix() {
        // (a change to the default configuration, what the error must name)
        for (set, key) in [
            (
                (|c: &mut Config| c.tls.cert = Some("/x".into())) as fn(&mut Config),
                "--tls-key",
            ),
            (|c| c.database_url = "mysql://x".into(), "postgres://"),
            (|c| c.useradm.bcrypt_cost = 2, "useradm.bcrypt_cost"),
            (
                |c| c.deviceauth.max_pending_auth_sets_per_device = 0,
                "deviceauth.max_pending_auth_sets_per_device",
            ),
            (
                |c| c.inventory.max_search_regexes = c.inventory.max_search_filters + 1,
                "inventory.max_search_regexes",
            ),
            (
                |c| c.deployments.max_decompression_ratio = 0,
                "deployments.max_decompression_ratio",
            ),
            (
                |c| c.workflows.job_retention_seconds = 0,
                "workflows.job_retention_seconds",
            ),
        ] {
            let mut c = Config::default();
            set(&mut c);
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains(key), "{e}");
        }
        assert!(Config::default().validate().is_ok());
    }

    #[test]
    fn outbox_limits_are_checked_at_start() {
        for (set, key) in [
            (
                (|c: &mut OutboxConfig| c.poll_interval_ms = 0) as fn(&mut OutboxConfig),
                "outbox.poll_interval_ms",
            ),
            (|c| c.poll_interval_ms = 600_001, "outbox.poll_interval_ms"),
            (|c| c.batch = 0, "outbox.batch"),
            (|c| c.max_backoff_seconds = 0, "outbox.max_backoff_seconds"),
        ] {
            let mut c = Config::default();
            set(&mut c.outbox);
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains(key) && e.contains("between"), "{e}");
        }
        let relay = OutboxConfig::default().relay_settings();
        assert_eq!(relay.poll_interval, std::time::Duration::from_secs(1));
        assert_eq!(relay.batch, 100);
    }

    #[test]
    fn connection_limits_are_validated() {
        let bad = |f: fn(&mut ServerConfig)| {
            let mut c = Config::default();
            f(&mut c.server);
            c.validate().unwrap_err().to_string()
        };
        assert!(bad(|s| s.header_read_timeout = 0).contains("server.header_read_timeout"));
        assert!(bad(|s| s.idle_timeout = 100_000).contains("server.idle_timeout"));
        assert!(bad(|s| s.max_connections = 3).contains("server.max_connections"));
        assert!(bad(|s| s.h2_max_concurrent_streams = 0).contains("h2_max_concurrent_streams"));
        let e = bad(|s| s.trusted_proxies = vec!["10.0.0.0/8".into(), "10.0.0.0/99".into()]);
        assert!(e.contains("10.0.0.0/99"), "{e}");
        let mut c = Config::default();
        c.server.trusted_proxies = vec!["10.0.0.0/8".into(), "::1".into()];
        assert!(c.validate().is_ok());
    }

    /// The internal port has no authentication of its own: off loopback it needs a secret.
    #[test]
    fn internal_port_off_loopback_needs_a_secret() {
        let mut c = Config {
            internal_listen: Some("0.0.0.0:9080".parse().unwrap()),
            ..Default::default()
        };
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("internal_secret_file"), "{e}");
        c.internal_listen = Some("127.0.0.1:9080".parse().unwrap());
        assert!(c.validate().is_ok(), "loopback needs no secret");
        c.internal_listen = Some("[::1]:9080".parse().unwrap());
        assert!(c.validate().is_ok());
        c.internal_listen = Some("10.1.2.3:9080".parse().unwrap());
        c.internal_secret = Some("short".into());
        assert!(c.validate().is_ok());
        let e = c.internal_secret().unwrap_err().to_string();
        assert!(e.contains("16 characters"), "{e}");
        c.internal_secret = Some("0123456789abcdef-long-enough".into());
        assert_eq!(
            c.internal_secret().unwrap().unwrap().expose_str(),
            "0123456789abcdef-long-enough"
        );
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("secret");
        std::fs::write(&f, "from-a-file-0123456789\n").unwrap();
        c.internal_secret = None;
        c.internal_secret_file = Some(f);
        assert_eq!(
            c.internal_secret().unwrap().unwrap().expose_str(),
            "from-a-file-0123456789"
        );
        assert!(c.validate().is_ok());
    }
}
