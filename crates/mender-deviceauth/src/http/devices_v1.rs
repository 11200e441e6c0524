//! Device API v1 (`devices_v1.yaml`): the signed authentication request.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use mender_core::{ApiError, ClientAddr, RequestId, TenantId};

use super::AppState;
use crate::app::Ctx;

/// Path of the auth request endpoint.
pub const AUTH_REQUESTS: &str = "/api/devices/v1/authentication/auth_requests";
/// Header carrying the body signature.
pub const SIGNATURE_HEADER: &str = "x-men-signature";

/// The open routes (no token: the body is signed).
pub fn routes(state: AppState) -> Router {
    Router::new()
        .route(AUTH_REQUESTS, post(auth_request))
        .with_state(state)
}

async fn auth_request(
    State(app): State<AppState>,
    request_id: RequestId,
    ClientAddr(from): ClientAddr,
    req: Request,
) -> Result<Response, ApiError> {
    app.admit_auth_request(from)?;
    // The signature covers the exact bytes, so the body is read raw, never re-encoded.
    let (parts, body) = mender_core::json::read_body(req).await?;
    if !body.is_empty() {
        mender_core::json::check_json_content_type(&parts.headers)?;
    }
    // A header that is not text is still a (bad) signature, as in upstream: 401, not 400.
    let signature = parts
        .headers
        .get(SIGNATURE_HEADER)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let ctx = Ctx {
        tenant: TenantId::default_tenant(),
        request_id: request_id.0,
    };
    let token = app
        .submit_auth_request(&ctx, &body, signature.as_deref())
        .await?;
    let mut resp = (StatusCode::OK, token.into_inner()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jwt"),
    );
    Ok(resp)
}
