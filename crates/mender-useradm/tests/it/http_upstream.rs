//! Behaviour checked against upstream's code for issue 14 (`http_upstream::sqlite::<name>`,
//! `http_upstream::postgres::<name>`): the next release's `PUT /api/management/v2/useradm/users/me`,
//! the open-source plan in `plans` and `plan_binding`, the user list's query rules, personal
//! access tokens without expiry, and the new route through the real gateway.

use std::time::Duration;

use axum::http::{StatusCode, header};
use mender_db::testing::Backend;
use mender_gateway::{GatewayConfig, compose};
use mender_testkit::TestClient;
use serde_json::{Value, json};

use crate::common::*;

mender_db::each_backend!(
    own_user_update_v2,
    own_user_update_v2_refusals,
    plans_list_the_open_source_plan,
    user_list_reads_its_query_like_upstream,
    tokens_without_expiry_have_no_expiration_date,
    own_user_update_through_the_gateway,
);

const ME_V2: &str = "/api/management/v2/useradm/users/me";

/// `PUT` of the v2 `users/me` with a JSON body, as the holder of `token`.
async fn put_me(env: &Env, token: &str, body: &Value) -> mender_testkit::TestResponse {
    env.as_user(token).await.put(ME_V2).json(body).send().await
}

async fn own_user_update_v2(backend: Backend) {
    let env = env(backend).await;
    let (_, tok) = env.user("me@example.com", "password1").await;
    let other = env.login("me@example.com", "password1").await;
    let pat = env
        .post(&tok, "settings/tokens", &json!({"name": "ci"}))
        .await
        .text();
    let (_, bob) = env.user("bob@example.com", "bobsecret").await;

    // `{}` changes nothing but the update time, and revokes every other token of the caller.
    env.clock.advance(Duration::from_secs(60));
    let r = put_me(&env, &tok, &json!({})).await;
    assert_eq!(
        (r.status, r.text()),
        (StatusCode::NO_CONTENT, String::new())
    );
    env.assert_valid(&tok).await;
    env.assert_refused(&other).await;
    env.assert_refused(&pat).await;
    env.assert_valid(&bob).await;
    let me = env.get(&tok, "users/me").await.json();
    assert_eq!(me["updated_ts"], "2024-01-02T03:05:05Z");
    assert_eq!(me["email"], "me@example.com");
    env.login("me@example.com", "password1").await;

    // A password change needs the current password; other fields are ignored.
    let other = env.login("me@example.com", "password1").await;
    let body = json!({"password": "newpassword1", "current_password": "password1",
                      "email": "new@example.com"});
    let r = put_me(&env, &tok, &body).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    env.assert_valid(&tok).await;
    env.assert_refused(&other).await;
    env.login("me@example.com", "newpassword1").await;
    env.login_request("me@example.com", "password1")
        .send()
        .await
        .assert_error(StatusCode::UNAUTHORIZED);
    env.login_request("new@example.com", "newpassword1")
        .send()
        .await
        .assert_error(StatusCode::UNAUTHORIZED);

    // `null` is `{}`; a personal access token may call it and is the one kept.
    let pat = env
        .post(&tok, "settings/tokens", &json!({"name": "ci2"}))
        .await
        .text();
    let r = put_me(&env, &pat, &Value::Null).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    env.assert_valid(&pat).await;
    env.assert_refused(&tok).await;
}

