//! The internal API over HTTP, on both backends (`http_internal::sqlite::<name>`,
//! `http_internal::postgres::<name>`).

use axum::http::{Method, StatusCode};
use mender_core::{TenantId, Timestamp};
use mender_db::testing::Backend;
use mender_testkit::http::TestResponse;
use mender_useradm::store::{TokenRecord, UseradmStore};
use serde_json::json;

use crate::common::*;

mender_db::each_backend!(
    health_and_alive,
    verify_get_post_cookie_and_forwarded_headers,
    tenants_and_tenant_users,
    delete_tokens,
);

async fn health_and_alive(backend: Backend) {
    let env = env(backend).await;
    for path in ["health", "alive"] {
        let r = env.internal.get(&format!("{INTERNAL}/{path}")).send().await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{path}");
    }
}

/// One call of the verify endpoint: its method, one auth header, and the forwarded request.
struct Verify<'a> {
    method: Method,
    auth: Option<(&'a str, String)>,
    uri: Option<&'a str>,
    fwd_method: Option<&'a str>,
}

async fn verify(env: &Env, v: &Verify<'_>) -> TestResponse {
    let mut r = env
        .internal
        .request(v.method.clone(), &format!("{INTERNAL}/auth/verify"));
    if let Some((h, value)) = &v.auth {
        r = r.header(*h, value);
    }
    if let Some(u) = v.uri {
        r = r.header("X-Forwarded-Uri", u);
    }
    if let Some(m) = v.fwd_method {
        r = r.header("X-Forwarded-Method", m);
    }
    r.send().await
}

async fn verify_get_post_cookie_and_forwarded_headers(backend: Backend) {
    let env = env(backend).await;
    let (_, tok) = env.user("me@example.com", "password1").await;
    let uri = Some("/api/management/v1/inventory/devices");
    let call = |method: Method, auth: Option<(&'static str, String)>, fwd_method| Verify {
        method,
        auth,
        uri,
        fwd_method,
    };
    let bearer = || Some(("authorization", format!("Bearer {tok}")));

    let accepted = [
        ("GET", call(Method::GET, bearer(), Some("GET"))),
        ("POST", call(Method::POST, bearer(), Some("GET"))),
        (
            "scheme in any case",
            call(
                Method::GET,
                Some(("authorization", format!("bearer {tok}"))),
                Some("PUT"),
            ),
        ),
        (
            "cookie fallback",
            call(
                Method::GET,
                Some(("cookie", format!("a=b; JWT={tok}"))),
                Some("GET"),
            ),
        ),
    ];
    for (name, v) in &accepted {
        assert_eq!(verify(&env, v).await.status, StatusCode::OK, "{name}");
    }

    let malformed = Some("malformed Authorization header");
    let refused = [
        (
            call(Method::GET, None, Some("GET")),
            StatusCode::UNAUTHORIZED,
            Some("authorization not present in header"),
        ),
        (
            call(
                Method::GET,
                Some(("authorization", format!("Basic {tok}"))),
                Some("GET"),
            ),
            StatusCode::UNAUTHORIZED,
            malformed,
        ),
        (
            call(
                Method::GET,
                Some(("authorization", "Bearer".into())),
                Some("GET"),
            ),
            StatusCode::UNAUTHORIZED,
            malformed,
        ),
        // The one token rule: anything after the token makes the header malformed.
        (
            call(
                Method::GET,
                Some(("authorization", format!("Bearer {tok} extra"))),
                Some("GET"),
            ),
            StatusCode::UNAUTHORIZED,
            malformed,
        ),
        // The forwarded request must be described.
        (
            Verify {
                uri: None,
                ..call(Method::GET, bearer(), Some("GET"))
            },
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            Verify {
                uri: Some("/api/x"),
                ..call(Method::GET, bearer(), Some("GET"))
            },
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            call(Method::GET, bearer(), None),
            StatusCode::BAD_REQUEST,
            None,
        ),
    ];
    for (v, status, message) in &refused {
        let got = verify(&env, v).await.assert_error(*status);
        if let Some(m) = message {
            assert_eq!(got, *m, "{:?}", v.auth);
        }
    }
}

