//! The internal REST API (`internal_v1.yaml`): status codes and bodies, on both backends
//! (`http_internal_v1::sqlite::<name>`, `http_internal_v1::postgres::<name>`), no workers
//! running.

use axum::http::StatusCode;
use mender_core::{Clock, JobId, Timestamp};
use mender_db::query;
use mender_db::testing::Backend;
use mender_queue::JobQueue;
use mender_testkit::json::{find, strings};
use mender_testkit::{TestClient, TestResponse};
use serde_json::json;

use crate::common::{Env, Scripted, client, config, go_error};

mender_db::each_backend!(
    start_and_read_jobs,
    start_rejects_bad_requests,
    batch_starts,
    definitions_api,
    status_and_health,
    workflow_starter_trait,
    jobs_take_id_and_insert_time_from_the_clock,
    register_parse_errors_are_gos,
    start_parse_errors_are_gos,
    go_decoding_rules_apply,
);

const PROVISION: &str = r#"{"request_id": "r1", "device_id": "d1", "tenant_id": "t1", "status": "pending",
                            "device": {"id": "d1", "n": 1}, "extra": [1, "x", null]}"#;

/// Starts `provision_device` with [`PROVISION`].
async fn start_provision(c: &TestClient) -> TestResponse {
    c.post("/api/v1/workflow/provision_device")
        .json_text(PROVISION)
        .send()
        .await
}

