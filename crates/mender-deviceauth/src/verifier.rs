//! The gateway's check of device tokens (upstream's `tokens/verify` forward-auth target).

use std::sync::Arc;

use axum::http::StatusCode;
use mender_core::verify::{ForwardedRequest, TokenVerifier};
use mender_core::{ApiError, Identity, TenantId};

use crate::app::{App, Ctx};
use crate::error::Error;

/// Verifies device tokens: signature, `exp`, `mender.device`, token stored, auth set
/// accepted, device not decommissioning. Anything else is a 401.
#[derive(Clone)]
pub struct DeviceVerifier {
    app: Arc<App>,
}

impl DeviceVerifier {
    /// A verifier over the service logic.
    pub fn new(app: Arc<App>) -> Self {
        Self { app }
    }
}

fn unauthorized() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized")
}

#[async_trait::async_trait]
impl TokenVerifier for DeviceVerifier {
    async fn verify(&self, req: &ForwardedRequest) -> Result<Identity, ApiError> {
        // A missing token and a malformed `Authorization` header are both a plain 401.
        let token =
            mender_core::identity::request_token(&req.headers).map_err(|_| unauthorized())?;
        let ctx = Ctx {
            tenant: TenantId::default_tenant(),
            request_id: mender_core::request_id::current().unwrap_or_default(),
        };
        match self.app.verify_token(&ctx, &token).await {
            Ok((checked, _)) => Identity::from_claims(&checked.claims, &token),
            Err(Error::Unauthorized(_)) => Err(unauthorized()),
            Err(e) => Err(e.into()),
        }
    }
}
