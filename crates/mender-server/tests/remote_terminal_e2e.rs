//! The remote terminal end to end with the real tools: the Debian mender-client (accepted)
//! publishes its token on a private D-Bus, the real mender-connect 2.1 opens the device's
//! websocket through the client's proxy, the management API shows the device connected,
//! and `mender-cli terminal` runs a command on the device through the server. Stopping
//! mender-connect shows the device disconnected again; the provisioning and decommissioning
//! workflows create and remove its record.

// Tests may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Stdio;

use common::connect::{MenderConnect, PrivateBus};
use common::device::{DeviceSetup, MenderClient};
use common::mgmt::{Mgmt, accept_pending, start_with_admin, wait_for};
use common::{ADMIN_EMAIL, ADMIN_PASSWORD, MenderCli};
use serde_json::Value;
use tokio::io::AsyncWriteExt;

const MAC: &str = "02:00:00:00:0c:0c";

#[tokio::test(flavor = "multi_thread")]
async fn mender_cli_terminal_runs_a_command_through_mender_connect() {
    let (tmp, server, m) = start_with_admin().await;
    let bus = PrivateBus::start(&tmp.path().join("bus"));
    let client = MenderClient::start(
        &tmp.path().join("device"),
        &server,
        &DeviceSetup {
            mac: MAC,
            dbus: Some(&bus),
            ..DeviceSetup::default()
        },
    );
    let id = accept_pending(&m, MAC, || client.log_text()).await;
    // Accepting provisions the device in deviceconnect (a workflow): known, disconnected.
    let status = format!("/api/management/v1/deviceconnect/devices/{id}");
    shows(&m, &status, Some("disconnected"), || server.stdout()).await;
    let connect = MenderConnect::start(&tmp.path().join("connect"), &bus);
    let logs = || {
        format!(
            "--- mender-connect:\n{}\n--- mender-client:\n{}\n--- server:\n{}",
            connect.log_text(),
            client.log_text(),
            server.stdout()
        )
    };
    let view = shows(&m, &status, Some("connected"), logs).await;
    assert_eq!(view["device_id"], id.as_str(), "{view}");

    // mender-cli logs in and opens a terminal; the shell's output comes back. The command
    // computes its marker, so the echo of the typed line cannot pass for the output.
    let cli = MenderCli::new(&tmp.path().join("cli"), &server);
    let login = cli.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    assert!(login.status.success(), "{login:?}");
    let mut terminal = tokio::process::Command::from(cli.command(&["terminal", &id]))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = terminal.stdin.take().unwrap();
    stdin
        .write_all(b"echo hello-from-device-$((40 + 2)); id -un; exit\n")
        .await
        .unwrap();
    // A guard against a hang, not a timing assertion: the shell's exit ends the session.
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(120),
        terminal.wait_with_output(),
    )
    .await
    .unwrap_or_else(|_| panic!("mender-cli terminal did not end\n{}", logs()))
    .unwrap();
    drop(stdin);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("hello-from-device-42"),
        "stdout: {text}\nstderr: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        logs()
    );
    assert!(text.contains("nobody"), "{text}");

    // Without mender-connect the device is disconnected.
    drop(connect);
    shows(&m, &status, Some("disconnected"), || server.stdout()).await;

    // Decommissioning removes the record (the `decommission_device` workflow).
    drop(client);
    m.decommission(&id).await;
    shows(&m, &status, None, || server.stdout()).await;
}

/// Waits until the management API shows the device's record (at `path`) with status `want`,
/// or no record for `None`; the record.
async fn shows(m: &Mgmt, path: &str, want: Option<&str>, context: impl Fn() -> String) -> Value {
    let what = format!("the device's deviceconnect status to be {want:?}");
    wait_for(120, &what, context, || async {
        let a = m.get(path).await;
        let seen = if a.status == 404 {
            None
        } else {
            a.body["status"].as_str()
        };
        (seen == want).then_some(a.body)
    })
    .await
}
