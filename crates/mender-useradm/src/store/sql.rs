//! [`SqlStore`]: the useradm store on `mender_db`, one set of statements for SQLite and
//! PostgreSQL. Times are unix seconds in the columns; settings are JSON text.

use mender_core::{Secret, TenantId, Timestamp, TokenId, UserId};
use mender_db::{Conn, Db, QueryBuilder, query};

use super::{
    SettingsRecord, StoreError, TokenCheck, TokenRecord, UserChanges, UserFilter, UserRecord,
    UseradmStore,
};

/// The useradm store on either backend (a database opened with [`crate::SCHEMA`]).
#[derive(Debug, Clone)]
pub struct SqlStore(pub Db);

#[derive(sqlx::FromRow)]
struct UserRow {
    id: String,
    tenant_id: String,
    email: String,
    password_hash: String,
    created_at: i64,
    updated_at: i64,
    login_at: Option<i64>,
}

impl From<UserRow> for UserRecord {
    fn from(r: UserRow) -> Self {
        Self {
            id: r.id.into(),
            tenant_id: r.tenant_id.into(),
            email: r.email,
            password_hash: Secret::new(r.password_hash),
            created_at: Timestamp::from_unix_secs(r.created_at),
            updated_at: Timestamp::from_unix_secs(r.updated_at),
            login_at: r.login_at.map(Timestamp::from_unix_secs),
        }
    }
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: String,
    user_id: String,
    tenant_id: String,
    name: Option<String>,
    issued_at: i64,
    expires_at: Option<i64>,
    last_used: Option<i64>,
}

impl From<TokenRow> for TokenRecord {
    fn from(r: TokenRow) -> Self {
        Self {
            id: r.id.into(),
            user_id: r.user_id.into(),
            tenant_id: r.tenant_id.into(),
            name: r.name,
            issued_at: Timestamp::from_unix_secs(r.issued_at),
            expires_at: r.expires_at.map(Timestamp::from_unix_secs),
            last_used: r.last_used.map(Timestamp::from_unix_secs),
        }
    }
}

/// Inserts a token row.
async fn insert_token<'c>(
    on: impl Into<Conn<'c>>,
    t: &TokenRecord,
) -> Result<u64, mender_db::Error> {
    query(
        "INSERT INTO tokens (id, user_id, tenant_id, name, issued_at, expires_at, last_used) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&t.id)
    .bind(&t.user_id)
    .bind(&t.tenant_id)
    .bind(t.name.as_deref())
    .bind(t.issued_at.unix_secs())
    .bind(t.expires_at.map(Timestamp::unix_secs))
    .bind(t.last_used.map(Timestamp::unix_secs))
    .execute(on)
    .await
}

/// How many personal access tokens the token's user holds.
async fn count_personal_tokens<'c>(
    on: impl Into<Conn<'c>>,
    t: &TokenRecord,
) -> Result<i64, mender_db::Error> {
    query("SELECT COUNT(*) FROM tokens WHERE tenant_id = $1 AND user_id = $2 AND name IS NOT NULL")
        .bind(&t.tenant_id)
        .bind(&t.user_id)
        .scalar(on)
        .await
}

/// Deletes all tokens of a user; the number deleted.
async fn delete_tokens_of<'c>(
    on: impl Into<Conn<'c>>,
    tenant: &TenantId,
    user: &UserId,
) -> Result<u64, mender_db::Error> {
    query("DELETE FROM tokens WHERE tenant_id = $1 AND user_id = $2")
        .bind(tenant)
        .bind(user)
        .execute(on)
        .await
}

