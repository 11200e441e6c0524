//! User token verification, as upstream's `auth/verify` does it: the token by the one rule of
//! [`request_token`] (`Authorization: Bearer` or the `JWT` cookie), signature by `kid`, `exp`
//! and `nbf` on the injected clock, required claims, the forwarded request, scope (403), then
//! user and token still in the database (401).

use std::time::Duration;

use axum::http::HeaderMap;
use mender_core::identity::{TokenError, request_token};
use mender_core::verify::{ForwardedRequest, TokenVerifier};
use mender_core::{Identity, TenantId, TokenId, UserId};
use serde_json::Value;

use crate::Service;
use crate::app::App;
use crate::error::Error;
use crate::model::SCOPE_ALL;

impl App {
    /// Verifies the token of a request to `uri` with `method` (both as forwarded by the
    /// gateway) and returns the caller's identity.
    pub async fn verify(
        &self,
        headers: &HeaderMap,
        uri: Option<&str>,
        method: Option<&str>,
    ) -> Result<Identity, Error> {
        let token = request_token(headers).map_err(|e| match e {
            TokenError::Missing => Error::NoAuth,
            TokenError::MalformedHeader => Error::MalformedAuthHeader,
        })?;
        let claims = self
            .keys
            .verifying()
            .verify(token.expose_str(), self.clock.now())
            .map_err(|_| Error::InvalidToken)?;
        let text = |k: &str| {
            claims
                .get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        let (Some(_), Some(sub), Some(jti), Some(scope)) =
            (text("iss"), text("sub"), text("jti"), text("scp"))
        else {
            return Err(Error::InvalidToken);
        };
        let uri = uri.unwrap_or("");
        if uri.is_empty() || uri.split('/').count() < 4 {
            return Err(Error::BadRequest(format!(
                "can't parse service name from original uri {uri}"
            )));
        }
        if method.is_none_or(str::is_empty) {
            return Err(Error::BadRequest(
                "can't parse original request method".into(),
            ));
        }
        if scope != SCOPE_ALL {
            return Err(Error::Forbidden);
        }
        if claims.get("mender.user").and_then(Value::as_bool) != Some(true) {
            return Err(Error::Unauthorized);
        }
        let tenant = TenantId::from(text("mender.tenant").unwrap_or(""));
        let (user, jti) = (UserId::from(sub), TokenId::from(jti));
        let found = self.store.check_token(&tenant, &user, &jti).await?;
        let Some(found) = found else {
            return Err(Error::Unauthorized);
        };
        // Personal access tokens record their last use, but rarely, to spare the database.
        let freq = self.config.token_last_used_update_freq_minutes;
        if found.name.is_some() && freq > 0 {
            let now = self.now();
            let stale = found
                .last_used
                .is_none_or(|t| t < now - Duration::from_secs(freq.saturating_mul(60)));
            if stale {
                self.store.touch_token(&jti, now).await?;
            }
        }
        Identity::from_claims(&claims, &token).map_err(|_| Error::InvalidToken)
    }
}

#[async_trait::async_trait]
impl TokenVerifier for Service {
    async fn verify(&self, req: &ForwardedRequest) -> Result<Identity, mender_core::ApiError> {
        Ok(self
            .app()
            .verify(&req.headers, Some(&req.uri), Some(req.method.as_str()))
            .await?)
    }
}
