//! `internal_v2.yaml`: the filter search and the device statistics of a given tenant, for
//! other services. Both routes also exist with an empty tenant segment.

use axum::Router;
use axum::extract::State as AxState;
use axum::http::Uri;
use axum::response::Response;
use axum::routing::{get, post};
use mender_core::json::OptionalJson;
use mender_core::{ApiError, Json};

use super::management_v2::search_response;
use super::{Params, State};
use crate::model::DeviceStatistics;
use crate::search::SearchParams;

const BASE: &str = "/api/internal/v2/inventory/tenants";

pub(crate) fn routes() -> Router<State> {
    let mut r = Router::new();
    for tenant in ["/{tenant_id}", "/"] {
        r = r
            .route(&format!("{BASE}{tenant}/filters/search"), post(search))
            .route(&format!("{BASE}{tenant}/statistics"), get(statistics));
    }
    r
}

async fn search(
    AxState(app): AxState<State>,
    p: Params,
    uri: Uri,
    OptionalJson(body): OptionalJson<SearchParams>,
) -> Result<Response, ApiError> {
    search_response(&app, &p.tenant(), uri.path(), body.unwrap_or_default()).await
}

async fn statistics(
    AxState(app): AxState<State>,
    p: Params,
) -> Result<Json<DeviceStatistics>, ApiError> {
    Ok(Json(app.device_statistics(&p.tenant()).await?))
}
