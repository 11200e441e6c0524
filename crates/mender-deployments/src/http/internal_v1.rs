//! Internal API v1 (`internal_v1.yaml`): health, tenant provisioning, per-tenant deployment
//! and device history queries, device decommissioning, the tenant artifact upload,
//! configuration deployments and storage settings.

use axum::Router;
use axum::extract::{Path, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use mender_core::json::OptionalJson;
use mender_core::{ApiError, DeploymentId, DeviceId, Json, TenantId};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::management_v1::{created, history_for, list_deployments_for, upload};
use super::{State, get_all, render};
use crate::app::App;
use crate::app::configuration::NewConfigurationDeployment;
use crate::error::Error;
use crate::storage_settings::StorageSettings;
use mender_core::query::QueryPairs;

const BASE: &str = "/api/internal/v1/deployments";

/// The internal routes.
pub fn routes() -> Router<std::sync::Arc<App>> {
    Router::new()
        .route(&format!("{BASE}/health"), get(health))
        .route(&format!("{BASE}/alive"), get(alive))
        .route(&format!("{BASE}/tenants"), post(provision_tenant))
        .route(
            &format!("{BASE}/tenants/{{tenant}}/deployments"),
            get(tenant_deployments),
        )
        .route(
            &format!("{BASE}/tenants/{{tenant}}/deployments/devices"),
            get(history_by_ids),
        )
        .route(
            &format!("{BASE}/tenants/{{tenant}}/deployments/devices/{{id}}"),
            get(device_history).delete(decommission),
        )
        .route(
            &format!("{BASE}/tenants/{{tenant}}/artifacts"),
            post(upload_artifact),
        )
        .route(
            &format!("{BASE}/tenants/{{tenant}}/devices/deployments/last"),
            post(last_deployments),
        )
        .route(
            &format!("{BASE}/tenants//deployments/devices/{{id}}"),
            axum::routing::delete(decommission_no_tenant),
        )
        .route(
            &format!("{BASE}/tenants//artifacts"),
            post(upload_artifact_no_tenant),
        )
        .route(
            &format!("{BASE}/tenants/{{tenant}}/artifacts/generate"),
            post(run_generate),
        )
        .route(
            &format!("{BASE}/tenants//artifacts/generate"),
            post(run_generate_no_tenant),
        )
        .route(
            &format!(
                "{BASE}/tenants/{{tenant}}/configuration/deployments/{{deployment}}/devices/{{device}}"
            ),
            post(create_configuration_deployment),
        )
        .route(
            &format!("{BASE}/tenants//configuration/deployments/{{deployment}}/devices/{{device}}"),
            post(create_configuration_deployment_no_tenant),
        )
        .route(
            &format!("{BASE}/tenants/{{tenant}}/storage/settings"),
            get(get_storage_settings).put(put_storage_settings),
        )
        .route(
            &format!("{BASE}/tenants//storage/settings"),
            get(get_storage_settings_no_tenant).put(put_storage_settings_no_tenant),
        )
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

async fn create_configuration(
    app: &App,
    tenant: &TenantId,
    deployment: &DeploymentId,
    device: &DeviceId,
    body: Map<String, Value>,
) -> Result<Response, ApiError> {
    let req = configuration_request(body)?;
    let id = app
        .create_configuration_deployment(tenant, deployment, device, req)
        .await?;
    // Upstream answers with this relative location.
    Ok(created(format!("./deployments/{id}")))
}

async fn create_configuration_deployment(
    s: State,
    Path((tenant, deployment, device)): Path<(TenantId, DeploymentId, DeviceId)>,
    Json(body): Json<Map<String, Value>>,
) -> Result<Response, ApiError> {
    create_configuration(&s, &tenant, &deployment, &device, body).await
}

async fn create_configuration_deployment_no_tenant(
    s: State,
    Path((deployment, device)): Path<(DeploymentId, DeviceId)>,
    Json(body): Json<Map<String, Value>>,
) -> Result<Response, ApiError> {
    create_configuration(&s, &TenantId::default(), &deployment, &device, body).await
}

async fn storage_settings_of(app: &App, tenant: &TenantId) -> Result<Response, ApiError> {
    let settings = app.storage_settings(tenant).await?;
    Ok(Json(settings).into_response())
}

async fn get_storage_settings(
    s: State,
    Path(tenant): Path<TenantId>,
) -> Result<Response, ApiError> {
    storage_settings_of(&s, &tenant).await
}

async fn get_storage_settings_no_tenant(s: State) -> Result<Response, ApiError> {
    storage_settings_of(&s, &TenantId::default()).await
}

/// Upstream decodes the body without looking at its content type; so do we.
async fn set_storage_settings_from(
    app: &App,
    tenant: &TenantId,
    req: Request,
) -> Result<StatusCode, ApiError> {
    let (_, body) = mender_core::json::read_body(req).await?;
    let settings = StorageSettings::parse_request(&body).map_err(Error::BadRequest)?;
    app.set_storage_settings(tenant, settings).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn put_storage_settings(
    s: State,
    Path(tenant): Path<TenantId>,
    req: Request,
) -> Result<StatusCode, ApiError> {
    set_storage_settings_from(&s, &tenant, req).await
}

async fn put_storage_settings_no_tenant(s: State, req: Request) -> Result<StatusCode, ApiError> {
    set_storage_settings_from(&s, &TenantId::default(), req).await
}

/// Runs a `generate_artifact` job (called by our `generate_artifact` workflow, which replaces
/// upstream's create-artifact-worker): builds the single-file artifact in-process and stores it.
async fn run_generate(
    s: State,
    Path(tenant): Path<TenantId>,
    Json(mut job): Json<crate::GenerateJob>,
) -> Result<Response, ApiError> {
    job.tenant_id = tenant;
    let id = s.generate_artifact(&job).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))).into_response())
}

