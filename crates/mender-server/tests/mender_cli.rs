//! The real mender-cli (Debian package) logs in to a fresh server and its token works.

// Tests may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::{ServerProcess, create_user};

fn mender_cli() -> &'static str {
    let path = "/usr/bin/mender-cli";
    assert!(
        std::path::Path::new(path).exists(),
        "mender-cli is not installed: run the test command from README.md (it installs it)"
    );
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn mender_cli_logs_in_and_lists_users() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let server = ServerProcess::start(&data, &[], &[]);
    // The banner tells a newcomer where the server is and how to make the first user.
    let banner = server.stdout();
    for want in [
        server.url.as_str(),
        "self-signed certificate",
        "No user exists yet",
        "mender-server user create --email",
        "Log in with:",
    ] {
        assert!(
            banner.contains(want),
            "{want:?} missing from the banner:\n{banner}"
        );
    }

    let out = create_user(&data, "admin@example.com", "correct-horse-battery");
    assert!(
        out.status.success(),
        "user create failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("created user admin@example.com"));
    // The same email again is refused with a clear message.
    let again = create_user(&data, "admin@example.com", "correct-horse-battery");
    assert!(!again.status.success());

    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let cert = server.cert.clone().unwrap();
    let run = |args: &[&str]| {
        Command::new(mender_cli())
            .current_dir(&home)
            .env("HOME", &home)
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("SSL_CERT_FILE", &cert)
            .arg("--server")
            .arg(&server.url)
            .args(args)
            .output()
            .expect("run mender-cli")
    };

    let bad = run(&[
        "login",
        "--username",
        "admin@example.com",
        "--password",
        "wrong-password",
    ]);
    assert!(
        !bad.status.success(),
        "login with a wrong password must fail"
    );

    let out = run(&[
        "login",
        "--username",
        "admin@example.com",
        "--password",
        "correct-horse-battery",
    ]);
    assert!(
        out.status.success(),
        "mender-cli login failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let token = std::fs::read_to_string(home.join(".cache/mender/authtoken"))
        .expect("mender-cli saved its token");
    assert_eq!(token.split('.').count(), 3, "a JWT");

    let resp = server
        .client()
        .get(format!("{}/api/management/v1/useradm/users", server.url))
        .bearer_auth(token.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let users: serde_json::Value = resp.json().await.unwrap();
    let emails: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["admin@example.com"]);

    // Without the token the same request is refused.
    let resp = server
        .client()
        .get(format!("{}/api/management/v1/useradm/users", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    let status = server.stop();
    assert!(
        status.success(),
        "graceful shutdown exits 0, got {status:?}"
    );
}
