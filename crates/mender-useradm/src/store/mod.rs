//! The useradm store: the `UseradmStore` trait over users, tokens (login sessions and personal
//! access tokens) and settings, its record types, and the SQLite and PostgreSQL implementations.

use std::sync::Arc;

use mender_db::Db;

mod postgres;
mod sql;
mod sqlite;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// A user as stored, including the password hash (never rendered).
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserRecord {
    /// User id (UUID).
    pub id: String,
    /// Tenant id, empty in the open-source server.
    pub tenant_id: String,
    /// Lower-cased email address.
    pub email: String,
    /// bcrypt hash of the password.
    pub password_hash: String,
    /// Creation time, unix seconds.
    pub created_at: i64,
    /// Last update time, unix seconds.
    pub updated_at: i64,
    /// Last successful login, unix seconds.
    pub login_at: Option<i64>,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password hash stays out of logs.
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("email", &self.email)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .field("login_at", &self.login_at)
            .finish_non_exhaustive()
    }
}

/// Which users to list; every set condition must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFilter {
    /// Only these ids.
    pub ids: Option<Vec<String>>,
    /// Only these (lower-cased) emails.
    pub emails: Option<Vec<String>>,
    /// Created strictly after (unix seconds).
    pub created_after: Option<i64>,
    /// Created strictly before.
    pub created_before: Option<i64>,
    /// Updated strictly after.
    pub updated_after: Option<i64>,
    /// Updated strictly before.
    pub updated_before: Option<i64>,
}

/// Changes to a user; `None` fields stay as they are.
#[derive(Clone, Default)]
pub struct UserChanges {
    /// New email.
    pub email: Option<String>,
    /// New password hash.
    pub password_hash: Option<String>,
    /// The update time to record.
    pub updated_at: i64,
}

/// A stored token: a login session (`name` is `None`) or a personal access token.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TokenRecord {
    /// The token's `jti`.
    pub id: String,
    /// The user (`sub`).
    pub user_id: String,
    /// Tenant id, empty in the open-source server.
    pub tenant_id: String,
    /// Personal access token name; `None` for login sessions.
    pub name: Option<String>,
    /// `iat`, unix seconds.
    pub issued_at: i64,
    /// `exp`, unix seconds, if the token expires.
    pub expires_at: Option<i64>,
    /// Last use of a personal access token, unix seconds.
    pub last_used: Option<i64>,
}

/// What token verification needs from the store, found with one indexed lookup.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TokenCheck {
    /// Personal access token name; `None` for login sessions.
    pub name: Option<String>,
    /// Last use, unix seconds.
    pub last_used: Option<i64>,
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
    /// A stored value could not be decoded.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
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
    async fn get_user(&self, tenant: &str, id: &str) -> Result<Option<UserRecord>, StoreError>;
    /// A user by (lower-cased) email.
    async fn get_user_by_email(
        &self,
        tenant: &str,
        email: &str,
    ) -> Result<Option<UserRecord>, StoreError>;
    /// Users matching the filter, oldest first.
    async fn list_users(
        &self,
        tenant: &str,
        filter: &UserFilter,
    ) -> Result<Vec<UserRecord>, StoreError>;
    /// Applies `changes` and, in the same transaction, deletes the user's tokens except
    /// `keep_token`. `NotFound` when there is no such user, `DuplicateEmail` when taken.
    async fn update_user(
        &self,
        tenant: &str,
        id: &str,
        changes: &UserChanges,
        keep_token: Option<&str>,
    ) -> Result<(), StoreError>;
    /// Records a successful login.
    async fn set_login_time(&self, tenant: &str, id: &str, at: i64) -> Result<(), StoreError>;
    /// Deletes a user with their tokens and personal settings; `false` if there was no such user.
    async fn delete_user(&self, tenant: &str, id: &str) -> Result<bool, StoreError>;

    /// Saves a login token and keeps only the user's newest `limit` login tokens (0 = no limit).
    async fn save_session_token(&self, token: &TokenRecord, limit: u32) -> Result<(), StoreError>;
    /// Saves a personal access token unless the user holds `limit` already (0 = no limit)
    /// (`TooManyTokens`) or has one with the same name (`DuplicateTokenName`).
    async fn create_personal_token(
        &self,
        token: &TokenRecord,
        limit: u32,
    ) -> Result<(), StoreError>;
    /// The token `id` if it exists and belongs to an existing user `user_id` of `tenant`.
    async fn check_token(
        &self,
        tenant: &str,
        user_id: &str,
        id: &str,
    ) -> Result<Option<TokenCheck>, StoreError>;
    /// Sets a token's `last_used`.
    async fn touch_token(&self, id: &str, at: i64) -> Result<(), StoreError>;
    /// The user's personal access tokens, oldest first.
    async fn list_personal_tokens(
        &self,
        tenant: &str,
        user_id: &str,
    ) -> Result<Vec<TokenRecord>, StoreError>;
    /// Deletes one token of the user; the number deleted.
    async fn delete_token(&self, tenant: &str, user_id: &str, id: &str) -> Result<u64, StoreError>;
    /// Deletes all tokens of a user; the number deleted.
    async fn delete_user_tokens(&self, tenant: &str, user_id: &str) -> Result<u64, StoreError>;
    /// Deletes all tokens of a tenant; the number deleted.
    async fn delete_tenant_tokens(&self, tenant: &str) -> Result<u64, StoreError>;

    /// Global settings (`user` = `None`) or a user's settings.
    async fn get_settings(
        &self,
        tenant: &str,
        user: Option<&str>,
    ) -> Result<Option<SettingsRecord>, StoreError>;
    /// Replaces settings with `values` under a new `etag`. With `if_match`, an existing
    /// version with another tag is left alone (`ETagMismatch`); missing settings are created.
    async fn save_settings(
        &self,
        tenant: &str,
        user: Option<&str>,
        values: &serde_json::Value,
        etag: &str,
        if_match: Option<&str>,
    ) -> Result<(), StoreError>;
}

/// The store for a connected database.
pub fn for_db(db: &Db) -> Arc<dyn UseradmStore> {
    match db {
        Db::Sqlite(pool) => Arc::new(SqliteStore::new(pool.clone())),
        Db::Postgres(pool) => Arc::new(PostgresStore::new(pool.clone())),
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}
