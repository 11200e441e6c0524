//! The management API (and login) over HTTP, on both backends
//! (`http_management::sqlite::<name>`, `http_management::postgres::<name>`).

use std::time::Duration;

use axum::http::{StatusCode, header};
use mender_core::UserId;
use mender_core::jwt::decode_unverified;
use mender_db::testing::Backend;
use mender_useradm::UseradmConfig;
use serde_json::{Value, json};

use crate::common::*;

mender_db::each_backend!(
    login_issues_upstream_claims,
    login_refusals,
    session_limit_and_logout,
    times_come_from_the_clock,
    users_create_list_get_delete,
    update_users_and_passwords,
    settings_and_etags,
    personal_access_tokens,
    personal_token_last_use_is_recorded_rarely,
    plans_and_plan_binding,
    management_routes_without_identity_are_401,
);

/// The claims of `token`, unverified.
fn claims(token: &str) -> Value {
    decode_unverified(token).unwrap().claims
}

async fn login_issues_upstream_claims(backend: Backend) {
    let env = env(backend).await;
    let user = env.create_user("Admin@Example.com", "correct-horse").await;
    assert_eq!(user.email, "admin@example.com");
    // The email is lower-cased at login too.
    let r = env
        .login_request("ADMIN@example.com", "correct-horse")
        .header(header::CONTENT_TYPE, "application/json")
        .send()
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
    assert_eq!(c["iat"], json!(start().unix_secs()), "the service's clock");
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
    env.assert_valid(&token).await;

    // no_expiry drops exp.
    let r = env
        .login_request("admin@example.com", "correct-horse")
        .header(header::CONTENT_TYPE, "application/json")
        .body(r#"{"no_expiry": true}"#)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(claims(&r.text()).get("exp").is_none());

    // login_ts is recorded.
    let me = env.get(&token, "users/me").await;
    assert!(me.json()["login_ts"].is_string());
}

async fn login_refusals(backend: Backend) {
    let env = env(backend).await;
    env.create_user("a@example.com", "password1").await;
    let malformed = "invalid or missing auth header";
    let cases: Vec<(Option<String>, &str)> = vec![
        (Some(basic("a@example.com", "wrong-pass")), "unauthorized"),
        (
            Some(basic("nobody@example.com", "password1")),
            "unauthorized",
        ),
        (Some(basic("", "password1")), "unauthorized"),
        (None, malformed),
        (Some("Basic !!!notbase64".into()), malformed),
        (Some("Basic YWJj".into()), malformed),
        (Some("Bearer abc".into()), malformed),
        (Some("Basic".into()), malformed),
        (Some("Basic //79".into()), malformed),
    ];
    for (auth, message) in cases {
        let mut req = env.open.post(&mgmt("auth/login"));
        if let Some(a) = &auth {
            req = req.header(header::AUTHORIZATION, a);
        }
        let r = req.send().await;
        assert_eq!(
            r.assert_error(StatusCode::UNAUTHORIZED),
            message,
            "{auth:?}"
        );
    }
    // A body that is not JSON options, or not JSON at all.
    for (content_type, body, status) in [
        ("application/json", "{nope", StatusCode::BAD_REQUEST),
        ("text/plain", "hello", StatusCode::UNSUPPORTED_MEDIA_TYPE),
    ] {
        env.login_request("a@example.com", "password1")
            .header(header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .assert_error(status);
    }
}

async fn session_limit_and_logout(backend: Backend) {
    let config = UseradmConfig {
        limit_sessions_per_user: 2,
        ..test_config()
    };
    let env = env_with(backend, config).await;
    env.create_user("a@example.com", "password1").await;
    let t1 = env.login("a@example.com", "password1").await;
    let t2 = env.login("a@example.com", "password1").await;
    let t3 = env.login("a@example.com", "password1").await;
    assert_eq!(env.assert_refused(&t1).await, "unauthorized");
    env.assert_valid(&t2).await;
    let r = env
        .as_user(&t3)
        .await
        .post(&mgmt("auth/logout"))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    env.assert_refused(&t3).await;
    env.assert_valid(&t2).await;
}

/// Creation, update and login times, and token expiry, follow the injected clock, and times
/// render as Go's RFC 3339 (whole seconds, `Z`).
async fn times_come_from_the_clock(backend: Backend) {
    let env = env(backend).await;
    let (id, _) = env.user("me@example.com", "password1").await;
    env.clock.advance(Duration::from_secs(90));
    let tok = env.login("me@example.com", "password1").await;
    let me = env.get(&tok, &format!("users/{id}")).await;
    assert_eq!(
        me.json(),
        json!({
            "id": id,
            "email": "me@example.com",
            "created_ts": "2024-01-02T03:04:05Z",
            "updated_ts": "2024-01-02T03:04:05Z",
            "login_ts": "2024-01-02T03:05:35Z",
        })
    );
    env.clock.advance(Duration::from_secs(1));
    let email = json!({"email": "new@example.com", "current_password": "password1"});
    env.put(&tok, "users/me", &email)
        .await
        .assert_status(StatusCode::NO_CONTENT);
    let me = env.get(&tok, "users/me").await;
    assert_eq!(me.json()["updated_ts"], "2024-01-02T03:05:36Z");

    // A login token lives jwt_exp_timeout seconds on the service's clock; it was issued a
    // second ago.
    env.clock.advance(Duration::from_secs(604_800 - 2));
    env.assert_valid(&tok).await;
    env.clock.advance(Duration::from_secs(1));
    assert_eq!(env.assert_refused(&tok).await, "invalid jwt");
}

async fn users_create_list_get_delete(backend: Backend) {
    let env = env(backend).await;
    let (admin_id, tok) = env.user("admin@example.com", "password1").await;
    let bob_id = create_bob(&env, &tok).await;
    refuse_bad_new_users(&env, &tok).await;
    list_and_filter_users(&env, &tok, &bob_id).await;
    get_and_delete_users(&env, &tok, &admin_id, &bob_id).await;
}

/// Creates bob through the API; his id is the last segment of `Location`.
async fn create_bob(env: &Env, tok: &str) -> String {
    let bob = json!({"email": "Bob@Example.com", "password": "bobsecret"});
    let r = env.post(tok, "users", &bob).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let loc = r.header(header::LOCATION).unwrap().to_owned();
    assert!(r.body.is_empty());
    loc.strip_prefix("users/").unwrap().to_owned()
}

async fn refuse_bad_new_users(env: &Env, tok: &str) {
    let cases = [
        (
            json!({"email": "bob@example.com", "password": "bobsecret2"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "user with a given email already exists",
        ),
        (
            json!({"email": "c@example.com", "password": "short"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "password: must be minimum 8 characters long",
        ),
        (
            json!({"email": "carol1234@example.com", "password": "carol1234"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "password is too similar to the email",
        ),
        (
            json!({"email": "nope"}),
            StatusCode::BAD_REQUEST,
            "email: must be a valid email address; password: cannot be blank.",
        ),
    ];
    for (body, status, message) in cases {
        let r = env.post(tok, "users", &body).await;
        assert_eq!(r.assert_error(status), message, "{body}");
    }
}

async fn list_and_filter_users(env: &Env, tok: &str, bob_id: &str) {
    let list = env.get(tok, "users").await;
    assert_eq!(list.status, StatusCode::OK);
    let users = list.json();
    assert_eq!(users.as_array().unwrap().len(), 2);
    assert!(users[0].get("password").is_none() && users[0]["created_ts"].is_string());
    let by_email_and_id = format!("users?email=BOB@example.com&id={bob_id}&id=other");
    let r = env.get(tok, &by_email_and_id).await;
    assert_eq!(r.json().as_array().unwrap().len(), 1);
    assert_eq!(r.json()[0]["id"], json!(bob_id));
    let r = env.get(tok, "users?created_after=4102444800").await;
    assert_eq!(r.json(), json!([]));
    env.get(tok, "users?created_before=x")
        .await
        .assert_error(StatusCode::BAD_REQUEST);
}

async fn get_and_delete_users(env: &Env, tok: &str, admin_id: &UserId, bob_id: &str) {
    let bob = format!("users/{bob_id}");
    let r = env.get(tok, &bob).await;
    assert_eq!(r.json()["email"], "bob@example.com");
    let r = env.get(tok, "users/me").await;
    assert_eq!(r.json()["id"], json!(admin_id));
    let r = env.get(tok, "users/unknown").await;
    assert_eq!(r.assert_error(StatusCode::NOT_FOUND), "user not found");

    let bob_tok = env.login("bob@example.com", "bobsecret").await;
    let r = env.delete(tok, &bob).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    env.assert_refused(&bob_tok).await;
    let r = env.delete(tok, &bob).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "deleting again is fine");
}

async fn update_users_and_passwords(backend: Backend) {
    let env = env(backend).await;
    let (_, tok) = env.user("me@example.com", "password1").await;
    let other_session = env.login("me@example.com", "password1").await;
    let (bob_id, bob_tok) = env.user("bob@example.com", "bobsecret").await;
    let put = async |who: &str, body: Value| env.put(&tok, &format!("users/{who}"), &body).await;

    let bob = bob_id.as_str();
    let refusals = [
        (
            "me",
            json!({}),
            StatusCode::BAD_REQUEST,
            "no update information provided",
        ),
        (
            "me",
            json!({"password": "newpassword"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "current password mismatch",
        ),
        (
            "me",
            json!({"password": "newpassword", "current_password": "bad"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "current password mismatch",
        ),
        (
            bob,
            json!({"password": "newpassword"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "password cannot be modified",
        ),
        (
            "nobody",
            json!({"email": "x@example.com"}),
            StatusCode::NOT_FOUND,
            "user not found",
        ),
        (
            "me",
            json!({"email": "bob@example.com", "current_password": "password1"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "user with a given email already exists",
        ),
    ];
    for (who, body, status, message) in refusals {
        let r = put(who, body.clone()).await;
        assert_eq!(r.assert_error(status), message, "{who} {body}");
    }

    // Own password change with the current password: other sessions are revoked, this one kept.
    let r = put(
        "ME",
        json!({"password": "newpassword", "current_password": "password1"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    env.assert_valid(&tok).await;
    env.assert_refused(&other_session).await;
    env.login("me@example.com", "newpassword").await;

    // An admin may change another user's email (no current password needed); the
    // user's tokens go.
    let r = put(bob, json!({"email": "Robert@Example.com"})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    env.assert_refused(&bob_tok).await;
    env.login("robert@example.com", "bobsecret").await;
}

async fn settings_and_etags(backend: Backend) {
    let env = env(backend).await;
    let (_, tok) = env.user("me@example.com", "password1").await;
    for path in ["settings", "settings/me"] {
        let get = async || env.get(&tok, path).await;
        let post_if_match = async |tag: &str, body: Value| {
            let req = env.as_user(&tok).await.post(&mgmt(path));
            req.header(header::IF_MATCH, tag).json(&body).send().await
        };
        let r = get().await;
        assert_eq!((r.status, r.json()), (StatusCode::OK, json!({})));
        assert!(r.headers.get(header::ETAG).is_none());

        let r = env
            .post(&tok, path, &json!({"theme": "dark", "n": [1, 2]}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let r = get().await;
        assert_eq!(r.json(), json!({"theme": "dark", "n": [1, 2]}));
        let etag = r.header(header::ETAG).unwrap().to_owned();

        let r = post_if_match("not-the-tag", json!({"theme": "light"})).await;
        assert_eq!(
            r.assert_error(StatusCode::PRECONDITION_FAILED),
            "ETag doesn't match"
        );

        let r = post_if_match(&etag, json!({"theme": "light"})).await;
        assert_eq!(r.status, StatusCode::CREATED);
        let r = get().await;
        assert_eq!(r.json(), json!({"theme": "light"}));
        assert_ne!(r.header(header::ETAG).unwrap(), etag);

        let big: serde_json::Map<String, Value> =
            (0..1025).map(|i| (format!("k{i}"), json!(i))).collect();
        let refusals = [
            (json!([1, 2]), Some("cannot parse request body as json")),
            (Value::Object(big), None),
            (json!({"k".repeat(129): 1}), None),
        ];
        for (body, message) in refusals {
            let got = env
                .post(&tok, path, &body)
                .await
                .assert_error(StatusCode::BAD_REQUEST);
            if let Some(m) = message {
                assert_eq!(got, m);
            }
        }
    }
}

async fn personal_access_tokens(backend: Backend) {
    let config = UseradmConfig {
        limit_tokens_per_user: 2,
        ..test_config()
    };
    let env = env_with(backend, config).await;
    let (uid, tok) = env.user("me@example.com", "password1").await;
    let (pat, jti) = issue_and_use_token(&env, &uid, &tok).await;
    refuse_bad_token_requests(&env, &tok).await;

    let r = env.delete(&tok, &format!("settings/tokens/{jti}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    env.assert_refused(&pat).await;
    let r = env.get(&tok, "settings/tokens").await;
    assert_eq!(r.json().as_array().unwrap().len(), 1);
}

/// Issues the token "ci" and uses it to list the tokens; returns the token and its id.
async fn issue_and_use_token(env: &Env, uid: &UserId, tok: &str) -> (String, String) {
    let ci = json!({"name": "ci", "expires_in": 3600});
    let r = env.post(tok, "settings/tokens", &ci).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/jwt");
    let pat = r.text();
    let c = claims(&pat);
    assert_eq!(c["sub"], json!(uid));
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        3600
    );
    assert_eq!(c["scp"], "mender.*");

    // Usable as a bearer token; the first use records last_used.
    let r = env.get(&pat, "settings/tokens").await;
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
    (pat, c["jti"].as_str().unwrap().to_owned())
}

async fn refuse_bad_token_requests(env: &Env, tok: &str) {
    let post = async |body: Value| env.post(tok, "settings/tokens", &body).await;
    assert_eq!(
        post(json!({"name": "ci"}))
            .await
            .assert_error(StatusCode::CONFLICT),
        "Personal Access Token with a given name already exists"
    );
    let r = post(json!({"name": "forever", "expires_in": 0})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(claims(&r.text()).get("exp").is_none());
    let refusals = [
        (
            json!({"name": "third"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("maximum number of personal acess tokens reached for this user"),
        ),
        (
            json!({"name": "x", "expires_in": 31_536_001}),
            StatusCode::BAD_REQUEST,
            Some("expires_in: must be no greater than 31536000."),
        ),
        (
            json!({"name": "x", "expires_in": -1}),
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            json!({"expires_in": 5}),
            StatusCode::BAD_REQUEST,
            Some("name: cannot be blank."),
        ),
        (
            json!({"name": "x", "expires_in": "soon"}),
            StatusCode::BAD_REQUEST,
            Some("cannot parse request body as json"),
        ),
    ];
    for (body, status, message) in refusals {
        let got = post(body.clone()).await.assert_error(status);
        if let Some(m) = message {
            assert_eq!(got, m, "{body}");
        }
    }
}

/// A personal access token's `last_used` moves at most every
/// `token_last_used_update_freq_minutes`, measured on the service's clock.
async fn personal_token_last_use_is_recorded_rarely(backend: Backend) {
    let env = env(backend).await;
    let (_, tok) = env.user("me@example.com", "password1").await;
    let pat = env
        .post(&tok, "settings/tokens", &json!({"name": "ci"}))
        .await
        .text();
    let last_used = async || {
        let list = env.get(&tok, "settings/tokens").await.json();
        list[0]["last_used"].as_str().map(str::to_owned)
    };
    assert_eq!(last_used().await, None, "never used");
    env.as_user(&pat).await;
    assert_eq!(last_used().await.as_deref(), Some("2024-01-02T03:04:05Z"));
    // Within the default five minutes nothing is written...
    env.clock.advance(Duration::from_secs(300));
    env.as_user(&pat).await;
    assert_eq!(last_used().await.as_deref(), Some("2024-01-02T03:04:05Z"));
    // ...after them, the next use is recorded.
    env.clock.advance(Duration::from_secs(1));
    env.as_user(&pat).await;
    assert_eq!(last_used().await.as_deref(), Some("2024-01-02T03:09:06Z"));
}

async fn plans_and_plan_binding(backend: Backend) {
    let env = env(backend).await;
    let (_, tok) = env.user("me@example.com", "password1").await;
    let r = env.get(&tok, "plans?page=2&per_page=10").await;
    assert_eq!((r.status, r.json()), (StatusCode::OK, json!([])));
    env.get(&tok, "plans?per_page=501")
        .await
        .assert_error(StatusCode::BAD_REQUEST);
    // Upstream's image loads one plan, the open-source one (this assertion expected an empty
    // plan before issue 14).
    let r = env.get(&tok, "plan_binding").await;
    assert_eq!(r.json()["plan"]["name"], "Mender_Open_Source");
}

async fn management_routes_without_identity_are_401(backend: Backend) {
    let env = env(backend).await;
    env.management_without_identity()
        .get(&mgmt("users"))
        .send()
        .await
        .assert_error(StatusCode::UNAUTHORIZED);
}
