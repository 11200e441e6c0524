//! Software updates end to end with the real Debian tools: mender-artifact builds a signed
//! single-file artifact and a failing script artifact, mender-cli uploads them, and the real
//! mender-client 3.4 installs the first (byte-identical file, success, history, inventory)
//! and fails the second (failure, readable log). A rootfs-image uploads and is listed.

// Tests may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::device::{DeviceSetup, MenderClient};
use common::mgmt::{Mgmt, accept_first_pending, inventory_value, wait_for};
use common::{ServerProcess, create_user};
use serde_json::{Value, json};

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn tool(path: &str, package: &str) -> &'static str {
    assert!(
        Path::new(path).exists(),
        "{package} is not installed: run the test command from README.md (it installs it)"
    );
    Box::leak(path.to_owned().into_boxed_str())
}

/// Random printable bytes, so the artifact is over the client's 4096-byte minimum.
fn payload(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n);
    let mut x: u64 = 0x9e3779b97f4a7c15;
    while out.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.push(b'A' + (x % 26) as u8);
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn real_client_installs_an_update_and_reports_a_failing_one() {
    let mender_artifact = tool("/usr/bin/mender-artifact", "mender-artifact");
    let mender_cli = tool("/usr/bin/mender-cli", "mender-cli");
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let data = t.join("data");
    let server = ServerProcess::start(&data, &[], &[]);
    assert!(
        create_user(&data, "admin@example.com", "correct-horse-battery")
            .status
            .success()
    );
    let m = Mgmt::login(&server, "admin@example.com", "correct-horse-battery").await;

    // Signing key, as mender-artifact wants it (PKCS#1).
    let key = t.join("signing.key");
    let public = t.join("signing.pub");
    run(Command::new("openssl")
        .args(["genrsa", "-traditional", "-out"])
        .arg(&key)
        .arg("3072"));
    run(Command::new("openssl")
        .args(["rsa", "-pubout", "-in"])
        .arg(&key)
        .arg("-out")
        .arg(&public));

    // 1. A signed single-file artifact installing `app.bin` into <device>/installed.
    let installed_dir = t.join("device-files");
    let art = t.join("art");
    std::fs::create_dir_all(&art).unwrap();
    let content = payload(6 * 1024);
    std::fs::write(art.join("app.bin"), &content).unwrap();
    std::fs::write(art.join("dest_dir"), installed_dir.display().to_string()).unwrap();
    std::fs::write(art.join("filename"), "app.bin").unwrap();
    std::fs::write(art.join("permissions"), "0644").unwrap();
    let good = t.join("release-2.mender");
    run(Command::new(mender_artifact)
        .current_dir(&art)
        .args([
            "write",
            "module-image",
            "-T",
            "single-file",
            "-t",
            "test-device",
            "-n",
            "release-2",
            "-o",
        ])
        .arg(&good)
        .args([
            "-f",
            "dest_dir",
            "-f",
            "filename",
            "-f",
            "permissions",
            "-f",
            "app.bin",
            "-k",
        ])
        .arg(&key));
    // 2. A signed script artifact whose install fails.
    let script = art.join("fail.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho E2E-INTENTIONAL-FAILURE >&2\nexit 3\n# {}\n",
            String::from_utf8(payload(6 * 1024)).unwrap()
        ),
    )
    .unwrap();
    let bad = t.join("release-bad.mender");
    run(Command::new(mender_artifact)
        .current_dir(&art)
        .args([
            "write",
            "module-image",
            "-T",
            "script",
            "-t",
            "test-device",
            "-n",
            "release-bad",
            "-o",
        ])
        .arg(&bad)
        .args(["-f", "fail.sh", "-k"])
        .arg(&key));
    // 3. A rootfs-image (uploaded and listed, never deployed).
    let rootfs_dir = t.join("rootfs");
    std::fs::create_dir_all(rootfs_dir.join("etc")).unwrap();
    std::fs::write(rootfs_dir.join("etc/hostname"), "device\n").unwrap();
    let ext4 = t.join("rootfs.ext4");
    run(Command::new("mkfs.ext4")
        .args(["-q", "-F", "-d"])
        .arg(&rootfs_dir)
        .arg(&ext4)
        .arg("8M"));
    let rootfs = t.join("rootfs-1.mender");
    run(Command::new(mender_artifact)
        .args([
            "write",
            "rootfs-image",
            "-t",
            "test-device",
            "-n",
            "rootfs-1",
            "--no-progress",
            "-f",
        ])
        .arg(&ext4)
        .arg("-o")
        .arg(&rootfs));

    // mender-cli logs in and uploads all three.
    let home = t.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let cli = |args: &[&str]| {
        run(Command::new(mender_cli)
            .current_dir(&home)
            .env("HOME", &home)
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("SSL_CERT_FILE", server.cert.as_ref().unwrap())
            .arg("--server")
            .arg(&server.url)
            .args(args))
    };
    cli(&[
        "login",
        "--username",
        "admin@example.com",
        "--password",
        "correct-horse-battery",
    ]);
    for (file, desc) in [
        (&good, "the good one"),
        (&bad, "fails on purpose"),
        (&rootfs, "a root filesystem"),
    ] {
        cli(&[
            "artifacts",
            "upload",
            "--no-progress",
            "--description",
            desc,
            file.to_str().unwrap(),
        ]);
    }
    let list = m.get("/api/management/v1/deployments/artifacts").await;
    assert_eq!(list.status, 200);
    let by_name = |name: &str| -> Value {
        list.body
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    let g = by_name("release-2");
    assert_eq!(g["signed"], true);
    assert_eq!(g["description"], "the good one");
    assert_eq!(g["device_types_compatible"], json!(["test-device"]));
    assert_eq!(g["updates"][0]["type_info"]["type"], "single-file");
    assert_eq!(g["size"], std::fs::metadata(&good).unwrap().len());
    let r = by_name("rootfs-1");
    assert_eq!(r["info"]["version"], 3);
    assert_eq!(r["updates"][0]["files"][0]["name"], "rootfs.ext4");
    assert_eq!(
        r["updates"][0]["files"][0]["size"],
        std::fs::metadata(&ext4).unwrap().len()
    );
    // The stored file is served back byte for byte (management download link).
    let link = m
        .get(&format!(
            "/api/management/v1/deployments/artifacts/{}/download",
            g["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(link.status, 200, "{}", link.text);
    let bytes = m
        .http
        .get(link.body["uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(bytes.as_ref(), std::fs::read(&good).unwrap().as_slice());

    // The device joins, with the public key to verify artifact signatures.
    let device = MenderClient::start_with(
        &t.join("device"),
        &server.url,
        server.cert.as_ref().unwrap(),
        &DeviceSetup {
            mac: "02:00:00:00:00:02",
            device_type: "test-device",
            artifact_name: "release-1",
            inventory: &[],
        },
        Some(&public),
    );
    let log = || device.log_text();
    let id = accept_first_pending(&m, log).await;
    wait_for(60, "inventory", log, || async {
        inventory_value(&m, &id, "inventory", "artifact_name")
            .await
            .filter(|v| v == "release-1")
    })
    .await;

    // Deploy the good artifact.
    let a = m
        .call(
            "POST",
            "/api/management/v1/deployments/deployments",
            Some(json!({"name": "good", "artifact_name": "release-2", "devices": [id]})),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let location = a.headers["location"].to_str().unwrap().to_owned();
    let dep = location.rsplit('/').next().unwrap().to_owned();
    let stats = wait_for(180, "the deployment to finish", log, || async {
        let d = m
            .get(&format!("/api/management/v1/deployments/deployments/{dep}"))
            .await;
        (d.body["status"] == "finished").then_some(())?;
        Some(
            m.get(&format!(
                "/api/management/v1/deployments/deployments/{dep}/statistics"
            ))
            .await
            .body,
        )
    })
    .await;
    assert_eq!(stats["success"], 1, "{stats}\n{}", log());
    assert_eq!(stats["failure"], 0);
    assert_eq!(
        std::fs::read(installed_dir.join("app.bin")).unwrap(),
        content,
        "installed byte-identical"
    );
    let history = m
        .get(&format!(
            "/api/management/v1/deployments/deployments/devices/{id}"
        ))
        .await;
    assert_eq!(history.status, 200);
    assert!(
        history.text.contains(&dep),
        "history shows the deployment: {}",
        history.text
    );
    wait_for(60, "inventory artifact_name release-2", log, || async {
        inventory_value(&m, &id, "inventory", "artifact_name")
            .await
            .filter(|v| v == "release-2")
    })
    .await;

    // Deploy the failing artifact: failure=1 and the module's error output in the log.
    let a = m
        .call(
            "POST",
            "/api/management/v1/deployments/deployments",
            Some(json!({"name": "bad", "artifact_name": "release-bad", "devices": [id]})),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let dep = a.headers["location"]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let stats = wait_for(180, "the failing deployment to finish", log, || async {
        let d = m
            .get(&format!("/api/management/v1/deployments/deployments/{dep}"))
            .await;
        (d.body["status"] == "finished").then_some(())?;
        Some(
            m.get(&format!(
                "/api/management/v1/deployments/deployments/{dep}/statistics"
            ))
            .await
            .body,
        )
    })
    .await;
    assert_eq!(stats["failure"], 1, "{stats}\n{}", log());
    let devlog = wait_for(30, "the deployment log", log, || async {
        let l = m
            .get(&format!(
                "/api/management/v1/deployments/deployments/{dep}/devices/{id}/log"
            ))
            .await;
        (l.status == 200).then_some(l.text)
    })
    .await;
    assert!(devlog.contains("E2E-INTENTIONAL-FAILURE"), "{devlog}");
}
