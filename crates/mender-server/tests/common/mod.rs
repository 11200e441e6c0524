//! Runs the real `mender-server` binary for end-to-end tests: a fresh data directory, free
//! ports, and the addresses the server reports in its `--ready-file`; and the real mender-cli
//! against it.

#![allow(dead_code)]

pub mod connect;
pub mod device;
pub mod mgmt;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The admin user the tests create.
pub const ADMIN_EMAIL: &str = "admin@example.com";
/// Its password.
pub const ADMIN_PASSWORD: &str = "correct-horse-battery";

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_mender-server")
}

/// A server process with its own data directory.
pub struct ServerProcess {
    pub child: Child,
    pub data_dir: PathBuf,
    pub url: String,
    pub internal_url: Option<String>,
    pub cert: Option<PathBuf>,
}

/// Extra environment for a test server (fast bcrypt, quick leases).
pub fn test_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("MENDER_SERVER_USERADM__BCRYPT_COST", "4"),
        ("MENDER_SERVER_LOG__LEVEL", "info"),
    ]
}

impl ServerProcess {
    /// Starts `mender-server serve` on 127.0.0.1 with free ports and waits until it reports
    /// its addresses.
    pub fn start(data_dir: &Path, extra_args: &[&str], env: &[(&str, &str)]) -> Self {
        std::fs::create_dir_all(data_dir).expect("data dir");
        let ready = data_dir.join("ready.json");
        let _ = std::fs::remove_file(&ready);
        let mut cmd = Command::new(bin());
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--internal-listen",
                "127.0.0.1:0",
                "--hostname",
                "localhost",
            ])
            .arg("--ready-file")
            .arg(&ready)
            .args(extra_args)
            .stdout(Stdio::from(
                std::fs::File::create(data_dir.join("stdout.log")).expect("stdout log"),
            ))
            .stderr(Stdio::inherit());
        for (k, v) in test_env().into_iter().chain(env.iter().copied()) {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn mender-server");
        let deadline = Instant::now() + Duration::from_secs(120);
        let doc: Value = loop {
            if let Ok(text) = std::fs::read_to_string(&ready) {
                break serde_json::from_str(&text).expect("ready file is JSON");
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("mender-server exited before it was ready: {status}");
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("mender-server did not write its ready file");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let text = |k: &str| doc[k].as_str().map(str::to_owned);
        ServerProcess {
            child,
            data_dir: data_dir.to_owned(),
            url: text("url").expect("url"),
            internal_url: text("internal_addr").map(|a| format!("http://{a}")),
            cert: text("certificate").map(PathBuf::from),
        }
    }

    /// What the server printed on standard output (its start-up banner).
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("stdout.log")).unwrap_or_default()
    }

    /// An HTTP client that trusts this server's certificate.
    pub fn client(&self) -> reqwest::Client {
        let mut b = reqwest::Client::builder().timeout(Duration::from_secs(30));
        if let Some(cert) = &self.cert {
            let pem = std::fs::read(cert).expect("cert");
            b = b.tls_certs_only([reqwest::Certificate::from_pem(&pem).expect("pem")]);
        }
        b.build().expect("client")
    }

    /// A GET of `path` on the public port, with [`client`](Self::client).
    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client().get(format!("{}{path}", self.url))
    }

    /// Clients for the public (TLS) port, one per protocol: HTTP/1.1 only, and HTTP/2 (prior
    /// knowledge over TLS). `base` makes the builder with what the test needs besides
    /// trusting the server's certificate (timeout, redirect policy).
    pub fn protocol_clients(
        &self,
        base: impl Fn() -> reqwest::ClientBuilder,
    ) -> Vec<(reqwest::Version, reqwest::Client)> {
        let pem = std::fs::read(self.cert.as_ref().expect("a TLS server")).expect("cert");
        let trusting =
            || base().tls_certs_only([reqwest::Certificate::from_pem(&pem).expect("pem")]);
        vec![
            (
                reqwest::Version::HTTP_11,
                trusting().http1_only().build().expect("client"),
            ),
            (
                reqwest::Version::HTTP_2,
                trusting().http2_prior_knowledge().build().expect("client"),
            ),
        ]
    }

    /// SIGTERM and wait: the graceful path.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        self.child.wait().expect("wait")
    }

    /// SIGKILL: the crash path.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `mender-server user create`.
pub fn create_user(data_dir: &Path, email: &str, password: &str) -> std::process::Output {
    let mut cmd = Command::new(bin());
    cmd.args([
        "user",
        "create",
        "--email",
        email,
        "--password",
        password,
        "--data-dir",
    ])
    .arg(data_dir);
    for (k, v) in test_env() {
        cmd.env(k, v);
    }
    cmd.output().expect("run user create")
}

/// The real mender-cli (Debian package) talking to one server: a home of its own (where it
/// keeps its token) and that server's certificate as the only trusted one.
pub struct MenderCli {
    home: PathBuf,
    cert: PathBuf,
    url: String,
}

impl MenderCli {
    const PATH: &str = "/usr/bin/mender-cli";

    /// mender-cli for `server`, with its home at `home` (created).
    pub fn new(home: &Path, server: &ServerProcess) -> Self {
        assert!(
            Path::new(Self::PATH).exists(),
            "mender-cli is not installed: run the test command from README.md (it installs it)"
        );
        std::fs::create_dir_all(home).expect("mender-cli home");
        MenderCli {
            home: home.to_owned(),
            cert: server.cert.clone().expect("the server's certificate"),
            url: server.url.clone(),
        }
    }

    /// `mender-cli --server <url> <args>`, ready to run.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(Self::PATH);
        cmd.current_dir(&self.home)
            .env("HOME", &self.home)
            .env("XDG_CACHE_HOME", self.home.join(".cache"))
            .env("SSL_CERT_FILE", &self.cert)
            .arg("--server")
            .arg(&self.url)
            .args(args);
        cmd
    }

    /// `mender-cli login`; what it did is for the caller to check.
    pub fn login(&self, email: &str, password: &str) -> std::process::Output {
        self.command(&["login", "--username", email, "--password", password])
            .output()
            .expect("run mender-cli")
    }

    /// The token the last successful login saved.
    pub fn saved_token(&self) -> String {
        std::fs::read_to_string(self.home.join(".cache/mender/authtoken"))
            .expect("mender-cli saved its token")
    }
}
