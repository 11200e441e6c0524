//! useradm's domain types: users and personal access tokens as rendered by the API, the
//! token claims, and request bodies (whose secrets never show in `Debug`).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::store::{TokenRecord, UserRecord};

/// Upstream's scope for full management access.
pub const SCOPE_ALL: &str = "mender.*";

/// A password or other secret: compared and hashed, never printed.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Secret {
    /// The secret text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A user as the API renders it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// User id.
    pub id: String,
    /// Email address.
    pub email: String,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_ts: OffsetDateTime,
    /// Last update time.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_ts: OffsetDateTime,
    /// Last successful login.
    #[serde(
        with = "time::serde::rfc3339::option",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub login_ts: Option<OffsetDateTime>,
}

impl From<&UserRecord> for User {
    fn from(r: &UserRecord) -> Self {
        User {
            id: r.id.clone(),
            email: r.email.clone(),
            created_ts: ts(r.created_at),
            updated_ts: ts(r.updated_at),
            login_ts: r.login_at.map(ts),
        }
    }
}

/// A personal access token as listed (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalAccessToken {
    /// Token id (`jti`).
    pub id: String,
    /// Token name.
    pub name: String,
    /// Last use, accurate to `token_last_used_update_freq_minutes`.
    #[serde(
        with = "time::serde::rfc3339::option",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub last_used: Option<OffsetDateTime>,
    /// Expiry; absent for tokens that never expire.
    #[serde(
        with = "time::serde::rfc3339::option",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub expiration_date: Option<OffsetDateTime>,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_ts: OffsetDateTime,
}

impl From<&TokenRecord> for PersonalAccessToken {
    fn from(t: &TokenRecord) -> Self {
        PersonalAccessToken {
            id: t.id.clone(),
            name: t.name.clone().unwrap_or_default(),
            last_used: t.last_used.map(ts),
            expiration_date: t.expires_at.map(ts),
            created_ts: ts(t.issued_at),
        }
    }
}

/// The claims of a user token, in upstream's names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Token id (UUIDv4).
    pub jti: String,
    /// User id.
    pub sub: String,
    /// Expiry, absent for tokens that never expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issue time.
    pub iat: i64,
    /// Tenant, omitted in the open-source server.
    #[serde(
        rename = "mender.tenant",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub tenant: String,
    /// Marks a user (management) token.
    #[serde(rename = "mender.user")]
    pub user: bool,
    /// Issuer.
    pub iss: String,
    /// Scope, `mender.*`.
    pub scp: String,
    /// Not-before, equal to `iat`.
    pub nbf: i64,
}

/// `POST /users` body.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UserNew {
    /// Email address.
    #[serde(default)]
    pub email: Option<String>,
    /// Password.
    #[serde(default)]
    pub password: Option<Secret>,
}

/// Internal `POST /tenants/{id}/users` body.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UserNewInternal {
    /// Optional user id chosen by the caller.
    #[serde(default)]
    pub id: Option<String>,
    /// Email address.
    #[serde(default)]
    pub email: Option<String>,
    /// Password (exclusive with `password_hash`).
    #[serde(default)]
    pub password: Option<Secret>,
    /// A bcrypt hash to store as is (exclusive with `password`).
    #[serde(default)]
    pub password_hash: Option<Secret>,
    /// Deprecated upstream, ignored.
    #[serde(default)]
    pub propagate: Option<bool>,
}

/// `PUT /users/{id}` body.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UserUpdate {
    /// New email.
    #[serde(default)]
    pub email: Option<String>,
    /// New password.
    #[serde(default)]
    pub password: Option<Secret>,
    /// Current password, needed to change one's own password or email.
    #[serde(default)]
    pub current_password: Option<Secret>,
}

/// `POST /auth/login` body.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct LoginOptions {
    /// Issue a token without `exp`.
    #[serde(default)]
    pub no_expiry: bool,
}

/// `POST /settings/tokens` body.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenRequest {
    /// Token name, unique per user.
    #[serde(default)]
    pub name: Option<String>,
    /// Lifetime in seconds; 0 or absent = never expires.
    #[serde(default)]
    pub expires_in: i64,
}

/// Internal `POST /tenants` body.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewTenant {
    /// Tenant id.
    #[serde(default)]
    pub tenant_id: Option<String>,
}

/// Unix seconds as a UTC time (clamped into the representable range).
pub fn ts(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The current time in unix seconds.
pub fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}
