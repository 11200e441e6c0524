//! The device auth request (devices v1) and device tokens (their verification for the gateway
//! and the internal verify endpoint), over HTTP, on both backends.

use std::time::Duration;

use axum::http::{HeaderMap, StatusCode, header};
use mender_core::{Clock, Timestamp};
use mender_db::testing::Backend;
use mender_testkit::{AuthRequest, DeviceKey};
use serde_json::{Value, json};

use crate::common::{DEVS, Env, limit_path};

mender_db::each_backend!(
    every_key_type_authenticates_once_accepted,
    refused_requests_change_nothing,
    reauthentication_is_idempotent_and_bounded,
    preauthorized_device_is_accepted_on_first_request,
    bad_preauthorizations_are_refused,
    device_limit_applies_to_accept_and_preauthorized_auth,
    rejected_decommissioned_or_revoked_tokens_stop_at_once,
    verifier_refuses_non_device_and_forged_tokens,
    verifier_reads_the_token_by_the_one_rule,
    tokens_expire_on_the_service_clock,
    check_in_is_recorded_and_synced_on_the_service_clock,
);

const VERIFY: &str = "/api/internal/v1/devauth/tokens/verify";

async fn every_key_type_authenticates_once_accepted(backend: Backend) {
    let env = Env::new(backend).await;
    let keys = [
        ("rsa1024", DeviceKey::rsa(1024)),
        ("rsa2048", DeviceKey::rsa(2048)),
        ("rsa3072", DeviceKey::rsa(3072)),
        ("rsa4096", DeviceKey::rsa(4096)),
        ("p224", DeviceKey::ecdsa_p224()),
        ("p256", DeviceKey::ecdsa_p256()),
        ("p384", DeviceKey::ecdsa_p384()),
        ("p521", DeviceKey::ecdsa_p521()),
        ("ed25519", DeviceKey::ed25519()),
    ];
    for (name, key) in keys {
        let identity = json!({"mac": format!("00:00:{name}"), "sku": "<b>&"});
        let device = first_request_is_recorded_as_pending(&env, name, &key, &identity).await;
        acceptance_provisions(&env, name, &device).await;
        accepted_device_gets_a_token(&env, name, &key, &identity, &device).await;
    }
}

/// A new device's first request: 401, and the device, its pending auth set and inventory's
/// copy of the identity are recorded; a second request changes nothing.
async fn first_request_is_recorded_as_pending(
    env: &Env,
    name: &str,
    key: &DeviceKey,
    identity: &Value,
) -> Value {
    env.wf().await.clear();
    let r = env.auth(key, identity).await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "{name} {}: {}",
        env.backend(),
        r.text()
    );
    assert_eq!(r.json()["error"], "dev auth: unauthorized");

    let device = env
        .devices()
        .await
        .into_iter()
        .find(|d| d["identity_data"]["mac"] == identity["mac"])
        .unwrap();
    assert_eq!(device["status"], "pending");
    assert_eq!(device["auth_sets"][0]["pubkey"], key.public_pem());
    assert_eq!(&device["identity_data"], identity);
    let inv = env.wf().await.named("update_device_inventory");
    assert_eq!(inv.len(), 1);
    assert_eq!(inv[0]["scope"], "identity");
    assert_eq!(inv[0]["device_id"], device["id"]);
    let attrs: Value = serde_json::from_str(inv[0]["attributes"].as_str().unwrap()).unwrap();
    assert!(
        attrs
            .as_array()
            .unwrap()
            .contains(&json!({"name": "sku", "value": "<b>&", "scope": "identity"}))
    );
    let st = env.wf().await.named("update_device_status");
    assert_eq!(st[0]["device_status"], "pending");
    assert_eq!(
        st[0]["devices"],
        json!([{"id": device["id"], "revision": 2}])
    );

    // Still pending: 401 again, nothing new.
    assert_eq!(
        env.auth(key, identity).await.status,
        StatusCode::UNAUTHORIZED
    );
    device
}

