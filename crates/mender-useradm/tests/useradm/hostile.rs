//! Hostile input: forged and broken tokens, malformed bodies and headers, oversize and
//! odd input. Always a clear 4xx with the upstream body, and nothing written.

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mender_core::jwt::SigningKey;
use mender_useradm::store::UserFilter;
use serde_json::json;

use crate::common::*;

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

#[tokio::test]
async fn forged_and_broken_tokens() {
    for env in envs().await {
        let (uid, tok) = env.user("me@example.com", "password1").await;
        let jti = mender_core::jwt::decode_unverified(&tok).unwrap().claims["jti"]
            .as_str()
            .unwrap()
            .to_owned();
        let c = claims(&uid, &jti);
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
            let r = env
                .mgmt(
                    &token,
                    req(Method::GET, &format!("{MGMT}/users"))
                        .body(Body::empty())
                        .unwrap(),
                )
                .await;
            assert_eq!(r.status, status, "{name} on {}", env.backend);
        }
        // A correctly signed token with our claims still verifies.
        let good = ours.encode(Some(0), &c).unwrap();
        assert_eq!(env.verify_http(&good).await.status, StatusCode::OK);
    }
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

#[tokio::test]
async fn bad_bodies_write_nothing() {
    for env in envs().await {
        let (_, tok) = env.user("me@example.com", "password1").await;
        let users = format!("{MGMT}/users");
        let raw = |ct: Option<&str>, body: Body| {
            let mut b = req(Method::POST, &users);
            if let Some(ct) = ct {
                b = b.header(header::CONTENT_TYPE, ct);
            }
            b.body(body).unwrap()
        };
        env.mgmt(
            &tok,
            raw(Some("application/json"), Body::from("{\"email\": ")),
        )
        .await
        .assert_error(StatusCode::BAD_REQUEST);
        env.mgmt(&tok, raw(Some("application/json"), Body::from("[]")))
            .await
            .assert_error(StatusCode::BAD_REQUEST);
        env.mgmt(
            &tok,
            raw(Some("application/json"), Body::from("{\"email\": 5}")),
        )
        .await
        .assert_error(StatusCode::BAD_REQUEST);
        env.mgmt(&tok, raw(Some("text/plain"), Body::from("{}")))
            .await
            .assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE);
        env.mgmt(&tok, raw(None, Body::from("{}")))
            .await
            .assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let big = format!(
            "{{\"email\": \"a@b.io\", \"password\": \"{}\"}}",
            "x".repeat(2 * 1024 * 1024)
        );
        env.mgmt(&tok, raw(Some("application/json"), Body::from(big.clone())))
            .await
            .assert_error(StatusCode::PAYLOAD_TOO_LARGE);
        // Chunked (no Content-Length) oversize bodies are refused too.
        let stream = chunked(big.into_bytes());
        env.mgmt(&tok, raw(Some("application/json"), stream))
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
            let r = env
                .mgmt(&tok, json_req(Method::POST, &users, body.clone()))
                .await;
            let msg = r.assert_error(status);
            assert!(!msg.contains("pppppppp"), "the password is not echoed");
        }
        // 72 bytes exactly is fine.
        let r = env
            .mgmt(
                &tok,
                json_req(
                    Method::POST,
                    &users,
                    json!({"email": "ok@example.com", "password": "q".repeat(72)}),
                ),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());

        let all = env
            .store
            .list_users("", &UserFilter::default())
            .await
            .unwrap();
        let emails: Vec<&str> = all.iter().map(|u| u.email.as_str()).collect();
        assert_eq!(
            emails,
            ["me@example.com", "ok@example.com"],
            "{}",
            env.backend
        );

        // Updates that fail leave the user and the sessions alone.
        let other = env.login("me@example.com", "password1").await;
        let before = env
            .store
            .get_user_by_email("", "me@example.com")
            .await
            .unwrap()
            .unwrap();
        for body in [
            json!({"password": "p".repeat(100), "current_password": "password1"}),
            json!({"email": "not an email", "current_password": "password1"}),
            json!({"email": "ok@example.com", "current_password": "password1"}),
        ] {
            let r = env
                .mgmt(&tok, json_req(Method::PUT, &format!("{users}/me"), body))
                .await;
            assert!(r.status.is_client_error(), "{}", r.text());
        }
        assert_eq!(
            env.store
                .get_user_by_email("", "me@example.com")
                .await
                .unwrap()
                .unwrap(),
            before
        );
        assert_eq!(env.verify_http(&other).await.status, StatusCode::OK);
    }
}