async fn tenants_and_tenant_users(backend: Backend) {
    let env = env(backend).await;
    let tenants = format!("{INTERNAL}/tenants");
    let r = env
        .internal
        .post(&tenants)
        .json(&json!({"tenant_id": "t1"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    env.internal
        .post(&tenants)
        .json(&json!({}))
        .send()
        .await
        .assert_error(StatusCode::BAD_REQUEST);

    let users = format!("{INTERNAL}/tenants/t1/users");
    let post = async |body: serde_json::Value| env.internal.post(&users).json(&body).send().await;
    let r = post(json!({"email": "T@Example.com", "password": "password1"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let go_hash = "$2a$10$wMW4kC6o1fY87DokgO.lDektJO7hBXydf4B.yIWmE8hR9jOiO8way";
    let r = post(json!({"id": "fixed-id", "email": "h@example.com", "password_hash": go_hash, "propagate": true})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());

    let refusals = [
        (
            json!({"email": "t@example.com", "password": "password2"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
        ),
        (
            json!({"id": "fixed-id", "email": "o@example.com", "password": "password2"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
        ),
        (
            json!({"email": "b@example.com", "password": "password1", "password_hash": go_hash}),
            StatusCode::BAD_REQUEST,
            Some("password *or* password_hash must be provided"),
        ),
        (
            json!({"email": "b@example.com", "password": "short"}),
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            json!({"email": "b@example.com", "password_hash": "plain"}),
            StatusCode::BAD_REQUEST,
            None,
        ),
    ];
    for (body, status, message) in refusals {
        let got = post(body.clone()).await.assert_error(status);
        if let Some(m) = message {
            assert_eq!(got, m, "{body}");
        }
    }

    let list = env.internal.get(&users).send().await.json();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["email"], "t@example.com");
    let r = env
        .internal
        .get(&format!("{users}?id=fixed-id"))
        .send()
        .await;
    assert_eq!(r.json()[0]["email"], "h@example.com");
    let r = env
        .internal
        .get(&format!("{INTERNAL}/tenants/other/users"))
        .send()
        .await;
    assert_eq!(r.json(), json!([]));

    let r = env
        .internal
        .delete(&format!("{users}/fixed-id"))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = env.internal.get(&users).send().await;
    assert_eq!(r.json().as_array().unwrap().len(), 1);
}

async fn delete_tokens(backend: Backend) {
    let env = env(backend).await;
    let (_, t1) = env.user("a@example.com", "password1").await;
    let (_, t2) = env.user("b@example.com", "password1").await;
    let del = async |q: &str| {
        env.internal
            .delete(&format!("{INTERNAL}/tokens{q}"))
            .send()
            .await
    };
    assert_eq!(
        del("").await.assert_error(StatusCode::BAD_REQUEST),
        "tenant_id must be provided"
    );
    // Another tenant's revocation leaves OSS tokens alone.
    assert_eq!(del("?tenant_id=x").await.status, StatusCode::NO_CONTENT);
    env.assert_valid(&t1).await;
    // With an empty tenant id the whole open-source tenant is meant, but upstream requires it.
    del("?tenant_id=")
        .await
        .assert_error(StatusCode::BAD_REQUEST);

    // Tenant tokens go by tenant, or by tenant and user.
    let x = TenantId::from("x");
    let tok = |id: &str, user: &str| TokenRecord {
        id: id.into(),
        user_id: user.into(),
        tenant_id: x.clone(),
        name: None,
        issued_at: Timestamp::from_unix_secs(1),
        expires_at: None,
        last_used: None,
    };
    for (id, user) in [("k1", "u1"), ("k2", "u1"), ("k3", "u2")] {
        env.store
            .save_session_token(&tok(id, user), 0)
            .await
            .unwrap();
    }
    assert_eq!(
        del("?tenant_id=x&user_id=u1").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        env.store.delete_tenant_tokens(&x).await.unwrap(),
        1,
        "only u2's token was left"
    );
    env.store
        .save_session_token(&tok("k4", "u3"), 0)
        .await
        .unwrap();
    assert_eq!(del("?tenant_id=x").await.status, StatusCode::NO_CONTENT);
    assert_eq!(env.store.delete_tenant_tokens(&x).await.unwrap(), 0);
    env.assert_valid(&t1).await;
    env.assert_valid(&t2).await;
}
