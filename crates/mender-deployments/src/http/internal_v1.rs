//! Internal API v1 (`internal_v1.yaml`): health, tenant provisioning, per-tenant deployment
//! and device history queries, device decommissioning, the tenant artifact upload,
//! configuration deployments, storage settings and the storage limit.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use mender_core::json::OptionalJson;
use mender_core::{ApiError, DeploymentId, DeviceId, Json, TenantId};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::management_v1::{
    created, deployment_filter, history_for, list_deployments_for, storage_limits, upload,
};
use super::{State, get_all, render};
use crate::app::App;
use crate::app::configuration::NewConfigurationDeployment;
use crate::error::Error;
use crate::model::DeviceDeploymentFilter;
use crate::storage_settings::StorageSettings;
use mender_core::query::QueryPairs;

const BASE: &str = "/api/internal/v1/deployments";

/// The internal routes. The open-source server has no tenant: workflows then build paths with
/// an empty segment (`/tenants//...`), which the same handlers serve for the empty tenant.
pub fn routes() -> Router<Arc<App>> {
    super::routes(
        BASE,
        [
            ("/health", get(health)),
            ("/alive", get(mender_core::service::alive)),
            ("/tenants", post(provision_tenant)),
            ("/tenants/{tenant}/deployments", get(tenant_deployments)),
            ("/tenants/{tenant}/deployments/devices", get(history_by_ids)),
            (
                "/tenants/{tenant}/deployments/devices/{id}",
                get(device_history).delete(decommission),
            ),
            (
                "/tenants//deployments/devices/{id}",
                get(device_history).delete(decommission),
            ),
            ("/tenants/{tenant}/artifacts", post(upload_artifact)),
            ("/tenants//artifacts", post(upload_artifact)),
            (
                "/tenants/{tenant}/devices/deployments/last",
                post(last_deployments),
            ),
            ("/tenants/{tenant}/artifacts/generate", post(run_generate)),
            ("/tenants//artifacts/generate", post(run_generate)),
            (
                "/tenants/{tenant}/configuration/deployments/{deployment}/devices/{device}",
                post(create_configuration_deployment),
            ),
            (
                "/tenants//configuration/deployments/{deployment}/devices/{device}",
                post(create_configuration_deployment),
            ),
            (
                "/tenants/{tenant}/storage/settings",
                get(get_storage_settings).put(put_storage_settings),
            ),
            (
                "/tenants//storage/settings",
                get(get_storage_settings).put(put_storage_settings),
            ),
            (
                "/tenants/{tenant}/limits/storage",
                get(get_storage_limit).put(put_storage_limit),
            ),
            (
                "/tenants//limits/storage",
                get(get_storage_limit).put(put_storage_limit),
            ),
        ],
    )
}

/// The tenant of a route under `/tenants/{tenant}`, empty under `/tenants//`.
#[derive(Deserialize)]
struct TenantPath {
    #[serde(default)]
    tenant: TenantId,
}

/// A device under `/tenants/{tenant}` or `/tenants//`.
#[derive(Deserialize)]
struct TenantDevicePath {
    #[serde(default)]
    tenant: TenantId,
    id: DeviceId,
}

/// A configuration deployment's device under `/tenants/{tenant}` or `/tenants//`.
#[derive(Deserialize)]
struct ConfigurationPath {
    #[serde(default)]
    tenant: TenantId,
    deployment: DeploymentId,
    device: DeviceId,
}

/// `{"name", "configuration"}`; `configuration` is a string holding a JSON object or, as
/// upstream also accepts, the object itself.
fn configuration_request(body: Map<String, Value>) -> Result<NewConfigurationDeployment, ApiError> {
    let name = match body.get("name") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(n)) => n.clone(),
        Some(_) => return Err(ApiError::bad_request("name: must be a string")),
    };
    let configuration = match body.get("configuration") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(c)) => c.clone(),
        Some(other) => other.to_string(),
    };
    Ok(NewConfigurationDeployment {
        name,
        configuration,
    })
}

async fn create_configuration_deployment(
    s: State,
    Path(p): Path<ConfigurationPath>,
    Json(body): Json<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let req = configuration_request(body)?;
    let id = s
        .create_configuration_deployment(&p.tenant, &p.deployment, &p.device, req)
        .await?;
    // Upstream answers with this relative location.
    Ok(created(format!("./deployments/{id}")))
}

async fn get_storage_settings(s: State, Path(p): Path<TenantPath>) -> Result<Response, ApiError> {
    let settings = s.storage_settings(&p.tenant).await?;
    Ok(Json(settings).into_response())
}

