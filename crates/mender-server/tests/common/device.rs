//! Runs the real Debian mender-client 3.4 (`mender daemon`) against a test server without
//! touching the host: a private mount namespace binds temp dirs over the paths the client
//! hard-codes (/etc/mender, identity and inventory script dirs).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::ServerProcess;

/// A running mender-client daemon.
pub struct MenderClient {
    pub child: Child,
    pub root: PathBuf,
    pub log: PathBuf,
}

/// What the device looks like.
pub struct DeviceSetup<'a> {
    pub mac: &'a str,
    pub device_type: &'a str,
    pub artifact_name: &'a str,
    /// Extra `key=value` lines printed by an inventory script.
    pub inventory: &'a [(&'a str, &'a str)],
    /// The public key artifact signatures are verified with, when given.
    pub verify_key: Option<&'a Path>,
    /// The private system bus to publish the client's D-Bus API on (for mender-connect),
    /// when given; otherwise D-Bus is off.
    pub dbus: Option<&'a super::connect::PrivateBus>,
}

impl Default for DeviceSetup<'_> {
    /// A `test-device` running `release-1`.
    fn default() -> Self {
        DeviceSetup {
            mac: "02:00:00:00:00:01",
            device_type: "test-device",
            artifact_name: "release-1",
            inventory: &[],
            verify_key: None,
            dbus: None,
        }
    }
}

fn write_exec(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

impl MenderClient {
    /// Starts `mender daemon` talking to `server`, trusting its certificate.
    pub fn start(root: &Path, server: &ServerProcess, setup: &DeviceSetup<'_>) -> Self {
        assert!(
            Path::new("/usr/bin/mender").exists(),
            "mender-client is not installed: run the test command from README.md (it installs it)"
        );
        let server_url = &server.url;
        let cert = server.cert.as_ref().expect("the server's certificate");
        let etc = root.join("etc-mender");
        let identity = root.join("identity");
        let inventory = root.join("inventory");
        let data = root.join("data");
        for d in [&etc, &identity, &inventory, &data] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(
            etc.join("artifact_info"),
            format!("artifact_name={}\n", setup.artifact_name),
        )
        .unwrap();
        std::fs::write(
            data.join("device_type"),
            format!("device_type={}\n", setup.device_type),
        )
        .unwrap();
        let mut conf = serde_json::json!({
            "ServerURL": server_url,
            "ServerCertificate": cert,
            "UpdatePollIntervalSeconds": 5,
            "InventoryPollIntervalSeconds": 5,
            "RetryPollIntervalSeconds": 2,
            "ModuleTimeoutSeconds": 120,
            "StateScriptTimeoutSeconds": 60,
            "DeviceTypeFile": data.join("device_type"),
            "DBus": {"Enabled": false},
            "SkipVerify": false
        });
        if setup.dbus.is_some() {
            conf["DBus"] = serde_json::json!({"Enabled": true});
        }
        if let Some(k) = setup.verify_key {
            conf["ArtifactVerifyKey"] = serde_json::json!(k);
        }
        std::fs::write(
            etc.join("mender.conf"),
            serde_json::to_vec_pretty(&conf).unwrap(),
        )
        .unwrap();
        std::fs::write(root.join("none.conf"), "{}").unwrap();
        write_exec(
            &identity.join("mender-device-identity"),
            &format!("#!/bin/sh\necho mac={}\n", setup.mac),
        );
        let mut inv = String::from("#!/bin/sh\n");
        for (k, v) in setup.inventory {
            inv.push_str(&format!("echo '{k}={v}'\n"));
        }
        write_exec(&inventory.join("mender-inventory-test"), &inv);
        let log = root.join("client.log");
        let script = format!(
            "set -e; mount --bind '{etc}' /etc/mender; \
             mount --bind '{identity}' /usr/share/mender/identity; \
             mount --bind '{inventory}' /usr/share/mender/inventory; \
             exec mender --no-syslog --log-level debug --config '{etc}/mender.conf' \
             --fallback-config '{root}/none.conf' --data '{data}' daemon",
            etc = etc.display(),
            identity = identity.display(),
            inventory = inventory.display(),
            root = root.display(),
            data = data.display(),
        );
        let logf = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new("unshare");
        if let Some(bus) = setup.dbus {
            cmd.env("DBUS_SYSTEM_BUS_ADDRESS", bus.address());
        }
        let child = cmd
            .args(["-m", "--propagation", "private", "sh", "-c", &script])
            .stdout(Stdio::from(logf.try_clone().unwrap()))
            .stderr(Stdio::from(logf))
            .spawn()
            .expect("start mender daemon");
        MenderClient {
            child,
            root: root.to_owned(),
            log,
        }
    }

    /// The client's log so far (for assertion messages).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for MenderClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
