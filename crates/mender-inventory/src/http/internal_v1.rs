//! `internal_v1.yaml`: health, tenants, device creation and removal (provisioning and
//! decommissioning workflows), bulk status updates, attribute upserts (per scope, or each
//! attribute in its own scope), device groups and reindexing. Every tenant route also exists
//! with an empty tenant segment.

use axum::Router;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, patch, post};
use mender_core::query::QueryPairs;
use mender_core::{ApiError, DeviceId, Json};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::attrs::AttributeList;
use super::{Params, State, attributes};
use crate::app::DeviceUpdate;
use crate::gotext;
use crate::model::{AttributeInput, SCOPE_SYSTEM, UpdateResult, format_time};

/// The system attribute upstream stores as a date: its value must be an RFC 3339 time.
const CHECK_IN_TIME: &str = "check_in_time";

const BASE: &str = "/api/internal/v1/inventory";

pub(crate) fn routes() -> Router<State> {
    let tenant_routes: [(&str, MethodRouter<State>); 9] = [
        ("/devices", post(add_device)),
        ("/devices/{device_id}", delete(delete_device)),
        ("/devices/status/{status}", post(update_statuses)),
        (
            "/device/{device_id}/attribute/scope/{scope}",
            patch(patch_attributes),
        ),
        ("/device/{device_id}/attributes", patch(patch_attributes)),
        // Upstream's router also matches an empty device segment, and refuses it.
        ("/device//attribute/scope/{scope}", patch(empty_device_id)),
        ("/device//attributes", patch(empty_device_id)),
        ("/devices/{device_id}/groups", get(device_groups)),
        ("/devices/{device_id}/reindex", post(reindex)),
    ];
    let mut r = Router::new()
        .route(&format!("{BASE}/health"), get(health))
        .route(&format!("{BASE}/alive"), get(alive))
        .route(&format!("{BASE}/tenants"), post(create_tenant));
    for (path, handler) in tenant_routes {
        r = r
            .route(
                &format!("{BASE}/tenants/{{tenant_id}}{path}"),
                handler.clone(),
            )
            .route(&format!("{BASE}/tenants/{path}"), handler);
    }
    r
}

async fn health(AxState(app): AxState<State>) -> Result<StatusCode, ApiError> {
    match app.health().await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(e) => {
            tracing::error!(error = %e, "inventory health check failed");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "error reaching the database",
            ))
        }
    }
}

async fn alive() -> StatusCode {
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
struct NewTenant {
    #[serde(default)]
    tenant_id: String,
}

/// Tenants need no set-up here (their devices are rows keyed by tenant), so this only
/// validates the request as upstream does.
async fn create_tenant(Json(t): Json<NewTenant>) -> Result<StatusCode, ApiError> {
    if t.tenant_id.is_empty() {
        return Err(ApiError::bad_request("tenant_id: cannot be blank."));
    }
    Ok(StatusCode::CREATED)
}

#[derive(Debug, Deserialize)]
struct NewDevice {
    #[serde(default)]
    id: DeviceId,
    #[serde(default)]
    attributes: Vec<AttributeInput>,
}

async fn add_device(
    AxState(app): AxState<State>,
    p: Params,
    Json(dev): Json<NewDevice>,
) -> Result<Response, ApiError> {
    if dev.id.is_empty() {
        return Err(ApiError::bad_request("id: cannot be blank."));
    }
    let attrs = attributes(dev.attributes, None)?;
    app.add_device(&p.tenant(), &dev.id, attrs).await?;
    let mut h = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "devices/{}",
        mender_core::paging::encode(dev.id.as_str())
    )) {
        h.insert(header::LOCATION, v);
    }
    Ok((StatusCode::CREATED, h).into_response())
}

async fn delete_device(AxState(app): AxState<State>, p: Params) -> Result<StatusCode, ApiError> {
    app.delete_device(&p.tenant(), &p.device("device_id"))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn update_statuses(
    AxState(app): AxState<State>,
    p: Params,
    Json(devices): Json<Vec<DeviceUpdate>>,
) -> Result<Json<UpdateResult>, ApiError> {
    Ok(Json(
        app.update_statuses(&p.tenant(), p.get("status"), devices)
            .await?,
    ))
}

/// `update_device_inventory` of one scope (the scope in the path) or, without one, each
/// attribute into its own scope: an upsert that creates the device, refused with 412 when
/// `If-Unmodified-Since` (an HTTP date) is before the device's `updated_ts`.
async fn patch_attributes(
    AxState(app): AxState<State>,
    p: Params,
    headers: HeaderMap,
    AttributeList(body): AttributeList<false>,
) -> Result<StatusCode, ApiError> {
    let scope = Some(p.get("scope")).filter(|s| !s.is_empty());
    let mut attrs = attributes(body, scope)?;
    let not_after = match super::header(&headers, "if-unmodified-since").filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(gotext::parse_rfc1123(v).map_err(|e| {
            ApiError::bad_request(format!("invalid header If-Unmodified-Since: {e}"))
        })?),
    };
    for a in &mut attrs {
        if a.name == CHECK_IN_TIME && a.scope == SCOPE_SYSTEM {
            // Upstream formats whatever value it got with `%v` and parses that as RFC 3339.
            let at =
                gotext::parse_rfc3339(&gotext::sprint(&a.value)).map_err(ApiError::bad_request)?;
            a.value = Value::String(format_time(at));
        }
    }
    app.upsert_attributes(&p.tenant(), &p.device("device_id"), attrs, not_after)
        .await?;
    Ok(StatusCode::OK)
}

async fn empty_device_id() -> ApiError {
    ApiError::bad_request("device id cannot be empty")
}

#[derive(Debug, Serialize)]
struct Groups {
    groups: Vec<String>,
}

async fn device_groups(AxState(app): AxState<State>, p: Params) -> Result<Json<Groups>, ApiError> {
    let group = app
        .device_group(&p.tenant(), &p.device("device_id"))
        .await?;
    Ok(Json(Groups {
        groups: group.into_iter().collect(),
    }))
}

async fn reindex(
    AxState(app): AxState<State>,
    p: Params,
    q: QueryPairs,
) -> Result<StatusCode, ApiError> {
    let service = q.first("service").unwrap_or("");
    app.reindex(&p.tenant(), &p.device("device_id"), service)
        .await?;
    Ok(StatusCode::OK)
}
