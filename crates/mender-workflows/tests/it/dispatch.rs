//! `ReqwestDispatcher` against a real local HTTP server.

use std::time::Duration;

use axum::routing::any;
use bytes::Bytes;
use mender_workflows::{HttpDispatcher, ReqwestDispatcher};

async fn server() -> String {
    let app = axum::Router::new()
        .route(
            "/echo",
            any(|headers: http::HeaderMap, body: Bytes| async move {
                let rid = headers
                    .get("x-men-requestid")
                    .map(|v| v.to_str().unwrap().to_owned())
                    .unwrap_or_default();
                (
                    http::StatusCode::ACCEPTED,
                    format!("{rid}:{}", String::from_utf8_lossy(&body)),
                )
            }),
        )
        .route(
            "/slow",
            any(|| async {
                tokio::time::sleep(Duration::from_secs(10)).await;
                "late"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test]
async fn sends_requests_and_honours_timeouts() {
    let base = server().await;
    let d = ReqwestDispatcher::new();
    let req = http::Request::post(format!("{base}/echo"))
        .header("X-MEN-RequestID", "r1")
        .body(Bytes::from_static(b"{\"a\":1}"))
        .unwrap();
    let resp = d.send(req, Duration::from_secs(5)).await.unwrap();
    assert_eq!(resp.status(), 202);
    assert_eq!(resp.body().as_ref(), b"r1:{\"a\":1}");

    let start = std::time::Instant::now();
    let req = http::Request::get(format!("{base}/slow"))
        .body(Bytes::new())
        .unwrap();
    assert!(d.send(req, Duration::from_millis(300)).await.is_err());
    assert!(start.elapsed() < Duration::from_secs(5));

    // Nothing listens on port 9 of localhost.
    let req = http::Request::get("http://127.0.0.1:9/")
        .body(Bytes::new())
        .unwrap();
    assert!(d.send(req, Duration::from_secs(5)).await.is_err());
}
