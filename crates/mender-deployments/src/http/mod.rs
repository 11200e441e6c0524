//! HTTP handlers, one module per upstream OpenAPI file, plus the rendering shared by them.

pub mod devices_v1;
pub mod download;
#[doc(hidden)]
pub mod fuzzing;
pub mod internal_v1;
pub mod management_v1;
pub mod management_v1alpha1;
pub mod management_v2;
mod multipart;
mod paging;
mod render;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, header};
use axum::routing::MethodRouter;
use mender_core::{ApiError, DeviceId, Identity, TenantId};

use crate::app::{App, LinkBase};

/// Shared handler state.
pub(crate) type State = axum::extract::State<Arc<App>>;

/// A router of `(path below base, methods)` rows.
pub(crate) fn routes(
    base: &str,
    table: impl IntoIterator<Item = (&'static str, MethodRouter<Arc<App>>)>,
) -> Router<Arc<App>> {
    table.into_iter().fold(Router::new(), |r, (path, methods)| {
        r.route(&format!("{base}{path}"), methods)
    })
}

/// The first non-empty value of `k`.
pub(crate) fn get<'a>(q: &'a [(String, String)], k: &str) -> Option<&'a str> {
    q.iter()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// Every non-empty value of `k`, in order.
pub(crate) fn get_all<T: From<String>>(q: &[(String, String)], k: &str) -> Vec<T> {
    q.iter()
        .filter(|(n, v)| n == k && !v.is_empty())
        .map(|(_, v)| T::from(v.clone()))
        .collect()
}

/// The scheme and host for links: configured host, else `X-Forwarded-Host`, else `Host`.
pub(crate) fn link_base(app: &App, headers: &HeaderMap) -> LinkBase {
    let host = if !app.config.url_hostname.is_empty() {
        app.config.url_hostname.clone()
    } else {
        headers
            .get("x-forwarded-host")
            .or_else(|| headers.get(header::HOST))
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(|v| v.trim().to_owned())
            .filter(|v| {
                !v.is_empty()
                    && v.bytes()
                        .all(|b| b.is_ascii_graphic() && b != b'/' && b != b'@')
            })
            .unwrap_or_else(|| "localhost".to_owned())
    };
    LinkBase {
        scheme: app.config.url_scheme.clone(),
        host,
    }
}

/// The calling user's tenant; device tokens are refused on management routes.
pub(crate) fn user(id: &Identity) -> Result<TenantId, ApiError> {
    if id.is_device {
        return Err(ApiError::unauthorized("unauthorized"));
    }
    Ok(TenantId::from(id.tenant.as_str()))
}

/// The calling device and its tenant; user tokens are refused on device routes.
pub(crate) fn device(id: &Identity) -> Result<(TenantId, DeviceId), ApiError> {
    if !id.is_device {
        return Err(ApiError::unauthorized("unauthorized"));
    }
    Ok((
        TenantId::from(id.tenant.as_str()),
        DeviceId::from(id.subject.as_str()),
    ))
}
