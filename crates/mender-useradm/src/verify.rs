//! User token verification, as upstream's `auth/verify` does it: the token from
//! `Authorization: Bearer` or the `JWT` cookie, signature by `kid`, required claims, the
//! forwarded request, scope (403), then user and token still in the database (401).

use axum::http::{HeaderMap, header};
use mender_core::Identity;
use mender_core::verify::{ForwardedRequest, TokenVerifier};
use serde_json::Value;

use crate::Service;
use crate::app::App;
use crate::error::Error;
use crate::model::{SCOPE_ALL, now};

/// The token of a request: `Authorization` must be `Bearer <token>` when present; otherwise
/// the `JWT` cookie.
pub fn extract_token(headers: &HeaderMap) -> Result<String, Error> {
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        let auth = auth.to_str().map_err(|_| Error::MalformedAuthHeader)?;
        let mut fields = auth.split_whitespace();
        return match (fields.next(), fields.next()) {
            (Some(scheme), Some(token)) if scheme.eq_ignore_ascii_case("bearer") => {
                Ok(token.to_owned())
            }
            _ => Err(Error::MalformedAuthHeader),
        };
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == "JWT")
        .map(|(_, v)| v.trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
        .ok_or(Error::NoAuth)
}

impl App {
    /// Verifies the token of a request to `uri` with `method` (both as forwarded by the
    /// gateway) and returns the caller's identity.
    pub async fn verify(
        &self,
        headers: &HeaderMap,
        uri: Option<&str>,
        method: Option<&str>,
    ) -> Result<Identity, Error> {
        let token = extract_token(headers)?;
        let claims = self
            .keys
            .verifying()
            .verify(&token, now())
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
        let tenant = text("mender.tenant").unwrap_or("");
        let found = self.store.check_token(tenant, sub, jti).await?;
        let Some(found) = found else {
            return Err(Error::Unauthorized);
        };
        // Personal access tokens record their last use, but rarely, to spare the database.
        let freq = self.config.token_last_used_update_freq_minutes;
        if found.name.is_some() && freq > 0 {
            let at = now();
            let stale = found
                .last_used
                .is_none_or(|t| t < at.saturating_sub((freq * 60) as i64));
            if stale {
                self.store.touch_token(jti, at).await?;
            }
        }
        Identity::from_claims(&claims, &token).map_err(|_| Error::InvalidToken)
    }
}

#[async_trait::async_trait]
impl TokenVerifier for Service {
    async fn verify(&self, req: &ForwardedRequest) -> Result<Identity, mender_core::ApiError> {
        Ok(self
            .app
            .verify(&req.headers, Some(&req.uri), Some(req.method.as_str()))
            .await?)
    }
}
