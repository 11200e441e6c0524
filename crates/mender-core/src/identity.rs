//! Who is calling: the identity claims of the bearer token, read the way upstream services
//! read them behind the gateway (the gateway has already verified the token).

use axum::extract::FromRequestParts;
use axum::http::{HeaderMap, header, request::Parts};
use serde_json::Value;

use crate::ApiError;
use crate::jwt;

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
    pub token: String,
}

/// Extracts the bearer token from `Authorization: Bearer` or the `JWT` cookie.
pub fn extract_token(headers: &HeaderMap) -> Option<String> {
    if let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let auth = auth.trim();
        if let Some((scheme, token)) = auth.split_once(' ')
            && scheme.eq_ignore_ascii_case("bearer")
            && !token.trim().is_empty()
        {
            return Some(token.trim().to_owned());
        }
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, v)| *k == "JWT" && !v.is_empty())
        .map(|(_, v)| v.to_owned())
}

impl Identity {
    /// Reads the identity from a token without verifying it.
    pub fn from_token(token: &str) -> Result<Self, ApiError> {
        let claims = jwt::decode_unverified(token)
            .map_err(|_| ApiError::unauthorized("malformed JWT"))?
            .claims;
        Self::from_claims(&claims, token)
    }

    /// Reads the identity from decoded claims.
    pub fn from_claims(claims: &Value, token: &str) -> Result<Self, ApiError> {
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
            token: token.to_owned(),
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Identity {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        if let Some(id) = parts.extensions.get::<Identity>() {
            return Ok(id.clone());
        }
        let token = extract_token(&parts.headers)
            .ok_or_else(|| ApiError::unauthorized("Authorization not present in header"))?;
        Identity::from_token(&token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_from_header_or_cookie() {
        let mut h = HeaderMap::new();
        assert_eq!(extract_token(&h), None);
        h.insert(header::COOKIE, "a=b; JWT=tok1".parse().unwrap());
        assert_eq!(extract_token(&h).as_deref(), Some("tok1"));
        h.insert(header::AUTHORIZATION, "bearer tok2".parse().unwrap());
        assert_eq!(extract_token(&h).as_deref(), Some("tok2"));
        h.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(extract_token(&h).as_deref(), Some("tok1"));
    }
}
