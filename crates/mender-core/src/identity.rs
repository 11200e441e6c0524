//! Who is calling: the identity claims of the bearer token, read the way upstream services
//! read them behind the gateway (the gateway has already verified the token).

use axum::extract::FromRequestParts;
use axum::http::{HeaderMap, header, request::Parts};
use serde_json::Value;

use crate::ApiError;
use crate::jwt;
use crate::secret::Secret;

/// The caller's identity as carried in its token's claims.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Identity {
    /// `sub`: the user or device id.
    pub subject: String,
    /// `jti`: the token id.
    pub token_id: String,
    /// `mender.tenant`, empty in the open-source server.
    pub tenant: String,
    /// `mender.user`.
    pub is_user: bool,
    /// `mender.device`.
    pub is_device: bool,
    /// The raw token, for calls made on the caller's behalf.
    pub token: Secret,
}

/// Why a request carries no usable token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Neither an `Authorization` header nor a `JWT` cookie.
    #[error("Authorization not present in header")]
    Missing,
    /// An `Authorization` header that is not `Bearer <token>`.
    #[error("malformed Authorization header")]
    MalformedHeader,
}

/// The token of a request, the one rule every service uses: `Authorization: Bearer <token>`
/// (scheme in any case) when that header is present, and then it must be well formed;
/// otherwise the `JWT` cookie (surrounding quotes removed), which must not be empty.
pub fn request_token(headers: &HeaderMap) -> Result<Secret, TokenError> {
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        let auth = auth.to_str().map_err(|_| TokenError::MalformedHeader)?;
        let mut fields = auth.split_whitespace();
        return match (fields.next(), fields.next(), fields.next()) {
            (Some(scheme), Some(token), None) if scheme.eq_ignore_ascii_case("bearer") => {
                Ok(Secret::new(token.to_owned()))
            }
            _ => Err(TokenError::MalformedHeader),
        };
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == "JWT")
        .map(|(_, v)| v.trim_matches('"'))
        .filter(|v| !v.is_empty())
        .map(|v| Secret::new(v.to_owned()))
        .ok_or(TokenError::Missing)
}

impl Identity {
    /// Reads the identity from a token without verifying it.
    pub fn from_token(token: &Secret) -> Result<Self, ApiError> {
        let claims = jwt::decode_unverified(token.expose_str())
            .map_err(|_| ApiError::unauthorized("malformed JWT"))?
            .claims;
        Self::from_claims(&claims, token)
    }

    /// Reads the identity from decoded claims.
    pub fn from_claims(claims: &Value, token: &Secret) -> Result<Self, ApiError> {
        let s = |k: &str| {
            claims
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let b = |k: &str| claims.get(k).and_then(Value::as_bool).unwrap_or(false);
        let subject = s("sub");
        if subject.is_empty() {
            return Err(ApiError::unauthorized("JWT is missing the subject claim"));
        }
        Ok(Identity {
            subject,
            token_id: s("jti"),
            tenant: s("mender.tenant"),
            is_user: b("mender.user"),
            is_device: b("mender.device"),
            token: token.clone(),
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Identity {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        if let Some(id) = parts.extensions.get::<Identity>() {
            return Ok(id.clone());
        }
        let token =
            request_token(&parts.headers).map_err(|e| ApiError::unauthorized(e.to_string()))?;
        Identity::from_token(&token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_rules() {
        let tok = |pairs: &[(header::HeaderName, &str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.append(k.clone(), v.parse().unwrap());
            }
            request_token(&h).map(|s| s.expose_str().to_owned())
        };
        let (auth, cookie) = (header::AUTHORIZATION, header::COOKIE);
        type Headers<'a> = &'a [(header::HeaderName, &'a str)];
        let cases: &[(Headers<'_>, Result<&str, TokenError>)] = &[
            (&[], Err(TokenError::Missing)),
            (&[(cookie.clone(), "a=b; JWT=tok1")], Ok("tok1")),
            (&[(cookie.clone(), "JWT=\"tok1\"")], Ok("tok1")),
            (&[(cookie.clone(), "JWT=")], Err(TokenError::Missing)),
            (&[(cookie.clone(), "jwt=tok1")], Err(TokenError::Missing)),
            (
                &[(auth.clone(), "bearer tok2"), (cookie.clone(), "JWT=tok1")],
                Ok("tok2"),
            ),
            (&[(auth.clone(), "Bearer  tok2 ")], Ok("tok2")),
            (
                &[(auth.clone(), "Basic abc"), (cookie, "JWT=tok1")],
                Err(TokenError::MalformedHeader),
            ),
            (
                &[(auth.clone(), "Bearer")],
                Err(TokenError::MalformedHeader),
            ),
            (&[(auth, "Bearer a b")], Err(TokenError::MalformedHeader)),
        ];
        for (headers, want) in cases {
            assert_eq!(tok(headers), want.map(str::to_owned), "headers {headers:?}");
        }
    }
}
