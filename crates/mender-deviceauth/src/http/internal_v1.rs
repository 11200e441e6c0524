//! Internal API v1 (`internal_v1.yaml`): health, token verification for the gateway,
//! token deletion, tenant limits and per-tenant device access for workflows.
//!
//! In the open-source server the tenant id is empty, so workflows call paths such as
//! `/api/internal/v1/devauth/tenants//devices/{did}`; those routes are registered too.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use mender_core::json::Json;
use mender_core::query::QueryPairs;
use mender_core::verify::{ForwardedRequest, TokenVerifier};
use mender_core::{ApiError, DeviceId, RequestId, TenantId};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AppState, count_status, filter_from_query};
use crate::app::Ctx;
use crate::model::LIMIT_MAX_DEVICES;
use crate::verifier::DeviceVerifier;

const BASE: &str = "/api/internal/v1/devauth";

/// The internal routes (never on the public port).
pub fn routes(state: AppState) -> Router {
    let mut r = Router::new()
        .route(&format!("{BASE}/alive"), get(alive))
        .route(&format!("{BASE}/health"), get(health))
        .route(&format!("{BASE}/tokens/verify"), get(verify).post(verify))
        .route(&format!("{BASE}/tokens"), delete(delete_tokens))
        .route(
            &format!("{BASE}/tenant/{{tid}}/limits/{{name}}"),
            get(get_limit).put(put_limit).delete(delete_limit),
        )
        .route(&format!("{BASE}/tenants"), post(create_tenant));
    // Each tenant route once with a tenant id and once for the empty (open-source) tenant.
    for (prefix, empty) in [
        (format!("{BASE}/tenants/{{tid}}"), false),
        (format!("{BASE}/tenants/"), true),
    ] {
        let (list, count, status, one) = if empty {
            (
                get(list_devices_default),
                get(count_devices_default),
                get(device_status_default),
                delete(delete_device_default),
            )
        } else {
            (
                get(list_devices),
                get(count_devices),
                get(device_status),
                delete(delete_device),
            )
        };
        r = r
            .route(&format!("{prefix}/devices"), list)
            .route(&format!("{prefix}/devices/count"), count)
            .route(&format!("{prefix}/devices/{{did}}/status"), status)
            .route(&format!("{prefix}/devices/{{did}}"), one);
    }
    r.with_state(state)
}

fn ctx(tenant: TenantId, rid: RequestId) -> Ctx {
    Ctx {
        tenant,
        request_id: rid.0,
    }
}

async fn alive() -> StatusCode {
    StatusCode::NO_CONTENT
}

async fn health(State(app): State<AppState>) -> Result<StatusCode, ApiError> {
    match app.health().await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "error reaching the database",
            ))
        }
    }
}

async fn verify(
    State(app): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let fwd = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let req = ForwardedRequest {
        method: fwd("x-forwarded-method")
            .and_then(|m| m.parse().ok())
            .unwrap_or(method),
        uri: fwd("x-forwarded-uri").unwrap_or_else(|| uri.to_string()),
        headers: headers.clone(),
    };
    DeviceVerifier::new(app).verify(&req).await?;
    Ok(StatusCode::OK)
}

async fn delete_tokens(
    State(app): State<AppState>,
    query: QueryPairs,
) -> Result<StatusCode, ApiError> {
    let tenant = TenantId::from(query.first("tenant_id").unwrap_or_default());
    if tenant.is_empty() {
        return Err(ApiError::bad_request("tenant_id must be provided"));
    }
    let device = query
        .first("device_id")
        .filter(|d| !d.is_empty())
        .map(DeviceId::from);
    app.delete_tokens(&tenant, device.as_ref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn check_limit_name(name: &str) -> Result<(), ApiError> {
    if name == LIMIT_MAX_DEVICES {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!("unsupported limit {name}")))
    }
}

async fn get_limit(
    State(app): State<AppState>,
    Path((tid, name)): Path<(TenantId, String)>,
) -> Result<Json<Value>, ApiError> {
    check_limit_name(&name)?;
    Ok(Json(json!({ "limit": app.max_devices(&tid).await? })))
}

#[derive(Debug, Deserialize)]
struct LimitBody {
    limit: u64,
}

async fn put_limit(
    State(app): State<AppState>,
    Path((tid, name)): Path<(TenantId, String)>,
    Json(body): Json<LimitBody>,
) -> Result<StatusCode, ApiError> {
    check_limit_name(&name)?;
    app.set_max_devices(&tid, body.limit).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_limit(
    State(app): State<AppState>,
    Path((tid, name)): Path<(TenantId, String)>,
) -> Result<StatusCode, ApiError> {
    check_limit_name(&name)?;
    app.delete_max_devices(&tid).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct NewTenant {
    tenant_id: String,
}

/// Tenants need no set-up here (tables are shared and scoped by tenant id); the request is
/// validated and acknowledged, as upstream does after its 2.0.0 migration.
async fn create_tenant(Json(body): Json<NewTenant>) -> Result<StatusCode, ApiError> {
    if body.tenant_id.is_empty() {
        return Err(ApiError::bad_request("tenant_id must be provided"));
    }
    Ok(StatusCode::CREATED)
}

async fn list_devices(
    State(app): State<AppState>,
    rid: RequestId,
    Path(tid): Path<TenantId>,
    uri: Uri,
    query: QueryPairs,
) -> Result<Response, ApiError> {
    let filter = filter_from_query(&query)?;
    super::management_v2::device_page(&app, &ctx(tid, rid), &uri, &query, &filter).await
}

async fn list_devices_default(
    State(app): State<AppState>,
    rid: RequestId,
    uri: Uri,
    query: QueryPairs,
) -> Result<Response, ApiError> {
    list_devices(
        State(app),
        rid,
        Path(TenantId::default_tenant()),
        uri,
        query,
    )
    .await
}

async fn count_devices(
    State(app): State<AppState>,
    rid: RequestId,
    Path(tid): Path<TenantId>,
    query: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let status = count_status(&query)?;
    Ok(Json(
        json!({ "count": app.count_devices(&ctx(tid, rid), status).await? }),
    ))
}

async fn count_devices_default(
    State(app): State<AppState>,
    rid: RequestId,
    query: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    count_devices(State(app), rid, Path(TenantId::default_tenant()), query).await
}

async fn device_status(
    State(app): State<AppState>,
    rid: RequestId,
    Path((tid, did)): Path<(TenantId, DeviceId)>,
) -> Result<Json<Value>, ApiError> {
    let device = app.get_device(&ctx(tid, rid), &did).await?;
    Ok(Json(json!({ "status": device.status })))
}

async fn device_status_default(
    State(app): State<AppState>,
    rid: RequestId,
    Path(did): Path<DeviceId>,
) -> Result<Json<Value>, ApiError> {
    device_status(State(app), rid, Path((TenantId::default_tenant(), did))).await
}

async fn delete_device(
    State(app): State<AppState>,
    rid: RequestId,
    Path((tid, did)): Path<(TenantId, DeviceId)>,
) -> Result<Response, ApiError> {
    app.delete_device(&ctx(tid, rid), &did).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn delete_device_default(
    State(app): State<AppState>,
    rid: RequestId,
    Path(did): Path<DeviceId>,
) -> Result<Response, ApiError> {
    delete_device(State(app), rid, Path((TenantId::default_tenant(), did))).await
}
