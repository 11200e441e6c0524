//! Runs the real Debian mender-connect 2.1 beside a mender-client without touching the host:
//! a private `dbus-daemon` plays the system bus (mender-connect gets its token and the
//! client's proxy address only over D-Bus), and mender-connect reads its own config file.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A private system bus: `dbus-daemon` on a unix socket in a temp dir, letting everyone own
/// and call everything.
pub struct PrivateBus {
    child: Child,
    socket: PathBuf,
}

impl PrivateBus {
    /// Starts the bus in `dir` and waits for its socket.
    pub fn start(dir: &Path) -> Self {
        assert!(
            Path::new("/usr/bin/dbus-daemon").exists(),
            "dbus is not installed: run the test command from README.md (it installs it)"
        );
        std::fs::create_dir_all(dir).unwrap();
        let socket = dir.join("system_bus_socket");
        let conf = dir.join("bus.conf");
        std::fs::write(
            &conf,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"#,
                socket.display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("dbus.log")).unwrap();
        let child = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", conf.display()))
            .args(["--nofork", "--nopidfile"])
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start dbus-daemon");
        while !socket.exists() {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        PrivateBus { child, socket }
    }

    /// The bus address for `DBUS_SYSTEM_BUS_ADDRESS`.
    pub fn address(&self) -> String {
        format!("unix:path={}", self.socket.display())
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running `mender-connect daemon`.
pub struct MenderConnect {
    child: Child,
    log: PathBuf,
}

impl MenderConnect {
    /// Starts mender-connect in `dir` on `bus`, with `/bin/sh` (no `--login`: dash refuses
    /// it) as user `nobody` for its shells.
    pub fn start(dir: &Path, bus: &PrivateBus) -> Self {
        assert!(
            Path::new("/usr/bin/mender-connect").exists(),
            "mender-connect is not installed: run the test command from README.md (it installs it)"
        );
        std::fs::create_dir_all(dir).unwrap();
        let conf = dir.join("mender-connect.conf");
        let conf_json = serde_json::json!({
            "ShellCommand": "/bin/sh",
            "ShellArguments": [],
            "User": "nobody",
            "ReconnectIntervalSeconds": 2
        });
        std::fs::write(&conf, serde_json::to_vec_pretty(&conf_json).unwrap()).unwrap();
        let none = dir.join("none.conf");
        std::fs::write(&none, "{}").unwrap();
        let log = dir.join("mender-connect.log");
        let logf = std::fs::File::create(&log).unwrap();
        let child = Command::new("/usr/bin/mender-connect")
            .env("DBUS_SYSTEM_BUS_ADDRESS", bus.address())
            .arg("--config")
            .arg(&conf)
            .arg("--fallback-config")
            .arg(&none)
            .args(["--debug", "daemon"])
            .stdout(Stdio::from(logf.try_clone().unwrap()))
            .stderr(Stdio::from(logf))
            .spawn()
            .expect("start mender-connect");
        MenderConnect { child, log }
    }

    /// Its log so far (for assertion messages).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for MenderConnect {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
