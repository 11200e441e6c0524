//! `internal_v1.yaml`: health, tenant deletion, device provisioning and decommissioning
//! (called by the `provision_device` and `decommission_device` workflows).

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use mender_core::service::{TenantDevicePath, TenantPath};
use mender_core::{ApiError, DeviceId, Json};
use serde::Deserialize;

use super::State;
use crate::App;
use crate::app::MenderCommand;

const BASE: &str = "/api/internal/v1/deviceconnect";

/// The internal routes. The open-source server has no tenant: workflows then build paths
/// with an empty segment (`/tenants//...`), which the same handlers serve for the empty
/// tenant.
pub(crate) fn routes() -> Router<std::sync::Arc<App>> {
    let mut r = Router::new()
        .route(&format!("{BASE}/health"), get(health))
        .route(&format!("{BASE}/alive"), get(mender_core::service::alive))
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
                &format!("{t}/devices/{{device}}/check-update"),
                post(|s, p| command(s, p, MenderCommand::CheckUpdate)),
            )
            .route(
                &format!("{t}/devices/{{device}}/send-inventory"),
                post(|s, p| command(s, p, MenderCommand::SendInventory)),
            );
    }
    r
}

/// `{"device_id": ...}` (upstream `ProvisionDevice`).
#[derive(Deserialize)]
struct NewDevice {
    #[serde(default)]
    device_id: DeviceId,
}

async fn health(s: State) -> Result<StatusCode, ApiError> {
    s.health_check().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_tenant(s: State, Path(p): Path<TenantPath>) -> Result<StatusCode, ApiError> {
    s.delete_tenant(&p.tenant).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn provision_device(
    s: State,
    Path(p): Path<TenantPath>,
    Json(d): Json<NewDevice>,
) -> Result<StatusCode, ApiError> {
    s.provision_device(&p.tenant, &d.device_id).await?;
    Ok(StatusCode::CREATED)
}

async fn command(
    s: State,
    Path(p): Path<TenantDevicePath>,
    command: MenderCommand,
) -> Result<StatusCode, ApiError> {
    s.send_mender_command(&p.tenant, &p.device, None, command)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

async fn decommission_device(
    s: State,
    Path(p): Path<TenantDevicePath>,
) -> Result<StatusCode, ApiError> {
    s.decommission_device(&p.tenant, &p.device).await?;
    Ok(StatusCode::ACCEPTED)
}
