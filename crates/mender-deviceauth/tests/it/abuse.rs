//! Hostile auth requests: a flood from one address is throttled, identities are capped in
//! size, and the pending devices and auth sets a flood can store are bounded by
//! configuration, on both backends.

use std::net::IpAddr;
use std::time::Duration;

use axum::http::StatusCode;
use mender_db::testing::Backend;
use mender_deviceauth::DeviceauthConfig;
use mender_deviceauth::canon::canonicalize_value;
use mender_testkit::DeviceKey;
use serde_json::{Value, json};

use crate::common::{DEVS, Env};

mender_db::each_backend!(
    fresh_identity_flood_is_throttled_and_storage_bounded,
    new_keys_for_a_known_identity_replace_the_oldest_pending_one,
    oversized_identities_are_refused,
    auth_request_limit_can_be_switched_off,
);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Row counts of devices and auth sets.
async fn rows(env: &Env) -> (i64, i64) {
    let s = env.snapshot().await;
    (s[0], s[1])
}

async fn fresh_identity_flood_is_throttled_and_storage_bounded(backend: Backend) {
    let config = DeviceauthConfig {
        auth_requests_burst: 20,
        auth_requests_per_minute: 60,
        max_pending_devices: 50,
        ..DeviceauthConfig::default()
    };
    let env = Env::with_config(backend, config).await;
    // A device admitted before the flood.
    let known_key = DeviceKey::ed25519();
    let known = json!({"mac": "known"});
    env.admitted(&known_key, &known).await;
    let pending_key = DeviceKey::ed25519();
    let pending = json!({"mac": "pending"});
    env.auth(&pending_key, &pending)
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    env.wf().await.clear();

    // 10,000 fresh identities from one address, 10 per second of the service's clock.
    let key = DeviceKey::ed25519();
    let attacker = ip("192.0.2.66");
    let (mut throttled, mut refused, mut recorded) = (0, 0, 0);
    for i in 0..10_000 {
        let r = env
            .auth_from(&key, &json!({"mac": format!("flood-{i}")}), attacker)
            .await;
        match r.status {
            StatusCode::TOO_MANY_REQUESTS => {
                assert_eq!(r.header("retry-after"), Some("1"));
                assert_eq!(r.json()["error"], "too many requests");
                throttled += 1;
            }
            StatusCode::FORBIDDEN => {
                assert_eq!(
                    r.json()["error"],
                    "maximum number of pending devices reached"
                );
                refused += 1;
            }
            StatusCode::UNAUTHORIZED => recorded += 1,
            s => panic!("{} request {i}: {s} {}", env.backend(), r.text()),
        }
        env.clock.advance(Duration::from_millis(100));
    }
    // The burst, then one a second for 1,000 seconds.
    let admitted = 20 + 1000;
    assert!(
        (admitted - 1..=admitted + 1).contains(&(recorded + refused)),
        "{}: {recorded} recorded, {refused} refused, {throttled} throttled",
        env.backend()
    );
    // One pending device was there: 49 more fit under the cap of 50.
    assert_eq!(recorded, 49, "{}", env.backend());
    assert_eq!(throttled, 10_000 - recorded - refused);
    // Storage grew by the cap, and so did the workflow jobs (the identity for inventory
    // and the status change of each new device).
    assert_eq!(rows(&env).await, (2 + 49, 2 + 49));
    assert_eq!(env.wf().await.count(), 2 * 49);

    // The flood does not stop others: another address is not throttled, known devices
    // go on (pending stays pending, accepted gets its token), new identities wait.
    let other = ip("198.51.100.1");
    let r = env.auth_from(&pending_key, &pending, other).await;
    r.assert_status(StatusCode::UNAUTHORIZED);
    let r = env.auth_from(&known_key, &known, other).await;
    r.assert_status(StatusCode::OK);
    let r = env.auth_from(&key, &json!({"mac": "late"}), other).await;
    r.assert_status(StatusCode::FORBIDDEN);
    // Once a user decides on a pending device, a new one fits again.
    let device = env.device_with(&pending).await;
    env.accept(&device)
        .await
        .assert_status(StatusCode::NO_CONTENT);
    let r = env.auth_from(&key, &json!({"mac": "late"}), other).await;
    r.assert_status(StatusCode::UNAUTHORIZED);
}

