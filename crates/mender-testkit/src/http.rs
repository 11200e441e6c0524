//! [`TestClient`]: the one typed client service tests use to call a router in-process, as
//! the gateway would after authenticating (the caller's [`Identity`] rides along as a request
//! extension), and [`TestResponse`], the answer read whole with upstream-aware assertions.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, header};
use bytes::Bytes;
use futures::Stream;
use http_body_util::BodyExt;
use mender_core::{ClientAddr, Identity};
use serde_json::Value;
use tower::ServiceExt;

/// Calls one router in-process.
#[derive(Clone)]
pub struct TestClient {
    router: Router,
    identity: Option<Identity>,
}

impl TestClient {
    /// A client of `router` that sends no identity (open and internal routes).
    pub fn new(router: Router) -> Self {
        Self {
            router,
            identity: None,
        }
    }

    /// The same router, called as `identity` (management and device routes).
    pub fn as_identity(&self, identity: Identity) -> Self {
        Self {
            router: self.router.clone(),
            identity: Some(identity),
        }
    }

    /// A request with any method.
    pub fn request(&self, method: Method, uri: &str) -> TestRequest {
        TestRequest {
            client: self.clone(),
            builder: Request::builder().method(method).uri(uri),
            body: Body::empty(),
        }
    }

    /// `GET uri`.
    pub fn get(&self, uri: &str) -> TestRequest {
        self.request(Method::GET, uri)
    }

    /// `POST uri`.
    pub fn post(&self, uri: &str) -> TestRequest {
        self.request(Method::POST, uri)
    }

    /// `PUT uri`.
    pub fn put(&self, uri: &str) -> TestRequest {
        self.request(Method::PUT, uri)
    }

    /// `PATCH uri`.
    pub fn patch(&self, uri: &str) -> TestRequest {
        self.request(Method::PATCH, uri)
    }

    /// `DELETE uri`.
    pub fn delete(&self, uri: &str) -> TestRequest {
        self.request(Method::DELETE, uri)
    }

    /// Sends a request built elsewhere (with the client's identity, if any).
    pub async fn send(&self, mut req: Request<Body>) -> TestResponse {
        if let Some(id) = &self.identity {
            req.extensions_mut().insert(id.clone());
        }
        let resp = self
            .router
            .clone()
            .oneshot(req)
            .await
            .unwrap_or_else(|e| match e {});
        let (parts, body) = resp.into_parts();
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_else(|e| panic!("reading the response body failed: {e}"));
        TestResponse {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }
}

/// A request being built; [`send`](Self::send) runs it.
#[must_use = "a request does nothing until it is sent"]
pub struct TestRequest {
    client: TestClient,
    builder: axum::http::request::Builder,
    body: Body,
}

impl TestRequest {
    /// Adds a header.
    pub fn header(mut self, name: impl TryInto<HeaderName>, value: &str) -> Self {
        let name = name
            .try_into()
            .unwrap_or_else(|_| panic!("invalid header name"));
        let value = HeaderValue::from_str(value).expect("header value");
        self.builder = self.builder.header(name, value);
        self
    }

    /// Sends the request as coming from `ip` (the [`ClientAddr`] the gateway would decide).
    pub fn client_addr(mut self, ip: std::net::IpAddr) -> Self {
        self.builder = self.builder.extension(ClientAddr(ip));
        self
    }

    /// `Authorization: Bearer token`.
    pub fn bearer(self, token: &str) -> Self {
        self.header(header::AUTHORIZATION, &format!("Bearer {token}"))
    }

    /// A JSON body with `Content-Type: application/json`.
    pub fn json(mut self, body: &Value) -> Self {
        self.builder = self
            .builder
            .header(header::CONTENT_TYPE, "application/json");
        self.body = Body::from(body.to_string());
        self
    }

    /// A raw body (set the content type with [`header`](Self::header)).
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Body::from(body.into());
        self
    }

    /// A streamed body, sent chunked (no `Content-Length`).
    pub fn stream<S>(mut self, stream: S) -> Self
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    {
        self.body = Body::from_stream(stream);
        self
    }

    /// Sends the request and reads the whole response.
    pub async fn send(self) -> TestResponse {
        let req = self.builder.body(self.body).expect("valid request");
        self.client.send(req).await
    }
}

/// A response, read whole.
#[derive(Debug, Clone)]
pub struct TestResponse {
    /// Status code.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

impl TestResponse {
    /// The body as JSON; panics (failing the test) when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value as text.
    pub fn header(&self, name: impl header::AsHeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status, showing the body when it differs; returns the response.
    #[track_caller]
    pub fn assert_status(&self, status: StatusCode) -> &Self {
        assert_eq!(self.status, status, "body: {}", self.text());
        self
    }

    /// Asserts an upstream error answer (`{"error": ..., "request_id": ...}`) with this
    /// status and returns its message.
    #[track_caller]
    pub fn assert_error(&self, status: StatusCode) -> String {
        self.assert_status(status);
        let v = self.json();
        assert!(v.get("request_id").is_some(), "no request_id in {v}");
        v["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error message in {v}"))
            .to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;

    #[tokio::test]
    async fn carries_identity_and_reads_answers() {
        let router = Router::new().route(
            "/who",
            get(|id: Option<axum::Extension<Identity>>| async move {
                id.map_or_else(|| "nobody".to_owned(), |i| i.0.subject)
            }),
        );
        let c = TestClient::new(router);
        assert_eq!(c.get("/who").send().await.text(), "nobody");
        let user = Identity {
            subject: "u1".into(),
            is_user: true,
            ..Default::default()
        };
        let r = c.as_identity(user).get("/who").send().await;
        r.assert_status(StatusCode::OK);
        assert_eq!(r.text(), "u1");
        assert_eq!(c.get("/nope").send().await.status, StatusCode::NOT_FOUND);
    }
}
