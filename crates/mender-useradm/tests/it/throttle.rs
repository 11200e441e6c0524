//! Login throttling and the bcrypt gate: a flood of wrong passwords gets 429 with
//! `Retry-After` while the owner still logs in from elsewhere; a flood beyond the bcrypt
//! queue gets 503 instead of waiting.

use std::net::IpAddr;
use std::time::Duration;

use axum::http::StatusCode;
use futures::future::join_all;
use mender_db::testing::Backend;
use mender_useradm::UseradmConfig;

use crate::common::{Env, env, env_with, test_config};

mender_db::each_backend!(
    wrong_password_flood_is_throttled_and_the_owner_logs_in_elsewhere,
    back_off_doubles_and_success_resets,
    attack_spread_over_addresses_is_throttled_per_account,
    throttle_can_be_switched_off,
    bcrypt_flood_beyond_the_queue_is_refused,
);

const ME: &str = "me@example.com";
const RIGHT: &str = "password1";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A login from `from`; the status and `Retry-After`, if any.
async fn login_from(
    env: &Env,
    from: &str,
    email: &str,
    password: &str,
) -> (StatusCode, Option<u64>) {
    let r = env
        .login_request(email, password)
        .client_addr(ip(from))
        .send()
        .await;
    if r.status == StatusCode::TOO_MANY_REQUESTS {
        assert_eq!(r.json()["error"], "too many requests", "{}", env.backend());
        assert!(r.json()["request_id"].is_string());
    }
    let retry = r.header("retry-after").map(|v| v.parse().unwrap());
    (r.status, retry)
}

