//! The contract between the gateway and the services that issue tokens: given a request's
//! headers, say whether it may pass. Upstream runs this as Traefik forwardAuth calls to
//! useradm and deviceauth; here the gateway calls the implementations in-process.

use axum::http::{HeaderMap, Method};

use crate::{ApiError, Identity};

/// What the gateway knows of a request it is about to forward.
#[derive(Debug, Clone)]
pub struct ForwardedRequest {
    /// The request method (`X-Forwarded-Method`).
    pub method: Method,
    /// The request path and query (`X-Forwarded-Uri`).
    pub uri: String,
    /// The original request headers (for `Authorization` and `Cookie`).
    pub headers: HeaderMap,
}

/// Verifies the tokens of one kind of caller (users or devices).
#[async_trait::async_trait]
pub trait TokenVerifier: Send + Sync + 'static {
    /// `Ok` with the caller's identity if the request may pass, else the error to answer with.
    async fn verify(&self, req: &ForwardedRequest) -> Result<Identity, ApiError>;
}
