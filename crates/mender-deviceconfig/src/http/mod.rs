//! HTTP handlers, one module per upstream OpenAPI file, and what they share.

use std::sync::Arc;

use axum::Router;
use mender_core::service::Routers;
use mender_core::{ApiError, Identity, TenantId};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::App;

mod devices_v1;
mod internal_v1;
mod management_v1;

/// Shared state of every handler.
pub(crate) type State = axum::extract::State<Arc<App>>;

/// Builds the service's routers.
pub(crate) fn routers(app: Arc<App>) -> Routers {
    let finish = |r: Router<Arc<App>>| r.with_state(app.clone());
    Routers {
        open: Router::new(),
        management: finish(management_v1::routes()),
        devices: finish(devices_v1::routes()),
        internal: finish(internal_v1::routes()),
    }
}

/// Upstream's answer to a token of the wrong kind.
pub(crate) fn invalid_identity() -> ApiError {
    ApiError::forbidden("forbidden: invalid identity data")
}

/// The caller's tenant.
pub(crate) fn tenant(id: &Identity) -> TenantId {
    TenantId::from(id.tenant.as_str())
}

/// A JSON object body as `T`. serde would also build a struct from an array; Go's decoder,
/// whose answers we keep, refuses anything but an object (or `null`, the zero value).
pub(crate) fn object<T: DeserializeOwned + Default>(
    body: Option<Map<String, Value>>,
) -> Result<T, ApiError> {
    match body {
        None => Ok(T::default()),
        Some(m) => serde_json::from_value(Value::Object(m))
            .map_err(|e| ApiError::bad_request(format!("failed to decode request body: {e}"))),
    }
}
