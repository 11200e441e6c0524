//! Management API v2 (`management_v2.yaml`): devices, auth sets, preauthorization, tokens, limits.

use axum::Router;
use axum::extract::{Path, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use mender_core::json::{Json, check_json_content_type, read_body};
use mender_core::paging::{Page as Paging, go_headers};
use mender_core::query::QueryPairs;
use mender_core::{ApiError, AuthSetId, DeviceId, TokenId};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    AppState, UserCall, check_limit_name, count_status, filter_from_query, parse_statuses,
};
use crate::app::PreauthRequest;
use crate::error::Error;
use crate::model::{DeviceFilter, Status};

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

/// Renders one page of devices (status, then id) with upstream's `Link` headers (upstream's
/// `rest.MakePagingHeaders` over the request path; no `X-Total-Count`).
pub(crate) async fn device_page(
    app: &AppState,
    ctx: &crate::app::Ctx,
    uri: &Uri,
    query: &QueryPairs,
    paging: Paging,
    filter: &DeviceFilter,
) -> Result<Response, ApiError> {
    let (devices, has_next) = app
        .list_devices(ctx, filter, paging.offset(), paging.per_page)
        .await?;
    let headers: HeaderMap = go_headers(uri.path(), &query.0, paging, None, has_next);
    Ok((headers, Json(devices)).into_response())
}

/// The device list: paging is read first, then the filter, as upstream does.
pub(crate) async fn list_page(
    app: &AppState,
    ctx: &crate::app::Ctx,
    uri: &Uri,
    query: &QueryPairs,
) -> Result<Response, ApiError> {
    let paging = Paging::from_go_query(&query.0)?;
    let filter = filter_from_query(query)?;
    device_page(app, ctx, uri, query, paging, &filter).await
}

async fn list_devices(c: UserCall, uri: Uri, query: QueryPairs) -> Result<Response, ApiError> {
    list_page(&c.app, &c.ctx, &uri, &query).await
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
    c: UserCall,
    uri: Uri,
    query: QueryPairs,
    req: Request,
) -> Result<Response, ApiError> {
    let paging = Paging::from_go_query(&query.0)?;
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
    device_page(&c.app, &c.ctx, &uri, &query, paging, &filter).await
}

async fn preauthorize(c: UserCall, req: Request) -> Result<Response, ApiError> {
    let (parts, body) = read_body(req).await?;
    if !body.is_empty() {
        check_json_content_type(&parts.headers)?;
    }
    // Upstream decodes with a json.Decoder: an empty body is `EOF`, and every decoding
    // error carries this prefix.
    let req: PreauthRequest = if body.iter().all(u8::is_ascii_whitespace) {
        Err("EOF".to_owned())
    } else {
        serde_json::from_slice(&body).map_err(|e| e.to_string())
    }
    .map_err(|e| ApiError::bad_request(format!("failed to decode preauth request: {e}")))?;
    match c.app.preauthorize(&c.ctx, &req).await {
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

async fn count_devices(c: UserCall, query: QueryPairs) -> Result<Json<Value>, ApiError> {
    let n = c.app.count_devices(&c.ctx, count_status(&query)?).await?;
    Ok(Json(json!({ "count": n })))
}

async fn get_device(c: UserCall, Path(id): Path<DeviceId>) -> Result<Response, ApiError> {
    Ok(Json(c.app.get_device(&c.ctx, &id).await?).into_response())
}

async fn decommission(c: UserCall, Path(id): Path<DeviceId>) -> Result<StatusCode, ApiError> {
    c.app.decommission_device(&c.ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The `{id}/auth/{aid}` segments: a device and one of its auth sets.
type SetPath = Path<(DeviceId, AuthSetId)>;

async fn dismiss_auth_set(c: UserCall, Path((id, aid)): SetPath) -> Result<StatusCode, ApiError> {
    c.app.dismiss_auth_set(&c.ctx, &id, &aid).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn get_status(c: UserCall, Path((id, aid)): SetPath) -> Result<Json<Value>, ApiError> {
    let status = c.app.auth_set_status(&c.ctx, &id, &aid).await?;
    Ok(Json(json!({ "status": status })))
}

#[derive(Debug, Deserialize)]
struct StatusBody {
    status: String,
}

async fn put_status(
    c: UserCall,
    Path((id, aid)): SetPath,
    Json(body): Json<StatusBody>,
) -> Result<StatusCode, ApiError> {
    let Some(status @ (Status::Accepted | Status::Rejected | Status::Pending)) =
        Status::parse(&body.status)
    else {
        return Err(ApiError::bad_request("incorrect device status"));
    };
    c.app.set_auth_set_status(&c.ctx, &id, &aid, status).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn revoke_token(c: UserCall, Path(id): Path<TokenId>) -> Result<StatusCode, ApiError> {
    c.app.revoke_token(&c.ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn get_limit(c: UserCall, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    check_limit_name(&name)?;
    Ok(Json(
        json!({ "limit": c.app.max_devices(&c.ctx.tenant).await? }),
    ))
}
