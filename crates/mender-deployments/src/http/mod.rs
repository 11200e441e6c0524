//! HTTP handlers, one module per upstream OpenAPI file, plus the rendering shared by them.

pub mod devices_v1;
pub mod download;
pub mod internal_v1;
pub mod management_v1;
pub mod management_v2;
mod multipart;
mod render;

use std::sync::Arc;

use axum::http::{HeaderMap, header};
use mender_core::{ApiError, Identity};

use crate::app::{App, LinkBase};

/// Shared handler state.
pub(crate) type State = axum::extract::State<Arc<App>>;

/// Query pairs in order (repeated keys kept).
pub(crate) type QueryPairs = axum::extract::Query<Vec<(String, String)>>;

pub(crate) fn get<'a>(q: &'a [(String, String)], k: &str) -> Option<&'a str> {
    q.iter()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

pub(crate) fn get_all(q: &[(String, String)], k: &str) -> Vec<String> {
    q.iter()
        .filter(|(n, _)| n == k)
        .map(|(_, v)| v.clone())
        .filter(|v| !v.is_empty())
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

/// The calling user; device tokens are refused on management routes.
pub(crate) fn user(id: &Identity) -> Result<&str, ApiError> {
    if id.is_device {
        return Err(ApiError::unauthorized("unauthorized"));
    }
    Ok(&id.tenant)
}

/// The calling device; user tokens are refused on device routes.
pub(crate) fn device(id: &Identity) -> Result<(&str, &str), ApiError> {
    if !id.is_device {
        return Err(ApiError::unauthorized("unauthorized"));
    }
    Ok((&id.tenant, &id.subject))
}

/// Parses a non-negative integer query parameter.
pub(crate) fn int_param(q: &[(String, String)], k: &str) -> Result<Option<i64>, ApiError> {
    get(q, k)
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("{k}: must be an integer")))
        })
        .transpose()
}
