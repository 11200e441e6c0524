//! The management API (and login) over HTTP, on both backends.

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use mender_core::jwt::decode_unverified;
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn login_issues_upstream_claims() {
    for env in envs().await {
        let user = env
            .svc
            .create_user("Admin@Example.com", "correct-horse")
            .await
            .unwrap();
        assert_eq!(user.email, "admin@example.com");
        // The email is lower-cased at login too.
        let r = send(
            &env.open,
            req(Method::POST, &format!("{MGMT}/auth/login"))
                .header(
                    header::AUTHORIZATION,
                    basic("ADMIN@example.com", "correct-horse"),
                )
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.headers[header::CONTENT_TYPE], "application/jwt");
        let token = r.text();
        assert!(!token.ends_with('\n') && token.split('.').count() == 3);
        let t = decode_unverified(&token).unwrap();
        assert_eq!(t.header["kid"], json!(0));
        assert_eq!(t.header["alg"], "RS256");
        let c = t.claims;
        let keys: std::collections::BTreeSet<&str> =
            c.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "exp",
                "iat",
                "iss",
                "jti",
                "mender.user",
                "nbf",
                "scp",
                "sub"
            ]
            .into_iter()
            .collect()
        );
        assert_eq!(c["sub"], json!(user.id));
        assert_eq!(c["iss"], "mender.useradm");
        assert_eq!(c["scp"], "mender.*");
        assert_eq!(c["mender.user"], true);
        assert_eq!(c["iat"], c["nbf"]);
        assert_eq!(
            c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
            604_800
        );
        assert_eq!(
            uuid::Uuid::parse_str(c["jti"].as_str().unwrap())
                .unwrap()
                .get_version_num(),
            4
        );
        assert_eq!(env.verify_http(&token).await.status, StatusCode::OK);

        // no_expiry drops exp.
        let r = send(
            &env.open,
            req(Method::POST, &format!("{MGMT}/auth/login"))
                .header(
                    header::AUTHORIZATION,
                    basic("admin@example.com", "correct-horse"),
                )
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(r#"{"no_expiry": true}"#))
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(
            decode_unverified(&r.text())
                .unwrap()
                .claims
                .get("exp")
                .is_none()
        );

        // login_ts is recorded.
        let me = env
            .mgmt(
                &token,
                req(Method::GET, &format!("{MGMT}/users/me"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert!(me.json()["login_ts"].is_string());
    }
}

#[tokio::test]
async fn login_refusals() {
    for env in envs().await {
        env.svc
            .create_user("a@example.com", "password1")
            .await
            .unwrap();
        let login = |auth: Option<String>| {
            let mut b = req(Method::POST, &format!("{MGMT}/auth/login"));
            if let Some(a) = auth {
                b = b.header(header::AUTHORIZATION, a);
            }
            b.body(Body::empty()).unwrap()
        };
        let r = send(&env.open, login(Some(basic("a@example.com", "wrong-pass")))).await;
        assert_eq!(r.assert_error(StatusCode::UNAUTHORIZED), "unauthorized");
        let r = send(
            &env.open,
            login(Some(basic("nobody@example.com", "password1"))),
        )
        .await;
        assert_eq!(r.assert_error(StatusCode::UNAUTHORIZED), "unauthorized");
        let r = send(&env.open, login(None)).await;
        assert_eq!(
            r.assert_error(StatusCode::UNAUTHORIZED),
            "invalid or missing auth header"
        );
        for bad in [
            "Basic !!!notbase64",
            "Basic YWJj",
            "Bearer abc",
            "Basic",
            "Basic //79",
        ] {
            let r = send(&env.open, login(Some(bad.into()))).await;
            assert_eq!(
                r.assert_error(StatusCode::UNAUTHORIZED),
                "invalid or missing auth header",
                "{bad}"
            );
        }
        let r = send(&env.open, login(Some(basic("", "password1")))).await;
        r.assert_error(StatusCode::UNAUTHORIZED);
        // A body that is not JSON options.
        let r = send(
            &env.open,
            req(Method::POST, &format!("{MGMT}/auth/login"))
                .header(header::AUTHORIZATION, basic("a@example.com", "password1"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{nope"))
                .unwrap(),
        )
        .await;
        r.assert_error(StatusCode::BAD_REQUEST);
        let r = send(
            &env.open,
            req(Method::POST, &format!("{MGMT}/auth/login"))
                .header(header::AUTHORIZATION, basic("a@example.com", "password1"))
                .header(header::CONTENT_TYPE, "text/plain")
                .body(Body::from("hello"))
                .unwrap(),
        )
        .await;
        r.assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
}

#[tokio::test]
async fn session_limit_and_logout() {
    let config = UseradmConfigExt::sessions(2);
    for env in envs_with(config.clone()).await {
        env.svc
            .create_user("a@example.com", "password1")
            .await
            .unwrap();
        let t1 = env.login("a@example.com", "password1").await;
        let t2 = env.login("a@example.com", "password1").await;
        let t3 = env.login("a@example.com", "password1").await;
        assert_eq!(
            env.verify_http(&t1)
                .await
                .assert_error(StatusCode::UNAUTHORIZED),
            "unauthorized"
        );
        assert_eq!(env.verify_http(&t2).await.status, StatusCode::OK);
        let r = env
            .mgmt(
                &t3,
                req(Method::POST, &format!("{MGMT}/auth/logout"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
        env.verify_http(&t3)
            .await
            .assert_error(StatusCode::UNAUTHORIZED);
        assert_eq!(env.verify_http(&t2).await.status, StatusCode::OK);
    }
}

struct UseradmConfigExt;
impl UseradmConfigExt {
    fn sessions(n: u32) -> mender_useradm::UseradmConfig {
        mender_useradm::UseradmConfig {
            limit_sessions_per_user: n,
            ..test_config()
        }
    }
}

#[tokio::test]
async fn users_create_list_get_delete() {
    for env in envs().await {
        let (admin_id, tok) = env.user("admin@example.com", "password1").await;
        let r = env
            .mgmt(
                &tok,
                json_req(
                    Method::POST,
                    &format!("{MGMT}/users"),
                    json!({"email": "Bob@Example.com", "password": "bobsecret"}),
                ),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let loc = r.headers[header::LOCATION].to_str().unwrap().to_owned();
        let bob_id = loc.strip_prefix("users/").unwrap().to_owned();
        assert!(r.body.is_empty());

        let r = env
            .mgmt(
                &tok,
                json_req(
                    Method::POST,
                    &format!("{MGMT}/users"),
                    json!({"email": "bob@example.com", "password": "bobsecret2"}),
                ),
            )
            .await;
        assert_eq!(
            r.assert_error(StatusCode::UNPROCESSABLE_ENTITY),
            "user with a given email already exists"
        );
        let r = env
            .mgmt(
                &tok,
                json_req(
                    Method::POST,
                    &format!("{MGMT}/users"),
                    json!({"email": "c@example.com", "password": "short"}),
                ),
            )
            .await;
        assert_eq!(
            r.assert_error(StatusCode::UNPROCESSABLE_ENTITY),
            "password: must be minimum 8 characters long"
        );
        let r = env
            .mgmt(
                &tok,
                json_req(
                    Method::POST,
                    &format!("{MGMT}/users"),
                    json!({"email": "carol1234@example.com", "password": "carol1234"}),
                ),
            )
            .await;
        assert_eq!(
            r.assert_error(StatusCode::UNPROCESSABLE_ENTITY),
            "password is too similar to the email"
        );
        let r = env
            .mgmt(
                &tok,
                json_req(
                    Method::POST,
                    &format!("{MGMT}/users"),
                    json!({"email": "nope"}),
                ),
            )
            .await;
        assert_eq!(
            r.assert_error(StatusCode::BAD_REQUEST),
            "email: must be a valid email address; password: cannot be blank."
        );

        let list = env
            .mgmt(
                &tok,
                req(Method::GET, &format!("{MGMT}/users"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(list.status, StatusCode::OK);
        let users = list.json();
        assert_eq!(users.as_array().unwrap().len(), 2);
        assert!(users[0].get("password").is_none() && users[0]["created_ts"].is_string());
        let q = format!("{MGMT}/users?email=BOB@example.com&id={bob_id}&id=other");
        let r = env
            .mgmt(&tok, req(Method::GET, &q).body(Body::empty()).unwrap())
            .await;
        assert_eq!(r.json().as_array().unwrap().len(), 1);
        assert_eq!(r.json()[0]["id"], json!(bob_id));
        let r = env
            .mgmt(
                &tok,
                req(
                    Method::GET,
                    &format!("{MGMT}/users?created_after=4102444800"),
                )
                .body(Body::empty())
                .unwrap(),
            )
            .await;
        assert_eq!(r.json(), json!([]));
        let r = env
            .mgmt(
                &tok,
                req(Method::GET, &format!("{MGMT}/users?created_before=x"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        r.assert_error(StatusCode::BAD_REQUEST);

        let r = env
            .mgmt(
                &tok,
                req(Method::GET, &format!("{MGMT}/users/{bob_id}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(r.json()["email"], "bob@example.com");
        let r = env
            .mgmt(
                &tok,
                req(Method::GET, &format!("{MGMT}/users/me"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(r.json()["id"], json!(admin_id));
        let r = env
            .mgmt(
                &tok,
                req(Method::GET, &format!("{MGMT}/users/unknown"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(r.assert_error(StatusCode::NOT_FOUND), "user not found");

        let bob_tok = env.login("bob@example.com", "bobsecret").await;
        let r = env
            .mgmt(
                &tok,
                req(Method::DELETE, &format!("{MGMT}/users/{bob_id}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        env.verify_http(&bob_tok)
            .await
            .assert_error(StatusCode::UNAUTHORIZED);
        let r = env
            .mgmt(
                &tok,
                req(Method::DELETE, &format!("{MGMT}/users/{bob_id}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "deleting again is fine");
    }
}

#[tokio::test]
async fn update_users_and_passwords() {
    for env in envs().await {
        let (_, tok) = env.user("me@example.com", "password1").await;
        let other_session = env.login("me@example.com", "password1").await;
        let (bob_id, bob_tok) = env.user("bob@example.com", "bobsecret").await;
        let put = |uri: String, body: serde_json::Value| json_req(Method::PUT, &uri, body);

        let r = env
            .mgmt(&tok, put(format!("{MGMT}/users/me"), json!({})))
            .await;
        assert_eq!(
            r.assert_error(StatusCode::BAD_REQUEST),
            "no update information provided"
        );
        let r = env
            .mgmt(
                &tok,
                put(
                    format!("{MGMT}/users/me"),
                    json!({"password": "newpassword"}),
                ),
            )
            .await;
        assert_eq!(
            r.assert_error(StatusCode::UNPROCESSABLE_ENTITY),
            "current password mismatch"
        );
        let r = env
            .mgmt(
                &tok,
                put(
                    format!("{MGMT}/users/me"),
                    json!({"password": "newpassword", "current_password": "bad"}),
                ),
            )
            .await;
        r.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
        let r = env
            .mgmt(
                &tok,
                put(
                    format!("{MGMT}/users/{bob_id}"),
                    json!({"password": "newpassword"}),
                ),
            )
            .await;
        assert_eq!(
            r.assert_error(StatusCode::UNPROCESSABLE_ENTITY),
            "password cannot be modified"
        );
        let r = env
            .mgmt(
                &tok,
                put(
                    format!("{MGMT}/users/nobody"),
                    json!({"email": "x@example.com"}),
                ),
            )
            .await;
        r.assert_error(StatusCode::NOT_FOUND);
        let r = env
            .mgmt(
                &tok,
                put(
                    format!("{MGMT}/users/me"),
                    json!({"email": "bob@example.com", "current_password": "password1"}),
                ),
            )
            .await;
        assert_eq!(
            r.assert_error(StatusCode::UNPROCESSABLE_ENTITY),
            "user with a given email already exists"
        );

        // Own password change with the current password: other sessions are revoked, this one kept.
        let r = env
            .mgmt(
                &tok,
                put(
                    format!("{MGMT}/users/ME"),
                    json!({"password": "newpassword", "current_password": "password1"}),
                ),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
        assert_eq!(env.verify_http(&tok).await.status, StatusCode::OK);
        env.verify_http(&other_session)
            .await
            .assert_error(StatusCode::UNAUTHORIZED);
        env.login("me@example.com", "newpassword").await;

        // An admin may change another user's email (no current password needed); the
        // user's tokens go.
        let r = env
            .mgmt(
                &tok,
                put(
                    format!("{MGMT}/users/{bob_id}"),
                    json!({"email": "Robert@Example.com"}),
                ),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        env.verify_http(&bob_tok)
            .await
            .assert_error(StatusCode::UNAUTHORIZED);
        env.login("robert@example.com", "bobsecret").await;
    }
}

#[tokio::test]
async fn settings_and_etags() {
    for env in envs().await {
        let (_, tok) = env.user("me@example.com", "password1").await;
        for path in ["settings", "settings/me"] {
            let uri = format!("{MGMT}/{path}");
            let r = env
                .mgmt(&tok, req(Method::GET, &uri).body(Body::empty()).unwrap())
                .await;
            assert_eq!((r.status, r.json()), (StatusCode::OK, json!({})));
            assert!(r.headers.get(header::ETAG).is_none());

            let r = env
                .mgmt(
                    &tok,
                    json_req(Method::POST, &uri, json!({"theme": "dark", "n": [1, 2]})),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
            let r = env
                .mgmt(&tok, req(Method::GET, &uri).body(Body::empty()).unwrap())
                .await;
            assert_eq!(r.json(), json!({"theme": "dark", "n": [1, 2]}));
            let etag = r.headers[header::ETAG].to_str().unwrap().to_owned();

            let mut stale = json_req(Method::POST, &uri, json!({"theme": "light"}));
            stale
                .headers_mut()
                .insert(header::IF_MATCH, "not-the-tag".parse().unwrap());
            let r = env.mgmt(&tok, stale).await;
            assert_eq!(
                r.assert_error(StatusCode::PRECONDITION_FAILED),
                "ETag doesn't match"
            );

            let mut fresh = json_req(Method::POST, &uri, json!({"theme": "light"}));
            fresh
                .headers_mut()
                .insert(header::IF_MATCH, etag.parse().unwrap());
            assert_eq!(env.mgmt(&tok, fresh).await.status, StatusCode::CREATED);
            let r = env
                .mgmt(&tok, req(Method::GET, &uri).body(Body::empty()).unwrap())
                .await;
            assert_eq!(r.json(), json!({"theme": "light"}));
            assert_ne!(r.headers[header::ETAG].to_str().unwrap(), etag);

            let r = env
                .mgmt(&tok, json_req(Method::POST, &uri, json!([1, 2])))
                .await;
            assert_eq!(
                r.assert_error(StatusCode::BAD_REQUEST),
                "cannot parse request body as json"
            );
            let big: serde_json::Map<String, serde_json::Value> =
                (0..1025).map(|i| (format!("k{i}"), json!(i))).collect();
            env.mgmt(
                &tok,
                json_req(Method::POST, &uri, serde_json::Value::Object(big)),
            )
            .await
            .assert_error(StatusCode::BAD_REQUEST);
            env.mgmt(
                &tok,
                json_req(Method::POST, &uri, json!({"k".repeat(129): 1})),
            )
            .await
            .assert_error(StatusCode::BAD_REQUEST);
        }
    }
}

#[tokio::test]
async fn personal_access_tokens() {
    let config = mender_useradm::UseradmConfig {
        limit_tokens_per_user: 2,
        ..test_config()
    };
    for env in envs_with(config.clone()).await {
        let (uid, tok) = env.user("me@example.com", "password1").await;
        let uri = format!("{MGMT}/settings/tokens");
        let r = env
            .mgmt(
                &tok,
                json_req(
                    Method::POST,
                    &uri,
                    json!({"name": "ci", "expires_in": 3600}),
                ),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert_eq!(r.headers[header::CONTENT_TYPE], "application/jwt");
        let pat = r.text();
        let c = decode_unverified(&pat).unwrap().claims;
        assert_eq!(c["sub"], json!(uid));
        assert_eq!(
            c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
            3600
        );
        assert_eq!(c["scp"], "mender.*");

        // Usable as a bearer token; the first use records last_used.
        let r = env
            .mgmt(&pat, req(Method::GET, &uri).body(Body::empty()).unwrap())
            .await;
        assert_eq!(r.status, StatusCode::OK);
        let list = r.json();
        assert_eq!(list.as_array().unwrap().len(), 1);
        let item = &list[0];
        assert_eq!(item["name"], "ci");
        assert_eq!(item["id"], c["jti"]);
        assert!(
            item["expiration_date"].is_string()
                && item["created_ts"].is_string()
                && item["last_used"].is_string()
        );
        assert!(
            !list.to_string().contains(&pat),
            "the token itself is never listed"
        );

        let r = env
            .mgmt(&tok, json_req(Method::POST, &uri, json!({"name": "ci"})))
            .await;
        assert_eq!(
            r.assert_error(StatusCode::CONFLICT),
            "Personal Access Token with a given name already exists"
        );
        let r = env
            .mgmt(
                &tok,
                json_req(
                    Method::POST,
                    &uri,
                    json!({"name": "forever", "expires_in": 0}),
                ),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(
            decode_unverified(&r.text())
                .unwrap()
                .claims
                .get("exp")
                .is_none()
        );
        let r = env
            .mgmt(&tok, json_req(Method::POST, &uri, json!({"name": "third"})))
            .await;
        assert_eq!(
            r.assert_error(StatusCode::UNPROCESSABLE_ENTITY),
            "maximum number of personal acess tokens reached for this user"
        );
        let r = env
            .mgmt(
                &tok,
                json_req(
                    Method::POST,
                    &uri,
                    json!({"name": "x", "expires_in": 31_536_001}),
                ),
            )
            .await;
        assert_eq!(
            r.assert_error(StatusCode::BAD_REQUEST),
            "expires_in: must be no greater than 31536000."
        );
        let r = env
            .mgmt(
                &tok,
                json_req(Method::POST, &uri, json!({"name": "x", "expires_in": -1})),
            )
            .await;
        r.assert_error(StatusCode::BAD_REQUEST);
        let r = env
            .mgmt(&tok, json_req(Method::POST, &uri, json!({"expires_in": 5})))
            .await;
        assert_eq!(
            r.assert_error(StatusCode::BAD_REQUEST),
            "name: cannot be blank."
        );
        let r = env
            .mgmt(
                &tok,
                json_req(
                    Method::POST,
                    &uri,
                    json!({"name": "x", "expires_in": "soon"}),
                ),
            )
            .await;
        assert_eq!(
            r.assert_error(StatusCode::BAD_REQUEST),
            "cannot parse request body as json"
        );

        let jti = c["jti"].as_str().unwrap();
        let r = env
            .mgmt(
                &tok,
                req(Method::DELETE, &format!("{uri}/{jti}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        env.verify_http(&pat)
            .await
            .assert_error(StatusCode::UNAUTHORIZED);
        let r = env
            .mgmt(&tok, req(Method::GET, &uri).body(Body::empty()).unwrap())
            .await;
        assert_eq!(r.json().as_array().unwrap().len(), 1);
    }
}

#[tokio::test]
async fn plans_and_plan_binding() {
    for env in envs().await {
        let (_, tok) = env.user("me@example.com", "password1").await;
        let r = env
            .mgmt(
                &tok,
                req(Method::GET, &format!("{MGMT}/plans?page=2&per_page=10"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!((r.status, r.json()), (StatusCode::OK, json!([])));
        let r = env
            .mgmt(
                &tok,
                req(Method::GET, &format!("{MGMT}/plans?per_page=501"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        r.assert_error(StatusCode::BAD_REQUEST);
        let r = env
            .mgmt(
                &tok,
                req(Method::GET, &format!("{MGMT}/plan_binding"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(
            r.json(),
            json!({"plan": {"name": "", "display_name": "", "features": null}})
        );
    }
}

#[tokio::test]
async fn management_routes_without_identity_are_401() {
    for env in envs().await {
        let r = send(
            &env.management,
            req(Method::GET, &format!("{MGMT}/users"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        r.assert_error(StatusCode::UNAUTHORIZED);
    }
}