async fn wrong_password_flood_is_throttled_and_the_owner_logs_in_elsewhere(backend: Backend) {
    let env = env(backend).await;
    env.create_user(ME, RIGHT).await;
    let mut answers = Vec::new();
    for i in 0..200 {
        answers.push(login_from(&env, "192.0.2.66", ME, &format!("guess{i}")).await);
    }
    // Five free failures, the sixth starts a 1 s back-off: everything after is refused
    // before any password is checked.
    let unauthorized = answers
        .iter()
        .filter(|a| a.0 == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!(unauthorized, 6, "{}: {answers:?}", env.backend());
    assert!(
        answers[6..]
            .iter()
            .all(|a| *a == (StatusCode::TOO_MANY_REQUESTS, Some(1))),
        "{answers:?}"
    );
    // The right password from the throttled address is refused too (no oracle)...
    assert_eq!(
        login_from(&env, "192.0.2.66", ME, RIGHT).await,
        (StatusCode::TOO_MANY_REQUESTS, Some(1))
    );
    // ...and works from another address.
    assert_eq!(
        login_from(&env, "198.51.100.7", ME, RIGHT).await.0,
        StatusCode::OK
    );
    // IPv6 neighbours in one /64 share a back-off; another /64 has its own.
    for i in 0..6 {
        login_from(&env, &format!("2001:db8:0:1::{i}"), "x@example.com", "nope").await;
    }
    assert_eq!(
        login_from(&env, "2001:db8:0:1::ffff", "y@example.com", "nope")
            .await
            .0,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        login_from(&env, "2001:db8:0:2::1", "y@example.com", "nope")
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
}

async fn back_off_doubles_and_success_resets(backend: Backend) {
    let env = env(backend).await;
    env.create_user(ME, RIGHT).await;
    let a = "192.0.2.1";
    for _ in 0..5 {
        assert_eq!(
            login_from(&env, a, ME, "wrong").await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    // Each failure beyond the free ones doubles the wait, as Retry-After says.
    for wait in [1u64, 2, 4, 8] {
        assert_eq!(
            login_from(&env, a, ME, "wrong").await.0,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            login_from(&env, a, ME, RIGHT).await,
            (StatusCode::TOO_MANY_REQUESTS, Some(wait)),
            "{}",
            env.backend()
        );
        env.clock.advance(Duration::from_millis(wait * 1000 - 1));
        assert_eq!(
            login_from(&env, a, ME, RIGHT).await.0,
            StatusCode::TOO_MANY_REQUESTS
        );
        env.clock.advance(Duration::from_millis(1));
    }
    // The wait is over: the right password logs in and the slate is clean again.
    assert_eq!(login_from(&env, a, ME, RIGHT).await.0, StatusCode::OK);
    for _ in 0..5 {
        assert_eq!(
            login_from(&env, a, ME, "wrong").await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(login_from(&env, a, ME, RIGHT).await.0, StatusCode::OK);
    // Failures older than the longest back-off are forgotten.
    for _ in 0..6 {
        login_from(&env, a, ME, "wrong").await;
    }
    assert_eq!(
        login_from(&env, a, ME, RIGHT).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    env.clock.advance(Duration::from_secs(900));
    for _ in 0..5 {
        assert_eq!(
            login_from(&env, a, ME, "wrong").await.0,
            StatusCode::UNAUTHORIZED
        );
    }
}

async fn attack_spread_over_addresses_is_throttled_per_account(backend: Backend) {
    let env = env(backend).await;
    env.create_user(ME, RIGHT).await;
    env.create_user("other@example.com", RIGHT).await;
    // One guess from each of many addresses: after the account's free failures, addresses
    // that have failed are refused for this account...
    let mut statuses = Vec::new();
    for i in 1..=20 {
        statuses.push(
            login_from(&env, &format!("203.0.113.{i}"), ME, "guess")
                .await
                .0,
        );
    }
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(refused, 0, "{statuses:?}");
    for i in 1..=20 {
        assert_eq!(
            login_from(&env, &format!("203.0.113.{i}"), ME, "guess2")
                .await
                .0,
            StatusCode::TOO_MANY_REQUESTS,
            "{} address {i}",
            env.backend()
        );
    }
    // ...but not for other accounts,
    assert_eq!(
        login_from(&env, "203.0.113.1", "other@example.com", RIGHT)
            .await
            .0,
        StatusCode::OK
    );
    // and the owner from a clean address logs in.
    assert_eq!(
        login_from(&env, "198.51.100.1", ME, RIGHT).await.0,
        StatusCode::OK
    );
}

/// A service configured by `edit` (from the test configuration), with the user `ME`.
async fn env_where(backend: Backend, edit: impl FnOnce(&mut UseradmConfig)) -> Env {
    let mut config = test_config();
    edit(&mut config);
    let env = env_with(backend, config).await;
    env.create_user(ME, RIGHT).await;
    env
}

async fn throttle_can_be_switched_off(backend: Backend) {
    let env = env_where(backend, |c| c.login_max_backoff_seconds = 0).await;
    for _ in 0..30 {
        assert_eq!(
            login_from(&env, "192.0.2.1", ME, "wrong").await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login_from(&env, "192.0.2.1", ME, RIGHT).await.0,
        StatusCode::OK
    );
}

async fn bcrypt_flood_beyond_the_queue_is_refused(backend: Backend) {
    // One worker, no queue, and a cost that keeps the worker busy while the others arrive.
    let env = env_where(backend, |c| {
        c.bcrypt_workers = 1;
        c.bcrypt_queue = 0;
        c.bcrypt_cost = 12;
    })
    .await;
    let requests = (0..8).map(|i| {
        env.login_request(ME, RIGHT)
            .client_addr(ip(&format!("192.0.2.{i}")))
            .send()
    });
    let answers = join_all(requests).await;
    let ok = answers
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    let busy: Vec<_> = answers
        .iter()
        .filter(|r| r.status == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert_eq!(ok + busy.len(), 8, "{}", env.backend());
    assert!(ok >= 1 && !busy.is_empty(), "ok {ok}, busy {}", busy.len());
    for r in busy {
        assert_eq!(r.header("retry-after"), Some("1"));
        assert_eq!(r.json()["error"], "the server is busy, try again later");
    }
    // Refused work is not a failed login: the addresses are not throttled.
    assert_eq!(
        login_from(&env, "192.0.2.1", ME, RIGHT).await.0,
        StatusCode::OK
    );
}
