//! `devices_v1.yaml`: devices upload their inventory (PUT replaces, PATCH merges), plus the
//! legacy `/api/0.1.0/attributes` path upstream's gateway rewrites device calls to.

use axum::Router;
use axum::extract::State as AxState;
use axum::http::{Method, StatusCode};
use axum::routing::put;
use mender_core::{ApiError, DeviceId, Identity};

use super::attrs::AttributeList;
use super::{State, attributes, mode, tenant};
use crate::model::SCOPE_INVENTORY;

pub(crate) fn routes() -> Router<State> {
    Router::new().route(
        "/api/devices/v1/inventory/device/attributes",
        put(update).patch(update),
    )
}

pub(crate) fn legacy_routes() -> Router<State> {
    Router::new().route("/api/0.1.0/attributes", put(update).patch(update))
}

async fn update(
    AxState(app): AxState<State>,
    method: Method,
    id: Identity,
    AttributeList(body): AttributeList<true>,
) -> Result<StatusCode, ApiError> {
    if !id.is_device {
        return Err(ApiError::unauthorized("unauthorized"));
    }
    // Devices only ever write their own inventory scope, whatever scope they name.
    let attrs = attributes(body, Some(SCOPE_INVENTORY))?;
    let device = DeviceId::from(id.subject.as_str());
    app.update_device_inventory(&tenant(&id), &device, attrs, mode(&method))
        .await?;
    Ok(StatusCode::OK)
}
