//! Management API v2 (`management_v2.yaml`): devices, auth sets, preauthorization, tokens, limits.

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use mender_core::json::{Json, read_body};
use mender_core::paging::Page;
use mender_core::query::QueryPairs;
use mender_core::{ApiError, AuthSetId, DeviceId, Identity, RequestId, TenantId, TokenId};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AppState, count_status, filter_from_query, mgmt_ctx, parse_statuses};
use crate::app::PreauthRequest;
use crate::error::Error;
use crate::model::{DeviceFilter, LIMIT_MAX_DEVICES, Status};

const BASE: &str = "/api/management/v2/devauth";

/// The management routes (behind user-token verification at the gateway).
pub fn routes(state: AppState) -> Router {
    Router::new()
        .route(
            &format!("{BASE}/devices"),
            get(list_devices).post(preauthorize),
        )
        .route(&format!("{BASE}/devices/search"), post(search_devices))
        .route(&format!("{BASE}/devices/count"), get(count_devices))
        .route(
            &format!("{BASE}/devices/{{id}}"),
            get(get_device).delete(decommission),
        )
        .route(
            &format!("{BASE}/devices/{{id}}/auth/{{aid}}"),
            delete(dismiss_auth_set),
        )
        .route(
            &format!("{BASE}/devices/{{id}}/auth/{{aid}}/status"),
            get(get_status).put(put_status),
        )
        .route(&format!("{BASE}/tokens/{{id}}"), delete(revoke_token))
        .route(&format!("{BASE}/limits/{{name}}"), get(get_limit))
        .with_state(state)
}

/// Renders one page of devices with the `Link` header.
pub(crate) async fn device_page(
    app: &AppState,
    ctx: &crate::app::Ctx,
    uri: &Uri,
    query: &QueryPairs,
    filter: &DeviceFilter,
) -> Result<Response, ApiError> {
    let page = Page::from_query(&query.0)?;
    let (devices, has_next) = app
        .list_devices(ctx, filter, page.offset(), page.per_page)
        .await?;
    let headers: HeaderMap = page.headers(uri.path(), &query.0, has_next, None);
    Ok((headers, Json(devices)).into_response())
}

async fn list_devices(
    State(app): State<AppState>,
    identity: Identity,
    rid: RequestId,
    uri: Uri,
    query: QueryPairs,
) -> Result<Response, ApiError> {
    let filter = filter_from_query(&query)?;
    device_page(&app, &mgmt_ctx(&identity, &rid), &uri, &query, &filter).await
}

/// `status` and `id` may each be a string or an array of strings.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Debug, Deserialize)]
struct SearchBody {
    status: Option<OneOrMany>,
    id: Option<OneOrMany>,
}

async fn search_devices(
    State(app): State<AppState>,
    identity: Identity,
    rid: RequestId,
    uri: Uri,
    query: QueryPairs,
    req: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = read_body(req).await?;
    let ctype = parts
        .headers
        .get(header::CONTENT_TYPE)
        .map(|v| {
            v.to_str().map(|s| {
                s.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
        })
        .transpose()
        .map_err(|_| ApiError::bad_request("invalid Content-Type header"))?
        .unwrap_or_default();
    let filter = match ctype.as_str() {
        "application/json" | "" => {
            if body.iter().all(u8::is_ascii_whitespace) {
                DeviceFilter::default()
            } else {
                let b: SearchBody = serde_json::from_slice(&body).map_err(|e| {
                    ApiError::bad_request(format!("api: malformed request body: {e}"))
                })?;
                DeviceFilter {
                    status: parse_statuses(b.status.map(OneOrMany::into_vec).unwrap_or_default())?,
                    ids: b
                        .id
                        .map(OneOrMany::into_vec)
                        .unwrap_or_default()
                        .into_iter()
                        .map(Into::into)
                        .collect(),
                }
            }
        }
        "application/x-www-form-urlencoded" => {
            let form = super::parse_form(&body)
                .ok_or_else(|| ApiError::bad_request("api: malformed query parameters"))?;
            filter_from_query(&QueryPairs(form))?
        }
        other => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("Content-Type '{other}' not supported"),
            ));
        }
    };
    device_page(&app, &mgmt_ctx(&identity, &rid), &uri, &query, &filter).await
}

async fn preauthorize(
    State(app): State<AppState>,
    identity: Identity,
    rid: RequestId,
    Json(req): Json<PreauthRequest>,
) -> Result<Response, ApiError> {
    match app.preauthorize(&mgmt_ctx(&identity, &rid), &req).await {
        Ok(device) => {
            let mut resp = StatusCode::CREATED.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("devices/{}", device.id)) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            Ok(resp)
        }
        Err(Error::Conflict(device)) => Ok((StatusCode::CONFLICT, Json(*device)).into_response()),
        Err(e) => Err(e.into()),
    }
}

async fn count_devices(
    State(app): State<AppState>,
    identity: Identity,
    rid: RequestId,
    query: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let status = count_status(&query)?;
    let n = app
        .count_devices(&mgmt_ctx(&identity, &rid), status)
        .await?;
    Ok(Json(json!({ "count": n })))
}

async fn get_device(
    State(app): State<AppState>,
    identity: Identity,
    rid: RequestId,
    Path(id): Path<DeviceId>,
) -> Result<Response, ApiError> {
    let device = app.get_device(&mgmt_ctx(&identity, &rid), &id).await?;
    Ok(Json(device).into_response())
}

async fn decommission(
    State(app): State<AppState>,
    identity: Identity,
    rid: RequestId,
    Path(id): Path<DeviceId>,
) -> Result<StatusCode, ApiError> {
    app.decommission_device(&mgmt_ctx(&identity, &rid), &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn dismiss_auth_set(
    State(app): State<AppState>,
    identity: Identity,
    rid: RequestId,
    Path((id, aid)): Path<(DeviceId, AuthSetId)>,
) -> Result<StatusCode, ApiError> {
    app.dismiss_auth_set(&mgmt_ctx(&identity, &rid), &id, &aid)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn get_status(
    State(app): State<AppState>,
    identity: Identity,
    rid: RequestId,
    Path((id, aid)): Path<(DeviceId, AuthSetId)>,
) -> Result<Json<Value>, ApiError> {
    let status = app
        .auth_set_status(&mgmt_ctx(&identity, &rid), &id, &aid)
        .await?;
    Ok(Json(json!({ "status": status })))
}

#[derive(Debug, Deserialize)]
struct StatusBody {
    status: String,
}

async fn put_status(
    State(app): State<AppState>,
    identity: Identity,
    rid: RequestId,
    Path((id, aid)): Path<(DeviceId, AuthSetId)>,
    Json(body): Json<StatusBody>,
) -> Result<StatusCode, ApiError> {
    let Some(status @ (Status::Accepted | Status::Rejected | Status::Pending)) =
        Status::parse(&body.status)
    else {
        return Err(ApiError::bad_request("incorrect device status"));
    };
    app.set_auth_set_status(&mgmt_ctx(&identity, &rid), &id, &aid, status)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn revoke_token(
    State(app): State<AppState>,
    identity: Identity,
    rid: RequestId,
    Path(id): Path<TokenId>,
) -> Result<StatusCode, ApiError> {
    app.revoke_token(&mgmt_ctx(&identity, &rid), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn get_limit(
    State(app): State<AppState>,
    identity: Identity,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if name != LIMIT_MAX_DEVICES {
        return Err(ApiError::bad_request(format!("unsupported limit {name}")));
    }
    let limit = app
        .max_devices(&TenantId::from(identity.tenant.as_str()))
        .await?;
    Ok(Json(json!({ "limit": limit })))
}