async fn new_keys_for_a_known_identity_replace_the_oldest_pending_one(backend: Backend) {
    let config = DeviceauthConfig {
        max_pending_auth_sets_per_device: 2,
        auth_requests_per_minute: 0,
        ..DeviceauthConfig::default()
    };
    let env = Env::with_config(backend, config).await;
    let identity = json!({"serial": "not-a-secret"});
    let owner = DeviceKey::ed25519();
    let (device, token) = env.admitted(&owner, &identity).await;
    // Anyone who knows the identity sends new keys.
    let mut keys = Vec::new();
    for _ in 0..200 {
        let k = DeviceKey::ed25519();
        env.auth(&k, &identity)
            .await
            .assert_status(StatusCode::UNAUTHORIZED);
        keys.push(k);
        env.clock.advance(Duration::from_secs(1));
    }
    let now = env.device_with(&identity).await;
    let sets: Vec<(&str, &str)> = now["auth_sets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["status"].as_str().unwrap(), s["pubkey"].as_str().unwrap()))
        .collect();
    // The accepted set stays, with the two newest pending ones.
    assert_eq!(
        sets,
        [
            ("accepted", owner.public_pem().as_str()),
            ("pending", keys[198].public_pem().as_str()),
            ("pending", keys[199].public_pem().as_str()),
        ],
        "{}",
        env.backend()
    );
    assert_eq!(rows(&env).await, (1, 3));
    assert_eq!(now["id"], device["id"]);
    assert_eq!(now["status"], "accepted");
    // The owner is untouched.
    assert!(env.verify(&token).await.is_ok());
    env.auth(&owner, &identity)
        .await
        .assert_status(StatusCode::OK);
    // A replaced key asking again is a new pending set, replacing the oldest again.
    env.auth(&keys[0], &identity)
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    let pending: Vec<Value> = env.device_with(&identity).await["auth_sets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "pending")
        .map(|s| s["pubkey"].clone())
        .collect();
    assert_eq!(
        pending,
        [json!(keys[199].public_pem()), json!(keys[0].public_pem())]
    );
}

async fn oversized_identities_are_refused(backend: Backend) {
    let env = Env::new(backend).await;
    let key = DeviceKey::ed25519();
    // An identity of exactly the limit in canonical bytes, and one byte more.
    let sized_as = |name: &str, n: usize| {
        let base = canonicalize_value(&json!({ name: "" })).unwrap().text.len();
        json!({ name: "x".repeat(n - base) })
    };
    let sized = |n: usize| sized_as("a", n);
    assert_eq!(canonicalize_value(&sized(4096)).unwrap().text.len(), 4096);
    let before = env.snapshot().await;
    let r = env.auth(&key, &sized(4097)).await;
    assert_eq!(
        r.assert_error(StatusCode::BAD_REQUEST),
        "invalid auth request: id_data: must be at most 4096 bytes"
    );
    let r = env.preauth(&sized(4097), &key.public_pem()).await;
    assert_eq!(
        r.assert_error(StatusCode::BAD_REQUEST),
        "failed to decode preauth request: identity_data: must be at most 4096 bytes"
    );
    assert_eq!(env.snapshot().await, before);
    // Whitespace does not count: the canonical form is measured.
    let mut spaced = serde_json::to_string_pretty(&sized(4096)).unwrap();
    spaced.push_str(&" ".repeat(1000));
    let signed = mender_testkit::AuthRequest::with_raw_id_data(spaced).sign(&key);
    let r = env
        .auth_raw(signed.body, Some(&signed.signature), "application/json")
        .await;
    r.assert_status(StatusCode::UNAUTHORIZED);
    let r = env
        .preauth(&sized_as("b", 4096), &DeviceKey::ed25519().public_pem())
        .await;
    r.assert_status(StatusCode::CREATED);
    assert_eq!(env.devices().await.len(), 2);
}

async fn auth_request_limit_can_be_switched_off(backend: Backend) {
    let config = DeviceauthConfig {
        auth_requests_burst: 1,
        auth_requests_per_minute: 0,
        ..DeviceauthConfig::default()
    };
    let env = Env::with_config(backend, config).await;
    let key = DeviceKey::ed25519();
    for _ in 0..150 {
        let r = env
            .auth_from(&key, &json!({"mac": "same"}), ip("192.0.2.1"))
            .await;
        r.assert_status(StatusCode::UNAUTHORIZED);
    }
    // With the default limit the same loop is throttled after the burst of 100.
    let env = Env::new(backend).await;
    let mut statuses = Vec::new();
    for _ in 0..150 {
        statuses.push(
            env.auth_from(&key, &json!({"mac": "same"}), ip("192.0.2.1"))
                .await
                .status,
        );
    }
    let throttled = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(throttled, 50, "{}", env.backend());
    assert_eq!(
        env.mgmt
            .get(DEVS)
            .send()
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
