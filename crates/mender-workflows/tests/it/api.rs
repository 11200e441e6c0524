//! The internal REST API: status codes and bodies (both backends, no workers running).

use mender_queue::JobQueue;
use serde_json::{Value, json};

use crate::common::{Reply, Scripted, backends, call, config, service};

const PROVISION: &str = r#"{"request_id": "r1", "device_id": "d1", "tenant_id": "t1", "status": "pending",
                            "device": {"id": "d1", "n": 1}, "extra": [1, "x", null]}"#;

fn error(body: &Value) -> &str {
    assert!(
        body.get("request_id").is_some(),
        "upstream error body: {body}"
    );
    body["error"].as_str().unwrap()
}

#[tokio::test]
async fn start_and_read_jobs() {
    for b in backends().await {
        let svc = service(&b, Scripted::new(|_| Reply::Status(200, "")), config()).await;
        let (code, body) = call(
            &svc,
            "POST",
            "/api/v1/workflow/provision_device",
            Some(PROVISION),
            &[],
        )
        .await;
        assert_eq!(code, 201, "{body}");
        let id = body["id"].as_str().unwrap().to_owned();
        assert!(id.len() == 24 && id.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(body["name"], "provision_device");
        assert_eq!(b.queue.len().await.unwrap(), 1);

        let (code, job) = call(
            &svc,
            "GET",
            &format!("/api/v1/workflow/provision_device/{id}"),
            None,
            &[],
        )
        .await;
        assert_eq!(code, 200);
        assert_eq!(job["id"], id.as_str());
        assert_eq!(job["workflowName"], "provision_device");
        assert_eq!(job["status"], "pending");
        assert_eq!(job["results"], json!([]));
        let params = job["inputParameters"].as_array().unwrap();
        let value = |n: &str| params.iter().find(|p| p["name"] == n).unwrap().clone();
        assert_eq!(
            value("device"),
            json!({"name": "device", "value": "{\"id\":\"d1\",\"n\":1}"}),
            "no raw values"
        );
        assert_eq!(value("extra")["value"], "1,x,null");
        assert_eq!(value("status")["value"], "pending");
        assert!(job["insert_time"].as_str().unwrap().contains('T'));

        let (code, same) = call(&svc, "GET", &format!("/api/v1/jobs/{id}"), None, &[]).await;
        assert_eq!((code, same), (200, job));
        let (code, body) = call(
            &svc,
            "GET",
            &format!("/api/v1/workflow/decommission_device/{id}"),
            None,
            &[],
        )
        .await;
        assert_eq!((code, error(&body)), (404, "not found"));
        let (code, body) = call(&svc, "GET", "/api/v1/jobs/0000", None, &[]).await;
        assert_eq!((code, error(&body)), (404, "not found"));

        // Ephemeral jobs are queued but not recorded.
        let (code, body) = call(
            &svc,
            "POST",
            "/api/v1/workflow/update_device_inventory",
            Some(r#"{"request_id":"r","attributes":"[]","tenant_id":"","device_id":"d","scope":"identity"}"#),
            &[],
        )
        .await;
        assert_eq!(code, 201);
        let (code, _) = call(
            &svc,
            "GET",
            &format!("/api/v1/jobs/{}", body["id"].as_str().unwrap()),
            None,
            &[],
        )
        .await;
        assert_eq!(code, 404);
        assert_eq!(b.queue.len().await.unwrap(), 2);
    }
}

#[tokio::test]
async fn start_rejects_bad_requests() {
    for b in backends().await {
        let svc = service(&b, Scripted::new(|_| Reply::Status(200, "")), config()).await;
        let url = "/api/v1/workflow/provision_device";
        let (code, body) = call(
            &svc,
            "POST",
            url,
            Some(r#"{"request_id":"r","device_id":"d","tenant_id":"t"}"#),
            &[],
        )
        .await;
        assert_eq!(
            (code, error(&body)),
            (400, "Missing input parameters: [device status]")
        );
        let (code, body) = call(
            &svc,
            "POST",
            "/api/v1/workflow/no_such_flow",
            Some("{}"),
            &[],
        )
        .await;
        assert_eq!((code, error(&body)), (404, "Workflow not found"));
        for bad in ["{", "[]", "\"x\"", "", "{\"a\":1}x"] {
            let (code, body) = call(&svc, "POST", url, Some(bad), &[]).await;
            assert_eq!(code, 400, "{bad}");
            assert!(
                error(&body).starts_with("Unable to parse the input parameters"),
                "{body}"
            );
        }
        let (code, body) = call(
            &svc,
            "POST",
            url,
            Some(PROVISION),
            &[("x-workflows-min-version", "11")],
        )
        .await;
        assert_eq!((code, error(&body)), (404, "Workflow not found"));
        let (code, _) = call(
            &svc,
            "POST",
            url,
            Some(PROVISION),
            &[("x-workflows-min-version", "10")],
        )
        .await;
        assert_eq!(code, 201);

        let req = http::Request::post(url)
            .header("content-type", "text/plain")
            .body(axum::body::Body::from(PROVISION))
            .unwrap();
        let resp = tower::ServiceExt::oneshot(svc.routers().internal, req)
            .await
            .unwrap();
        assert_eq!(resp.status(), 415);
        let huge = format!("{{\"x\":\"{}\"}}", "a".repeat(2 * 1024 * 1024));
        let (code, _) = call(&svc, "POST", url, Some(&huge), &[]).await;
        assert_eq!(code, 413);
        let long_name = format!("/api/v1/workflow/{}", "ü".repeat(3000));
        let (code, _) = call(
            &svc,
            "POST",
            &long_name.replace('ü', "%C3%BC"),
            Some("{}"),
            &[],
        )
        .await;
        assert_eq!(code, 404);
        assert_eq!(
            b.queue.len().await.unwrap(),
            1,
            "only the valid start was queued"
        );
    }
}

#[tokio::test]
async fn batch_starts() {
    for b in backends().await {
        let svc = service(&b, Scripted::new(|_| Reply::Status(200, "")), config()).await;
        let one = r#"{"request_id":"r","tenant_id":"t","device_id":"d","service":"s"}"#;
        let url = "/api/v1/workflow/reindex_inventory/batch";
        let (code, body) = call(&svc, "POST", url, Some(&format!("[{one},{one}]")), &[]).await;
        assert_eq!(code, 201, "{body}");
        let items = body.as_array().unwrap();
        assert_eq!(items.len(), 2);
        assert!(
            items
                .iter()
                .all(|i| i["name"] == "reindex_inventory" && i["id"].as_str().unwrap().len() == 24)
        );
        assert_ne!(items[0]["id"], items[1]["id"]);
        let (code, body) = call(
            &svc,
            "POST",
            url,
            Some(&format!("[{one},{{\"request_id\":\"r\"}}]")),
            &[],
        )
        .await;
        assert_eq!(
            (code, error(&body)),
            (
                400,
                "Missing input parameters: [tenant_id device_id service]"
            )
        );
        let (code, _) = call(&svc, "POST", url, Some(one), &[]).await;
        assert_eq!(code, 400, "a batch is an array");
        let (code, _) = call(
            &svc,
            "POST",
            "/api/v1/workflow/nope/batch",
            Some("[{}]"),
            &[],
        )
        .await;
        assert_eq!(code, 404);
        let (code, body) = call(&svc, "POST", url, Some("[]"), &[]).await;
        assert_eq!((code, body), (201, json!([])));
        assert_eq!(
            b.queue.len().await.unwrap(),
            2,
            "a failed batch queues nothing"
        );
    }
}

#[tokio::test]
async fn definitions_api() {
    for b in backends().await {
        let svc = service(&b, Scripted::new(|_| Reply::Status(200, "")), config()).await;
        let (code, list) = call(&svc, "GET", "/api/v1/metadata/workflows", None, &[]).await;
        assert_eq!(code, 200);
        let names: Vec<_> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["name"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            names,
            [
                "decommission_device",
                "generate_artifact",
                "provision_device",
                "reindex_inventory",
                "update_device_inventory",
                "update_device_status"
            ]
        );
        let prov = &list[2];
        assert_eq!(
            (
                prov["version"].clone(),
                prov["topic"].clone(),
                prov["ephemeral"].clone()
            ),
            (json!(10), json!(""), json!(false))
        );
        assert_eq!(prov["tasks"][0]["http"]["method"], "POST");

        let wf = r#"{"name":"mine","description":"d","version":2,"inputParameters":["a"],
                     "tasks":[{"name":"t","type":"http","http":{"uri":"http://x","method":"GET"}}]}"#;
        let (code, body) = call(&svc, "POST", "/api/v1/metadata/workflows", Some(wf), &[]).await;
        assert_eq!((code, body), (201, Value::Null));
        let (code, body) = call(&svc, "POST", "/api/v1/metadata/workflows", Some(wf), &[]).await;
        assert_eq!((code, error(&body)), (409, "Workflow already exists"));
        let (code, body) = call(
            &svc,
            "POST",
            "/api/v1/metadata/workflows",
            Some(&wf.replace("\"version\":2", "\"version\":3")),
            &[],
        )
        .await;
        assert_eq!((code, body), (201, Value::Null), "a newer version replaces");
        let (code, body) = call(
            &svc,
            "POST",
            "/api/v1/metadata/workflows",
            Some(r#"{"version":1}"#),
            &[],
        )
        .await;
        assert_eq!((code, error(&body)), (400, "Workflow missing name"));
        let (code, body) = call(
            &svc,
            "POST",
            "/api/v1/metadata/workflows",
            Some(r#"{"name":"x","version":"one"}"#),
            &[],
        )
        .await;
        assert_eq!(code, 400);
        assert!(error(&body).starts_with("Error parsing JSON form"));
        let (code, list) = call(&svc, "GET", "/api/v1/metadata/workflows", None, &[]).await;
        assert_eq!(code, 200);
        let mine = list
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["name"] == "mine")
            .unwrap();
        assert_eq!(mine["version"], 3);
        let (code, body) = call(&svc, "POST", "/api/v1/workflow/mine", Some("{}"), &[]).await;
        assert_eq!((code, error(&body)), (400, "Missing input parameters: [a]"));
    }
}

#[tokio::test]
async fn status_and_health() {
    for b in backends().await {
        let svc = service(&b, Scripted::new(|_| Reply::Status(200, "")), config()).await;
        assert_eq!(
            call(&svc, "GET", "/status", None, &[]).await,
            (200, json!({"status": "ok"}))
        );
        assert_eq!(
            call(&svc, "GET", "/health", None, &[]).await,
            (204, Value::Null)
        );
        assert_eq!(
            call(&svc, "GET", "/api/v1/health", None, &[]).await,
            (204, Value::Null)
        );
        let routers = svc.routers();
        assert!(routers.internal.has_routes(), "internal API");
        assert!(
            !routers.open.has_routes()
                && !routers.management.has_routes()
                && !routers.devices.has_routes(),
            "nothing public"
        );
    }
}

#[tokio::test]
async fn workflow_starter_trait() {
    use mender_api::workflows::{StartError, WorkflowStarter};
    for b in backends().await {
        let svc = service(&b, Scripted::new(|_| Reply::Status(200, "")), config()).await;
        let started = svc
            .start_workflow(
                "decommission_device",
                json!({"request_id": "r", "device_id": "d", "tenant_id": ""}),
            )
            .await
            .unwrap();
        assert_eq!(started.name, "decommission_device");
        assert_eq!(
            svc.app().job(&started.id).await.unwrap().workflow_name,
            "decommission_device"
        );
        assert!(
            matches!(svc.start_workflow("nope", json!({})).await, Err(StartError::NotFound(n)) if n == "nope")
        );
        assert!(matches!(
            svc.start_workflow("decommission_device", json!({"request_id": "r"})).await,
            Err(StartError::MissingInputs(m)) if m == ["device_id", "tenant_id"]
        ));
        assert!(matches!(
            svc.start_workflow("decommission_device", json!([1])).await,
            Err(StartError::Other(_))
        ));
        let _: &dyn JobQueue = b.queue.as_ref();
    }
}
