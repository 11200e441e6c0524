//! `internal_v1.yaml`: health, tenant provisioning and deletion, device provisioning and
//! decommissioning (called by the `provision_device` and `decommission_device` workflows),
//! and deploying a device's configuration on a tenant's behalf.

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use mender_core::service::{TenantDevicePath, TenantPath};
use mender_core::{ApiError, DeviceId, Json, TenantId};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{State, object};
use crate::App;
use crate::model::DeployRequest;

const BASE: &str = "/api/internal/v1/deviceconfig";

/// The internal routes. The open-source server has no tenant: workflows then build paths
/// with an empty segment (`/tenants//...`), which the same handlers serve for the empty
/// tenant.
pub(crate) fn routes() -> Router<std::sync::Arc<App>> {
    let mut r = Router::new()
        .route(&format!("{BASE}/health"), get(health))
        .route(&format!("{BASE}/alive"), get(mender_core::service::alive))
        .route(&format!("{BASE}/tenants"), post(provision_tenant))
        .route(&format!("{BASE}/tenants/{{tenant}}"), delete(delete_tenant));
    for tenant in ["{tenant}", ""] {
        let t = format!("{BASE}/tenants/{tenant}");
        r = r
            .route(&format!("{t}/devices"), post(provision_device))
            .route(
                &format!("{t}/devices/{{device}}"),
                delete(decommission_device),
            )
            .route(
                &format!("{t}/configurations/device/{{device}}/deploy"),
                post(deploy_configuration),
            );
    }
    r
}

/// `{"tenant_id": ...}` (upstream `NewTenant`); `null` is Go's empty string.
#[derive(Deserialize, Default)]
struct NewTenant {
    #[serde(default)]
    tenant_id: Option<TenantId>,
}

/// `{"device_id": ...}` (upstream `NewDevice`); `null` is Go's empty string.
#[derive(Deserialize, Default)]
struct NewDevice {
    #[serde(default)]
    device_id: Option<DeviceId>,
}

/// A JSON object body, as the routes here take.
type Body = Json<Option<Map<String, Value>>>;

async fn health(s: State) -> Result<StatusCode, ApiError> {
    s.health_check().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn provision_tenant(s: State, Json(body): Body) -> Result<StatusCode, ApiError> {
    let t: NewTenant = object(body)?;
    s.provision_tenant(&t.tenant_id.unwrap_or_default())?;
    Ok(StatusCode::CREATED)
}

async fn delete_tenant(s: State, Path(p): Path<TenantPath>) -> Result<StatusCode, ApiError> {
    s.delete_tenant(&p.tenant).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn provision_device(
    s: State,
    Path(p): Path<TenantPath>,
    Json(body): Body,
) -> Result<StatusCode, ApiError> {
    let d: NewDevice = object(body)?;
    s.provision_device(&p.tenant, &d.device_id.unwrap_or_default())
        .await?;
    Ok(StatusCode::CREATED)
}

async fn decommission_device(
    s: State,
    Path(p): Path<TenantDevicePath>,
) -> Result<StatusCode, ApiError> {
    s.decommission_device(&p.tenant, &p.device).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn deploy_configuration(
    s: State,
    Path(p): Path<TenantDevicePath>,
    Json(body): Body,
) -> Result<Json<Value>, ApiError> {
    let request: DeployRequest = object(body)?;
    let deployment = s
        .deploy_configuration(&p.tenant, &p.device, request)
        .await?;
    Ok(Json(json!({ "deployment_id": deployment })))
}
