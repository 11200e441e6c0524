//! The edge of the real binary against hostile and clumsy clients: no panic reaches a
//! client, answers given before the body is read (401, 404, 413) reach the client over
//! HTTP/1.1 and HTTP/2, connections that send nothing or trickle are closed, and the
//! internal port insists on its shared secret.

// Tests may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::ServerProcess;
use common::mgmt::start_with_admin;
use serde_json::Value;

/// Clients for the public (TLS) port: HTTP/1.1 only, and HTTP/2 (prior knowledge over TLS).
fn protocol_clients(server: &ServerProcess) -> Vec<(reqwest::Version, reqwest::Client)> {
    let pem = std::fs::read(server.cert.as_ref().unwrap()).unwrap();
    let base = || {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
    };
    vec![
        (
            reqwest::Version::HTTP_11,
            base().http1_only().build().unwrap(),
        ),
        (
            reqwest::Version::HTTP_2,
            base().http2_prior_knowledge().build().unwrap(),
        ),
    ]
}

/// A hostile public key in an auth request is a 400 with upstream's body, not a dropped
/// connection (it used to panic a worker in the PEM parser).
#[tokio::test(flavor = "multi_thread")]
async fn hostile_pem_in_auth_request_is_400() {
    let (_tmp, server, _m) = start_with_admin().await;
    for (version, http) in protocol_clients(&server) {
        for pubkey in [
            "-----BEGIN -----END -----",
            "-----BEGIN X-----",
            "-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----",
        ] {
            let body = serde_json::json!({
                "id_data": "{\"mac\":\"00:11:22:33:44:55\"}",
                "pubkey": pubkey,
            });
            let r = http
                .post(format!(
                    "{}/api/devices/v1/authentication/auth_requests",
                    server.url
                ))
                .header("x-men-signature", "AAAA")
                .json(&body)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{version:?} {pubkey:?}: {e:?}"));
            assert_eq!(r.status(), 400, "{version:?} {pubkey:?}");
            let b: Value = r.json().await.unwrap();
            assert!(b["error"].is_string() && b["request_id"].is_string(), "{b}");
        }
    }
}

/// A body the client is still sending: `total` bytes in 16 KiB chunks.
fn slow_body(total: usize) -> reqwest::Body {
    let chunks = total / 16_384;
    reqwest::Body::wrap_stream(futures::stream::iter(
        (0..chunks).map(|_| Ok::<_, std::io::Error>(vec![b' '; 16_384])),
    ))
}

/// Answers given before the body is read reach the client on both protocol versions: 413
/// for a 3 MB body, 401 without a token, 404 for an unknown route (small and large bodies).
#[tokio::test(flavor = "multi_thread")]
async fn early_answers_reach_the_client_on_both_protocols() {
    let (_tmp, server, m) = start_with_admin().await;
    let users = format!("{}/api/management/v1/useradm/users", server.url);
    let unknown = format!(
        "{}/api/management/v1/deviceconfig/configurations/device/x",
        server.url
    );
    let big = vec![b' '; 3 * 1024 * 1024];
    for (version, http) in protocol_clients(&server) {
        let send = |req: reqwest::RequestBuilder, what: &'static str| async move {
            let r = req
                .send()
                .await
                .unwrap_or_else(|e| panic!("{version:?} {what}: no answer: {e:?}"));
            assert_eq!(r.version(), version, "{what}");
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            (status, body)
        };
        let (status, body) = send(
            http.post(&users)
                .bearer_auth(&m.token)
                .header("content-type", "application/json")
                .body(big.clone()),
            "3 MB body to users",
        )
        .await;
        assert_eq!(status, 413, "{version:?} {body}");
        assert!(body["request_id"].is_string(), "{body}");

        let (status, _) = send(
            http.post(&users)
                .header("content-type", "application/json")
                .body(big.clone()),
            "3 MB body without a token",
        )
        .await;
        assert_eq!(status, 401, "{version:?}");

        let (status, body) = send(
            http.put(&unknown)
                .bearer_auth(&m.token)
                .header("content-type", "application/json")
                .body("{\"a\":\"b\"}"),
            "small PUT to an unknown route",
        )
        .await;
        assert_eq!(status, 404, "{version:?} {body}");

        let (status, _) = send(
            http.put(&unknown)
                .bearer_auth(&m.token)
                .header("content-type", "application/json")
                .body(slow_body(8 * 1024 * 1024)),
            "streaming PUT to an unknown route",
        )
        .await;
        assert_eq!(status, 404, "{version:?}");

        // The connection is still good for the next request.
        let (status, _) = send(
            http.get(&users).bearer_auth(&m.token),
            "a request after the early answers",
        )
        .await;
        assert_eq!(status, 200, "{version:?}");
    }
}
