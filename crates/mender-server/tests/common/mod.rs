//! Runs the real `mender-server` binary for end-to-end tests: a fresh data directory, a free
//! port, and the addresses read from the start-up banner.

#![allow(dead_code)]

pub mod device;
pub mod mgmt;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

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
    /// Starts `mender-server serve` on 127.0.0.1 with a free port and waits for the banner.
    pub fn start(data_dir: &Path, extra_args: &[&str], env: &[(&str, &str)]) -> Self {
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
            .args(extra_args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in test_env().into_iter().chain(env.iter().copied()) {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn mender-server");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let mut banner = Vec::new();
            for line in lines.by_ref() {
                let Ok(line) = line else { break };
                let done = line.trim_start().starts_with("Log in with:");
                banner.push(line);
                if done {
                    let _ = tx.send(banner.clone());
                    break;
                }
            }
            // Keep draining so the server never blocks on a full pipe.
            for _ in lines {}
        });
        let banner = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(b) => b,
            Err(_) => {
                let _ = child.kill();
                panic!("mender-server did not print its banner");
            }
        };
        let field = |name: &str| {
            banner.iter().find_map(|l| {
                l.trim_start()
                    .strip_prefix(name)
                    .map(|v| v.trim().to_owned())
            })
        };
        let addr = field("listening on:").expect("listening line");
        let scheme = if extra_args.contains(&"--plain-http") {
            "http"
        } else {
            "https"
        };
        let internal_url =
            field("internal API:").map(|v| v.split_whitespace().next().unwrap().to_owned());
        let cert = if scheme == "https" {
            Some(data_dir.join("tls/server.crt"))
        } else {
            None
        };
        ServerProcess {
            child,
            data_dir: data_dir.to_owned(),
            url: format!("{scheme}://{addr}"),
            internal_url,
            cert,
        }
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