/// Upstream decodes the body without looking at its content type; so do we.
async fn put_storage_settings(
    s: State,
    Path(p): Path<TenantPath>,
    req: Request,
) -> Result<StatusCode, ApiError> {
    let (_, body) = mender_core::json::read_body(req).await?;
    let settings = StorageSettings::parse_request(&body).map_err(Error::BadRequest)?;
    s.set_storage_settings(&p.tenant, settings).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Runs a `generate_artifact` job (called by our `generate_artifact` workflow, which replaces
/// upstream's create-artifact-worker): builds the single-file artifact in-process and stores it.
async fn run_generate(
    s: State,
    Path(p): Path<TenantPath>,
    Json(mut job): Json<crate::GenerateJob>,
) -> Result<Response, ApiError> {
    job.tenant_id = p.tenant;
    let id = s.generate_artifact(&job).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))).into_response())
}

async fn health(s: State) -> Result<StatusCode, ApiError> {
    s.store.ping().await.map_err(Error::from)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct NewTenant {
    #[serde(default)]
    tenant_id: String,
}

/// Tenants need no setup here (every row carries its tenant); only the body is checked.
async fn provision_tenant(
    OptionalJson(body): OptionalJson<NewTenant>,
) -> Result<StatusCode, ApiError> {
    if body.is_none_or(|b| b.tenant_id.is_empty()) {
        return Err(ApiError::bad_request("tenant_id: cannot be blank"));
    }
    Ok(StatusCode::CREATED)
}

async fn tenant_deployments(
    s: State,
    Path(tenant): Path<TenantId>,
    query: QueryPairs,
) -> Result<Response, ApiError> {
    let f = deployment_filter(&query.0)?;
    let path = format!("{BASE}/tenants/{tenant}/deployments");
    list_deployments_for(&s, &tenant, &query.0, f, &path).await
}

/// `{"limit", "usage"}` of the tenant (the spec's `StorageUsage`): the limit shared with the
/// management `GET /limits/storage`. Upstream's open-source server does not have this
/// route; mender-rs serves it as the spec describes (see the compatibility notes).
async fn get_storage_limit(s: State, Path(p): Path<TenantPath>) -> Result<Response, ApiError> {
    storage_limits(&s, &p.tenant).await
}

/// `{"limit": <bytes>}` (0: unlimited; `usage` may come along and is ignored) → 204. The
/// spec requires `limit`: a body without it, or with anything but a non-negative integer, is
/// a 400.
async fn put_storage_limit(
    s: State,
    Path(p): Path<TenantPath>,
    Json(body): Json<Map<String, Value>>,
) -> Result<StatusCode, ApiError> {
    let limit = match body.get("limit") {
        None => return Err(ApiError::bad_request("limit: cannot be blank")),
        Some(v) => v
            .as_u64()
            .ok_or_else(|| ApiError::bad_request("limit: must be a non-negative integer"))?,
    };
    s.set_storage_limit(&p.tenant, limit).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn history_by_ids(
    s: State,
    Path(tenant): Path<TenantId>,
    query: QueryPairs,
) -> Result<Response, ApiError> {
    let ids = get_all(&query.0, "id");
    if ids.is_empty() {
        return Err(ApiError::bad_request("id: at least one id is required"));
    }
    let list = s.history_by_ids(&tenant, &ids).await?;
    Ok(Json(list.iter().map(render::history).collect::<Vec<_>>()).into_response())
}

async fn device_history(
    s: State,
    Path(p): Path<TenantDevicePath>,
    query: QueryPairs,
) -> Result<Response, ApiError> {
    let path = format!("{BASE}/tenants/{}/deployments/devices/{}", p.tenant, p.id);
    history_for(&s, &p.tenant, &p.id, &query.0, &path).await
}

async fn decommission(s: State, Path(p): Path<TenantDevicePath>) -> Result<StatusCode, ApiError> {
    s.decommission_device(&p.tenant, &p.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn upload_artifact(
    s: State,
    Path(p): Path<TenantPath>,
    req: Request,
) -> Result<Response, ApiError> {
    let aid = upload(&s, &p.tenant, req, true).await?;
    Ok(created(format!(
        "/api/management/v1/deployments/artifacts/{aid}"
    )))
}

#[derive(Deserialize)]
struct LastBody {
    #[serde(default)]
    device_ids: Vec<DeviceId>,
}

async fn last_deployments(
    s: State,
    Path(tenant): Path<TenantId>,
    Json(body): Json<LastBody>,
) -> Result<Response, ApiError> {
    if body.device_ids.is_empty() {
        return Err(ApiError::bad_request("device_ids: cannot be blank"));
    }
    let last = DeviceDeploymentFilter {
        limit: Some(1),
        ..Default::default()
    };
    let mut out: Vec<Value> = Vec::new();
    for dev in &body.device_ids {
        if let Some(e) = s.device_history(&tenant, dev, &last).await?.0.pop() {
            out.push(json!({
                "device_id": dev,
                "deployment_id": e.deployment.id,
                "device_deployment_id": e.device.dd.id,
                "device_deployment_status": e.device.dd.status.as_str(),
                "tenant_id": tenant,
            }));
        }
    }
    Ok(Json(json!({"device_deployment_last_statuses": out})).into_response())
}
