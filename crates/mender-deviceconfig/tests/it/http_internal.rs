//! `internal_v1.yaml`: health, tenants, device provisioning and decommissioning, and deploying
//! on a tenant's behalf.

use axum::http::StatusCode;
use mender_db::testing::Backend;
use serde_json::json;

use crate::common::{INTERNAL, bad_request, env, mgmt};

async fn health_and_alive(backend: Backend) {
    let e = env(backend).await;
    for p in ["health", "alive"] {
        let r = e.internal.get(&format!("{INTERNAL}/{p}")).send().await;
        r.assert_status(StatusCode::NO_CONTENT);
    }
}

async fn provision_and_decommission_devices(backend: Backend) {
    let e = env(backend).await;
    e.provision("dev-1").await;
    let r = e.provision_in("", "dev-1").await;
    assert_eq!(
        r.assert_error(StatusCode::CONFLICT),
        "device already exists"
    );
    // The tenant in the path is the device's tenant.
    e.provision_in("t1", "dev-1")
        .await
        .assert_status(StatusCode::CREATED);
    e.view_in("t1", "dev-1").await;

    e.decommission_in("", "dev-1")
        .await
        .assert_status(StatusCode::NO_CONTENT);
    let r = e.decommission_in("", "dev-1").await;
    assert_eq!(
        r.assert_error(StatusCode::NOT_FOUND),
        "device does not exist"
    );
    e.user
        .get(&mgmt("dev-1"))
        .send()
        .await
        .assert_error(StatusCode::NOT_FOUND);
    e.view_in("t1", "dev-1").await;
    e.decommission_in("t1", "dev-1")
        .await
        .assert_status(StatusCode::NO_CONTENT);
    let r = e.decommission_in("", "a%00b").await;
    bad_request(&r, "invalid device ID");
}

async fn provision_refuses_bad_input(backend: Backend) {
    let e = env(backend).await;
    let devices = format!("{INTERNAL}/tenants//devices");
    let blank = "invalid request body: device_id: cannot be blank.";
    for (body, want) in [
        ("{}", blank),
        (r#"{"device_id":""}"#, blank),
        // Go decodes `null` into a string as "".
        (r#"{"device_id":null}"#, blank),
        (r#"{"device_id":5}"#, "failed to decode request body"),
        ("[]", "failed to decode request body"),
        ("{", "failed to decode request body"),
        ("", "failed to decode request body: EOF"),
        (r#"{"device_id":"a\u0000"}"#, "invalid device ID"),
    ] {
        let r = e
            .internal
            .post(&devices)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await;
        bad_request(&r, want);
    }
    let long = json!({"device_id": "x".repeat(1025)});
    let r = e.internal.post(&devices).json(&long).send().await;
    bad_request(&r, "invalid device ID");
    let huge = json!({"device_id": "x".repeat(1024 * 1024)});
    let r = e.internal.post(&devices).json(&huge).send().await;
    r.assert_error(StatusCode::PAYLOAD_TOO_LARGE);
}

async fn tenants(backend: Backend) {
    let e = env(backend).await;
    e.create_tenant(&json!({"tenant_id": "t1"}))
        .await
        .assert_status(StatusCode::CREATED);
    for body in [json!({}), json!({"tenant_id": ""})] {
        let r = e.create_tenant(&body).await;
        assert_eq!(
            r.assert_error(StatusCode::BAD_REQUEST),
            "invalid request body: tenant_id: cannot be blank."
        );
    }
    for (body, want) in [
        (json!({"tenant_id": 1}), "failed to decode request body"),
        (
            json!({"tenant_id": "a\u{0}"}),
            "invalid request body: tenant_id: must not contain a NUL character.",
        ),
    ] {
        bad_request(&e.create_tenant(&body).await, want);
    }
    // A NUL in a tenant path segment is refused, not a server error.
    let r = e.provision_in("t%00", "dev-1").await;
    bad_request(&r, "text must not contain a NUL character");
    let r = e.delete_tenant("t%00").await;
    bad_request(&r, "text must not contain a NUL character");

    for id in ["a", "b"] {
        e.provision_in("t1", id)
            .await
            .assert_status(StatusCode::CREATED);
    }
    e.provision("a").await;
    // Deleting again is fine; the default tenant's device stays.
    for _ in 0..2 {
        e.delete_tenant("t1")
            .await
            .assert_status(StatusCode::NO_CONTENT);
    }
    e.view("a").await;
    e.provision_in("t1", "a")
        .await
        .assert_status(StatusCode::CREATED);
}

async fn deploy_on_a_tenants_behalf(backend: Backend) {
    let e = env(backend).await;
    e.provision_in("t1", "dev-1")
        .await
        .assert_status(StatusCode::CREATED);
    let r = e.deploy_in("t1", "dev-1", &json!({"retries": 2})).await;
    r.assert_status(StatusCode::OK);
    let created = e.deployments.created();
    assert_eq!(created.len(), 1);
    assert_eq!(r.json()["deployment_id"], created[0].deployment_id.as_str());
    assert_eq!((created[0].tenant.as_str(), created[0].retries), ("t1", 2));
    // The default tenant has no such device; a bad body is refused.
    let r = e.deploy_in("", "dev-1", &json!({})).await;
    r.assert_error(StatusCode::NOT_FOUND);
    let r = e
        .internal
        .post(&format!(
            "{INTERNAL}/tenants/t1/configurations/device/dev-1/deploy"
        ))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await;
    bad_request(&r, "failed to decode request body");
    assert_eq!(e.deployments.created().len(), 1);
}

mender_db::each_backend!(
    health_and_alive,
    provision_and_decommission_devices,
    provision_refuses_bad_input,
    tenants,
    deploy_on_a_tenants_behalf,
);