async fn acceptance_provisions(env: &Env, name: &str, device: &Value) {
    env.wf().await.clear();
    assert_eq!(env.accept(device).await.status, StatusCode::NO_CONTENT);
    let prov = env.wf().await.named("provision_device");
    assert_eq!(prov.len(), 1, "{name}");
    assert_eq!(prov[0]["device_id"], device["id"]);
    assert_eq!(prov[0]["status"], "accepted");
    assert_eq!(prov[0]["tenant_id"], "");
    assert_eq!(prov[0]["device"]["id"], device["id"]);
    assert_eq!(
        env.wf().await.named("update_device_status")[0]["device_status"],
        "accepted"
    );
}

async fn accepted_device_gets_a_token(
    env: &Env,
    name: &str,
    key: &DeviceKey,
    identity: &Value,
    device: &Value,
) {
    let r = env.auth(key, identity).await;
    assert_eq!(r.status, StatusCode::OK, "{name}: {}", r.text());
    assert_eq!(r.headers["content-type"], "application/jwt");
    let token = r.text();
    assert!(!token.ends_with('\n') && token.split('.').count() == 3);
    let claims = mender_core::jwt::decode_unverified(&token).unwrap().claims;
    assert_eq!(claims["sub"], device["id"]);
    assert_eq!(claims["jti"], device["auth_sets"][0]["id"]);
    assert_eq!(claims["iss"], "Mender");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        604_800
    );
    // The token's times come from the service's clock.
    assert_eq!(claims["iat"].as_i64().unwrap(), env.clock.now().unix_secs());
    let who = env.verify(&token).await.unwrap();
    assert!(who.is_device);
    assert_eq!(who.subject, device["id"].as_str().unwrap());
}

/// A refused request: name, body, signature header, content type, expected status.
type Case = (
    &'static str,
    Vec<u8>,
    Option<String>,
    &'static str,
    StatusCode,
);

