//! `management_v2.yaml`: the filter search, the list of filterable attributes and the
//! device statistics.

use axum::Router;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use mender_core::json::OptionalJson;
use mender_core::paging::Page;
use mender_core::{ApiError, Json, TenantId};

use super::{State, UserCall, page_headers};
use crate::model::{DeviceStatistics, FilterAttribute};
use crate::search::SearchParams;

pub(crate) fn routes() -> Router<State> {
    Router::new()
        .route(
            "/api/management/v2/inventory/filters/attributes",
            get(filter_attributes),
        )
        .route("/api/management/v2/inventory/filters/search", post(search))
        .route("/api/management/v2/inventory/statistics", get(statistics))
}

async fn statistics(c: UserCall) -> Result<Json<DeviceStatistics>, ApiError> {
    Ok(Json(c.app.device_statistics(&c.tenant).await?))
}

async fn filter_attributes(c: UserCall) -> Result<Json<Vec<FilterAttribute>>, ApiError> {
    Ok(Json(c.app.filter_attributes(&c.tenant).await?))
}

async fn search(
    c: UserCall,
    uri: Uri,
    OptionalJson(body): OptionalJson<SearchParams>,
) -> Result<Response, ApiError> {
    search_response(&c.app, &c.tenant, uri.path(), body.unwrap_or_default()).await
}

/// Runs a search and renders the page with `X-Total-Count` and `Link`.
pub(crate) async fn search_response(
    app: &State,
    tenant: &TenantId,
    path: &str,
    params: SearchParams,
) -> Result<Response, ApiError> {
    let compiled = params.compile(app.config())?;
    let page = Page {
        page: compiled.page,
        per_page: compiled.per_page,
    };
    let (devs, total) = app.search(tenant, compiled).await?;
    Ok((page_headers(page, path, &[], total), Json(devs)).into_response())
}
