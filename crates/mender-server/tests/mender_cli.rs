//! The real mender-cli (Debian package) logs in to a fresh server and its token works.

// Tests may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use common::{ADMIN_EMAIL, ADMIN_PASSWORD, MenderCli, ServerProcess, create_user};

const USERS: &str = "/api/management/v1/useradm/users";

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

    let out = create_user(&data, ADMIN_EMAIL, ADMIN_PASSWORD);
    assert!(
        out.status.success(),
        "user create failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("created user admin@example.com"));
    // The same email again is refused with a clear message.
    let again = create_user(&data, ADMIN_EMAIL, ADMIN_PASSWORD);
    assert!(!again.status.success());

    let cli = MenderCli::new(&tmp.path().join("home"), &server);
    let bad = cli.login(ADMIN_EMAIL, "wrong-password");
    assert!(
        !bad.status.success(),
        "login with a wrong password must fail"
    );

    let out = cli.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    assert!(
        out.status.success(),
        "mender-cli login failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let token = cli.saved_token();
    assert_eq!(token.split('.').count(), 3, "a JWT");

    let resp = server
        .get(USERS)
        .bearer_auth(token.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let users: serde_json::Value = resp.json().await.unwrap();
    let emails = mender_testkit::json::strings(&users, "email");
    assert_eq!(emails, ["admin@example.com"]);

    // Without the token the same request is refused.
    let resp = server.get(USERS).send().await.unwrap();
    assert_eq!(resp.status(), 401);

    let status = server.stop();
    assert!(
        status.success(),
        "graceful shutdown exits 0, got {status:?}"
    );
}
