//! The gateway's routing rules: which routes need which token, that internal routes never
//! appear on the public router, that paths under a service's secured prefix need a token
//! whether a route serves them or not, gin's trailing-slash redirects and 405 `Allow`.

// Tests may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::{get, post};
use mender_core::service::Routers;
use mender_core::verify::{ForwardedRequest, TokenVerifier};
use mender_core::{ApiError, Identity};
use mender_gateway::{GatewayConfig, compose};
use mender_testkit::TestClient;
use serde_json::Value;

/// Accepts exactly the token it was built with; counts its calls.
struct Fixed {
    token: &'static str,
    device: bool,
    calls: Arc<AtomicUsize>,
}

#[async_trait::async_trait]
impl TokenVerifier for Fixed {
    async fn verify(&self, req: &ForwardedRequest) -> Result<Identity, ApiError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match mender_core::identity::request_token(&req.headers) {
            Ok(t) if t.expose_str() == self.token => Ok(Identity {
                subject: format!("subject-of-{}", self.token),
                is_device: self.device,
                is_user: !self.device,
                ..Identity::default()
            }),
            _ => Err(ApiError::unauthorized("unauthorized")),
        }
    }
}

async fn whoami(id: Identity) -> String {
    id.subject
}

/// The test routers, how many times their handlers ran and how many times a token was
/// verified.
struct Gateway {
    public: Router,
    internal: Router,
    handled: Arc<AtomicUsize>,
    verified: Arc<AtomicUsize>,
}

impl Gateway {
    fn handled(&self) -> usize {
        self.handled.load(Ordering::SeqCst)
    }

    fn verified(&self) -> usize {
        self.verified.load(Ordering::SeqCst)
    }
}

fn gateway() -> Gateway {
    let handled = Arc::new(AtomicUsize::new(0));
    let verified = Arc::new(AtomicUsize::new(0));
    let h = handled.clone();
    let counted = move |id: Option<axum::Extension<Identity>>| {
        let h = h.clone();
        async move {
            h.fetch_add(1, Ordering::SeqCst);
            id.map_or_else(|| "handled".to_owned(), |i| i.0.subject)
        }
    };
    let routers = Routers {
        open: Router::new().route(
            "/api/management/v1/useradm/auth/login",
            post(|| async { "login" }),
        ),
        management: Router::new()
            .route("/api/management/v1/useradm/users", get(whoami))
            .route(
                "/api/management/v1/useradm/users/{id}",
                get(counted.clone())
                    .put(counted.clone())
                    .delete(counted.clone()),
            )
            .route("/api/management/v1/inventory/devices", get(counted.clone())),
        devices: Router::new().route(
            "/api/devices/v1/inventory/device/attributes",
            get(whoami).put(counted.clone()),
        ),
        internal: Router::new()
            .route("/api/internal/v1/useradm/health", get(|| async { "ok" }))
            .route(
                "/api/v1/metadata/workflows",
                get(counted.clone()).post(counted.clone()),
            )
            .route("/api/v1/workflow/{name}", post(counted)),
    };
    let composed = compose(
        routers,
        GatewayConfig {
            user_verifier: Arc::new(Fixed {
                token: "user",
                device: false,
                calls: verified.clone(),
            }),
            device_verifier: Some(Arc::new(Fixed {
                token: "dev",
                device: true,
                calls: verified.clone(),
            })),
            body_limit: 16,
        },
    );
    Gateway {
        public: composed.public,
        internal: composed.internal,
        handled,
        verified,
    }
}

fn app() -> Router {
    gateway().public
}

/// Calls the public router with an optional bearer token: status, body, request id.
async fn call(method: &str, uri: &str, token: Option<&str>) -> (StatusCode, Value, String) {
    let mut req = TestClient::new(app()).request(method.parse().unwrap(), uri);
    if let Some(t) = token {
        req = req.bearer(t);
    }
    let resp = req.send().await;
    let rid = resp
        .header("x-men-requestid")
        .unwrap_or_default()
        .to_owned();
    let json = serde_json::from_slice(&resp.body).unwrap_or(Value::String(resp.text()));
    (resp.status, json, rid)
}

