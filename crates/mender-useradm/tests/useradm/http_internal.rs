//! The internal API over HTTP, on both backends.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn health_and_alive() {
    for env in envs().await {
        for path in ["health", "alive"] {
            let r = send(
                &env.internal,
                req(Method::GET, &format!("{INTERNAL}/{path}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
            assert_eq!(r.status, StatusCode::NO_CONTENT);
        }
    }
}

#[tokio::test]
async fn verify_get_post_cookie_and_forwarded_headers() {
    for env in envs().await {
        let (_, tok) = env.user("me@example.com", "password1").await;
        let verify = |method: Method,
                      auth: Option<(&str, String)>,
                      uri: Option<&str>,
                      fwd_method: Option<&str>| {
            let mut b = req(method, &format!("{INTERNAL}/auth/verify"));
            if let Some((h, v)) = auth {
                b = b.header(h, v);
            }
            if let Some(u) = uri {
                b = b.header("X-Forwarded-Uri", u);
            }
            if let Some(m) = fwd_method {
                b = b.header("X-Forwarded-Method", m);
            }
            b.body(Body::empty()).unwrap()
        };
        let uri = Some("/api/management/v1/inventory/devices");
        for m in [Method::GET, Method::POST] {
            let r = send(
                &env.internal,
                verify(
                    m,
                    Some(("authorization", format!("Bearer {tok}"))),
                    uri,
                    Some("GET"),
                ),
            )
            .await;
            assert_eq!(r.status, StatusCode::OK);
        }
        let r = send(
            &env.internal,
            verify(
                Method::GET,
                Some(("authorization", format!("bearer {tok}"))),
                uri,
                Some("PUT"),
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
        let r = send(
            &env.internal,
            verify(
                Method::GET,
                Some(("cookie", format!("a=b; JWT={tok}"))),
                uri,
                Some("GET"),
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "cookie fallback");

        let r = send(&env.internal, verify(Method::GET, None, uri, Some("GET"))).await;
        assert_eq!(
            r.assert_error(StatusCode::UNAUTHORIZED),
            "authorization not present in header"
        );
        let r = send(
            &env.internal,
            verify(
                Method::GET,
                Some(("authorization", format!("Basic {tok}"))),
                uri,
                Some("GET"),
            ),
        )
        .await;
        assert_eq!(
            r.assert_error(StatusCode::UNAUTHORIZED),
            "malformed Authorization header"
        );
        let r = send(
            &env.internal,
            verify(
                Method::GET,
                Some(("authorization", "Bearer".into())),
                uri,
                Some("GET"),
            ),
        )
        .await;
        r.assert_error(StatusCode::UNAUTHORIZED);

        // The forwarded request must be described.
        let auth = || Some(("authorization", format!("Bearer {tok}")));
        send(
            &env.internal,
            verify(Method::GET, auth(), None, Some("GET")),
        )
        .await
        .assert_error(StatusCode::BAD_REQUEST);
        send(
            &env.internal,
            verify(Method::GET, auth(), Some("/api/x"), Some("GET")),
        )
        .await
        .assert_error(StatusCode::BAD_REQUEST);
        send(&env.internal, verify(Method::GET, auth(), uri, None))
            .await
            .assert_error(StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn tenants_and_tenant_users() {
    for env in envs().await {
        let r = send(
            &env.internal,
            json_req(
                Method::POST,
                &format!("{INTERNAL}/tenants"),
                json!({"tenant_id": "t1"}),
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED);
        let r = send(
            &env.internal,
            json_req(Method::POST, &format!("{INTERNAL}/tenants"), json!({})),
        )
        .await;
        r.assert_error(StatusCode::BAD_REQUEST);

        let users = format!("{INTERNAL}/tenants/t1/users");
        let r = send(
            &env.internal,
            json_req(
                Method::POST,
                &users,
                json!({"email": "T@Example.com", "password": "password1"}),
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let go_hash = "$2a$10$wMW4kC6o1fY87DokgO.lDektJO7hBXydf4B.yIWmE8hR9jOiO8way";
        let r = send(
            &env.internal,
            json_req(Method::POST, &users, json!({"id": "fixed-id", "email": "h@example.com", "password_hash": go_hash, "propagate": true})),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let r = send(
            &env.internal,
            json_req(
                Method::POST,
                &users,
                json!({"email": "t@example.com", "password": "password2"}),
            ),
        )
        .await;
        r.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
        let r = send(
            &env.internal,
            json_req(
                Method::POST,
                &users,
                json!({"id": "fixed-id", "email": "o@example.com", "password": "password2"}),
            ),
        )
        .await;
        r.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
        let r = send(
            &env.internal,
            json_req(Method::POST, &users, json!({"email": "b@example.com", "password": "password1", "password_hash": go_hash})),
        )
        .await;
        assert_eq!(
            r.assert_error(StatusCode::BAD_REQUEST),
            "password *or* password_hash must be provided"
        );
        let r = send(
            &env.internal,
            json_req(
                Method::POST,
                &users,
                json!({"email": "b@example.com", "password": "short"}),
            ),
        )
        .await;
        r.assert_error(StatusCode::BAD_REQUEST);
        let r = send(
            &env.internal,
            json_req(
                Method::POST,
                &users,
                json!({"email": "b@example.com", "password_hash": "plain"}),
            ),
        )
        .await;
        r.assert_error(StatusCode::BAD_REQUEST);

        let r = send(
            &env.internal,
            req(Method::GET, &users).body(Body::empty()).unwrap(),
        )
        .await;
        let list = r.json();
        assert_eq!(list.as_array().unwrap().len(), 2);
        assert_eq!(list[0]["email"], "t@example.com");
        let r = send(
            &env.internal,
            req(Method::GET, &format!("{users}?id=fixed-id"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(r.json()[0]["email"], "h@example.com");
        let r = send(
            &env.internal,
            req(Method::GET, &format!("{INTERNAL}/tenants/other/users"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(r.json(), json!([]));

        let r = send(
            &env.internal,
            req(Method::DELETE, &format!("{users}/fixed-id"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        let r = send(
            &env.internal,
            req(Method::GET, &users).body(Body::empty()).unwrap(),
        )
        .await;
        assert_eq!(r.json().as_array().unwrap().len(), 1);
    }
}

#[tokio::test]
async fn delete_tokens() {
    for env in envs().await {
        let (uid, t1) = env.user("a@example.com", "password1").await;
        let (_, t2) = env.user("b@example.com", "password1").await;
        let r = send(
            &env.internal,
            req(Method::DELETE, &format!("{INTERNAL}/tokens"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(
            r.assert_error(StatusCode::BAD_REQUEST),
            "tenant_id must be provided"
        );
        // Another tenant's revocation leaves OSS tokens alone.
        let r = send(
            &env.internal,
            req(Method::DELETE, &format!("{INTERNAL}/tokens?tenant_id=x"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        assert_eq!(env.verify_http(&t1).await.status, StatusCode::OK);
        // With an empty tenant id the whole open-source tenant is meant, but upstream requires it.
        let r = send(
            &env.internal,
            req(Method::DELETE, &format!("{INTERNAL}/tokens?tenant_id="))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        r.assert_error(StatusCode::BAD_REQUEST);
        // Tenant tokens go by tenant, or by tenant and user.
        let tok = |id: &str, user: &str| mender_useradm::store::TokenRecord {
            id: id.into(),
            user_id: user.into(),
            tenant_id: "x".into(),
            name: None,
            issued_at: 1,
            expires_at: None,
            last_used: None,
        };
        for (id, user) in [("k1", "u1"), ("k2", "u1"), ("k3", "u2")] {
            env.store
                .save_session_token(&tok(id, user), 0)
                .await
                .unwrap();
        }
        let del = |q: &str| {
            req(Method::DELETE, &format!("{INTERNAL}/tokens?{q}"))
                .body(Body::empty())
                .unwrap()
        };
        assert_eq!(
            send(&env.internal, del("tenant_id=x&user_id=u1"))
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            env.store.delete_tenant_tokens("x").await.unwrap(),
            1,
            "only u2's token was left"
        );
        env.store
            .save_session_token(&tok("k4", "u3"), 0)
            .await
            .unwrap();
        assert_eq!(
            send(&env.internal, del("tenant_id=x")).await.status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(env.store.delete_tenant_tokens("x").await.unwrap(), 0);
        assert_eq!(env.verify_http(&t1).await.status, StatusCode::OK);
        assert_eq!(env.verify_http(&t2).await.status, StatusCode::OK);
        let _ = uid;
    }
}
