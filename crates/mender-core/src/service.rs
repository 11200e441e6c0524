//! What every service hands to the composition root: its routes, grouped by who may call them.
//! The gateway puts each group behind the right authentication; handlers never check tokens
//! themselves beyond reading the [`crate::Identity`] the gateway verified.

use axum::Router;
use axum::http::StatusCode;

/// A service's routes, by audience. Paths are the full public paths
/// (`/api/management/v1/useradm/...`), exactly as upstream's gateway exposes them.
#[derive(Default)]
pub struct Routers {
    /// Public routes that need no token (login, device auth requests, signed downloads).
    pub open: Router,
    /// Management routes: the gateway lets a request through only with a valid user token.
    pub management: Router,
    /// Device routes: the gateway lets a request through only with a valid device token.
    pub devices: Router,
    /// Internal routes (`/api/internal/...`): never on the public port.
    pub internal: Router,
}

impl Routers {
    /// Merges another service's routes into this set.
    pub fn merge(self, other: Routers) -> Routers {
        Routers {
            open: self.open.merge(other.open),
            management: self.management.merge(other.management),
            devices: self.devices.merge(other.devices),
            internal: self.internal.merge(other.internal),
        }
    }
}

/// The tenant of an internal route under `/tenants/{tenant}`; the open-source server's
/// workflows build `/tenants//...` with an empty segment, which routes serve as the empty
/// tenant.
#[derive(Debug, serde::Deserialize)]
pub struct TenantPath {
    /// The tenant, empty under `/tenants//`.
    #[serde(default)]
    pub tenant: crate::TenantId,
}

/// A device of a tenant on an internal route (`/tenants/{tenant}/.../{device}`, or
/// `/tenants//...` for the empty tenant).
#[derive(Debug, serde::Deserialize)]
pub struct TenantDevicePath {
    /// The tenant, empty under `/tenants//`.
    #[serde(default)]
    pub tenant: crate::TenantId,
    /// The device.
    pub device: crate::DeviceId,
}

/// `GET /api/internal/v1/<service>/alive`, the same on every service: 204 while the process
/// serves requests (upstream's liveness probe; `health` is the one that asks the database).
pub async fn alive() -> StatusCode {
    StatusCode::NO_CONTENT
}
