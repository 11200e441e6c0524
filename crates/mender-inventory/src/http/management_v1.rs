//! `management_v1.yaml`: device list and details, tags with ETags, groups. The same routes
//! are served under the legacy `/api/0.1.0` prefix on the internal router.

use axum::Router;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use mender_core::paging::Page;
use mender_core::query::QueryPairs;
use mender_core::{ApiError, DeviceId, Identity, Json};
use serde::{Deserialize, Serialize};

use super::{Params, State, attributes, page_headers, tenant};
use crate::app::Mode;
use crate::model::{AttributeInput, SCOPE_TAGS};
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
    AxState(app): AxState<State>,
    id: Identity,
    uri: Uri,
    QueryPairs(q): QueryPairs,
) -> Result<Response, ApiError> {
    let page = Page::from_query(&q)?;
    let params = ListParams::parse(&q)?;
    let (devs, total) = app
        .list_devices(&tenant(&id), params, page.offset(), page.per_page)
        .await?;
    Ok((page_headers(page, uri.path(), &q, total), Json(devs)).into_response())
}

async fn get_device(
    AxState(app): AxState<State>,
    id: Identity,
    p: Params,
) -> Result<Response, ApiError> {
    let dev = app.get_device(&tenant(&id), &p.device("id")).await?;
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

async fn delete_device(
    AxState(app): AxState<State>,
    id: Identity,
    p: Params,
) -> Result<StatusCode, ApiError> {
    app.delete_inventory(&tenant(&id), &p.device("id")).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn update_tags(
    AxState(app): AxState<State>,
    method: Method,
    id: Identity,
    p: Params,
    headers: HeaderMap,
    Json(body): Json<Vec<AttributeInput>>,
) -> Result<StatusCode, ApiError> {
    let tags = attributes(body, Some(SCOPE_TAGS))?;
    // Accept the ETag with or without the quotes HTTP puts around entity tags.
    let if_match = super::header(&headers, "if-match")
        .filter(|v| !v.is_empty())
        .map(|v| v.trim_matches('"'));
    let mode = if method == Method::PUT {
        Mode::Replace
    } else {
        Mode::Merge
    };
    app.update_tags(&tenant(&id), &p.device("id"), tags, mode, if_match)
        .await?;
    Ok(StatusCode::OK)
}

/// `{"group": name}` in and out (`null` when the device has none).
#[derive(Debug, Serialize, Deserialize)]
struct GroupBody {
    #[serde(default)]
    group: Option<String>,
}

async fn get_group(
    AxState(app): AxState<State>,
    id: Identity,
    p: Params,
) -> Result<Json<GroupBody>, ApiError> {
    let group = app.device_group(&tenant(&id), &p.device("id")).await?;
    Ok(Json(GroupBody { group }))
}

async fn set_group(
    AxState(app): AxState<State>,
    id: Identity,
    p: Params,
    Json(body): Json<GroupBody>,
) -> Result<StatusCode, ApiError> {
    app.set_device_group(
        &tenant(&id),
        &p.device("id"),
        body.group.as_deref().unwrap_or(""),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn unset_group(
    AxState(app): AxState<State>,
    id: Identity,
    p: Params,
) -> Result<StatusCode, ApiError> {
    app.unset_device_group(&tenant(&id), &p.device("id"), p.get("name"))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_groups(
    AxState(app): AxState<State>,
    id: Identity,
    q: QueryPairs,
) -> Result<Json<Vec<String>>, ApiError> {
    let status = q.first("status").filter(|s| !s.is_empty());
    Ok(Json(app.list_groups(&tenant(&id), status).await?))
}

/// Counters of group changes; the spec requires `updated_count` even when zero.
#[derive(Debug, Serialize)]
struct Updated {
    updated_count: u64,
}

/// Counters of `PATCH groups/{name}/devices`.
#[derive(Debug, Serialize)]
struct MatchedUpdated {
    matched_count: u64,
    updated_count: u64,
}

async fn delete_group(
    AxState(app): AxState<State>,
    id: Identity,
    p: Params,
) -> Result<Json<Updated>, ApiError> {
    let r = app.delete_group(&tenant(&id), p.get("name")).await?;
    Ok(Json(Updated {
        updated_count: r.updated_count,
    }))
}

async fn group_devices(
    AxState(app): AxState<State>,
    id: Identity,
    p: Params,
    uri: Uri,
    QueryPairs(q): QueryPairs,
) -> Result<Response, ApiError> {
    let page = Page::from_query(&q)?;
    let (ids, total) = app
        .devices_in_group(&tenant(&id), p.get("name"), page.offset(), page.per_page)
        .await?;
    Ok((page_headers(page, uri.path(), &q, total), Json(ids)).into_response())
}

async fn remove_from_group(
    AxState(app): AxState<State>,
    id: Identity,
    p: Params,
    Json(ids): Json<Vec<DeviceId>>,
) -> Result<Json<Updated>, ApiError> {
    let r = app
        .remove_devices_from_group(&tenant(&id), &ids, p.get("name"))
        .await?;
    Ok(Json(Updated {
        updated_count: r.updated_count,
    }))
}

async fn add_to_group(
    AxState(app): AxState<State>,
    id: Identity,
    p: Params,
    Json(ids): Json<Vec<DeviceId>>,
) -> Result<Json<MatchedUpdated>, ApiError> {
    let r = app
        .add_devices_to_group(&tenant(&id), &ids, p.get("name"))
        .await?;
    Ok(Json(MatchedUpdated {
        matched_count: r.matched_count,
        updated_count: r.updated_count,
    }))
}
