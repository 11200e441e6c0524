//! `management_v1.yaml`: reading, setting and deploying a device's desired configuration.

use axum::http::StatusCode;
use mender_api::deployments::ConfigurationDeploymentError;
use mender_db::testing::Backend;
use mender_testkit::identity;
use serde_json::{Value, json};
use std::time::Duration;

use crate::common::{
    START_TEXT, assert_refuses_configurations, assert_wrong_callers_refused, bad_request, env, mgmt,
};

/// Upstream's acceptance flow: empty after provisioning, set, replace, clear.
async fn set_replace_and_clear(backend: Backend) {
    let e = env(backend).await;
    e.provision("dev-1").await;
    assert_eq!(
        e.view("dev-1").await,
        json!({"id": "dev-1", "configured": {}, "reported": {}, "updated_ts": START_TEXT})
    );
    e.clock.advance(Duration::from_millis(1500));
    let config = json!({"key": "value", "another-key": "another-value", "dollar-key": "$"});
    let r = e.configure("dev-1", &config).await;
    r.assert_status(StatusCode::NO_CONTENT);
    assert!(r.body.is_empty());
    let v = e.view("dev-1").await;
    assert_eq!(v["configured"], config);
    assert_eq!(v["updated_ts"], "2024-01-02T03:04:07.178Z");
    // Keys come out sorted, as Go writes a map.
    let keys: Vec<_> = v["configured"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(keys, ["another-key", "dollar-key", "key"]);
    // PUT replaces: keys not named again are gone, empty values stay.
    let config = json!({"key": "update-value", "additional-key": ""});
    e.configure_ok("dev-1", &config).await;
    assert_eq!(e.view("dev-1").await["configured"], config);
    // `{}` and `null` both clear it.
    for empty in [json!({}), Value::Null] {
        e.configure_ok("dev-1", &config).await;
        e.configure_ok("dev-1", &empty).await;
        assert_eq!(e.view("dev-1").await["configured"], json!({}));
    }
}

/// A device without a record is 404 to GET; PUT creates the record, as upstream upserts.
async fn unknown_devices(backend: Backend) {
    let e = env(backend).await;
    let r = e.user.get(&mgmt("nope")).send().await;
    assert_eq!(
        r.assert_error(StatusCode::NOT_FOUND),
        "device does not exist"
    );
    let r = e.deploy("nope", &json!({})).await;
    assert_eq!(
        r.assert_error(StatusCode::NOT_FOUND),
        "device does not exist"
    );
    assert!(e.deployments.created().is_empty());
    e.configure_ok("nope", &json!({"a": "b"})).await;
    assert_eq!(e.view("nope").await["configured"], json!({"a": "b"}));
}

async fn set_refuses_bad_input(backend: Backend) {
    let e = env(backend).await;
    e.provision("dev-1").await;
    e.configure_ok("dev-1", &json!({"keep": "me"})).await;
    assert_refuses_configurations(&e.user, "PUT", &mgmt("dev-1")).await;
    // Upstream's exact messages for the rules it has.
    let cases = [
        (
            json!({"a": 1}),
            "invalid request body: value: invalid type: float64.",
        ),
        (
            json!({"": "v"}),
            "invalid request body: key: cannot be blank.",
        ),
        (
            json!({"k".repeat(4097): "v"}),
            "invalid request body: key: the length must be no more than 4096.",
        ),
    ];
    for (body, want) in cases {
        let r = e.configure("dev-1", &body).await;
        assert_eq!(r.assert_error(StatusCode::BAD_REQUEST), want);
    }
    // Nothing refused was stored; the limits themselves are accepted.
    assert_eq!(e.view("dev-1").await["configured"], json!({"keep": "me"}));
    let full: serde_json::Map<String, Value> = (0..100)
        .map(|i| {
            (
                format!("{i:03}{}", "k".repeat(4093)),
                Value::from("v".repeat(4096)),
            )
        })
        .collect();
    let full = Value::Object(full);
    e.configure_ok("dev-1", &full).await;
    assert_eq!(e.view("dev-1").await["configured"], full);
}

/// Device ids with NUL characters or longer than deployments accepts are refused.
async fn hostile_device_ids(backend: Backend) {
    let e = env(backend).await;
    let long = "x".repeat(1025);
    for id in ["a%00b", long.as_str()] {
        let r = e.user.get(&mgmt(id)).send().await;
        bad_request(&r, "invalid device ID");
        let r = e.configure(id, &json!({"a": "b"})).await;
        bad_request(&r, "invalid device ID");
        let r = e.deploy(id, &json!({})).await;
        bad_request(&r, "invalid device ID");
    }
}

async fn callers_must_be_users(backend: Backend) {
    let e = env(backend).await;
    e.provision("dev-1").await;
    let deploy = format!("{}/deploy", mgmt("dev-1"));
    let device = e.management.as_identity(identity::device("dev-1"));
    for (method, uri) in [
        ("GET", mgmt("dev-1")),
        ("PUT", mgmt("dev-1")),
        ("POST", deploy),
    ] {
        assert_wrong_callers_refused(&e.management, &device, method, &uri).await;
    }
    assert!(e.deployments.created().is_empty());
    assert_eq!(e.view("dev-1").await["configured"], json!({}));
}

async fn deploy_creates_a_configuration_deployment(backend: Backend) {
    let e = env(backend).await;
    e.provision("dev-1").await;
    let config = json!({"key": "value", "another-key": "another-value", "dollar-key": "$"});
    e.configure_ok("dev-1", &config).await;
    let r = e.deploy("dev-1", &json!({"retries": 1})).await;
    r.assert_status(StatusCode::OK);
    let id = r.json()["deployment_id"].as_str().unwrap().to_owned();
    assert_eq!(r.json(), json!({ "deployment_id": id }));
    assert!(uuid_like(&id), "{id}");
    let created = e.deployments.created();
    assert_eq!(created.len(), 1);
    let d = &created[0];
    assert_eq!(
        (
            d.tenant.as_str(),
            d.deployment_id.as_str(),
            d.device_id.as_str(),
            d.retries
        ),
        ("", id.as_str(), "dev-1", 1)
    );
    assert_eq!(d.name, format!("configuration-{id}"));
    assert_eq!(
        serde_json::from_str::<Value>(&d.configuration).unwrap(),
        config
    );
    assert_eq!(e.view("dev-1").await["deployment_id"], id.as_str());
    // Each deploy is a new deployment; an empty configuration deploys too, and the body's
    // fields are optional (`{}`, `null`, an empty update control map).
    e.configure_ok("dev-1", &json!({})).await;
    for body in [json!({}), Value::Null, json!({"update_control_map": {}})] {
        e.deploy("dev-1", &body).await.assert_status(StatusCode::OK);
    }
    let created = e.deployments.created();
    assert_eq!(created.len(), 4);
    assert_eq!(created[3].configuration, "{}");
    assert_eq!(created[3].retries, 0);
    assert_ne!(created[3].deployment_id, id);
    assert_eq!(
        e.view("dev-1").await["deployment_id"],
        created[3].deployment_id.as_str()
    );
}

async fn deploy_refuses_bad_input(backend: Backend) {
    let e = env(backend).await;
    e.provision("dev-1").await;
    let deploy = format!("{}/deploy", mgmt("dev-1"));
    for body in [
        "",
        "{",
        "[]",
        r#"{"retries":-1}"#,
        r#"{"retries":"1"}"#,
        r#"{"retries":1.5}"#,
        r#"{"update_control_map":[]}"#,
    ] {
        let r = e
            .user
            .post(&deploy)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
        bad_request(&r, "failed to decode request body");
    }
    let r = e
        .deploy("dev-1", &json!({"update_control_map": {"Priority": 1}}))
        .await;
    assert_eq!(
        r.assert_error(StatusCode::FORBIDDEN),
        "forbidden: update control map is available only for Enterprise customers"
    );
    let big = json!({"update_control_map": {"x": " ".repeat(1024 * 1024)}});
    e.deploy("dev-1", &big)
        .await
        .assert_error(StatusCode::PAYLOAD_TOO_LARGE);
    assert!(e.deployments.created().is_empty());
    assert!(e.view("dev-1").await.get("deployment_id").is_none());
}

/// What deployments answers decides ours; a failed creation records no deployment.
async fn deploy_reports_deployments_failures(backend: Backend) {
    let e = env(backend).await;
    e.provision("dev-1").await;
    e.deployments
        .fail_next(ConfigurationDeploymentError::Rejected(
            "name: too long".into(),
        ));
    let r = e.deploy("dev-1", &json!({})).await;
    assert_eq!(
        r.assert_error(StatusCode::BAD_REQUEST),
        "configuration deployment failed: name: too long"
    );
    e.deployments
        .fail_next(ConfigurationDeploymentError::Other("unreachable".into()));
    let r = e.deploy("dev-1", &json!({})).await;
    assert_eq!(
        r.assert_error(StatusCode::INTERNAL_SERVER_ERROR),
        "internal error"
    );
    assert!(e.view("dev-1").await.get("deployment_id").is_none());
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4
}

mender_db::each_backend!(
    set_replace_and_clear,
    unknown_devices,
    set_refuses_bad_input,
    hostile_device_ids,
    callers_must_be_users,
    deploy_creates_a_configuration_deployment,
    deploy_refuses_bad_input,
    deploy_reports_deployments_failures,
);