async fn start_and_read_jobs(backend: Backend) {
    let env = Env::new(backend).await;
    let svc = env.service(Scripted::ok(), config()).await;
    let c = client(&svc);
    let resp = start_provision(&c).await;
    resp.assert_status(StatusCode::CREATED);
    let body = resp.json();
    let id = body["id"].as_str().unwrap().to_owned();
    assert!(id.len() == 24 && id.bytes().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(body["name"], "provision_device");
    assert_eq!(env.queue.len().await.unwrap(), 1);

    let resp = c
        .get(&format!("/api/v1/workflow/provision_device/{id}"))
        .send()
        .await;
    resp.assert_status(StatusCode::OK);
    let job = resp.json();
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

    let same = c.get(&format!("/api/v1/jobs/{id}")).send().await;
    assert_eq!((same.status, same.json()), (StatusCode::OK, job));
    let other = c
        .get(&format!("/api/v1/workflow/decommission_device/{id}"))
        .send()
        .await;
    assert_eq!(go_error(&other, StatusCode::NOT_FOUND), "not found");
    let unknown = c.get("/api/v1/jobs/0000").send().await;
    assert_eq!(go_error(&unknown, StatusCode::NOT_FOUND), "not found");

    // Ephemeral jobs are queued but not recorded.
    let resp = c.post("/api/v1/workflow/update_device_inventory").json_text(r#"{"request_id":"r","attributes":"[]","tenant_id":"","device_id":"d","scope":"identity"}"#)
    .send()
    .await;
    resp.assert_status(StatusCode::CREATED);
    let eid = resp.json()["id"].as_str().unwrap().to_owned();
    let resp = c.get(&format!("/api/v1/jobs/{eid}")).send().await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
    assert_eq!(env.queue.len().await.unwrap(), 2);
}

/// What a refused start must answer with.
enum Refusal {
    /// This status and exactly this message.
    Is(StatusCode, &'static str),
    /// This status and a message starting with this.
    StartsWith(StatusCode, &'static str),
}

async fn start_rejects_bad_requests(backend: Backend) {
    const URL: &str = "/api/v1/workflow/provision_device";
    const BAD_INPUTS: Refusal = Refusal::StartsWith(
        StatusCode::BAD_REQUEST,
        "Unable to parse the input parameters",
    );
    let env = Env::new(backend).await;
    let svc = env.service(Scripted::ok(), config()).await;
    let c = client(&svc);
    let huge = format!("{{\"x\":\"{}\"}}", "a".repeat(2 * 1024 * 1024));
    let long_name = format!("/api/v1/workflow/{}", "%C3%BC".repeat(3000));
    // (uri, content type, body, X-Workflows-Min-Version, answer)
    let cases: Vec<(&str, &str, &str, Option<&str>, Refusal)> = vec![
        (
            URL,
            "application/json",
            r#"{"request_id":"r","device_id":"d","tenant_id":"t"}"#,
            None,
            Refusal::Is(
                StatusCode::BAD_REQUEST,
                "Missing input parameters: [device status]",
            ),
        ),
        (
            "/api/v1/workflow/no_such_flow",
            "application/json",
            "{}",
            None,
            Refusal::Is(StatusCode::NOT_FOUND, "Workflow not found"),
        ),
        (URL, "application/json", "{", None, BAD_INPUTS),
        (URL, "application/json", "[]", None, BAD_INPUTS),
        (URL, "application/json", "\"x\"", None, BAD_INPUTS),
        (URL, "application/json", "", None, BAD_INPUTS),
        // gin's `BindJSON` reads the first value only: trailing data is not an error.
        (
            URL,
            "application/json",
            "{\"a\":1}x",
            None,
            Refusal::Is(
                StatusCode::BAD_REQUEST,
                "Missing input parameters: [request_id device_id tenant_id device status]",
            ),
        ),
        (
            URL,
            "application/json",
            PROVISION,
            Some("11"),
            Refusal::Is(StatusCode::NOT_FOUND, "Workflow not found"),
        ),
        (
            URL,
            "text/plain",
            PROVISION,
            None,
            Refusal::StartsWith(StatusCode::UNSUPPORTED_MEDIA_TYPE, ""),
        ),
        (
            URL,
            "application/json",
            &huge,
            None,
            Refusal::StartsWith(StatusCode::PAYLOAD_TOO_LARGE, ""),
        ),
        (
            &long_name,
            "application/json",
            "{}",
            None,
            Refusal::Is(StatusCode::NOT_FOUND, "Workflow not found"),
        ),
    ];
    for (uri, content_type, body, min_version, refusal) in cases {
        let mut req = c
            .post(uri)
            .header("content-type", content_type)
            .body(body.to_owned());
        if let Some(v) = min_version {
            req = req.header("x-workflows-min-version", v);
        }
        let resp = req.send().await;
        let case = format!("{uri:.40} {content_type} {body:.40} {min_version:?}");
        match refusal {
            Refusal::Is(status, message) => {
                assert_eq!(go_error(&resp, status), message, "{case}");
            }
            Refusal::StartsWith(status, prefix) => {
                let message = go_error(&resp, status);
                assert!(message.starts_with(prefix), "{case}: {message}");
            }
        }
    }
    let resp = c
        .post(URL)
        .json_text(PROVISION)
        .header("x-workflows-min-version", "10")
        .send()
        .await;
    resp.assert_status(StatusCode::CREATED);
    assert_eq!(
        env.queue.len().await.unwrap(),
        1,
        "only the valid start was queued"
    );
}

async fn batch_starts(backend: Backend) {
    let env = Env::new(backend).await;
    let svc = env.service(Scripted::ok(), config()).await;
    let c = client(&svc);
    let one = r#"{"request_id":"r","tenant_id":"t","device_id":"d","service":"s"}"#;
    let url = "/api/v1/workflow/reindex_inventory/batch";
    let resp = c.post(url).json_text(format!("[{one},{one}]")).send().await;
    resp.assert_status(StatusCode::CREATED);
    let body = resp.json();
    let items = body.as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(
        items
            .iter()
            .all(|i| i["name"] == "reindex_inventory" && i["id"].as_str().unwrap().len() == 24)
    );
    assert_ne!(items[0]["id"], items[1]["id"]);
    let resp = c
        .post(url)
        .json_text(format!("[{one},{{\"request_id\":\"r\"}}]"))
        .send()
        .await;
    assert_eq!(
        go_error(&resp, StatusCode::BAD_REQUEST),
        "Missing input parameters: [tenant_id device_id service]"
    );
    let resp = c.post(url).json_text(one).send().await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST, "a batch is an array");
    let resp = c
        .post("/api/v1/workflow/nope/batch")
        .json_text("[{}]")
        .send()
        .await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
    let resp = c.post(url).json_text("[]").send().await;
    assert_eq!((resp.status, resp.json()), (StatusCode::CREATED, json!([])));
    assert_eq!(
        env.queue.len().await.unwrap(),
        2,
        "a failed batch queues nothing"
    );
}

async fn definitions_api(backend: Backend) {
    const URL: &str = "/api/v1/metadata/workflows";
    let env = Env::new(backend).await;
    let svc = env.service(Scripted::ok(), config()).await;
    let c = client(&svc);
    let resp = c.get(URL).send().await;
    resp.assert_status(StatusCode::OK);
    let list = resp.json();
    let names = strings(&list, "name");
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
    let resp = c.post(URL).json_text(wf).send().await;
    assert_eq!(
        (resp.status, resp.text()),
        (StatusCode::CREATED, String::new())
    );
    let resp = c.post(URL).json_text(wf).send().await;
    assert_eq!(
        go_error(&resp, StatusCode::CONFLICT),
        "Workflow already exists"
    );
    let resp = c
        .post(URL)
        .json_text(wf.replace("\"version\":2", "\"version\":3"))
        .send()
        .await;
    assert_eq!(
        (resp.status, resp.text()),
        (StatusCode::CREATED, String::new()),
        "a newer version replaces"
    );
    let resp = c.post(URL).json_text(r#"{"version":1}"#).send().await;
    assert_eq!(
        go_error(&resp, StatusCode::BAD_REQUEST),
        "Workflow missing name"
    );
    let resp = c
        .post(URL)
        .json_text(r#"{"name":"x","version":"one"}"#)
        .send()
        .await;
    assert!(go_error(&resp, StatusCode::BAD_REQUEST).starts_with("Error parsing JSON form"));
    let resp = c.get(URL).send().await;
    resp.assert_status(StatusCode::OK);
    let list = resp.json();
    let mine = find(&list, "name", "mine");
    assert_eq!(mine["version"], 3);
    let resp = c.post("/api/v1/workflow/mine").json_text("{}").send().await;
    assert_eq!(
        go_error(&resp, StatusCode::BAD_REQUEST),
        "Missing input parameters: [a]"
    );
}

async fn status_and_health(backend: Backend) {
    let env = Env::new(backend).await;
    let svc = env.service(Scripted::ok(), config()).await;
    let c = client(&svc);
    let resp = c.get("/status").send().await;
    assert_eq!(
        (resp.status, resp.json()),
        (StatusCode::OK, json!({"status": "ok"}))
    );
    for uri in ["/health", "/api/v1/health"] {
        let resp = c.get(uri).send().await;
        assert_eq!(
            (resp.status, resp.text()),
            (StatusCode::NO_CONTENT, String::new()),
            "{uri}"
        );
    }
    let routers = svc.routers();
    assert!(routers.internal.has_routes(), "internal API");
    assert!(
        !routers.open.has_routes()
            && !routers.management.has_routes()
            && !routers.devices.has_routes(),
        "nothing public"
    );
}

async fn workflow_starter_trait(backend: Backend) {
    use mender_api::workflows::{StartError, WorkflowStarter};
    let env = Env::new(backend).await;
    let svc = env.service(Scripted::ok(), config()).await;
    let started = svc
        .start_workflow(
            "decommission_device",
            json!({"request_id": "r", "device_id": "d", "tenant_id": ""}),
        )
        .await
        .unwrap();
    assert_eq!(started.name, "decommission_device");
    assert_eq!(
        svc.app()
            .job(&JobId::new(started.id))
            .await
            .unwrap()
            .workflow_name,
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
    let _: &dyn JobQueue = env.queue.as_ref();
}

/// A job's id (its first 4 bytes are seconds) and `insert_time` come from the service's
/// clock, and the column keeps RFC 3339 text.
async fn jobs_take_id_and_insert_time_from_the_clock(backend: Backend) {
    let env = Env::new(backend).await;
    env.clock
        .set(Timestamp::from_unix_micros(1_700_000_000_123_456));
    let svc = env.service(Scripted::ok(), config()).await;
    let c = client(&svc);
    let mut ids = Vec::new();
    for (step, expect) in [
        (0, "2023-11-14T22:13:20.123456Z"),
        (1_500, "2023-11-14T22:13:21.623456Z"),
    ] {
        env.clock.advance(std::time::Duration::from_millis(step));
        let resp = start_provision(&c).await;
        resp.assert_status(StatusCode::CREATED);
        let id = resp.json()["id"].as_str().unwrap().to_owned();
        let secs = env.clock.now().unix_secs();
        assert_eq!(&id[..8], format!("{secs:08x}"), "{id}");
        let job = c.get(&format!("/api/v1/jobs/{id}")).send().await.json();
        assert_eq!(job["insert_time"], expect);
        let stored: String = query("SELECT insert_time FROM jobs WHERE id = $1")
            .bind(id.as_str())
            .scalar(&*env.db)
            .await
            .unwrap();
        assert_eq!(stored, expect);
        ids.push(id);
    }
    assert_ne!(ids[0], ids[1]);
}

/// Sends `body` (bytes, JSON content type) and returns the answer.
async fn post_bytes(c: &TestClient, uri: &str, body: &[u8]) -> TestResponse {
    c.post(uri).json_text(body.to_vec()).send().await
}

/// `POST /api/v1/metadata/workflows` answers like upstream's `json.Unmarshal`: Go's texts
/// after `Error parsing JSON form: `, gin's JSON (`<` escaped), nothing registered.
async fn register_parse_errors_are_gos(backend: Backend) {
    const URL: &str = "/api/v1/metadata/workflows";
    let env = Env::new(backend).await;
    let svc = env.service(Scripted::ok(), config()).await;
    let c = client(&svc);
    let before = c.get(URL).send().await.json();
    for (body, want) in [
        (&b""[..], "unexpected end of JSON input"),
        (b"  ", "unexpected end of JSON input"),
        (b"{", "unexpected end of JSON input"),
        (b"{\"name\":\"x\",", "unexpected end of JSON input"),
        (
            b"{\"name\":\"x\"} trailing",
            "invalid character 't' after top-level value",
        ),
        (
            b"{\"name\":\"x\"}{}",
            "invalid character '{' after top-level value",
        ),
        (
            b"<html>",
            "invalid character '<' looking for beginning of value",
        ),
        (
            b"\xef\xbb\xbf{\"name\":\"x\"}",
            "invalid character '\u{ef}' looking for beginning of value",
        ),
        (
            b"{name:1}",
            "invalid character 'n' looking for beginning of object key string",
        ),
        (
            b"{\"name\" \"x\"}",
            "invalid character '\"' after object key",
        ),
        (
            b"{\"version\":-}",
            "invalid character '}' in numeric literal",
        ),
        (
            b"{\"version\":tru}",
            "invalid character '}' in literal true (expecting 'e')",
        ),
        (
            b"{\"name\":\"a\x01\"}",
            "invalid character '\\x01' in string literal",
        ),
        (
            b"{\"name\":5}",
            "json: cannot unmarshal number into Go struct field Workflow.name of type string",
        ),
        (
            b"{\"name\":\"x\",\"version\":\"one\"}",
            "json: cannot unmarshal string into Go struct field Workflow.version of type int",
        ),
        (
            b"{\"name\":\"x\",\"tasks\":\"x\"}",
            "json: cannot unmarshal string into Go struct field Workflow.tasks of type []model.Task",
        ),
        (
            b"{\"name\":\"x\",\"tasks\":[{\"retries\":\"x\"}]}",
            "json: cannot unmarshal string into Go struct field Task.tasks.retries of type uint8",
        ),
        (
            b"{\"name\":\"x\",\"tasks\":[{\"retries\":256}]}",
            "json: cannot unmarshal number 256 into Go struct field Task.tasks.retries of type uint8",
        ),
        (
            b"{\"name\":\"x\",\"tasks\":[{\"http\":{\"headers\":[]}}]}",
            "json: cannot unmarshal array into Go struct field HTTPTask.tasks.http.headers of type map[string]string",
        ),
        (
            b"[{\"name\":\"x\"}]",
            "json: cannot unmarshal array into Go value of type model.Workflow",
        ),
    ] {
        let resp = post_bytes(&c, URL, body).await;
        let case = String::from_utf8_lossy(body).into_owned();
        assert_eq!(
            go_error(&resp, StatusCode::BAD_REQUEST),
            format!("Error parsing JSON form: {want}"),
            "{case}"
        );
        assert_eq!(
            resp.header("content-type"),
            Some("application/json; charset=utf-8"),
            "{case}"
        );
        assert!(!resp.text().contains('<'), "gin escapes <: {}", resp.text());
    }
    let resp = post_bytes(&c, URL, b"null").await;
    assert_eq!(
        go_error(&resp, StatusCode::BAD_REQUEST),
        "Workflow missing name"
    );
    assert_eq!(c.get(URL).send().await.json(), before, "nothing registered");
}

/// `POST /api/v1/workflow/{name}` and `.../batch` answer like gin's `BindJSON` (Go's
/// `json.Decoder`): `EOF`, `unexpected EOF`, trailing data ignored, `text/plain` type.
async fn start_parse_errors_are_gos(backend: Backend) {
    const URL: &str = "/api/v1/workflow/provision_device";
    const BATCH: &str = "/api/v1/workflow/reindex_inventory/batch";
    let env = Env::new(backend).await;
    let svc = env.service(Scripted::ok(), config()).await;
    let c = client(&svc);
    let deep = format!("{{\"a\":{}", "[".repeat(100_000));
    for (uri, body, want) in [
        (URL, &b""[..], "EOF"),
        (URL, b" \n", "EOF"),
        (URL, b"{", "unexpected EOF"),
        (URL, b"{\"a\":", "unexpected EOF"),
        (URL, b"{\"a\":\"b", "unexpected EOF"),
        (URL, b"-", "unexpected EOF"),
        (
            URL,
            b"x",
            "invalid character 'x' looking for beginning of value",
        ),
        (URL, b"{\"a\" 1}", "invalid character '1' after object key"),
        (
            URL,
            b"{\"a\":1,}",
            "invalid character '}' looking for beginning of object key string",
        ),
        (
            URL,
            b"{\"a\":\"\\q\"}",
            "invalid character 'q' in string escape code",
        ),
        (
            URL,
            b"[]",
            "json: cannot unmarshal array into Go value of type map[string]interface {}",
        ),
        (
            URL,
            b"\"x\"",
            "json: cannot unmarshal string into Go value of type map[string]interface {}",
        ),
        (
            URL,
            b"01",
            "json: cannot unmarshal number into Go value of type map[string]interface {}",
        ),
        (
            URL,
            b"{\"a\":1e400}",
            "json: cannot unmarshal number 1e400 into Go value of type float64",
        ),
        (
            URL,
            deep.as_bytes(),
            "invalid character '[' exceeded max depth",
        ),
        (BATCH, b"", "EOF"),
        (BATCH, b"[{}", "unexpected EOF"),
        (
            BATCH,
            b"{}",
            "json: cannot unmarshal object into Go value of type []map[string]interface {}",
        ),
        (
            BATCH,
            b"[1]",
            "json: cannot unmarshal number into Go value of type map[string]interface {}",
        ),
    ] {
        let resp = post_bytes(&c, uri, body).await;
        let case = format!("{uri} {:.60}", String::from_utf8_lossy(body));
        assert_eq!(
            go_error(&resp, StatusCode::BAD_REQUEST),
            format!("Unable to parse the input parameters: {want}"),
            "{case}"
        );
        assert_eq!(
            resp.header("content-type"),
            Some("text/plain; charset=utf-8"),
            "{case}"
        );
    }
    // Other refusals are gin's JSON.
    let resp = post_bytes(&c, URL, b"null").await;
    assert_eq!(
        go_error(&resp, StatusCode::BAD_REQUEST),
        "Missing input parameters: [request_id device_id tenant_id device status]"
    );
    assert_eq!(
        resp.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    let resp = post_bytes(&c, BATCH, b"[null]").await;
    assert_eq!(
        go_error(&resp, StatusCode::BAD_REQUEST),
        "Missing input parameters: [request_id tenant_id device_id service]"
    );
    assert_eq!(env.queue.len().await.unwrap(), 0, "nothing queued");
    // The first value is read, the rest ignored.
    let resp = post_bytes(&c, URL, format!("{PROVISION} {{not json").as_bytes()).await;
    resp.assert_status(StatusCode::CREATED);
    let resp = post_bytes(&c, BATCH, b"null").await;
    assert_eq!((resp.status, resp.json()), (StatusCode::CREATED, json!([])));
    assert_eq!(env.queue.len().await.unwrap(), 1);
}

/// Go's decoding rules on accepted bodies: keys match case-insensitively, `null` leaves a
/// field alone, duplicates: the last wins, invalid UTF-8 becomes U+FFFD, any integer is a
/// status code.
async fn go_decoding_rules_apply(backend: Backend) {
    const URL: &str = "/api/v1/metadata/workflows";
    let env = Env::new(backend).await;
    let svc = env.service(Scripted::ok(), config()).await;
    let c = client(&svc);
    let mut body = br#"{"NAME":"goish","Version":2,"name":null,"unknown":{"x":[1]},
        "inputParameters":["a"],"InputParameters":["b"],
        "tasks":[{"name":"t","type":"http","http":{"uri":"http://x","method":"GET",
                  "statusCodes":[70000, -1, 200]}}],
        "description":"caf"#
        .to_vec();
    body.extend_from_slice(b"\xff\"}");
    let resp = post_bytes(&c, URL, &body).await;
    assert_eq!(
        (resp.status, resp.text()),
        (StatusCode::CREATED, String::new())
    );
    let list = c.get(URL).send().await.json();
    let wf = find(&list, "name", "goish");
    assert_eq!(wf["version"], 2);
    assert_eq!(wf["inputParameters"], json!(["b"]));
    assert_eq!(wf["description"], "caf\u{fffd}");
    assert_eq!(
        wf["tasks"][0]["http"]["statusCodes"],
        json!([70000, -1, 200])
    );
    // Start inputs: invalid UTF-8 is repaired, the last duplicate wins.
    let resp = post_bytes(
        &c,
        "/api/v1/workflow/goish",
        b"{\"b\":\"1\",\"b\":\"v\xff\"}",
    )
    .await;
    resp.assert_status(StatusCode::CREATED);
    let id = resp.json()["id"].as_str().unwrap().to_owned();
    let job = c.get(&format!("/api/v1/jobs/{id}")).send().await.json();
    assert_eq!(
        job["inputParameters"],
        json!([{"name": "b", "value": "v\u{fffd}"}])
    );
}
