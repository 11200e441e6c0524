//! useradm's HTTP layer: thin handlers per upstream OpenAPI file, and the helper they share
//! (JSON bodies with upstream's messages).

use std::sync::Arc;

use axum::extract::Request;
use mender_core::ApiError;
use mender_core::json::{check_json_content_type, parse, read_body};
use mender_core::service::Routers;
use serde::de::DeserializeOwned;

use crate::Service;

mod internal_v1;
mod management_v1;
mod management_v2;

/// Every useradm route, grouped by audience.
pub fn routers(svc: Arc<Service>) -> Routers {
    Routers {
        open: management_v1::open(svc.clone()),
        management: management_v1::management(svc.clone())
            .merge(management_v2::management(svc.clone())),
        devices: axum::Router::new(),
        internal: internal_v1::internal(svc),
    }
}

/// A JSON body; a parse failure is a 400 with the given message (upstream's wording for
/// that endpoint), or with the parser's message when there is none.
pub(crate) async fn json_body<T: DeserializeOwned>(
    req: Request,
    message: Option<&str>,
) -> Result<T, ApiError> {
    let (parts, bytes) = read_body(req).await?;
    if !bytes.is_empty() {
        check_json_content_type(&parts.headers)?;
    }
    parse(&bytes).map_err(|e| match message {
        Some(m) => ApiError::bad_request(m),
        None => e,
    })
}
