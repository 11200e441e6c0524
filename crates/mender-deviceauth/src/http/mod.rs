//! HTTP handlers, one module per upstream OpenAPI file; they parse, call [`crate::app::App`]
//! and render, nothing more.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use mender_core::query::QueryPairs;
use mender_core::{ApiError, Identity, RequestId};

use crate::app::{App, Ctx};
use crate::model::{DeviceFilter, LIMIT_MAX_DEVICES, Status};

pub mod devices_v1;
pub mod internal_v1;
pub mod management_v2;

/// Handler state.
pub type AppState = Arc<App>;

/// What every management handler starts from: the app, and the operation context of the
/// calling user (their tenant and the request id).
pub struct UserCall {
    /// The service logic.
    pub app: AppState,
    /// The caller's tenant and the request id.
    pub ctx: Ctx,
}

impl FromRequestParts<AppState> for UserCall {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let identity = Identity::from_request_parts(parts, app).await?;
        let Ok(RequestId(request_id)) = RequestId::from_request_parts(parts, app).await;
        Ok(UserCall {
            app: app.clone(),
            ctx: Ctx {
                tenant: identity.tenant.as_str().into(),
                request_id,
            },
        })
    }
}

/// Refuses every limit name but the one deviceauth knows.
pub fn check_limit_name(name: &str) -> Result<(), ApiError> {
    if name == LIMIT_MAX_DEVICES {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!("unsupported limit {name}")))
    }
}

/// Parses status names for a device filter (400 on an unknown one).
pub fn parse_statuses<S: AsRef<str>>(
    values: impl IntoIterator<Item = S>,
) -> Result<Vec<Status>, ApiError> {
    values
        .into_iter()
        .map(|s| {
            Status::parse(s.as_ref()).ok_or_else(|| {
                ApiError::bad_request(
                    "filter status must be one of: accepted, pending, rejected, preauthorized or noauth",
                )
            })
        })
        .collect()
}

/// A device filter from query parameters (`status`, repeated `id`).
pub fn filter_from_query(q: &QueryPairs) -> Result<DeviceFilter, ApiError> {
    Ok(DeviceFilter {
        status: parse_statuses(q.all("status"))?,
        ids: q.all("id").map(Into::into).collect(),
    })
}

/// Parses the optional `status` of count endpoints.
pub fn count_status(q: &QueryPairs) -> Result<Option<Status>, ApiError> {
    match q.first("status") {
        None | Some("") => Ok(None),
        Some(s) => Status::parse(s).map(Some).ok_or_else(|| {
            ApiError::bad_request(
                "status must be one of: pending, accepted, rejected, preauthorized, noauth",
            )
        }),
    }
}

/// Decodes an `application/x-www-form-urlencoded` body; `None` if it is not valid UTF-8
/// after percent-decoding.
pub fn parse_form(body: &[u8]) -> Option<Vec<(String, String)>> {
    fn decode(s: &[u8]) -> Option<String> {
        let mut out = Vec::with_capacity(s.len());
        let mut i = 0;
        while i < s.len() {
            match s[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < s.len() => {
                    let hex = std::str::from_utf8(&s[i + 1..i + 3]).ok()?;
                    out.push(u8::from_str_radix(hex, 16).ok()?);
                    i += 2;
                }
                b'%' => return None,
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8(out).ok()
    }
    body.split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let mut kv = pair.splitn(2, |b| *b == b'=');
            let k = decode(kv.next().unwrap_or_default())?;
            let v = decode(kv.next().unwrap_or_default())?;
            Some((k, v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding() {
        assert_eq!(
            parse_form(b"status=pending&id=a%2Fb&x=1+2").unwrap(),
            vec![
                ("status".into(), "pending".into()),
                ("id".into(), "a/b".into()),
                ("x".into(), "1 2".into())
            ]
        );
        assert!(parse_form(b"a=%zz").is_none());
        assert!(parse_form(b"a=%4").is_none());
        assert!(parse_form(b"a=%ff").is_none());
    }
}
