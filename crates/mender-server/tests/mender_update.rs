//! Software updates end to end with the real Debian tools: mender-artifact builds a signed
//! single-file artifact and a failing script artifact, mender-cli uploads them, and the real
//! mender-client 3.4 installs the first (byte-identical file, success, history, inventory)
//! and fails the second (failure, readable log). A rootfs-image uploads and is listed.

// Tests may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use common::device::{DeviceSetup, MenderClient};
use common::mgmt::{Mgmt, accept_pending, inventory_value, start_with_admin, wait_for};
use common::{ADMIN_EMAIL, ADMIN_PASSWORD, MenderCli};
use mender_testkit::mender_artifact::{
    SingleFile, ext4_image, rsa_key, run, write_module_image, write_rootfs_image,
};
use serde_json::{Value, json};

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

/// Deploys `artifact` to `device` and waits (up to 3 minutes) until the deployment finishes;
/// returns its id and statistics.
async fn deploy_and_wait(
    m: &Mgmt,
    name: &str,
    artifact: &str,
    device: &str,
    log: impl Fn() -> String,
) -> (String, Value) {
    let dep = m
        .create(
            "/api/management/v1/deployments/deployments",
            json!({"name": name, "artifact_name": artifact, "devices": [device]}),
        )
        .await;
    let stats = wait_for(
        180,
        &format!("deployment {name} to finish"),
        log,
        || async {
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
        },
    )
    .await;
    (dep, stats)
}

/// Waits until the device's inventory reports `artifact` installed.
async fn wait_artifact_name(m: &Mgmt, device: &str, artifact: &str, log: impl Fn() -> String) {
    let what = format!("inventory artifact_name {artifact}");
    wait_for(60, &what, log, || async {
        inventory_value(m, device, "inventory", "artifact_name")
            .await
            .filter(|v| v == artifact)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn real_client_installs_an_update_and_reports_a_failing_one() {
    let (tmp, server, m) = start_with_admin().await;
    let t = tmp.path();

    // Signing key, as mender-artifact wants it (PKCS#1).
    let (key, public) = rsa_key(t, 3072);

    // 1. A signed single-file artifact installing `app.bin` into <device>/installed.
    let installed_dir = t.join("device-files");
    let art = t.join("art");
    std::fs::create_dir_all(&art).unwrap();
    let content = payload(6 * 1024);
    let good = t.join("release-2.mender");
    let dest_dir = installed_dir.display().to_string();
    let app = SingleFile {
        dest_dir: &dest_dir,
        filename: "app.bin",
        permissions: "0644",
        content: &content,
    };
    run(app
        .write_command(&art, "test-device", "release-2")
        .arg("-o")
        .arg(&good)
        .arg("-k")
        .arg(&key));
    // 2. A signed script artifact whose install fails.
    std::fs::write(
        art.join("fail.sh"),
        format!(
            "#!/bin/sh\necho E2E-INTENTIONAL-FAILURE >&2\nexit 3\n# {}\n",
            String::from_utf8(payload(6 * 1024)).unwrap()
        ),
    )
    .unwrap();
    let bad = t.join("release-bad.mender");
    run(write_module_image("script", "test-device", "release-bad")
        .current_dir(&art)
        .arg("-o")
        .arg(&bad)
        .args(["-f", "fail.sh", "-k"])
        .arg(&key));
    // 3. A rootfs-image (uploaded and listed, never deployed).
    let ext4 = ext4_image(t);
    let rootfs = t.join("rootfs-1.mender");
    run(write_rootfs_image("test-device", "rootfs-1")
        .arg("-f")
        .arg(&ext4)
        .arg("-o")
        .arg(&rootfs));

    // mender-cli logs in and uploads all three.
    let cli = MenderCli::new(&t.join("home"), &server);
    let login = cli.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    assert!(login.status.success(), "mender-cli login: {login:?}");
    for (file, desc) in [
        (&good, "the good one"),
        (&bad, "fails on purpose"),
        (&rootfs, "a root filesystem"),
    ] {
        run(&mut cli.command(&[
            "artifacts",
            "upload",
            "--no-progress",
            "--description",
            desc,
            file.to_str().unwrap(),
        ]));
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
    let bytes = m.download_artifact(g["id"].as_str().unwrap()).await;
    assert_eq!(bytes, std::fs::read(&good).unwrap());

    // The device joins, with the public key to verify artifact signatures.
    let device = MenderClient::start(
        &t.join("device"),
        &server,
        &DeviceSetup {
            mac: "02:00:00:00:00:02",
            verify_key: Some(&public),
            ..DeviceSetup::default()
        },
    );
    let log = || device.log_text();
    let id = accept_pending(&m, "02:00:00:00:00:02", log).await;
    wait_artifact_name(&m, &id, "release-1", log).await;

    // Deploy the good artifact.
    let (dep, stats) = deploy_and_wait(&m, "good", "release-2", &id, log).await;
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
    wait_artifact_name(&m, &id, "release-2", log).await;

    // Deploy the failing artifact: failure=1 and the module's error output in the log.
    let (dep, stats) = deploy_and_wait(&m, "bad", "release-bad", &id, log).await;
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
