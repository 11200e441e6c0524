//! HTTP handlers, one module per upstream OpenAPI file, and the helpers they share.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method};
use mender_core::json::BodyLimit;
use mender_core::service::Routers;
use mender_core::{ApiError, DeviceId, Identity, TenantId};

use crate::App;
use crate::app::Mode;
use crate::model::{Attribute, AttributeInput};

mod attrs;
mod devices_v1;
mod internal_v1;
mod internal_v2;
mod management_v1;
mod management_v2;
mod management_v2alpha1;

/// Shared state of every handler.
pub(crate) type State = Arc<App>;

/// Builds the service's routers; every route reads bodies up to `max_document_bytes`.
pub(crate) fn routers(app: State) -> Routers {
    let limit = axum::Extension(BodyLimit(app.config().max_document_bytes));
    let finish = |r: Router<State>| r.with_state(app.clone()).layer(limit);
    Routers {
        open: Router::new(),
        management: finish(
            management_v1::routes("/api/management/v1/inventory")
                .merge(management_v2::routes())
                .merge(management_v2alpha1::routes()),
        ),
        devices: finish(devices_v1::routes()),
        internal: finish(
            internal_v1::routes()
                .merge(internal_v2::routes())
                .merge(management_v1::routes("/api/0.1.0"))
                .merge(devices_v1::legacy_routes()),
        ),
    }
}

/// Path parameters by name; a route may also exist with an empty tenant segment
/// (`/tenants//...`, what the open-source workflows send), where `tenant_id` is absent.
pub(crate) struct Params(HashMap<String, String>);

impl Params {
    /// A parameter, empty when absent.
    pub fn get(&self, name: &str) -> &str {
        self.0.get(name).map_or("", String::as_str)
    }

    /// The `tenant_id` segment (the default tenant when empty or absent).
    pub fn tenant(&self) -> TenantId {
        TenantId::from(self.get("tenant_id"))
    }

    /// A device id segment.
    pub fn device(&self, name: &str) -> DeviceId {
        DeviceId::from(self.get(name))
    }
}

/// The caller's tenant.
pub(crate) fn tenant(id: &Identity) -> TenantId {
    TenantId::from(id.tenant.as_str())
}

/// What every management handler starts from: the app and the calling user's tenant.
pub(crate) struct UserCall {
    pub app: State,
    pub tenant: TenantId,
}

impl FromRequestParts<State> for UserCall {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &State) -> Result<Self, ApiError> {
        let id = Identity::from_request_parts(parts, app).await?;
        Ok(UserCall {
            app: app.clone(),
            tenant: tenant(&id),
        })
    }
}

/// PUT replaces what it names, PATCH merges into it.
pub(crate) fn mode(method: &Method) -> Mode {
    if method == Method::PUT {
        Mode::Replace
    } else {
        Mode::Merge
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &S) -> Result<Self, Self::Rejection> {
        match Path::<HashMap<String, String>>::from_request_parts(parts, s).await {
            Ok(Path(m)) => Ok(Params(m)),
            // No parameters in the route at all.
            Err(_) => Ok(Params(HashMap::new())),
        }
    }
}

/// Validates a list of attributes, forcing `scope` when given.
pub(crate) fn attributes(
    input: Vec<AttributeInput>,
    scope: Option<&str>,
) -> Result<Vec<Attribute>, ApiError> {
    crate::model::validate_attributes(input, scope).map_err(ApiError::from)
}

/// `page` and `per_page` of the v1 lists: upstream's paging rules, with inventory's own
/// answer (`rest.ErrPerPageLimit`) to a page larger than 500.
pub(crate) fn list_page(q: &[(String, String)]) -> Result<mender_core::paging::Page, ApiError> {
    let max = mender_core::paging::MAX_PER_PAGE;
    let per_page = q.iter().find(|(k, _)| k == "per_page");
    if per_page.is_some_and(|(_, v)| v.parse::<u64>().is_ok_and(|n| n > max)) {
        return Err(ApiError::bad_request(format!(
            "parameter \"per_page\" above limit (max: {max})"
        )));
    }
    mender_core::paging::Page::from_query(q)
}

/// `X-Total-Count` and `Link` for a page.
pub(crate) fn page_headers(
    page: mender_core::paging::Page,
    path: &str,
    query: &[(String, String)],
    total: u64,
) -> HeaderMap {
    let has_next = total > page.page.saturating_mul(page.per_page);
    page.headers(path, query, has_next, Some(total))
}

/// A header value as text, if present and readable.
pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v: &HeaderValue| v.to_str().ok())
        .map(str::trim)
}