/// The status alone, for each (token, expected status) of one route.
async fn assert_statuses(method: &str, uri: &str, cases: &[(Option<&str>, StatusCode)]) {
    for &(token, want) in cases {
        assert_eq!(
            call(method, uri, token).await.0,
            want,
            "{method} {uri} {token:?}"
        );
    }
}

#[tokio::test]
async fn management_routes_need_a_user_token() {
    let (s, body, rid) = call("GET", "/api/management/v1/useradm/users", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "unauthorized");
    assert_eq!(body["request_id"], rid);
    assert!(!rid.is_empty());
    assert_statuses(
        "GET",
        "/api/management/v1/useradm/users",
        &[(Some("dev"), StatusCode::UNAUTHORIZED)],
    )
    .await;
    let (s, body, _) = call("GET", "/api/management/v1/useradm/users", Some("user")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body, "subject-of-user");
}

#[tokio::test]
async fn device_routes_need_a_device_token() {
    assert_statuses(
        "GET",
        "/api/devices/v1/inventory/device/attributes",
        &[
            (None, StatusCode::UNAUTHORIZED),
            (Some("user"), StatusCode::UNAUTHORIZED),
            (Some("dev"), StatusCode::OK),
        ],
    )
    .await;
}

#[tokio::test]
async fn open_routes_need_no_token_and_internal_routes_are_absent() {
    assert_statuses(
        "POST",
        "/api/management/v1/useradm/auth/login",
        &[(None, StatusCode::OK)],
    )
    .await;
    let (s, body, _) = call("GET", "/api/internal/v1/useradm/health", Some("user")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "not found");
}

#[tokio::test]
async fn wrong_method_is_405_with_upstream_body() {
    let (s, body, _) = call("DELETE", "/api/management/v1/useradm/auth/login", None).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["error"], "method not allowed");
}

#[tokio::test]
async fn request_id_is_echoed() {
    let resp = TestClient::new(app())
        .get("/nowhere")
        .header("x-men-requestid", "abc-123")
        .send()
        .await;
    assert_eq!(resp.header("x-men-requestid"), Some("abc-123"));
    assert_eq!(resp.json()["request_id"], "abc-123");
}

#[tokio::test]
async fn http2_authority_becomes_the_host_header() {
    let app = mender_gateway::finish(
        Router::new().route(
            "/host",
            get(|h: axum::http::HeaderMap| async move { h["host"].to_str().unwrap().to_owned() }),
        ),
        1024,
    );
    let req = Request::builder()
        .uri("https://ota.example.com:8443/host")
        .version(axum::http::Version::HTTP_2)
        .body(Body::empty())
        .unwrap();
    let resp = TestClient::new(app).send(req).await;
    assert_eq!(resp.text(), "ota.example.com:8443");
}

/// Collects what the access log writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// Sends this thread's log (INFO and up, no colours) to a new collector until the guard
    /// goes.
    fn install() -> (Self, tracing::subscriber::DefaultGuard) {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        (out, tracing::subscriber::set_default(subscriber))
    }

    /// What was written so far.
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn access_log_has_request_id_status_and_path_but_no_secrets() {
    let (out, _guard) = Captured::install();
    let resp = TestClient::new(app())
        .get("/api/management/v1/useradm/users?x-men-signature=SIGNED-LINK-SECRET")
        .bearer("TOKEN-SECRET")
        .header("x-men-requestid", "rid-42")
        .send()
        .await;
    assert_eq!(resp.status, StatusCode::UNAUTHORIZED);
    let log = out.text();
    let line = log
        .lines()
        .find(|l| l.contains("finished processing request"))
        .unwrap_or_else(|| panic!("no access log line in {log:?}"));
    for want in [
        "rid-42",
        "status=401",
        "/api/management/v1/useradm/users",
        "GET",
    ] {
        assert!(line.contains(want), "{want} missing from {line}");
    }
    assert!(!log.contains("SECRET"), "a secret reached the log: {log}");
}

/// One request to `router`, with an optional bearer token and body.
async fn send(
    router: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: &str,
) -> mender_testkit::TestResponse {
    let mut req = TestClient::new(router.clone())
        .request(method.parse().unwrap(), uri)
        .body(body.to_owned());
    if !body.is_empty() {
        req = req.header("content-type", "application/json");
    }
    if let Some(t) = token {
        req = req.bearer(t);
    }
    req.send().await
}

