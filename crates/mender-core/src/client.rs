//! [`ClientAddr`]: the network address of the client a request came from, as the gateway
//! decided it (the peer address, or `X-Forwarded-For` when the peer is a trusted proxy).
//! Rate limits key on it; nothing else may read client addresses from headers.

use std::net::{IpAddr, Ipv4Addr};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// The client's address. The gateway inserts it as a request extension; a router called
/// without the gateway (service tests) sees the unspecified address `0.0.0.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddr(pub IpAddr);

impl Default for ClientAddr {
    fn default() -> Self {
        Self(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<ClientAddr>()
            .copied()
            .unwrap_or_default())
    }
}