/// A body without Content-Length, delivered in chunks.
fn chunked(bytes: Vec<u8>) -> Body {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    Body::from_stream(futures::stream::iter(chunks))
}

#[tokio::test]
async fn login_with_hostile_credentials() {
    for env in envs().await {
        env.svc
            .create_user("me@example.com", "password1")
            .await
            .unwrap();
        for (user, pass) in [
            ("me@example.com", "p".repeat(10 * 1024)),
            ("me@example.com", format!("password1{}", "x".repeat(80))),
            ("zoë@exämple.com", "password1".to_owned()),
            (&*"e".repeat(5000), "password1".to_owned()),
            ("me@example.com", String::new()),
        ] {
            let r = send(
                &env.open,
                req(Method::POST, &format!("{MGMT}/auth/login"))
                    .header(header::AUTHORIZATION, basic(user, &pass))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
            r.assert_error(StatusCode::UNAUTHORIZED);
        }
        // Nothing was issued by the failed logins.
        let me = env
            .store
            .get_user_by_email("", "me@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(me.login_at, None);
        assert_eq!(env.store.delete_user_tokens("", &me.id).await.unwrap(), 0);
    }
}

#[tokio::test]
async fn go_bcrypt_hashes_verify() {
    // From upstream useradm's tests, made by Go's x/crypto/bcrypt.
    let go_hash = "$2a$10$wMW4kC6o1fY87DokgO.lDektJO7hBXydf4B.yIWmE8hR9jOiO8way";
    // x/crypto/bcrypt's own known-answer vector.
    let go_vector = "$2a$10$XajjQvNhvvRt5GSeFk1xFeyqRrsxkhBkUiQeg0dt.wU1qD4aFDcga";
    for env in envs().await {
        let users = format!("{INTERNAL}/tenants/t/users");
        let r = send(
            &env.internal,
            json_req(
                Method::POST,
                &users,
                json!({"email": "go@example.com", "password_hash": go_hash}),
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED);
        let hash = env
            .store
            .get_user_by_email("t", "go@example.com")
            .await
            .unwrap()
            .unwrap()
            .password_hash;
        assert_eq!(hash, go_hash, "stored as given");
        assert!(
            env.svc
                .app()
                .password_matches("correcthorsebatterystaple", go_hash)
                .await
        );
        assert!(
            !env.svc
                .app()
                .password_matches("correcthorsebatterystaplf", go_hash)
                .await
        );
        assert!(env.svc.app().password_matches("allmine", go_vector).await);
        // The $2b$ and $2y$ spellings of the same hash verify too.
        for prefix in ["$2b$", "$2y$"] {
            let h = format!("{prefix}{}", &go_hash[4..]);
            assert!(
                env.svc
                    .app()
                    .password_matches("correcthorsebatterystaple", &h)
                    .await
            );
        }
        // New hashes are written in Go's $2a$ style with the configured cost.
        let u = env
            .svc
            .create_user("new@example.com", "password1")
            .await
            .unwrap();
        let h = env
            .store
            .get_user("", &u.id)
            .await
            .unwrap()
            .unwrap()
            .password_hash;
        assert!(h.starts_with("$2a$04$") && h.len() == 60, "{h}");
    }
}