async fn refused_requests_change_nothing(backend: Backend) {
    let env = Env::new(backend).await;
    let key = DeviceKey::ecdsa_p256();
    let other = DeviceKey::ed25519();
    let id = json!({"mac": "aa"});
    let good = AuthRequest::new(&id).sign(&key);
    let tampered = {
        let mut b = good.body.clone();
        let n = b.len();
        b.insert(n - 1, b' ');
        b
    };
    let mismatched = AuthRequest::new(&id).pubkey(other.public_pem()).body(&key);
    let not_json = AuthRequest::with_raw_id_data("{mac").body(&key);
    let array = AuthRequest::with_raw_id_data("[1]").body(&key);
    let json = "application/json";
    let cases: Vec<Case> = vec![
        (
            "no signature",
            good.body.clone(),
            None,
            json,
            StatusCode::BAD_REQUEST,
        ),
        (
            "other key's signature",
            good.body.clone(),
            Some(other.sign(&good.body)),
            json,
            StatusCode::UNAUTHORIZED,
        ),
        (
            "garbage signature",
            good.body.clone(),
            Some("!!!".into()),
            json,
            StatusCode::UNAUTHORIZED,
        ),
        (
            "tampered body",
            tampered,
            Some(good.signature.clone()),
            json,
            StatusCode::UNAUTHORIZED,
        ),
        (
            "key not matching",
            mismatched.clone(),
            Some(key.sign(&mismatched)),
            json,
            StatusCode::UNAUTHORIZED,
        ),
        (
            "id_data not JSON",
            not_json.clone(),
            Some(key.sign(&not_json)),
            json,
            StatusCode::BAD_REQUEST,
        ),
        (
            "id_data an array",
            array.clone(),
            Some(key.sign(&array)),
            json,
            StatusCode::BAD_REQUEST,
        ),
        (
            "bad pubkey",
            AuthRequest::new(&id)
                .pubkey("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
                .body(&key),
            Some("AAAA".into()),
            json,
            StatusCode::BAD_REQUEST,
        ),
        (
            "malformed JSON",
            b"{\"id_data\":".to_vec(),
            Some("AAAA".into()),
            json,
            StatusCode::BAD_REQUEST,
        ),
        (
            "id_data as object",
            br#"{"id_data":{"mac":"a"},"pubkey":"x"}"#.to_vec(),
            Some("AAAA".into()),
            json,
            StatusCode::BAD_REQUEST,
        ),
        (
            "wrong content type",
            good.body.clone(),
            Some(good.signature.clone()),
            "text/plain",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
    ];
    let before = env.snapshot().await;
    for (name, body, sig, ctype, want) in cases {
        let r = env.auth_raw(body, sig.as_deref(), ctype).await;
        assert_eq!(r.status, want, "{name} on {}: {}", env.backend(), r.text());
        assert!(r.json()["error"].is_string(), "{name}");
        assert_eq!(env.snapshot().await, before, "{name} wrote something");
    }
    assert_eq!(
        env.auth_raw(b"".to_vec(), Some("AAAA"), json).await.status,
        StatusCode::BAD_REQUEST
    );
    // Upstream's texts for an empty body and for missing or null fields.
    for (body, want) in [
        (
            "",
            "failed to decode auth request: unexpected end of JSON input",
        ),
        ("{}", "invalid auth request: id_data must be provided"),
        (
            r#"{"id_data":null,"pubkey":"x"}"#,
            "invalid auth request: id_data must be provided",
        ),
        (
            r#"{"id_data":"{}"}"#,
            "invalid auth request: pubkey must be provided",
        ),
    ] {
        let r = env
            .auth_raw(body.as_bytes().to_vec(), Some("AAAA"), json)
            .await;
        assert_eq!(r.assert_error(StatusCode::BAD_REQUEST), want, "{body}");
    }
    assert_eq!(env.wf().await.count(), 0);
    assert_eq!(
        env.auth_raw(vec![b' '; 2 * 1024 * 1024], Some("AAAA"), json)
            .await
            .status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    // The correct request still works afterwards.
    assert_eq!(
        env.auth_raw(good.body, Some(&good.signature), json)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(env.snapshot().await[..2], [1, 1]);
}

async fn reauthentication_is_idempotent_and_bounded(backend: Backend) {
    let env = Env::new(backend).await;
    let key = DeviceKey::ed25519();
    let id = json!({"sn": 12345678901234567890u64});
    env.auth(&key, &id).await;
    let dev = env.devices().await.remove(0);
    env.accept(&dev).await;
    let mut tokens = Vec::new();
    for _ in 0..3 {
        let r = env.auth(&key, &id).await;
        assert_eq!(r.status, StatusCode::OK);
        tokens.push(r.text());
    }
    assert_eq!(env.token_rows().await, 1, "one live token row per auth set");
    assert_eq!(env.devices().await.len(), 1);
    assert!(env.verify(tokens.last().unwrap()).await.is_ok());
    // A rotated key makes a second auth set on the same device.
    let key2 = DeviceKey::rsa(2048);
    assert_eq!(env.auth(&key2, &id).await.status, StatusCode::UNAUTHORIZED);
    let dev = env.devices().await.remove(0);
    assert_eq!(dev["auth_sets"].as_array().unwrap().len(), 2);
    assert_eq!(dev["status"], "accepted");
    assert!(dev["check_in_time"].is_string());
}

async fn preauthorized_device_is_accepted_on_first_request(backend: Backend) {
    let env = Env::new(backend).await;
    let key = DeviceKey::ecdsa_p384();
    let body = json!({"identity_data": {"mac": "pre", "n": 1.0}, "pubkey": key.public_pem()});
    let r = env.mgmt.post(DEVS).json(&body).send().await;
    r.assert_status(StatusCode::CREATED);
    let loc = r.header("location").unwrap().to_owned();
    assert!(loc.starts_with("devices/"));
    let st = env.wf().await.named("update_device_status");
    assert_eq!(st[0]["device_status"], "preauthorized");
    assert_eq!(env.wf().await.named("update_device_inventory").len(), 1);

    let dup = env.mgmt.post(DEVS).json(&body).send().await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert_eq!(
        format!("devices/{}", dup.json()["id"].as_str().unwrap()),
        loc
    );
    assert_eq!(dup.json()["status"], "preauthorized");

    env.wf().await.clear();
    // The device sends the identity with different spacing and number formatting.
    let signed = AuthRequest::with_raw_id_data(r#"{ "n": 1, "mac": "pre" }"#).sign(&key);
    let r = env
        .auth_raw(signed.body, Some(&signed.signature), "application/json")
        .await;
    r.assert_status(StatusCode::OK);
    assert!(env.verify(&r.text()).await.is_ok());
    assert_eq!(env.wf().await.named("provision_device").len(), 1);
    assert_eq!(
        env.wf().await.named("update_device_status")[0]["device_status"],
        "accepted"
    );
    assert_eq!(env.devices().await[0]["status"], "accepted");
}

async fn bad_preauthorizations_are_refused(backend: Backend) {
    let env = Env::new(backend).await;
    let key = DeviceKey::ecdsa_p384();
    let cases = [
        (
            "bad key",
            json!({"identity_data": {"a": 1}, "pubkey": "nope"}),
        ),
        (
            "identity not an object",
            json!({"identity_data": "str", "pubkey": key.public_pem()}),
        ),
        ("no identity", json!({"pubkey": key.public_pem()})),
        (
            "empty identity",
            json!({"identity_data": {}, "pubkey": key.public_pem()}),
        ),
        (
            "empty key",
            json!({"identity_data": {"a": 1}, "pubkey": ""}),
        ),
    ];
    for (name, bad) in cases {
        let r = env.mgmt.post(DEVS).json(&bad).send().await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{name}: {}", r.text());
    }
    // Upstream's texts: blank fields together (missing and null are blank), then the key.
    let texts = [
        (
            "{}",
            "identity_data: cannot be blank; pubkey: cannot be blank.",
        ),
        (
            r#"{"identity_data":null,"pubkey":null}"#,
            "identity_data: cannot be blank; pubkey: cannot be blank.",
        ),
        (r#"{"identity_data":{"a":1}}"#, "pubkey: cannot be blank."),
        (
            r#"{"identity_data":{},"pubkey":"x"}"#,
            "identity_data: cannot be blank.",
        ),
        (
            r#"{"identity_data":{"a":1},"pubkey":"x"}"#,
            "cannot decode public key",
        ),
        ("", "EOF"),
    ];
    for (body, want) in texts {
        let r = env.mgmt.post(DEVS).json_text(body).send().await;
        assert_eq!(
            r.assert_error(StatusCode::BAD_REQUEST),
            format!("failed to decode preauth request: {want}"),
            "{body}"
        );
    }
    let r = env
        .mgmt
        .post(DEVS)
        .json_text(vec![b' '; 2 * 1024 * 1024])
        .send()
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(env.snapshot().await, [0, 0, 0, 0]);
}

async fn device_limit_applies_to_accept_and_preauthorized_auth(backend: Backend) {
    let env = Env::new(backend).await;
    env.put_limit("", json!(1))
        .await
        .assert_status(StatusCode::NO_CONTENT);
    assert_eq!(env.user_limit().await, json!({"limit": 1}));
    let (k1, k2, k3) = (
        DeviceKey::ed25519(),
        DeviceKey::ed25519(),
        DeviceKey::ed25519(),
    );
    env.auth(&k1, &json!({"d": 1})).await;
    env.auth(&k2, &json!({"d": 2})).await;
    let devs = env.devices().await;
    assert_eq!(env.accept(&devs[0]).await.status, StatusCode::NO_CONTENT);
    let r = env.accept(&devs[1]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.json()["error"],
        "maximum number of accepted devices reached"
    );
    // Re-accepting the accepted device is fine.
    assert_eq!(env.accept(&devs[0]).await.status, StatusCode::NO_CONTENT);

    let pre = json!({"identity_data": {"d": 3}, "pubkey": k3.public_pem()});
    assert_eq!(
        env.mgmt.post(DEVS).json(&pre).send().await.status,
        StatusCode::CREATED
    );
    let r = env.auth(&k3, &json!({"d": 3})).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["error"], "unauthorized");

    // Lifting the limit lets both through.
    assert_eq!(
        env.internal.delete(&limit_path("")).send().await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(env.auth(&k3, &json!({"d": 3})).await.status, StatusCode::OK);
    assert_eq!(env.accept(&devs[1]).await.status, StatusCode::NO_CONTENT);
    let other = "/api/internal/v1/devauth/tenant/t1/limits/other";
    assert_eq!(
        env.internal.get(other).send().await.status,
        StatusCode::BAD_REQUEST
    );
}

async fn rejected_decommissioned_or_revoked_tokens_stop_at_once(backend: Backend) {
    let env = Env::new(backend).await;
    let mut devices = Vec::new();
    for i in 0..3 {
        let key = DeviceKey::ed25519();
        let id = json!({"i": i});
        env.auth(&key, &id).await;
        let dev = env.device_with(&id).await;
        env.accept(&dev).await;
        let token = env.auth(&key, &id).await.text();
        assert!(env.verify(&token).await.is_ok());
        devices.push((dev, token, key, id));
    }
    rejected_token_stops(&env, &devices[0].0, &devices[0].1).await;
    let (dev, token, key, id) = &devices[1];
    decommissioned_token_stops(&env, dev, token, key, id).await;
    revoked_token_stops(&env, &devices[2].0, &devices[2].1).await;
}

async fn rejected_token_stops(env: &Env, dev: &Value, token: &str) {
    env.set_status(dev, "rejected")
        .await
        .assert_status(StatusCode::NO_CONTENT);
    assert_eq!(
        env.verify(token).await.unwrap_err().status,
        StatusCode::UNAUTHORIZED
    );
}

async fn decommissioned_token_stops(
    env: &Env,
    dev: &Value,
    token: &str,
    key: &DeviceKey,
    id: &Value,
) {
    let did = dev["id"].as_str().unwrap();
    env.wf().await.clear();
    let r = env.decommission(did).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        env.verify(token).await.unwrap_err().status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        env.wf().await.named("decommission_device"),
        vec![
            json!({"request_id": env.wf().await.named("decommission_device")[0]["request_id"], "device_id": did, "tenant_id": ""})
        ]
    );
    assert_eq!(env.auth(key, id).await.status, StatusCode::UNAUTHORIZED);
    // The workflow's last step deletes the device (empty tenant segment in the OSS server).
    let internal_device = format!("/api/internal/v1/devauth/tenants//devices/{did}");
    env.internal
        .delete(&internal_device)
        .send()
        .await
        .assert_status(StatusCode::NO_CONTENT);
    assert_eq!(
        env.mgmt.get(&format!("{DEVS}/{did}")).send().await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        env.internal.delete(&internal_device).send().await.status,
        StatusCode::NOT_FOUND
    );
    // A device that keeps running comes back as a new pending device.
    assert_eq!(env.auth(key, id).await.status, StatusCode::UNAUTHORIZED);
    let again = env.device_with(id).await;
    assert_eq!(again["status"], "pending");
    assert_ne!(again["id"], did);
}

async fn revoked_token_stops(env: &Env, dev: &Value, token: &str) {
    let jti = dev["auth_sets"][0]["id"].as_str().unwrap();
    let revoke = format!("/api/management/v2/devauth/tokens/{jti}");
    assert_eq!(
        env.mgmt.delete(&revoke).send().await.status,
        StatusCode::NO_CONTENT
    );
    assert!(env.verify(token).await.is_err());
    assert_eq!(
        env.mgmt.delete(&revoke).send().await.status,
        StatusCode::NOT_FOUND
    );
}

async fn verifier_refuses_non_device_and_forged_tokens(backend: Backend) {
    let env = Env::new(backend).await;
    let key = DeviceKey::ed25519();
    let (dev, good) = env.admitted(&key, &json!({"x": 1})).await;
    let claims = mender_core::jwt::decode_unverified(&good).unwrap().claims;
    // Same key, same ids, but not a device token.
    let mut user = claims.clone();
    user.as_object_mut().unwrap().remove("mender.device");
    user["mender.user"] = json!(true);
    let user = env.signer.encode(None, &user).unwrap();
    assert!(env.verify(&user).await.is_err());
    // Signed by another key.
    let (other, _) = mender_core::jwt::SigningKey::generate_rsa().unwrap();
    assert!(
        env.verify(&other.encode(None, &claims).unwrap())
            .await
            .is_err()
    );
    // Subject swapped to another device.
    let mut swapped = claims.clone();
    swapped["sub"] = json!("someone-else");
    assert!(
        env.verify(&env.signer.encode(None, &swapped).unwrap())
            .await
            .is_err()
    );
    // Not valid yet: `nbf` one second ahead of the service's clock.
    let mut early = claims.clone();
    early["nbf"] = json!(claims["iat"].as_i64().unwrap() + 1);
    let early = env.signer.encode(None, &early).unwrap();
    assert_eq!(
        env.verify(&early).await.unwrap_err().status,
        StatusCode::UNAUTHORIZED
    );
    env.clock.advance(Duration::from_secs(1));
    assert!(env.verify(&early).await.is_ok(), "valid from nbf on");
    assert!(env.verify("garbage").await.is_err());
    // The internal verify endpoint answers like the verifier.
    for (tok, want) in [
        (good.as_str(), StatusCode::OK),
        (user.as_str(), StatusCode::UNAUTHORIZED),
    ] {
        let r = env.internal.post(VERIFY).bearer(tok).send().await;
        assert_eq!(r.status, want);
    }
    assert_eq!(
        env.internal.get(VERIFY).send().await.status,
        StatusCode::UNAUTHORIZED
    );
    // Internal token deletion: a tenant is required.
    let did = dev["id"].as_str().unwrap();
    for (query, want) in [
        (String::new(), StatusCode::BAD_REQUEST),
        (
            format!("?tenant_id=x&device_id={did}"),
            StatusCode::NO_CONTENT,
        ),
    ] {
        let uri = format!("/api/internal/v1/devauth/tokens{query}");
        assert_eq!(env.internal.delete(&uri).send().await.status, want, "{uri}");
    }
    assert!(
        env.verify(&good).await.is_ok(),
        "another tenant's deletion does not touch ours"
    );
}

/// Request headers as name/value pairs.
type Headers<'a> = &'a [(header::HeaderName, &'a str)];

/// The gateway's verifier and the internal verify endpoint take the token by
/// `mender_core::identity::request_token`: a present `Authorization` header must be a
/// well-formed bearer header (no falling back to the cookie), and the `JWT` cookie may be
/// quoted.
async fn verifier_reads_the_token_by_the_one_rule(backend: Backend) {
    let env = Env::new(backend).await;
    let (_, token) = env.admitted(&DeviceKey::ed25519(), &json!({"r": 1})).await;
    let bearer = format!("Bearer {token}");
    let lower = format!("bearer {token}");
    let cookie = format!("JWT={token}");
    let quoted = format!("a=b; JWT=\"{token}\"");
    let cases: [(&str, Headers<'_>, StatusCode); 7] = [
        (
            "bearer",
            &[(header::AUTHORIZATION, &bearer)],
            StatusCode::OK,
        ),
        (
            "scheme in lower case",
            &[(header::AUTHORIZATION, &lower)],
            StatusCode::OK,
        ),
        ("cookie", &[(header::COOKIE, &cookie)], StatusCode::OK),
        (
            "quoted cookie",
            &[(header::COOKIE, &quoted)],
            StatusCode::OK,
        ),
        ("nothing", &[], StatusCode::UNAUTHORIZED),
        (
            "other scheme, good cookie",
            &[
                (header::AUTHORIZATION, "Basic dXNlcjpwdw=="),
                (header::COOKIE, &cookie),
            ],
            StatusCode::UNAUTHORIZED,
        ),
        (
            "empty bearer, good cookie",
            &[(header::AUTHORIZATION, "Bearer"), (header::COOKIE, &cookie)],
            StatusCode::UNAUTHORIZED,
        ),
    ];
    for (name, headers, want) in cases {
        let mut map = HeaderMap::new();
        let mut req = env.internal.post(VERIFY);
        for (k, v) in headers {
            map.append(k.clone(), v.parse().unwrap());
            req = req.header(k.clone(), v);
        }
        let got = env.verify_headers(map).await.map_err(|e| e.status);
        match want {
            StatusCode::OK => assert!(got.is_ok(), "{name}: {got:?}"),
            _ => assert_eq!(got.unwrap_err(), want, "{name}"),
        }
        assert_eq!(req.send().await.status, want, "{name} (internal endpoint)");
    }
}

async fn tokens_expire_on_the_service_clock(backend: Backend) {
    let config = mender_deviceauth::DeviceauthConfig {
        jwt_exp_timeout: 3600,
        ..Default::default()
    };
    let env = Env::with_config(backend, config).await;
    let (_, token) = env.admitted(&DeviceKey::ed25519(), &json!({"e": 1})).await;
    let claims = mender_core::jwt::decode_unverified(&token).unwrap().claims;
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    env.clock.advance(Duration::from_secs(3599));
    assert!(env.verify(&token).await.is_ok(), "one second left");
    env.clock.advance(Duration::from_secs(1));
    assert_eq!(
        env.verify(&token).await.unwrap_err().status,
        StatusCode::UNAUTHORIZED
    );
}

async fn check_in_is_recorded_and_synced_on_the_service_clock(backend: Backend) {
    let env = Env::new(backend).await;
    // Start just after midnight UTC so that the day changes only when the test says so.
    let day = 86_400;
    let midnight = env.clock.now().unix_secs() / day * day;
    env.clock.set(Timestamp::from_unix_secs(midnight + 10));
    let (dev, token) = env.admitted(&DeviceKey::ed25519(), &json!({"c": 1})).await;
    let did = dev["id"].as_str().unwrap().to_owned();
    let check_in = || async {
        let d = env.mgmt.get(&format!("{DEVS}/{did}")).send().await.json();
        d["check_in_time"].as_str().unwrap_or_default().to_owned()
    };
    let synced = || {
        env.wf_now()
            .named("update_device_inventory")
            .into_iter()
            .filter(|w| w["scope"] == "system")
            .map(|w| {
                let attrs: Value = serde_json::from_str(w["attributes"].as_str().unwrap()).unwrap();
                assert_eq!(attrs[0]["name"], "check_in_time");
                attrs[0]["value"].as_str().unwrap().to_owned()
            })
            .collect::<Vec<_>>()
    };
    let rfc = |secs: i64| Timestamp::from_unix_secs(secs).to_rfc3339();
    // Issuing the token checked the device in, and inventory heard of it.
    assert_eq!(check_in().await, rfc(midnight + 10));
    assert_eq!(synced(), vec![rfc(midnight + 10)]);

    // Within a minute nothing is written.
    env.wf().await.clear();
    env.clock.advance(Duration::from_secs(59));
    env.verify(&token).await.unwrap();
    assert_eq!(check_in().await, rfc(midnight + 10));
    // A minute later the time is recorded; the same day, so inventory is not told again.
    env.clock.advance(Duration::from_millis(1_500));
    env.verify(&token).await.unwrap();
    assert_eq!(check_in().await, rfc(midnight + 70));
    assert!(synced().is_empty());
    // The next day inventory is told again, in whole seconds.
    env.clock.advance(Duration::from_secs(day as u64));
    env.verify(&token).await.unwrap();
    assert_eq!(check_in().await, rfc(midnight + day + 70));
    assert_eq!(synced(), vec![rfc(midnight + day + 70)]);
}