async fn run_generate_no_tenant(
    s: State,
    Json(mut job): Json<crate::GenerateJob>,
) -> Result<Response, ApiError> {
    job.tenant_id = TenantId::default();
    let id = s.generate_artifact(&job).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))).into_response())
}

async fn health(s: State) -> Result<StatusCode, ApiError> {
    s.store.ping().await.map_err(Error::from)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn alive() -> StatusCode {
    StatusCode::NO_CONTENT
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

/// The open-source server has no tenant: workflows then build paths with an empty segment
/// (`/tenants//deployments/...`), which these handlers serve for the empty tenant.
async fn decommission_no_tenant(
    s: State,
    Path(dev): Path<DeviceId>,
) -> Result<StatusCode, ApiError> {
    s.decommission_device(&TenantId::default(), &dev).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn upload_artifact_no_tenant(s: State, req: Request) -> Result<Response, ApiError> {
    let aid = upload(&s, &TenantId::default(), req, true).await?;
    Ok(created(format!(
        "/api/management/v1/deployments/artifacts/{aid}"
    )))
}

async fn tenant_deployments(
    s: State,
    Path(tenant): Path<TenantId>,
    query: QueryPairs,
) -> Result<Response, ApiError> {
    list_deployments_for(
        &s,
        &tenant,
        &query.0,
        &format!("{BASE}/tenants/{tenant}/deployments"),
    )
    .await
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
    Path((tenant, dev)): Path<(TenantId, DeviceId)>,
    query: QueryPairs,
) -> Result<Response, ApiError> {
    history_for(&s, &tenant, &dev, &query.0).await
}

async fn decommission(
    s: State,
    Path((tenant, dev)): Path<(TenantId, DeviceId)>,
) -> Result<StatusCode, ApiError> {
    s.decommission_device(&tenant, &dev).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn upload_artifact(
    s: State,
    Path(tenant): Path<TenantId>,
    req: Request,
) -> Result<Response, ApiError> {
    let aid = upload(&s, &tenant, req, true).await?;
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
    let mut out: Vec<Value> = Vec::new();
    for dev in &body.device_ids {
        if let Some(e) = s.device_history(&tenant, dev, None, 0, 1).await?.pop() {
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