/// Asserts gin's redirect: status, relative `Location`, body and content type by method,
/// no request id.
fn assert_redirect(resp: &mender_testkit::TestResponse, method: &str, location: &str) {
    let (status, body, content_type) = match method {
        "GET" => (
            StatusCode::MOVED_PERMANENTLY,
            format!(
                "<a href=\"{}\">Moved Permanently</a>.\n\n",
                location.replace('&', "&amp;")
            ),
            Some("text/html; charset=utf-8"),
        ),
        "HEAD" => (
            StatusCode::TEMPORARY_REDIRECT,
            String::new(),
            Some("text/html; charset=utf-8"),
        ),
        _ => (StatusCode::TEMPORARY_REDIRECT, String::new(), None),
    };
    let what = format!("{method} -> {location}");
    assert_eq!(resp.status, status, "{what}: {}", resp.text());
    assert_eq!(resp.header("location"), Some(location), "{what}");
    assert_eq!(resp.text(), body, "{what}");
    assert_eq!(resp.header("content-type"), content_type, "{what}");
    assert_eq!(resp.header("x-men-requestid"), None, "{what}");
}

#[tokio::test]
async fn trailing_slash_redirects_like_gin_without_running_a_handler() {
    let g = gateway();
    // Internal router (workflows): no token anywhere.
    for (method, uri, location) in [
        (
            "POST",
            "/api/v1/metadata/workflows/",
            "/api/v1/metadata/workflows",
        ),
        (
            "GET",
            "/api/v1/metadata/workflows/?a=1&b=%20",
            "/api/v1/metadata/workflows?a=1&b=%20",
        ),
        (
            "HEAD",
            "/api/v1/metadata/workflows/",
            "/api/v1/metadata/workflows",
        ),
        (
            "POST",
            "/api/v1/workflow/provision_device/",
            "/api/v1/workflow/provision_device",
        ),
    ] {
        let resp = send(&g.internal, method, uri, None, "{\"a\":1}").await;
        assert_redirect(&resp, method, location);
    }
    // Public router: open routes redirect without a token; protected ones after the token
    // check that upstream's Traefik runs first.
    for (method, uri, token, body, location) in [
        (
            "POST",
            "/api/management/v1/useradm/auth/login/",
            None,
            "",
            "/api/management/v1/useradm/auth/login",
        ),
        (
            "GET",
            "/api/management/v1/inventory/devices/?page=2",
            Some("user"),
            "",
            "/api/management/v1/inventory/devices?page=2",
        ),
        (
            "PUT",
            "/api/devices/v1/inventory/device/attributes/",
            Some("dev"),
            "[]",
            "/api/devices/v1/inventory/device/attributes",
        ),
    ] {
        let resp = send(&g.public, method, uri, token, body).await;
        assert_redirect(&resp, method, location);
        if uri.starts_with("/api/management/") {
            assert_eq!(
                resp.header("strict-transport-security"),
                Some("max-age=31536000; includeSubDomains; preload"),
                "management answers carry upstream's sec-headers: {uri}"
            );
        }
    }
    assert_eq!(g.handled(), 0, "no handler ran for a redirect or a probe");
}

#[tokio::test]
async fn no_redirect_without_a_route_of_the_same_method() {
    let g = gateway();
    // The slash-less path has only GET and POST: DELETE is a plain 404 (gin has no route
    // for the path with the slash in any tree).
    let resp = send(
        &g.internal,
        "DELETE",
        "/api/v1/metadata/workflows/",
        None,
        "",
    )
    .await;
    assert_eq!(resp.assert_error(StatusCode::NOT_FOUND), "not found");
    // A GET to a path whose slash-less form has only POST.
    let resp = send(&g.internal, "GET", "/api/v1/workflow/x/", None, "").await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
    // Nothing to toggle: the root, and a path that is neither route with nor without slash.
    for uri in ["/", "/api/v1/nothing/"] {
        let resp = send(&g.internal, "GET", uri, None, "").await;
        assert_eq!(resp.status, StatusCode::NOT_FOUND, "{uri}");
        assert!(resp.header("x-men-requestid").is_some());
    }
    // Served paths are served, not redirected.
    let resp = send(&g.internal, "GET", "/api/v1/metadata/workflows", None, "").await;
    assert_eq!(
        (resp.status, resp.text()),
        (StatusCode::OK, "handled".into())
    );
    assert_eq!(g.handled(), 1);
}

