//! `management_v1.yaml`: device list and details, tags with ETags, groups. The same routes
//! are served under the legacy `/api/0.1.0` prefix on the internal router.

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use mender_core::query::QueryPairs;
use mender_core::{ApiError, DeviceId, Json};
use serde::{Deserialize, Serialize};

use super::attrs::AttributeList;
use super::{Params, State, UserCall, attributes, list_page, mode, page_headers};
use crate::model::{SCOPE_TAGS, UpdateResult};
use crate::search::ListParams;

pub(crate) fn routes(prefix: &str) -> Router<State> {
    let p = |s: &str| format!("{prefix}{s}");
    Router::new()
        .route(&p("/devices"), get(list_devices))
        .route(&p("/devices/{id}"), get(get_device).delete(delete_device))
        .route(
            &p("/devices/{id}/tags"),
            axum::routing::put(update_tags).patch(update_tags),
        )
        .route(&p("/devices/{id}/group"), get(get_group).put(set_group))
        .route(&p("/devices/{id}/group/{name}"), delete(unset_group))
        .route(&p("/groups"), get(list_groups))
        .route(&p("/groups/{name}"), delete(delete_group))
        .route(
            &p("/groups/{name}/devices"),
            get(group_devices)
                .delete(remove_from_group)
                .patch(add_to_group),
        )
}

async fn list_devices(
    c: UserCall,
    uri: Uri,
    QueryPairs(q): QueryPairs,
) -> Result<Response, ApiError> {
    let page = list_page(&q)?;
    let params = ListParams::parse(&q)?;
    let (devs, total) = c
        .app
        .list_devices(&c.tenant, params, page.offset(), page.per_page)
        .await?;
    Ok((page_headers(page, uri.path(), &q, total), Json(devs)).into_response())
}

async fn get_device(c: UserCall, p: Params) -> Result<Response, ApiError> {
    let dev = c.app.get_device(&c.tenant, &p.device("id")).await?;
    let mut headers = HeaderMap::new();
    if let Some(v) = dev
        .tags_etag
        .as_deref()
        .and_then(|e| HeaderValue::from_str(e).ok())
    {
        headers.insert(header::ETAG, v);
    }
    Ok((headers, Json(dev.to_api(None))).into_response())
}

async fn delete_device(c: UserCall, p: Params) -> Result<StatusCode, ApiError> {
    c.app.delete_inventory(&c.tenant, &p.device("id")).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn update_tags(
    c: UserCall,
    method: Method,
    p: Params,
    headers: HeaderMap,
    AttributeList(body): AttributeList<true>,
) -> Result<StatusCode, ApiError> {
    let tags = attributes(body, Some(SCOPE_TAGS))?;
    // Accept the ETag with or without the quotes HTTP puts around entity tags.
    let if_match = super::header(&headers, "if-match")
        .filter(|v| !v.is_empty())
        .map(|v| v.trim_matches('"'));
    c.app
        .update_tags(&c.tenant, &p.device("id"), tags, mode(&method), if_match)
        .await?;
    Ok(StatusCode::OK)
}

/// `{"group": name}` in and out (`null` when the device has none).
#[derive(Debug, Serialize, Deserialize)]
struct GroupBody {
    #[serde(default)]
    group: Option<String>,
}

async fn get_group(c: UserCall, p: Params) -> Result<Json<GroupBody>, ApiError> {
    let group = c.app.device_group(&c.tenant, &p.device("id")).await?;
    Ok(Json(GroupBody { group }))
}

async fn set_group(
    c: UserCall,
    p: Params,
    Json(body): Json<GroupBody>,
) -> Result<StatusCode, ApiError> {
    let group = body.group.as_deref().unwrap_or("");
    c.app
        .set_device_group(&c.tenant, &p.device("id"), group)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn unset_group(c: UserCall, p: Params) -> Result<StatusCode, ApiError> {
    c.app
        .unset_device_group(&c.tenant, &p.device("id"), p.get("name"))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_groups(c: UserCall, q: QueryPairs) -> Result<Json<Vec<String>>, ApiError> {
    let status = q.first("status").filter(|s| !s.is_empty());
    Ok(Json(c.app.list_groups(&c.tenant, status).await?))
}

/// Counters of group changes; the spec requires `updated_count` even when zero.
#[derive(Debug, Serialize)]
struct Updated {
    updated_count: u64,
}

impl From<UpdateResult> for Updated {
    fn from(r: UpdateResult) -> Self {
        Updated {
            updated_count: r.updated_count,
        }
    }
}

/// Counters of `PATCH groups/{name}/devices`.
#[derive(Debug, Serialize)]
struct MatchedUpdated {
    matched_count: u64,
    updated_count: u64,
}

async fn delete_group(c: UserCall, p: Params) -> Result<Json<Updated>, ApiError> {
    let r = c.app.delete_group(&c.tenant, p.get("name")).await?;
    Ok(Json(r.into()))
}

async fn group_devices(
    c: UserCall,
    p: Params,
    uri: Uri,
    QueryPairs(q): QueryPairs,
) -> Result<Response, ApiError> {
    let page = list_page(&q)?;
    let (ids, total) = c
        .app
        .devices_in_group(&c.tenant, p.get("name"), page.offset(), page.per_page)
        .await?;
    Ok((page_headers(page, uri.path(), &q, total), Json(ids)).into_response())
}

async fn remove_from_group(
    c: UserCall,
    p: Params,
    Json(ids): Json<Vec<DeviceId>>,
) -> Result<Json<Updated>, ApiError> {
    let r = c
        .app
        .remove_devices_from_group(&c.tenant, &ids, p.get("name"))
        .await?;
    Ok(Json(r.into()))
}

async fn add_to_group(
    c: UserCall,
    p: Params,
    Json(ids): Json<Vec<DeviceId>>,
) -> Result<Json<MatchedUpdated>, ApiError> {
    let r = c
        .app
        .add_devices_to_group(&c.tenant, &ids, p.get("name"))
        .await?;
    Ok(Json(MatchedUpdated {
        matched_count: r.matched_count,
        updated_count: r.updated_count,
    }))
}
