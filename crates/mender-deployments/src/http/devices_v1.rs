//! Device API v1 (`devices_v1.yaml` plus upstream's undocumented `POST next`). The v2 `next`
//! is deliberately not routed: upstream answers 404 there and mender-client 3.4 then falls
//! back to v1.

use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use mender_core::{ApiError, DeploymentId, Identity, Json};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{State, device, get as q, link_base, render};
use crate::app::App;
use crate::app::devices::Instructions;
use crate::model::{DeviceRequest, LogMessage};
use mender_core::query::QueryPairs;

const BASE: &str = "/api/devices/v1/deployments/device/deployments";

/// The device routes.
pub fn routes() -> Router<Arc<App>> {
    super::routes(
        BASE,
        [
            ("/next", get(next_get).post(next_post)),
            ("/{id}/status", put(status)),
            ("/{id}/log", put(log)),
        ],
    )
}

fn render_next(i: Option<Instructions>) -> Response {
    match i {
        None => StatusCode::NO_CONTENT.into_response(),
        Some(i) => axum::Json(json!({
            "id": i.deployment_id,
            "artifact": {
                "id": i.artifact_id,
                "artifact_name": i.artifact_name,
                "source": {"uri": i.link.uri, "expire": render::ts(i.link.expire), "method": "GET"},
                "device_types_compatible": i.device_types_compatible,
            }
        }))
        .into_response(),
    }
}

async fn next_get(
    s: State,
    id: Identity,
    headers: HeaderMap,
    query: QueryPairs,
) -> Result<Response, ApiError> {
    let (tenant, dev) = device(&id)?;
    let req = DeviceRequest {
        artifact_name: q(&query.0, "artifact_name").unwrap_or("").to_owned(),
        device_type: q(&query.0, "device_type").unwrap_or("").to_owned(),
        artifact_provides: Default::default(),
    };
    let base = link_base(&s, &headers);
    Ok(render_next(
        s.next_deployment(&tenant, &dev, req, &base).await?,
    ))
}

/// Accepts `{"artifact_name","device_type","artifact_provides":{..}}` (upstream's form) and
/// the flat provides map (`{"artifact_name":..,"device_type":..,"<provide>":..}`).
fn device_request(body: Map<String, Value>) -> Result<DeviceRequest, ApiError> {
    let s = |k: &str| -> Result<String, ApiError> {
        match body.get(k) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(v)) => Ok(v.clone()),
            Some(_) => Err(ApiError::bad_request(format!("{k}: must be a string"))),
        }
    };
    let mut req = DeviceRequest {
        artifact_name: s("artifact_name")?,
        device_type: s("device_type")?,
        artifact_provides: Default::default(),
    };
    let provides: Box<dyn Iterator<Item = (&String, &Value)>> = match body.get("artifact_provides")
    {
        Some(Value::Object(p)) => Box::new(p.iter()),
        Some(Value::Null) | None => Box::new(body.iter().filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "artifact_name" | "device_type" | "artifact_provides"
            )
        })),
        Some(_) => {
            return Err(ApiError::bad_request(
                "artifact_provides: must be an object",
            ));
        }
    };
    for (k, v) in provides {
        let Value::String(v) = v else {
            return Err(ApiError::bad_request(format!(
                "artifact_provides: {k} must be a string"
            )));
        };
        req.artifact_provides.insert(k.clone(), v.clone());
    }
    Ok(req)
}

async fn next_post(
    s: State,
    id: Identity,
    headers: HeaderMap,
    Json(body): Json<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let (tenant, dev) = device(&id)?;
    let req = device_request(body)?;
    let base = link_base(&s, &headers);
    Ok(render_next(
        s.next_deployment(&tenant, &dev, req, &base).await?,
    ))
}

#[derive(Deserialize)]
struct StatusBody {
    status: String,
    #[serde(default)]
    substate: Option<String>,
}

async fn status(
    s: State,
    id: Identity,
    Path(did): Path<DeploymentId>,
    Json(body): Json<StatusBody>,
) -> Result<StatusCode, ApiError> {
    let (tenant, dev) = device(&id)?;
    s.report_status(&tenant, &dev, &did, &body.status, body.substate.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct LogBody {
    messages: Vec<LogMessage>,
}

async fn log(
    s: State,
    id: Identity,
    Path(did): Path<DeploymentId>,
    Json(body): Json<LogBody>,
) -> Result<StatusCode, ApiError> {
    let (tenant, dev) = device(&id)?;
    s.upload_log(&tenant, &dev, &did, body.messages).await?;
    Ok(StatusCode::NO_CONTENT)
}
