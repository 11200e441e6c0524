//! Hostile input: forged and broken tokens, malformed bodies and headers, oversize and
//! odd input. Always a clear 4xx with the upstream body, and nothing written. On both
//! backends (`hostile::sqlite::<name>`, `hostile::postgres::<name>`).

use axum::body::Bytes;
use axum::http::{StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mender_core::TenantId;
use mender_core::jwt::SigningKey;
use mender_db::testing::Backend;
use mender_testkit::http::TestRequest;
use mender_useradm::store::{UserFilter, UseradmStore};
use serde_json::json;

use crate::common::*;

mender_db::each_backend!(
    forged_and_broken_tokens,
    bad_bodies_write_nothing,
    login_with_hostile_credentials,
    go_bcrypt_hashes_verify,
);

fn claims(sub: &str, jti: &str) -> serde_json::Value {
    json!({"jti": jti, "sub": sub, "iss": "mender.useradm", "iat": 1, "nbf": 1, "exp": 4_102_444_800i64,
           "mender.user": true, "scp": "mender.*"})
}

fn forge(header: serde_json::Value, claims: &serde_json::Value, sig: &str) -> String {
    format!(
        "{}.{}.{sig}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

async fn forged_and_broken_tokens(backend: Backend) {
    let env = env(backend).await;
    let (uid, tok) = env.user("me@example.com", "password1").await;
    let uid = uid.as_str();
    let jti = mender_core::jwt::decode_unverified(&tok).unwrap().claims["jti"]
        .as_str()
        .unwrap()
        .to_owned();
    let c = claims(uid, &jti);
    let an_hour_ahead = start().unix_secs() + 3600;
    let other = SigningKey::generate_rsa().unwrap().0;
    let ours = SigningKey::from_pem(test_pem()).unwrap();
    let sig = tok.rsplit('.').next().unwrap();

    let cases: Vec<(&str, String, StatusCode)> = vec![
        (
            "other key",
            other.encode(Some(0), &c).unwrap(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "unknown kid",
            ours.encode(Some(7), &c).unwrap(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "alg none",
            forge(json!({"alg": "none", "typ": "JWT"}), &c, ""),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "alg HS256",
            forge(json!({"alg": "HS256", "kid": 0}), &c, sig),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "tampered",
            forge(
                json!({"alg": "RS256", "kid": 0, "typ": "JWT"}),
                &claims("someone-else", &jti),
                sig,
            ),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "expired",
            ours.encode(Some(0), &with(&c, "exp", json!(10))).unwrap(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "not valid yet",
            ours.encode(Some(0), &with(&c, "nbf", json!(an_hour_ahead)))
                .unwrap(),
            StatusCode::UNAUTHORIZED,
        ),
        ("garbage", "not.a.token".into(), StatusCode::UNAUTHORIZED),
        ("two parts", "abc.def".into(), StatusCode::UNAUTHORIZED),
        (
            "missing scp",
            ours.encode(Some(0), &without(&c, "scp")).unwrap(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "missing iss",
            ours.encode(Some(0), &without(&c, "iss")).unwrap(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "wrong scope",
            ours.encode(
                Some(0),
                &with(&c, "scp", json!("mender.users.initial.create")),
            )
            .unwrap(),
            StatusCode::FORBIDDEN,
        ),
        (
            "not a user token",
            ours.encode(Some(0), &with(&c, "mender.user", json!(false)))
                .unwrap(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "device token",
            ours.encode(
                Some(0),
                &with(&without(&c, "mender.user"), "mender.device", json!(true)),
            )
            .unwrap(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "unknown jti",
            ours.encode(
                Some(0),
                &with(&c, "jti", json!(uuid::Uuid::new_v4().to_string())),
            )
            .unwrap(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "unknown user",
            ours.encode(Some(0), &with(&c, "sub", json!("ghost")))
                .unwrap(),
            StatusCode::UNAUTHORIZED,
        ),
    ];
    for (name, token, status) in cases {
        let r = env.verify_http(&token).await;
        r.assert_error(status);
        // The gateway path answers the same.
        let through_gateway = match env.gateway(&token).await {
            Ok(client) => client.get(&format!("{MGMT}/users")).send().await.status,
            Err(refused) => refused.status,
        };
        assert_eq!(through_gateway, status, "{name}");
    }
    // A correctly signed token with our claims still verifies.
    let good = ours.encode(Some(0), &c).unwrap();
    env.assert_valid(&good).await;
}

fn without(c: &serde_json::Value, k: &str) -> serde_json::Value {
    let mut c = c.clone();
    c.as_object_mut().unwrap().remove(k);
    c
}

fn with(c: &serde_json::Value, k: &str, v: serde_json::Value) -> serde_json::Value {
    let mut c = c.clone();
    c[k] = v;
    c
}

async fn bad_bodies_write_nothing(backend: Backend) {
    let env = env(backend).await;
    let (_, tok) = env.user("me@example.com", "password1").await;
    let users = format!("{MGMT}/users");
    let raw = async |ct: Option<&str>| {
        let mut r = env.as_user(&tok).await.post(&users);
        if let Some(ct) = ct {
            r = r.header(header::CONTENT_TYPE, ct);
        }
        r
    };
    let big = format!(
        "{{\"email\": \"a@b.io\", \"password\": \"{}\"}}",
        "x".repeat(2 * 1024 * 1024)
    );
    let json = Some("application/json");
    let malformed = [
        (json, "{\"email\": ".to_owned(), StatusCode::BAD_REQUEST),
        (json, "[]".to_owned(), StatusCode::BAD_REQUEST),
        (json, "{\"email\": 5}".to_owned(), StatusCode::BAD_REQUEST),
        (
            Some("text/plain"),
            "{}".to_owned(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (None, "{}".to_owned(), StatusCode::UNSUPPORTED_MEDIA_TYPE),
        (json, big.clone(), StatusCode::PAYLOAD_TOO_LARGE),
    ];
    for (ct, body, status) in malformed {
        raw(ct).await.body(body).send().await.assert_error(status);
    }
    // Chunked (no Content-Length) oversize bodies are refused too.
    chunked(raw(json).await, big.into_bytes())
        .send()
        .await
        .assert_error(StatusCode::PAYLOAD_TOO_LARGE);

    // Very long, unicode and odd emails and passwords.
    let cases = [
        (
            json!({"email": "zoë@exämple.com", "password": "password1"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"email": "ZOË@EXAMPLE.COM", "password": "password1"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"email": format!("{}@example.com", "a".repeat(5000)), "password": "password1"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"email": "x@example.com", "password": "p".repeat(10 * 1024)}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"email": "x@example.com", "password": "p".repeat(73)}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"email": "x@example.com", "password": "ü".repeat(40)}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"email": "x@example.com\u{0000}", "password": "password1"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"email": "x@example.com", "password": null}),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (body, status) in cases {
        let r = raw(None).await.json(&body).send().await;
        let msg = r.assert_error(status);
        assert!(!msg.contains("pppppppp"), "the password is not echoed");
    }
    // 72 bytes exactly is fine.
    let r = raw(None)
        .await
        .json(&json!({"email": "ok@example.com", "password": "q".repeat(72)}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());

    let oss = TenantId::default_tenant();
    let all = env
        .store
        .list_users(&oss, &UserFilter::default())
        .await
        .unwrap();
    let emails: Vec<&str> = all.iter().map(|u| u.email.as_str()).collect();
    assert_eq!(emails, ["me@example.com", "ok@example.com"]);

    // Updates that fail leave the user and the sessions alone.
    let other = env.login("me@example.com", "password1").await;
    let before = env.stored_user(&oss, "me@example.com").await;
    for body in [
        json!({"password": "p".repeat(100), "current_password": "password1"}),
        json!({"email": "not an email", "current_password": "password1"}),
        json!({"email": "ok@example.com", "current_password": "password1"}),
    ] {
        let r = env.put(&tok, "users/me", &body).await;
        assert!(r.status.is_client_error(), "{}", r.text());
    }
    assert_eq!(env.stored_user(&oss, "me@example.com").await, before);
    env.assert_valid(&other).await;
}

/// `req` with a body without Content-Length, delivered in chunks.
fn chunked(req: TestRequest, bytes: Vec<u8>) -> TestRequest {
    let chunks: Vec<Result<Bytes, std::io::Error>> = bytes
        .chunks(64 * 1024)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    req.stream(futures::stream::iter(chunks))
}

async fn login_with_hostile_credentials(backend: Backend) {
    let env = env(backend).await;
    env.create_user("me@example.com", "password1").await;
    for (user, pass) in [
        ("me@example.com", "p".repeat(10 * 1024)),
        ("me@example.com", format!("password1{}", "x".repeat(80))),
        ("zoë@exämple.com", "password1".to_owned()),
        (&*"e".repeat(5000), "password1".to_owned()),
        ("me@example.com", String::new()),
    ] {
        let r = env.login_request(user, &pass).send().await;
        r.assert_error(StatusCode::UNAUTHORIZED);
    }
    // Nothing was issued by the failed logins.
    let oss = TenantId::default_tenant();
    let me = env.stored_user(&oss, "me@example.com").await;
    assert_eq!(me.login_at, None);
    assert_eq!(env.store.delete_user_tokens(&oss, &me.id).await.unwrap(), 0);
}

async fn go_bcrypt_hashes_verify(backend: Backend) {
    // From upstream useradm's tests, made by Go's x/crypto/bcrypt.
    let go_hash = "$2a$10$wMW4kC6o1fY87DokgO.lDektJO7hBXydf4B.yIWmE8hR9jOiO8way";
    // x/crypto/bcrypt's own known-answer vector.
    let go_vector = "$2a$10$XajjQvNhvvRt5GSeFk1xFeyqRrsxkhBkUiQeg0dt.wU1qD4aFDcga";
    let env = env(backend).await;
    let users = format!("{INTERNAL}/tenants/t/users");
    let r = env
        .internal
        .post(&users)
        .json(&json!({"email": "go@example.com", "password_hash": go_hash}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let hash = env
        .stored_user(&"t".into(), "go@example.com")
        .await
        .password_hash;
    assert_eq!(hash.expose_str(), go_hash, "stored as given");
    let matches = async |password: &str, hash: &str| {
        env.svc
            .app()
            .password_matches(password, hash)
            .await
            .unwrap()
    };
    assert!(matches("correcthorsebatterystaple", go_hash).await);
    assert!(!matches("correcthorsebatterystaplf", go_hash).await);
    assert!(matches("allmine", go_vector).await);
    // The $2b$ and $2y$ spellings of the same hash verify too.
    for prefix in ["$2b$", "$2y$"] {
        let h = format!("{prefix}{}", &go_hash[4..]);
        assert!(matches("correcthorsebatterystaple", &h).await);
    }
    // New hashes are written in Go's $2a$ style with the configured cost.
    let u = env.create_user("new@example.com", "password1").await;
    let h = env
        .store
        .get_user(&TenantId::default_tenant(), &u.id)
        .await
        .unwrap()
        .unwrap()
        .password_hash;
    let h = h.expose_str();
    assert!(h.starts_with("$2a$04$") && h.len() == 60, "{h}");
}
