//! `management_v2alpha1.yaml`: the experimental identity search. Upstream publishes only the
//! specification of this route so far (no handler in its next release); this follows the
//! specification.

use axum::Router;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use mender_core::paging::Page;
use mender_core::{ApiError, Json};

use super::{State, UserCall, page_headers};
use crate::search::IdentitySearchParams;

pub(crate) fn routes() -> Router<State> {
    Router::new().route(
        "/api/management/v2alpha1/inventory/identities/search",
        post(search),
    )
}

/// A page of the devices matching the prefix, with `X-Total-Count` and `Link`.
async fn search(
    c: UserCall,
    uri: Uri,
    Json(body): Json<Option<IdentitySearchParams>>,
) -> Result<Response, ApiError> {
    let s = body.unwrap_or_default().compile()?;
    let page = Page {
        page: s.page,
        per_page: s.per_page,
    };
    let (devs, total) = c.app.search_identities(&c.tenant, s).await?;
    Ok((page_headers(page, uri.path(), &[], total), Json(devs)).into_response())
}
