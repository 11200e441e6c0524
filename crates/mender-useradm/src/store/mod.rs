//! The useradm store: the `UseradmStore` trait over users, tokens (login sessions and personal
//! access tokens) and settings, its record types and errors. [`SqlStore`] is the one
//! implementation, on SQLite and PostgreSQL alike.

use mender_core::{Secret, TenantId, Timestamp, TokenId, UserId};

mod sql;

pub use sql::SqlStore;

/// A user as stored, including the password hash (never rendered, never printed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// User id (UUID, or chosen through the internal API).
    pub id: UserId,
    /// Tenant id, empty in the open-source server.
    pub tenant_id: TenantId,
    /// Lower-cased email address.
    pub email: String,
    /// bcrypt hash of the password.
    pub password_hash: Secret,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last update time.
    pub updated_at: Timestamp,
    /// Last successful login.
    pub login_at: Option<Timestamp>,
}

/// Which users to list; every set condition must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFilter {
    /// Only these ids.
    pub ids: Option<Vec<UserId>>,
    /// Only these (lower-cased) emails.
    pub emails: Option<Vec<String>>,
    /// Created strictly after.
    pub created_after: Option<Timestamp>,
    /// Created strictly before.
    pub created_before: Option<Timestamp>,
    /// Updated strictly after.
    pub updated_after: Option<Timestamp>,
    /// Updated strictly before.
    pub updated_before: Option<Timestamp>,
}

/// Changes to a user; `None` fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    /// New email.
    pub email: Option<String>,
    /// New password hash.
    pub password_hash: Option<Secret>,
    /// The update time to record.
    pub updated_at: Timestamp,
}

/// A stored token: a login session (`name` is `None`) or a personal access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// The token's `jti`.
    pub id: TokenId,
    /// The user (`sub`).
    pub user_id: UserId,
    /// Tenant id, empty in the open-source server.
    pub tenant_id: TenantId,
    /// Personal access token name; `None` for login sessions.
    pub name: Option<String>,
    /// `iat`.
    pub issued_at: Timestamp,
    /// `exp`, if the token expires.
    pub expires_at: Option<Timestamp>,
    /// Last use of a personal access token.
    pub last_used: Option<Timestamp>,
}

/// What token verification needs from the store, found with one indexed lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenCheck {
    /// Personal access token name; `None` for login sessions.
    pub name: Option<String>,
    /// Last use.
    pub last_used: Option<Timestamp>,
}

/// Stored settings: a JSON object and its entity tag.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingsRecord {
    /// The settings object.
    pub values: serde_json::Value,
    /// The entity tag of this version.
    pub etag: String,
}

/// Store failures the app layer tells apart.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another user has this email.
    #[error("user with a given email already exists")]
    DuplicateEmail,
    /// Another user has this id.
    #[error("user with a given id already exists")]
    DuplicateId,
    /// The user already has a personal access token with this name.
    #[error("Personal Access Token with a given name already exists")]
    DuplicateTokenName,
    /// The user already holds the maximum number of personal access tokens.
    #[error("maximum number of personal access tokens reached")]
    TooManyTokens,
    /// The record to change does not exist.
    #[error("not found")]
    NotFound,
    /// `If-Match` named another version.
    #[error("ETag doesn't match")]
    ETagMismatch,
    /// The database failed, or a stored value could not be decoded.
    #[error(transparent)]
    Db(#[from] mender_db::Error),
}

/// Persistence for useradm. Every method scoped by tenant takes the tenant id (empty in OSS).
#[async_trait::async_trait]
pub trait UseradmStore: Send + Sync {
    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Whether any user exists, in any tenant.
    async fn has_users(&self) -> Result<bool, StoreError>;
    /// Inserts a user; `DuplicateEmail` or `DuplicateId` when taken.
    async fn create_user(&self, user: &UserRecord) -> Result<(), StoreError>;
    /// A user by id.
    async fn get_user(
        &self,
        tenant: &TenantId,
        id: &UserId,
    ) -> Result<Option<UserRecord>, StoreError>;
    /// A user by (lower-cased) email.
    async fn get_user_by_email(
        &self,
        tenant: &TenantId,
        email: &str,
    ) -> Result<Option<UserRecord>, StoreError>;
    /// Users matching the filter, oldest first.
    async fn list_users(
        &self,
        tenant: &TenantId,
        filter: &UserFilter,
    ) -> Result<Vec<UserRecord>, StoreError>;
    /// Applies `changes` and, in the same transaction, deletes the user's tokens except
    /// `keep_token`. `NotFound` when there is no such user, `DuplicateEmail` when taken.
    async fn update_user(
        &self,
        tenant: &TenantId,
        id: &UserId,
        changes: &UserChanges,
        keep_token: Option<&TokenId>,
    ) -> Result<(), StoreError>;
    /// Records a successful login.
    async fn set_login_time(
        &self,
        tenant: &TenantId,
        id: &UserId,
        at: Timestamp,
    ) -> Result<(), StoreError>;
    /// Deletes a user with their tokens and personal settings; `false` if there was no such user.
    async fn delete_user(&self, tenant: &TenantId, id: &UserId) -> Result<bool, StoreError>;

    /// Saves a login token and keeps only the user's newest `limit` login tokens (0 = no limit).
    async fn save_session_token(&self, token: &TokenRecord, limit: u32) -> Result<(), StoreError>;
    /// Saves a personal access token unless the user holds `limit` already (0 = no limit)
    /// (`TooManyTokens`) or has one with the same name (`DuplicateTokenName`).
    async fn create_personal_token(
        &self,
        token: &TokenRecord,
        limit: u32,
    ) -> Result<(), StoreError>;
    /// The token `id` if it exists and belongs to an existing user `user` of `tenant`.
    async fn check_token(
        &self,
        tenant: &TenantId,
        user: &UserId,
        id: &TokenId,
    ) -> Result<Option<TokenCheck>, StoreError>;
    /// Sets a token's `last_used`.
    async fn touch_token(&self, id: &TokenId, at: Timestamp) -> Result<(), StoreError>;
    /// The user's personal access tokens, oldest first.
    async fn list_personal_tokens(
        &self,
        tenant: &TenantId,
        user: &UserId,
    ) -> Result<Vec<TokenRecord>, StoreError>;
    /// Deletes one token of the user; the number deleted.
    async fn delete_token(
        &self,
        tenant: &TenantId,
        user: &UserId,
        id: &TokenId,
    ) -> Result<u64, StoreError>;
    /// Deletes all tokens of a user; the number deleted.
    async fn delete_user_tokens(&self, tenant: &TenantId, user: &UserId)
    -> Result<u64, StoreError>;
    /// Deletes all tokens of a tenant; the number deleted.
    async fn delete_tenant_tokens(&self, tenant: &TenantId) -> Result<u64, StoreError>;

    /// Global settings (`user` = `None`) or a user's settings.
    async fn get_settings(
        &self,
        tenant: &TenantId,
        user: Option<&UserId>,
    ) -> Result<Option<SettingsRecord>, StoreError>;
    /// Replaces settings with `new` (the values under a new tag). With `if_match`, an existing
    /// version with another tag is left alone (`ETagMismatch`); missing settings are created.
    async fn save_settings(
        &self,
        tenant: &TenantId,
        user: Option<&UserId>,
        new: &SettingsRecord,
        if_match: Option<&str>,
    ) -> Result<(), StoreError>;
}
