//! `internal_v2.yaml`: the filter search of a given tenant, for other services.

use axum::Router;
use axum::extract::State as AxState;
use axum::http::Uri;
use axum::response::Response;
use axum::routing::post;
use mender_core::ApiError;
use mender_core::json::OptionalJson;

use super::management_v2::search_response;
use super::{Params, State};
use crate::search::SearchParams;

pub(crate) fn routes() -> Router<State> {
    Router::new()
        .route(
            "/api/internal/v2/inventory/tenants/{tenant_id}/filters/search",
            post(search),
        )
        .route(
            "/api/internal/v2/inventory/tenants//filters/search",
            post(search),
        )
}

async fn search(
    AxState(app): AxState<State>,
    p: Params,
    uri: Uri,
    OptionalJson(body): OptionalJson<SearchParams>,
) -> Result<Response, ApiError> {
    search_response(&app, &p.tenant(), uri.path(), body.unwrap_or_default()).await
}