async fn own_user_update_v2_refusals(backend: Backend) {
    let env = env(backend).await;
    let (_, tok) = env.user("me@example.com", "password1").await;
    let other = env.login("me@example.com", "password1").await;
    let cases = [
        (
            json!({"password": "short"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "password: must be minimum 8 characters long",
        ),
        (
            json!({"password": "x".repeat(257), "current_password": "password1"}),
            StatusCode::BAD_REQUEST,
            "password: the length must be no more than 256.",
        ),
        (
            json!({"password": "pässword1", "current_password": "password1"}),
            StatusCode::BAD_REQUEST,
            "password: must contain ASCII characters only.",
        ),
        (
            json!({"password": "newpassword1"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "current password mismatch",
        ),
        (
            json!({"password": "newpassword1", "current_password": "wrong-one"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "current password mismatch",
        ),
        (
            json!({"password": "EXAMPLE.com", "current_password": "password1"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "password is too similar to the email",
        ),
        // bcrypt uses 72 bytes: longer passwords are refused, never cut.
        (
            json!({"password": "x".repeat(73), "current_password": "password1"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "password: must be at most 72 bytes long",
        ),
        (json!({"password": 5}), StatusCode::BAD_REQUEST, ""),
        (
            json!([]),
            StatusCode::BAD_REQUEST,
            "failed to decode request body: json: cannot unmarshal array into Go value of type \
             model.OwnUserUpdateV2",
        ),
        (
            json!("password"),
            StatusCode::BAD_REQUEST,
            "failed to decode request body: json: cannot unmarshal string into Go value of type \
             model.OwnUserUpdateV2",
        ),
    ];
    for (body, status, message) in cases {
        let got = put_me(&env, &tok, &body).await.assert_error(status);
        if !message.is_empty() {
            assert_eq!(got, message, "{body}");
        }
    }
    let me = env.as_user(&tok).await;
    let raw = |ct: &str, body: &str| {
        me.put(ME_V2)
            .header(header::CONTENT_TYPE, ct)
            .body(body.to_owned())
    };
    let r = raw("application/json", "").send().await;
    assert_eq!(
        r.assert_error(StatusCode::BAD_REQUEST),
        "failed to decode request body: EOF"
    );
    raw("application/json", "{\"password\":")
        .send()
        .await
        .assert_error(StatusCode::BAD_REQUEST);
    raw("text/plain", "{}")
        .send()
        .await
        .assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = json!({"password": "x".repeat(2 << 20), "current_password": "password1"});
    raw("application/json", &huge.to_string())
        .send()
        .await
        .assert_error(StatusCode::PAYLOAD_TOO_LARGE);
    // Nothing was written: the old password works, the other session lives.
    env.login("me@example.com", "password1").await;
    env.assert_valid(&other).await;

    // A caller whose user is gone.
    let ghost = env
        .management_without_identity()
        .as_identity(mender_testkit::identity::user("ghost"));
    let r = ghost.put(ME_V2).json(&json!({})).send().await;
    assert_eq!(r.assert_error(StatusCode::NOT_FOUND), "user not found");
}

async fn plans_list_the_open_source_plan(backend: Backend) {
    let env = env(backend).await;
    let (_, tok) = env.user("me@example.com", "password1").await;
    let plan = json!({"name": "Mender_Open_Source", "display_name": "Mender", "features": {
        "rbac": false, "audit_logs": false, "dynamic_groups": false, "terminal": false,
        "file_transfer": false, "configuration": true, "monitoring": false, "reporting": false}});
    for (query, want) in [
        ("plans", json!([plan])),
        ("plans?page=1&per_page=1&x=y", json!([plan])),
        ("plans?page=2&per_page=1", json!([])),
        ("plans?page=%zz", json!([plan])),
    ] {
        let r = env.get(&tok, query).await;
        assert_eq!((r.status, r.json()), (StatusCode::OK, want), "{query}");
    }
    for (query, message) in [
        ("plans?page=x", "invalid page query: \"x\""),
        (
            "plans?page=0",
            "invalid page query: value must be a non-zero positive integer",
        ),
        (
            "plans?per_page=-3",
            "invalid per_page query: value must be a non-zero positive integer",
        ),
        (
            "plans?per_page=501",
            "parameter \"per_page\" above limit (max: 500)",
        ),
        (
            "plans?page=99999999999999999999",
            "invalid page query: \"99999999999999999999\"",
        ),
    ] {
        let r = env.get(&tok, query).await;
        assert_eq!(r.assert_error(StatusCode::BAD_REQUEST), message, "{query}");
    }
    let r = env.get(&tok, "plan_binding").await;
    assert_eq!(r.json(), json!({"plan": plan}));
    // In upstream's field order, without limits.
    assert_eq!(
        r.text(),
        "{\"plan\":{\"name\":\"Mender_Open_Source\",\"display_name\":\"Mender\",\"features\":\
         {\"rbac\":false,\"audit_logs\":false,\"dynamic_groups\":false,\"terminal\":false,\
         \"file_transfer\":false,\"configuration\":true,\"monitoring\":false,\"reporting\":false}}}"
    );
}

async fn user_list_reads_its_query_like_upstream(backend: Backend) {
    let env = env(backend).await;
    let (_, tok) = env.user("me@example.com", "password1").await;
    env.clock.advance(Duration::from_secs(10));
    env.create_user("bob@example.com", "bobsecret").await;
    let start = start().unix_secs();
    let emails = async |query: &str| -> Vec<String> {
        let r = env.get(&tok, &format!("users{query}")).await;
        assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.text());
        let mut list = mender_testkit::json::strings(&r.json(), "email");
        list.sort();
        list
    };
    let both = vec!["bob@example.com".to_owned(), "me@example.com".to_owned()];
    // Paging and unknown parameters are ignored.
    assert_eq!(emails("?page=x&per_page=-1&foo=%20").await, both);
    // Bounds are strict; only the first value counts, an empty one is no bound.
    assert_eq!(
        emails(&format!("?created_after={start}")).await,
        ["bob@example.com"]
    );
    assert_eq!(
        emails(&format!("?created_before={}", start + 10)).await,
        ["me@example.com"]
    );
    assert_eq!(
        emails(&format!("?created_after=&created_after={start}")).await,
        both
    );
    assert_eq!(emails("?created_after=%2B0").await, both);
    let invalid = |name: &str, v: &str, what: &str| {
        format!(
            "api: invalid form values: invalid form parameter \"{name}\": strconv.ParseInt: \
             parsing \"{v}\": {what}"
        )
    };
    for (query, message) in [
        (
            "?created_after=x".to_owned(),
            invalid("created_after", "x", "invalid syntax"),
        ),
        (
            "?created_before=1.5".to_owned(),
            invalid("created_before", "1.5", "invalid syntax"),
        ),
        (
            "?updated_after=9223372036854775808".to_owned(),
            invalid("updated_after", "9223372036854775808", "value out of range"),
        ),
        (
            "?updated_before=%20".to_owned(),
            invalid("updated_before", " ", "invalid syntax"),
        ),
        (
            "?email=a&id=%zz".to_owned(),
            "api: bad form parameters: invalid URL escape \"%zz\"".to_owned(),
        ),
        (
            "?a=1;b=2".to_owned(),
            "api: bad form parameters: invalid semicolon separator in query".to_owned(),
        ),
    ] {
        let r = env.get(&tok, &format!("users{query}")).await;
        assert_eq!(r.assert_error(StatusCode::BAD_REQUEST), message, "{query}");
        // The internal list of a tenant's users reads the same way.
        let r = env
            .internal
            .get(&format!("{INTERNAL}/tenants/t1/users{query}"))
            .send()
            .await;
        assert_eq!(r.assert_error(StatusCode::BAD_REQUEST), message, "{query}");
    }
}

async fn tokens_without_expiry_have_no_expiration_date(backend: Backend) {
    let env = env(backend).await;
    let (_, tok) = env.user("me@example.com", "password1").await;
    for body in [
        json!({"name": "forever"}),
        json!({"name": "zero", "expires_in": 0}),
        json!({"name": "hour", "expires_in": 3600}),
    ] {
        let r = env.post(&tok, "settings/tokens", &body).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }
    let list = env.get(&tok, "settings/tokens").await.json();
    let mut seen = Vec::new();
    for t in list.as_array().unwrap() {
        let name = t["name"].as_str().unwrap();
        assert!(t["id"].is_string() && t["created_ts"].is_string(), "{t}");
        assert!(t.get("last_used").is_none(), "never used: {t}");
        match name {
            // The specification requires it; upstream's code leaves it out.
            "forever" | "zero" => assert!(t.get("expiration_date").is_none(), "{t}"),
            _ => assert_eq!(t["expiration_date"], "2024-01-02T04:04:05Z", "{t}"),
        }
        seen.push(name.to_owned());
    }
    seen.sort();
    assert_eq!(
        seen,
        ["forever", "hour", "zero"],
        "login sessions are not listed"
    );
}

async fn own_user_update_through_the_gateway(backend: Backend) {
    let env = env(backend).await;
    let (_, tok) = env.user("me@example.com", "password1").await;
    let other = env.login("me@example.com", "password1").await;
    let composed = compose(
        env.svc.routers(),
        GatewayConfig {
            user_verifier: env.svc.verifier(),
            device_verifier: None,
            body_limit: 1024 * 1024,
        },
    );
    let public = TestClient::new(composed.public);
    let r = public.put(ME_V2).json(&json!({})).send().await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = public
        .put(ME_V2)
        .bearer(&other)
        .json(&json!({}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    env.assert_refused(&tok).await;
    let r = public
        .get("/api/management/v1/useradm/plan_binding")
        .bearer(&other)
        .send()
        .await;
    assert_eq!(r.json()["plan"]["name"], "Mender_Open_Source");
    // The internal router does not serve it.
    let r = TestClient::new(composed.internal)
        .put(ME_V2)
        .bearer(&other)
        .json(&json!({}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}