#[tokio::test]
async fn protected_prefixes_need_a_token_served_or_not() {
    let g = gateway();
    let unauthorized = |resp: &mender_testkit::TestResponse, what: &str| {
        assert_eq!(
            resp.assert_error(StatusCode::UNAUTHORIZED),
            "unauthorized",
            "{what}"
        );
        assert_eq!(
            resp.header("www-authenticate"),
            Some("Bearer realm=\"ManagementJWT\""),
            "{what}"
        );
    };
    // (method, path, token that opens the prefix, token of the other kind)
    for (method, path, good, other) in [
        (
            "GET",
            "/api/management/v1/deviceconfig/configurations/device/x",
            "user",
            "dev",
        ),
        ("PUT", "/api/management/v2/inventory/nope", "user", "dev"),
        (
            "GET",
            "/api/management/v1/iot-manager/integrations",
            "user",
            "dev",
        ),
        ("POST", "/api/management/v1/useradm/nothing", "user", "dev"),
        // A served path with a method it does not have is behind the token too.
        (
            "DELETE",
            "/api/management/v1/inventory/devices",
            "user",
            "dev",
        ),
        // And so is a path that would redirect.
        (
            "GET",
            "/api/management/v1/inventory/devices/",
            "user",
            "dev",
        ),
        (
            "GET",
            "/api/devices/v1/deviceconnect/nothing",
            "dev",
            "user",
        ),
        (
            "PUT",
            "/api/devices/v1/deviceconfig/configuration",
            "dev",
            "user",
        ),
        ("GET", "/api/devices/v2/inventory/x", "dev", "user"),
    ] {
        let what = format!("{method} {path}");
        for token in [None, Some(other), Some("forged")] {
            // A body bigger than the limit: the token check comes first.
            let resp = send(&g.public, method, path, token, &"x".repeat(64)).await;
            unauthorized(&resp, &format!("{what} {token:?}"));
        }
        let resp = send(&g.public, method, path, Some(good), "{}").await;
        match resp.status {
            StatusCode::NOT_FOUND => {
                assert_eq!(
                    resp.assert_error(StatusCode::NOT_FOUND),
                    "not found",
                    "{what}"
                );
            }
            StatusCode::METHOD_NOT_ALLOWED => assert_eq!(resp.header("allow"), Some("GET")),
            StatusCode::MOVED_PERMANENTLY => {}
            s => panic!("{what}: {s}"),
        }
    }
    assert_eq!(g.handled(), 0);
}

#[tokio::test]
async fn paths_outside_every_service_prefix_are_404_whatever_the_token() {
    let g = gateway();
    for path in [
        "/api/management/v1/auditlogs/logs",
        "/api/management/v2/devicemonitor/x",
        "/api/devices/v1/foo",
        "/api/internal/v1/devauth/tokens/verify",
        "/api/v1/metadata/workflows",
        "/api/v1/metadata/workflows/",
    ] {
        for token in [None, Some("user"), Some("dev")] {
            let resp = send(&g.public, "POST", path, token, "{}").await;
            assert_eq!(
                resp.assert_error(StatusCode::NOT_FOUND),
                "not found",
                "{path} {token:?}"
            );
        }
    }
    assert_eq!(g.verified(), 0, "no token is checked outside the prefixes");
}

#[tokio::test]
async fn a_served_request_is_verified_once() {
    let g = gateway();
    let resp = send(
        &g.public,
        "GET",
        "/api/management/v1/useradm/users",
        Some("user"),
        "",
    )
    .await;
    assert_eq!(resp.text(), "subject-of-user");
    assert_eq!(g.verified(), 1);
}

#[tokio::test]
async fn method_not_allowed_lists_the_methods_like_gin() {
    let g = gateway();
    for (router, method, path, token, allow) in [
        (
            &g.public,
            "DELETE",
            "/api/management/v1/useradm/auth/login",
            None,
            "POST",
        ),
        (
            &g.public,
            "POST",
            "/api/management/v1/useradm/users/1",
            Some("user"),
            "GET, PUT, DELETE",
        ),
        (
            &g.public,
            "POST",
            "/api/devices/v1/inventory/device/attributes",
            Some("dev"),
            "GET, PUT",
        ),
        (
            &g.internal,
            "PUT",
            "/api/v1/metadata/workflows",
            None,
            "GET, POST",
        ),
    ] {
        let resp = send(router, method, path, token, "").await;
        assert_eq!(
            resp.assert_error(StatusCode::METHOD_NOT_ALLOWED),
            "method not allowed",
            "{method} {path}"
        );
        assert_eq!(resp.header("allow"), Some(allow), "{method} {path}");
    }
    assert_eq!(g.handled(), 0);
}