impl SqlStore {
    /// A statement selecting the [`UserRow`]s of `tenant`, for the caller to narrow down.
    fn select_users<'q>(&self, tenant: &'q TenantId) -> QueryBuilder<'q> {
        let mut q = QueryBuilder::new(
            self.0.dialect(),
            "SELECT id, tenant_id, email, password_hash, created_at, updated_at, login_at \
             FROM users WHERE tenant_id = ",
        );
        q.push_bind(tenant);
        q
    }

    /// The user of `tenant` whose unique column (`condition`, `" AND <column> = "`) is `value`.
    async fn user_where(
        &self,
        tenant: &TenantId,
        condition: &'static str,
        value: &str,
    ) -> Result<Option<UserRecord>, StoreError> {
        let mut q = self.select_users(tenant);
        q.push(condition).push_bind(value);
        let row: Option<UserRow> = q.build().fetch_optional(&self.0).await?;
        Ok(row.map(UserRecord::from))
    }
}

#[async_trait::async_trait]
impl UseradmStore for SqlStore {
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(self.0.ping().await?)
    }

    async fn has_users(&self) -> Result<bool, StoreError> {
        let n: i64 = query("SELECT COUNT(*) FROM (SELECT id FROM users LIMIT 1) AS one")
            .scalar(&self.0)
            .await?;
        Ok(n > 0)
    }

    async fn create_user(&self, u: &UserRecord) -> Result<(), StoreError> {
        let res = query(
            "INSERT INTO users (id, tenant_id, email, password_hash, created_at, updated_at, login_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&u.id)
        .bind(&u.tenant_id)
        .bind(&u.email)
        .bind(u.password_hash.expose_str())
        .bind(u.created_at.unix_secs())
        .bind(u.updated_at.unix_secs())
        .bind(u.login_at.map(Timestamp::unix_secs))
        .execute(&self.0)
        .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if e.is_unique_violation() => {
                // Both the id and the email are unique: tell which one was taken.
                let email_taken: i64 = query("SELECT COUNT(*) FROM users WHERE email = $1")
                    .bind(&u.email)
                    .scalar(&self.0)
                    .await?;
                Err(if email_taken > 0 {
                    StoreError::DuplicateEmail
                } else {
                    StoreError::DuplicateId
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn get_user(
        &self,
        tenant: &TenantId,
        id: &UserId,
    ) -> Result<Option<UserRecord>, StoreError> {
        self.user_where(tenant, " AND id = ", id.as_str()).await
    }

    async fn get_user_by_email(
        &self,
        tenant: &TenantId,
        email: &str,
    ) -> Result<Option<UserRecord>, StoreError> {
        self.user_where(tenant, " AND email = ", email).await
    }

    async fn list_users(
        &self,
        tenant: &TenantId,
        f: &UserFilter,
    ) -> Result<Vec<UserRecord>, StoreError> {
        let mut q = self.select_users(tenant);
        if let Some(ids) = &f.ids {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            q.push(" AND id IN (").push_list(ids).push(")");
        }
        if let Some(emails) = &f.emails {
            if emails.is_empty() {
                return Ok(Vec::new());
            }
            q.push(" AND email IN (").push_list(emails).push(")");
        }
        for (bound, cond) in [
            (f.created_after, " AND created_at > "),
            (f.created_before, " AND created_at < "),
            (f.updated_after, " AND updated_at > "),
            (f.updated_before, " AND updated_at < "),
        ] {
            if let Some(t) = bound {
                q.push(cond).push_bind(t.unix_secs());
            }
        }
        q.push(" ORDER BY seq");
        let rows: Vec<UserRow> = q.build().fetch_all(&self.0).await?;
        Ok(rows.into_iter().map(UserRecord::from).collect())
    }

    async fn update_user(
        &self,
        tenant: &TenantId,
        id: &UserId,
        c: &UserChanges,
        keep_token: Option<&TokenId>,
    ) -> Result<(), StoreError> {
        let mut tx = self.0.begin_write().await?;
        let res = query(
            "UPDATE users SET email = COALESCE($3, email), \
             password_hash = COALESCE($4, password_hash), updated_at = $5 \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant)
        .bind(id)
        .bind(c.email.as_deref())
        .bind(c.password_hash.as_ref().map(Secret::expose_str))
        .bind(c.updated_at.unix_secs())
        .execute(&mut tx)
        .await;
        match res {
            Ok(0) => return Err(StoreError::NotFound),
            Ok(_) => {}
            Err(e) if e.is_unique_violation() => return Err(StoreError::DuplicateEmail),
            Err(e) => return Err(e.into()),
        }
        query("DELETE FROM tokens WHERE tenant_id = $1 AND user_id = $2 AND id <> $3")
            .bind(tenant)
            .bind(id)
            .bind(keep_token.map_or("", TokenId::as_str))
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_login_time(
        &self,
        tenant: &TenantId,
        id: &UserId,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        query("UPDATE users SET login_at = $3 WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(id)
            .bind(at.unix_secs())
            .execute(&self.0)
            .await?;
        Ok(())
    }

    async fn delete_user(&self, tenant: &TenantId, id: &UserId) -> Result<bool, StoreError> {
        let mut tx = self.0.begin_write().await?;
        let n = query("DELETE FROM users WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(id)
            .execute(&mut tx)
            .await?;
        delete_tokens_of(&mut tx, tenant, id).await?;
        // The empty user id is where the global settings live.
        if !id.is_empty() {
            query("DELETE FROM settings WHERE tenant_id = $1 AND user_id = $2")
                .bind(tenant)
                .bind(id)
                .execute(&mut tx)
                .await?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }

    async fn save_session_token(&self, t: &TokenRecord, limit: u32) -> Result<(), StoreError> {
        let mut tx = self.0.begin_write().await?;
        insert_token(&mut tx, t).await?;
        if limit > 0 {
            query(
                "DELETE FROM tokens WHERE tenant_id = $1 AND user_id = $2 AND name IS NULL \
                 AND seq NOT IN (SELECT seq FROM tokens WHERE tenant_id = $1 AND user_id = $2 \
                 AND name IS NULL ORDER BY seq DESC LIMIT $3)",
            )
            .bind(&t.tenant_id)
            .bind(&t.user_id)
            .bind(limit)
            .execute(&mut tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn create_personal_token(&self, t: &TokenRecord, limit: u32) -> Result<(), StoreError> {
        let limit = i64::from(limit);
        let mut tx = self.0.begin_write().await?;
        match insert_token(&mut tx, t).await {
            Ok(_) => {
                // Counted after the insert so that concurrent requests see each other's rows
                // on PostgreSQL too; `count` includes the new token, and dropping `tx` rolls
                // it back.
                let count = count_personal_tokens(&mut tx, t).await?;
                if limit > 0 && count > limit {
                    return Err(StoreError::TooManyTokens);
                }
                tx.commit().await?;
                Ok(())
            }
            Err(e) if e.is_unique_violation() => {
                // PostgreSQL refuses further statements in a failed transaction.
                drop(tx);
                // The limit wins over a duplicate name, as upstream checks it first.
                let count = count_personal_tokens(&self.0, t).await?;
                Err(if limit > 0 && count >= limit {
                    StoreError::TooManyTokens
                } else {
                    StoreError::DuplicateTokenName
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn check_token(
        &self,
        tenant: &TenantId,
        user: &UserId,
        id: &TokenId,
    ) -> Result<Option<TokenCheck>, StoreError> {
        let row: Option<(Option<String>, Option<i64>)> = query(
            "SELECT t.name, t.last_used FROM tokens t JOIN users u \
             ON u.id = t.user_id AND u.tenant_id = t.tenant_id \
             WHERE t.id = $1 AND t.user_id = $2 AND t.tenant_id = $3",
        )
        .bind(id)
        .bind(user)
        .bind(tenant)
        .fetch_optional(&self.0)
        .await?;
        Ok(row.map(|(name, last_used)| TokenCheck {
            name,
            last_used: last_used.map(Timestamp::from_unix_secs),
        }))
    }

    async fn touch_token(&self, id: &TokenId, at: Timestamp) -> Result<(), StoreError> {
        query("UPDATE tokens SET last_used = $2 WHERE id = $1")
            .bind(id)
            .bind(at.unix_secs())
            .execute(&self.0)
            .await?;
        Ok(())
    }

    async fn list_personal_tokens(
        &self,
        tenant: &TenantId,
        user: &UserId,
    ) -> Result<Vec<TokenRecord>, StoreError> {
        let rows: Vec<TokenRow> = query(
            "SELECT id, user_id, tenant_id, name, issued_at, expires_at, last_used FROM tokens \
             WHERE tenant_id = $1 AND user_id = $2 AND name IS NOT NULL ORDER BY seq",
        )
        .bind(tenant)
        .bind(user)
        .fetch_all(&self.0)
        .await?;
        Ok(rows.into_iter().map(TokenRecord::from).collect())
    }

    async fn delete_token(
        &self,
        tenant: &TenantId,
        user: &UserId,
        id: &TokenId,
    ) -> Result<u64, StoreError> {
        Ok(
            query("DELETE FROM tokens WHERE tenant_id = $1 AND user_id = $2 AND id = $3")
                .bind(tenant)
                .bind(user)
                .bind(id)
                .execute(&self.0)
                .await?,
        )
    }

    async fn delete_user_tokens(
        &self,
        tenant: &TenantId,
        user: &UserId,
    ) -> Result<u64, StoreError> {
        Ok(delete_tokens_of(&self.0, tenant, user).await?)
    }

    async fn delete_tenant_tokens(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        Ok(query("DELETE FROM tokens WHERE tenant_id = $1")
            .bind(tenant)
            .execute(&self.0)
            .await?)
    }

    async fn get_settings(
        &self,
        tenant: &TenantId,
        user: Option<&UserId>,
    ) -> Result<Option<SettingsRecord>, StoreError> {
        let row: Option<(String, String)> =
            query("SELECT value, etag FROM settings WHERE tenant_id = $1 AND user_id = $2")
                .bind(tenant)
                .bind(user.map_or("", UserId::as_str))
                .fetch_optional(&self.0)
                .await?;
        let Some((value, etag)) = row else {
            return Ok(None);
        };
        let values = serde_json::from_str(&value)
            .map_err(|e| mender_db::Error::decode(format!("stored settings: {e}")))?;
        Ok(Some(SettingsRecord { values, etag }))
    }

    async fn save_settings(
        &self,
        tenant: &TenantId,
        user: Option<&UserId>,
        s: &SettingsRecord,
        if_match: Option<&str>,
    ) -> Result<(), StoreError> {
        let (value, etag) = (s.values.to_string(), s.etag.as_str());
        let user = user.map_or("", UserId::as_str);
        let mut tx = self.0.begin_write().await?;
        let mut update = QueryBuilder::new(tx.dialect(), "UPDATE settings SET value = ");
        update
            .push_bind(value.as_str())
            .push(", etag = ")
            .push_bind(etag)
            .push(" WHERE tenant_id = ")
            .push_bind(tenant)
            .push(" AND user_id = ")
            .push_bind(user);
        if let Some(m) = if_match {
            update.push(" AND etag = ").push_bind(m);
        }
        if update.build().execute(&mut tx).await? == 0 {
            let inserted = query(
                "INSERT INTO settings (tenant_id, user_id, etag, value) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (tenant_id, user_id) DO NOTHING",
            )
            .bind(tenant)
            .bind(user)
            .bind(etag)
            .bind(value.as_str())
            .execute(&mut tx)
            .await?;
            if inserted == 0 {
                // The settings exist under another tag.
                return Err(StoreError::ETagMismatch);
            }
        }
        tx.commit().await?;
        Ok(())
    }
}
