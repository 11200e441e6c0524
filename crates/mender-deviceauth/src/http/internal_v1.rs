//! Internal API v1 (`internal_v1.yaml`): health, token verification for the gateway,
//! token deletion, tenant limits and per-tenant device access for workflows.
//!
//! In the open-source server the tenant id is empty, so workflows call paths such as
//! `/api/internal/v1/devauth/tenants//devices/{did}`; those routes are registered too.

use std::collections::HashMap;

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use mender_core::json::{Json, read_body};
use mender_core::query::QueryPairs;
use mender_core::verify::{ForwardedRequest, TokenVerifier};
use mender_core::{ApiError, DeviceId, RequestId, TenantId};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AppState, check_limit_name, count_status};
use crate::app::Ctx;
use crate::error::Error;
use crate::verifier::DeviceVerifier;

const BASE: &str = "/api/internal/v1/devauth";

/// The internal routes (never on the public port).
pub fn routes(state: AppState) -> Router {
    let mut r = Router::new()
        .route(&format!("{BASE}/alive"), get(mender_core::service::alive))
        .route(&format!("{BASE}/health"), get(health))
        .route(&format!("{BASE}/tokens/verify"), get(verify).post(verify))
        .route(&format!("{BASE}/tokens"), delete(delete_tokens))
        .route(
            &format!("{BASE}/tenant/{{tid}}/limits/{{name}}"),
            get(get_limit).put(put_limit).delete(delete_limit),
        )
        .route(&format!("{BASE}/tenants"), post(create_tenant));
    // Each tenant route once with a tenant id and once for the empty (open-source) tenant.
    for prefix in [
        format!("{BASE}/tenants/{{tid}}"),
        format!("{BASE}/tenants/"),
    ] {
        r = r
            .route(&format!("{prefix}/devices"), get(list_devices))
            .route(&format!("{prefix}/devices/count"), get(count_devices))
            .route(
                &format!("{prefix}/devices/{{did}}/status"),
                get(device_status),
            )
            .route(
                &format!("{prefix}/devices/{{did}}"),
                delete(delete_device).patch(update_device),
            );
    }
    r.with_state(state)
}

/// A call on a tenant route: the app, the context for tenant `{tid}` (the default tenant on
/// the routes without that segment) and the `{did}` segment (empty where there is none).
struct TenantCall {
    app: AppState,
    ctx: Ctx,
    device: DeviceId,
}

impl FromRequestParts<AppState> for TenantCall {
    type Rejection = PathRejection;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, PathRejection> {
        let mut segments =
            match Path::<HashMap<String, String>>::from_request_parts(parts, app).await {
                Ok(Path(segments)) => segments,
                Err(PathRejection::MissingPathParams(_)) => HashMap::new(),
                Err(e) => return Err(e),
            };
        let Ok(RequestId(request_id)) = RequestId::from_request_parts(parts, app).await;
        Ok(TenantCall {
            app: app.clone(),
            ctx: Ctx {
                tenant: segments
                    .remove("tid")
                    .map_or_else(TenantId::default_tenant, TenantId::from),
                request_id,
            },
            device: segments.remove("did").unwrap_or_default().into(),
        })
    }
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

async fn list_devices(t: TenantCall, uri: Uri, query: QueryPairs) -> Result<Response, ApiError> {
    super::management_v2::list_page(&t.app, &t.ctx, &uri, &query).await
}

async fn count_devices(t: TenantCall, query: QueryPairs) -> Result<Json<Value>, ApiError> {
    let status = count_status(&query)?;
    Ok(Json(
        json!({ "count": t.app.count_devices(&t.ctx, status).await? }),
    ))
}

async fn device_status(t: TenantCall) -> Result<Json<Value>, ApiError> {
    let device = t.app.get_device(&t.ctx, &t.device).await?;
    Ok(Json(json!({ "status": device.status })))
}

/// Upstream's next release (`UpdateDeviceInternal`): the provision workflow records that the
/// device is provisioned. 204; an unknown device is a 404 with an empty body, as upstream's
/// code answers (its spec promises an error body).
async fn update_device(t: TenantCall, req: Request) -> Result<Response, ApiError> {
    // gin's ShouldBindJSON reads the body whatever its content type.
    let (_, body) = read_body(req).await?;
    let provisioned = device_update(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid request body: {e}")))?;
    match t.app.update_device(&t.ctx, &t.device, provisioned).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(Error::NotFound(_)) => Ok(StatusCode::NOT_FOUND.into_response()),
        Err(e) => Err(e.into()),
    }
}

/// Decodes upstream's `DeviceUpdate` as Go's `json.Decoder` does: the first JSON value only,
/// `provisioned` (matched case-insensitively) a boolean or `null`, other fields ignored; the
/// errors in Go's words where they are Go's (`EOF`, type mismatches).
fn device_update(body: &[u8]) -> Result<Option<bool>, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err("EOF".into());
    }
    let value = serde_json::Deserializer::from_slice(body)
        .into_iter::<Value>()
        .next()
        .unwrap_or(Ok(Value::Null))
        .map_err(|e| {
            if e.is_eof() {
                "unexpected EOF".to_owned()
            } else {
                e.to_string()
            }
        })?;
    let kind = |v: &Value| match v {
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Null => "null",
    };
    let map = match value {
        Value::Null => return Ok(None),
        Value::Object(map) => map,
        other => {
            return Err(format!(
                "json: cannot unmarshal {} into Go value of type model.DeviceUpdate",
                kind(&other)
            ));
        }
    };
    let field = map
        .get("provisioned")
        .or_else(|| {
            map.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("provisioned"))
                .map(|(_, v)| v)
        })
        .unwrap_or(&Value::Null);
    match field {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        other => Err(format!(
            "json: cannot unmarshal {} into Go struct field DeviceUpdate.provisioned of type bool",
            kind(other)
        )),
    }
}

async fn delete_device(t: TenantCall) -> Result<Response, ApiError> {
    t.app.delete_device(&t.ctx, &t.device).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
