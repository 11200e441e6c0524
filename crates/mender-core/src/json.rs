//! The JSON body extractor: checks the content type, enforces the body size limit
//! (413, also for endless chunked bodies) and answers malformed input with upstream's 400 body.

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ApiError;

/// Upstream's default `request_size_limit`: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// A per-request override of the body size limit, put in the request extensions by a layer.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// A JSON request body or response.
#[derive(Debug, Clone, Default)]
pub struct Json<T>(pub T);

/// Reads the whole body, up to the request's limit; a longer body is a 413.
pub async fn read_body(req: Request) -> Result<(http::request::Parts, Bytes), ApiError> {
    let limit = req
        .extensions()
        .get::<BodyLimit>()
        .map_or(DEFAULT_BODY_LIMIT, |l| l.0);
    let (parts, body) = req.into_parts();
    if let Some(len) = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > limit as u64
    {
        return Err(too_large());
    }
    let bytes = collect_limited(body, limit).await?;
    Ok((parts, bytes))
}

async fn collect_limited(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    match Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Err(e) => Err(ApiError::bad_request(format!(
            "failed to read request body: {e}"
        ))),
    }
}

fn too_large() -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "request body too large")
}

/// Checks that a non-empty body is declared as JSON: an unparsable type is a 400, another type a 415.
pub fn check_json_content_type(headers: &http::HeaderMap) -> Result<(), ApiError> {
    let Some(ct) = headers.get(header::CONTENT_TYPE) else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json",
        ));
    };
    let ct = ct
        .to_str()
        .map_err(|_| ApiError::bad_request("invalid Content-Type header"))?;
    let essence = ct.split(';').next().unwrap_or("").trim();
    if essence.is_empty() || !essence.contains('/') {
        return Err(ApiError::bad_request("invalid Content-Type header"));
    }
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json",
        ));
    }
    Ok(())
}

/// Parses JSON with a message that says what is wrong, never echoing the input.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("failed to decode request body: EOF"));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("failed to decode request body: {e}")))
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        let (parts, bytes) = read_body(req).await?;
        if !bytes.is_empty() {
            check_json_content_type(&parts.headers)?;
        }
        parse(&bytes).map(Json)
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// An optional JSON body: `None` when the body is empty.
#[derive(Debug, Clone, Default)]
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        let (parts, bytes) = read_body(req).await?;
        if bytes.is_empty() {
            return Ok(OptionalJson(None));
        }
        check_json_content_type(&parts.headers)?;
        parse(&bytes).map(|v| OptionalJson(Some(v)))
    }
}
