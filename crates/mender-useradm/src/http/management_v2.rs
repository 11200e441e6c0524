//! Handlers of upstream's `management_v2.yaml` (next release): the caller changes their own
//! password.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::put;
use mender_core::{ApiError, Identity, Json};
use serde_json::Value;

use crate::Service;
use crate::model::OwnUserUpdate;

/// The routes behind user-token verification.
pub fn management(svc: Arc<Service>) -> Router {
    Router::new()
        .route("/api/management/v2/useradm/users/me", put(update_me))
        .with_state(svc)
}

/// `{password?, current_password?}`; `null` and `{}` change nothing but still revoke the
/// caller's other tokens.
async fn update_me(
    State(svc): State<Arc<Service>>,
    caller: Identity,
    Json(body): Json<Value>,
) -> Result<StatusCode, ApiError> {
    let decode_error = |e: &dyn std::fmt::Display| {
        ApiError::bad_request(format!("failed to decode request body: {e}"))
    };
    // Go decodes `null` into the struct as nothing, and refuses any other non-object.
    let kind = match &body {
        Value::Null => None,
        Value::Object(_) => Some(None),
        Value::Array(_) => Some(Some("array")),
        Value::String(_) => Some(Some("string")),
        Value::Number(_) => Some(Some("number")),
        Value::Bool(_) => Some(Some("bool")),
    };
    let upd = match kind {
        None => OwnUserUpdate::default(),
        Some(Some(kind)) => {
            return Err(decode_error(&format!(
                "json: cannot unmarshal {kind} into Go value of type model.OwnUserUpdateV2"
            )));
        }
        Some(None) => serde_json::from_value(body).map_err(|e| decode_error(&e))?,
    };
    svc.app().update_own_user(&caller, upd).await?;
    Ok(StatusCode::NO_CONTENT)
}
