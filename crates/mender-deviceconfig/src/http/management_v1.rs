//! `management_v1.yaml`: users read and set a device's desired configuration and deploy it.

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, post};
use mender_core::{ApiError, DeviceId, Identity, Json};
use serde_json::{Map, Value, json};

use super::{State, invalid_identity, object, tenant};
use crate::App;
use crate::model::{DeployRequest, Device, Side, configuration};

const BASE: &str = "/api/management/v1/deviceconfig/configurations/device/{device_id}";

pub(crate) fn routes() -> Router<std::sync::Arc<App>> {
    Router::new()
        .route(BASE, get(get_configuration).put(set_configuration))
        .route(&format!("{BASE}/deploy"), post(deploy_configuration))
}

/// The caller's identity, which must be a user's.
fn user(id: &Identity) -> Result<(), ApiError> {
    if id.is_user {
        Ok(())
    } else {
        Err(invalid_identity())
    }
}

async fn get_configuration(
    s: State,
    id: Identity,
    Path(device): Path<DeviceId>,
) -> Result<Json<Device>, ApiError> {
    user(&id)?;
    Ok(Json(s.device(&tenant(&id), &device).await?))
}

async fn set_configuration(
    s: State,
    id: Identity,
    Path(device): Path<DeviceId>,
    Json(body): Json<Option<Map<String, Value>>>,
) -> Result<StatusCode, ApiError> {
    user(&id)?;
    let config = configuration(body)?;
    s.set_configuration(&tenant(&id), &device, Side::Configured, &config)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn deploy_configuration(
    s: State,
    id: Identity,
    Path(device): Path<DeviceId>,
    Json(body): Json<Option<Map<String, Value>>>,
) -> Result<Json<Value>, ApiError> {
    user(&id)?;
    let request: DeployRequest = object(body)?;
    let deployment = s
        .deploy_configuration(&tenant(&id), &device, request)
        .await?;
    Ok(Json(json!({ "deployment_id": deployment })))
}
