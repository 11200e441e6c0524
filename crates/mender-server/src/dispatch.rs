//! How workflow http tasks reach our services: in one-process mode a request aimed at one of
//! our own internal API hosts (`mender-inventory:8080`, ...) is handed straight to the internal
//! router, with no network hop; a separate worker process sends it to the server's internal
//! port instead; anything else goes over the network.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use bytes::Bytes;
use http_body_util::BodyExt;
use mender_core::Secret;
use mender_workflows::HttpDispatcher;
use tower::ServiceExt;

/// Host:port pairs upstream's workflow definitions use for our services.
pub const SERVICE_HOSTS: &[&str] = &[
    "mender-useradm:8080",
    "mender-device-auth:8080",
    "mender-deviceauth:8080",
    "mender-inventory:8080",
    "mender-deployments:8080",
    "mender-workflows-server:8080",
    "mender-deviceconfig:8080",
    "mender-deviceconnect:8080",
    "mender-iot-manager:8080",
];

/// Routes workflow http tasks to our own internal APIs in-process or on the internal port.
pub struct LocalDispatcher {
    hosts: HashSet<String>,
    router: OnceLock<Router>,
    /// Base URL of the server's internal port, for worker processes.
    internal_url: Option<String>,
    /// The internal port's shared secret, sent with every request to `internal_url`.
    internal_secret: Option<Secret>,
    network: Arc<dyn HttpDispatcher>,
}

impl LocalDispatcher {
    /// A dispatcher for the given service hosts; set the router with [`Self::set_router`].
    pub fn new(internal_url: Option<String>, network: Arc<dyn HttpDispatcher>) -> Self {
        Self {
            hosts: SERVICE_HOSTS.iter().map(|s| (*s).to_owned()).collect(),
            router: OnceLock::new(),
            internal_url,
            internal_secret: None,
            network,
        }
    }

    /// Sends `secret` (the server's `internal_secret`) with requests to the internal port.
    pub fn with_internal_secret(mut self, secret: Option<Secret>) -> Self {
        self.internal_secret = secret;
        self
    }

    /// Installs the internal router (built after the services, which need the dispatcher).
    pub fn set_router(&self, router: Router) {
        let _ = self.router.set(router);
    }

    fn is_local(&self, uri: &http::Uri) -> bool {
        uri.authority()
            .map(|a| {
                let hostport = if a.port().is_some() {
                    a.as_str().to_owned()
                } else {
                    format!("{}:80", a.host())
                };
                self.hosts.contains(&hostport)
            })
            .unwrap_or(false)
    }
}

#[async_trait::async_trait]
impl HttpDispatcher for LocalDispatcher {
    async fn send(
        &self,
        req: http::Request<Bytes>,
        timeout: Duration,
    ) -> Result<http::Response<Bytes>, String> {
        if !self.is_local(req.uri()) {
            return self.network.send(req, timeout).await;
        }
        if let Some(router) = self.router.get() {
            let (mut parts, body) = req.into_parts();
            // The internal router matches on the path only.
            parts.uri = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().parse().unwrap_or_default())
                .unwrap_or_default();
            let req = http::Request::from_parts(parts, axum::body::Body::from(body));
            let call = async {
                let resp = router
                    .clone()
                    .oneshot(req)
                    .await
                    .map_err(|e| e.to_string())?;
                let (parts, body) = resp.into_parts();
                let bytes = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
                Ok(http::Response::from_parts(parts, bytes))
            };
            return tokio::time::timeout(timeout, call)
                .await
                .map_err(|_| format!("request timed out after {}s", timeout.as_secs()))?;
        }
        let Some(base) = &self.internal_url else {
            return Err(format!(
                "{} is one of our services, but this process serves no internal API and no --internal-url was given",
                req.uri()
            ));
        };
        let (mut parts, body) = req.into_parts();
        let pq = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        parts.uri = format!("{}{pq}", base.trim_end_matches('/'))
            .parse()
            .map_err(|e| format!("invalid internal URL {base}: {e}"))?;
        if let Some(secret) = &self.internal_secret {
            let value = http::HeaderValue::from_str(secret.expose_str())
                .map_err(|_| "the internal secret is not a valid header value".to_owned())?;
            parts
                .headers
                .insert(mender_gateway::INTERNAL_SECRET_HEADER, value);
        }
        self.network
            .send(http::Request::from_parts(parts, body), timeout)
            .await
    }
}