/// A handler that panics costs the client a 500 with upstream's body and the request id,
/// not a dropped connection; the log says why.
#[tokio::test]
async fn a_panicking_handler_answers_500_with_the_request_id() {
    let (out, _guard) = Captured::install();
    let router = mender_gateway::finish(
        Router::new().route(
            "/api/internal/v1/boom",
            get(|| async {
                let v: Vec<u8> = Vec::new();
                if v.is_empty() {
                    panic!("boom: index out of range");
                }
                "unreachable"
            }),
        ),
        1024,
    );
    let resp = TestClient::new(router)
        .get("/api/internal/v1/boom")
        .header("x-men-requestid", "rid-panic")
        .send()
        .await;
    assert_eq!(resp.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        resp.json(),
        serde_json::json!({"error": "internal error", "request_id": "rid-panic"})
    );
    assert_eq!(resp.header("x-men-requestid"), Some("rid-panic"));
    let log = out.text();
    assert!(
        log.lines()
            .any(|l| l.contains("boom: index out of range") && l.contains("rid-panic")),
        "the panic's cause is logged with the request id: {log}"
    );
}

/// The client address handlers see: the peer, or from `X-Forwarded-For` only when the peer
/// is a trusted proxy.
#[tokio::test]
async fn client_addr_comes_from_the_peer_or_a_trusted_proxy() {
    use mender_core::ClientAddr;
    use std::net::SocketAddr;
    let router = mender_gateway::with_client_addr(
        mender_gateway::finish(
            Router::new().route(
                "/api/internal/v1/whoami",
                get(|ClientAddr(ip): ClientAddr| async move { ip.to_string() }),
            ),
            1024,
        ),
        vec!["10.0.0.0/8".parse().unwrap()],
    );
    let ask = |peer: &str, xff: Option<&str>| {
        let router = router.clone();
        let peer: SocketAddr = peer.parse().unwrap();
        let xff = xff.map(str::to_owned);
        async move {
            let mut req = Request::builder().uri("/api/internal/v1/whoami");
            if let Some(x) = xff {
                req = req.header("x-forwarded-for", x);
            }
            let mut req = req.body(Body::empty()).unwrap();
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            TestClient::new(router).send(req).await.text()
        }
    };
    assert_eq!(ask("198.51.100.1:4000", None).await, "198.51.100.1");
    assert_eq!(
        ask("198.51.100.1:4000", Some("203.0.113.9")).await,
        "198.51.100.1",
        "an untrusted peer cannot choose its address"
    );
    assert_eq!(
        ask("10.0.0.2:4000", Some("6.6.6.6, 203.0.113.9")).await,
        "203.0.113.9",
        "behind a trusted proxy, the right-most untrusted address"
    );
    assert_eq!(
        ask("[::ffff:10.0.0.2]:4000", Some("203.0.113.9")).await,
        "203.0.113.9"
    );
}

/// With a shared secret, every internal request must carry it.
#[tokio::test]
async fn the_internal_secret_is_required() {
    let router = mender_gateway::require_secret(
        mender_gateway::finish(
            Router::new().route("/api/internal/v1/x/health", get(|| async { "ok" })),
            1024,
        ),
        "a-long-shared-secret-0123456789".into(),
    );
    let ask = |secret: Option<&'static str>| {
        let mut req = TestClient::new(router.clone()).get("/api/internal/v1/x/health");
        if let Some(s) = secret {
            req = req.header(mender_gateway::INTERNAL_SECRET_HEADER, s);
        }
        req.send()
    };
    assert_eq!(ask(None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(ask(Some("wrong")).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        ask(Some("a-long-shared-secret-012345678")).await.status,
        StatusCode::UNAUTHORIZED
    );
    let ok = ask(Some("a-long-shared-secret-0123456789")).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.text(), "ok");
}
