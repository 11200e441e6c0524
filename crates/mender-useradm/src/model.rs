//! useradm's domain types: users and personal access tokens as rendered by the API, the
//! token claims, and request bodies (whose secrets are [`Secret`]s, so never printed; like
//! upstream's decoder, they take every field as optional).

use mender_core::{Secret, TenantId, Timestamp, TokenId, UserId};
use serde::{Deserialize, Serialize};

use crate::store::{TokenRecord, UserRecord};

/// Upstream's scope for full management access.
pub const SCOPE_ALL: &str = "mender.*";

/// A user as the API renders it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// User id.
    pub id: UserId,
    /// Email address.
    pub email: String,
    /// Creation time.
    pub created_ts: Timestamp,
    /// Last update time.
    pub updated_ts: Timestamp,
    /// Last successful login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_ts: Option<Timestamp>,
}

impl From<&UserRecord> for User {
    fn from(r: &UserRecord) -> Self {
        User {
            id: r.id.clone(),
            email: r.email.clone(),
            created_ts: r.created_at,
            updated_ts: r.updated_at,
            login_ts: r.login_at,
        }
    }
}

/// A personal access token as listed (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalAccessToken {
    /// Token id (`jti`).
    pub id: TokenId,
    /// Token name.
    pub name: String,
    /// Last use, accurate to `token_last_used_update_freq_minutes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used: Option<Timestamp>,
    /// Expiry; absent for tokens that never expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_date: Option<Timestamp>,
    /// Creation time.
    pub created_ts: Timestamp,
}

impl From<&TokenRecord> for PersonalAccessToken {
    fn from(t: &TokenRecord) -> Self {
        PersonalAccessToken {
            id: t.id.clone(),
            name: t.name.clone().unwrap_or_default(),
            last_used: t.last_used,
            expiration_date: t.expires_at,
            created_ts: t.issued_at,
        }
    }
}

/// A plan's feature switches, in upstream's order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Features {
    /// Role-based access control.
    pub rbac: bool,
    /// Audit logs.
    pub audit_logs: bool,
    /// Dynamic groups.
    pub dynamic_groups: bool,
    /// Remote terminal.
    pub terminal: bool,
    /// File transfer.
    pub file_transfer: bool,
    /// Device configuration.
    pub configuration: bool,
    /// Monitoring.
    pub monitoring: bool,
    /// Reporting.
    pub reporting: bool,
}

/// A plan as `GET /plans` and the plan binding show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Identifier.
    pub name: &'static str,
    /// Name to display.
    pub display_name: &'static str,
    /// Features.
    pub features: Features,
}

impl Plan {
    /// The one plan of upstream's open-source image (`/etc/useradm/plans.yaml`). Only
    /// `configuration` is on; the file spells `file_transfer` wrongly, so it reads as off.
    pub fn open_source() -> Self {
        Plan {
            name: "Mender_Open_Source",
            display_name: "Mender",
            features: Features {
                configuration: true,
                ..Features::default()
            },
        }
    }
}

/// `GET /plan_binding`: the tenant's plan (upstream shows no limits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanBinding {
    /// The plan.
    pub plan: Plan,
}

/// The claims of a user token, in upstream's names; times are unix seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Token id (UUIDv4).
    pub jti: TokenId,
    /// User id.
    pub sub: UserId,
    /// Expiry, absent for tokens that never expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issue time.
    pub iat: i64,
    /// Tenant, omitted in the open-source server.
    #[serde(
        rename = "mender.tenant",
        default,
        skip_serializing_if = "TenantId::is_empty"
    )]
    pub tenant: TenantId,
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
#[serde(default)]
pub struct UserNew {
    /// Email address.
    pub email: Option<String>,
    /// Password.
    pub password: Option<Secret>,
}

/// Internal `POST /tenants/{id}/users` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct UserNewInternal {
    /// Optional user id chosen by the caller.
    pub id: Option<UserId>,
    /// Email address.
    pub email: Option<String>,
    /// Password (exclusive with `password_hash`).
    pub password: Option<Secret>,
    /// A bcrypt hash to store as is (exclusive with `password`).
    pub password_hash: Option<Secret>,
    /// Deprecated upstream, ignored.
    pub propagate: Option<bool>,
}

/// `PUT /users/{id}` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct UserUpdate {
    /// New email.
    pub email: Option<String>,
    /// New password.
    pub password: Option<Secret>,
    /// Current password, needed to change one's own password or email.
    pub current_password: Option<Secret>,
}

/// `PUT /api/management/v2/useradm/users/me` body: only the password can change (other
/// fields, `email` included, are ignored).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct OwnUserUpdate {
    /// New password.
    pub password: Option<Secret>,
    /// Current password, needed to change the password.
    pub current_password: Option<Secret>,
}

/// `POST /auth/login` body.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(default)]
pub struct LoginOptions {
    /// Issue a token without `exp`.
    pub no_expiry: bool,
}

/// `POST /settings/tokens` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TokenRequest {
    /// Token name, unique per user.
    pub name: Option<String>,
    /// Lifetime in seconds; 0 or absent = never expires.
    pub expires_in: i64,
}

/// Internal `POST /tenants` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct NewTenant {
    /// Tenant id.
    pub tenant_id: Option<TenantId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let record = UserRecord {
            id: "u1".into(),
            tenant_id: TenantId::default_tenant(),
            email: "a@x.io".into(),
            password_hash: "$2a$04$hash-of-the-password".into(),
            created_at: Timestamp::EPOCH,
            updated_at: Timestamp::EPOCH,
            login_at: None,
        };
        let bodies = [
            format!("{record:?}"),
            format!(
                "{:?}",
                serde_json::from_str::<UserNew>(r#"{"password": "hunter2-pw"}"#).unwrap()
            ),
            format!(
                "{:?}",
                serde_json::from_str::<UserNewInternal>(
                    r#"{"password_hash": "$2a$04$hash-of-the-password"}"#
                )
                .unwrap()
            ),
            format!(
                "{:?}",
                serde_json::from_str::<UserUpdate>(
                    r#"{"password": "hunter2-pw", "current_password": "hunter2-pw"}"#
                )
                .unwrap()
            ),
        ];
        for text in bodies {
            assert!(
                !text.contains("hunter2") && !text.contains("hash-of"),
                "{text}"
            );
            assert!(text.contains("[redacted]"), "{text}");
        }
    }
}
