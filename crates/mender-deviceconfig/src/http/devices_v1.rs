//! `devices_v1.yaml`: a device reads its desired configuration and reports the one it
//! applied.

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use mender_core::{ApiError, DeviceId, Identity, Json};
use serde_json::{Map, Value};

use super::{State, invalid_identity, tenant};
use crate::App;
use crate::model::{Configuration, Side, configuration};

pub(crate) fn routes() -> Router<std::sync::Arc<App>> {
    Router::new().route(
        "/api/devices/v1/deviceconfig/configuration",
        get(get_configuration).put(report_configuration),
    )
}

/// The calling device, which must be one.
fn device(id: &Identity) -> Result<DeviceId, ApiError> {
    if id.is_device {
        Ok(DeviceId::from(id.subject.as_str()))
    } else {
        Err(invalid_identity())
    }
}

async fn get_configuration(s: State, id: Identity) -> Result<Json<Configuration>, ApiError> {
    let dev = device(&id)?;
    Ok(Json(s.device(&tenant(&id), &dev).await?.configured))
}

async fn report_configuration(
    s: State,
    id: Identity,
    Json(body): Json<Option<Map<String, Value>>>,
) -> Result<StatusCode, ApiError> {
    let dev = device(&id)?;
    let config = configuration(body)?;
    s.set_configuration(&tenant(&id), &dev, Side::Reported, &config)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
