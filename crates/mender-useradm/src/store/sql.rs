//! The SQL shared by both backends. The statements are identical on SQLite and PostgreSQL
//! (`$n` placeholders, `RETURNING`-free), so one macro generates both implementations and
//! only the pool type differs. Transactions start with a write where they read-then-write,
//! so SQLite takes its write lock up front instead of failing to upgrade later.

macro_rules! sql_store {
    ($name:ident, $pool:ty) => {
        /// The useradm store on this backend.
        #[derive(Debug, Clone)]
        pub struct $name {
            pool: $pool,
        }

        impl $name {
            /// A store over a migrated pool.
            pub fn new(pool: $pool) -> Self {
                Self { pool }
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::UseradmStore for $name {
            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn has_users(&self) -> Result<bool, StoreError> {
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM (SELECT id FROM users LIMIT 1) AS one")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(n > 0)
            }

            async fn create_user(&self, u: &UserRecord) -> Result<(), StoreError> {
                let res = sqlx::query(
                    "INSERT INTO users (id, tenant_id, email, password_hash, created_at, updated_at, login_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&u.id)
                .bind(&u.tenant_id)
                .bind(&u.email)
                .bind(&u.password_hash)
                .bind(u.created_at)
                .bind(u.updated_at)
                .bind(u.login_at)
                .execute(&self.pool)
                .await;
                match res {
                    Ok(_) => Ok(()),
                    Err(e) if is_unique_violation(&e) => {
                        let email_taken: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE email = $1")
                            .bind(&u.email)
                            .fetch_one(&self.pool)
                            .await?;
                        Err(if email_taken > 0 { StoreError::DuplicateEmail } else { StoreError::DuplicateId })
                    }
                    Err(e) => Err(e.into()),
                }
            }

            async fn get_user(&self, tenant: &str, id: &str) -> Result<Option<UserRecord>, StoreError> {
                Ok(sqlx::query_as::<_, UserRecord>(sqlx::AssertSqlSafe(format!("{USER_COLUMNS} WHERE tenant_id = $1 AND id = $2")))
                    .bind(tenant)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn get_user_by_email(&self, tenant: &str, email: &str) -> Result<Option<UserRecord>, StoreError> {
                Ok(sqlx::query_as::<_, UserRecord>(sqlx::AssertSqlSafe(format!("{USER_COLUMNS} WHERE tenant_id = $1 AND email = $2")))
                    .bind(tenant)
                    .bind(email)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn list_users(&self, tenant: &str, f: &UserFilter) -> Result<Vec<UserRecord>, StoreError> {
                let (sql, ints) = list_users_sql(f);
                let Some(sql) = sql else { return Ok(Vec::new()) };
                let mut q = sqlx::query_as::<_, UserRecord>(sqlx::AssertSqlSafe(sql)).bind(tenant);
                for v in f.ids.iter().flatten().chain(f.emails.iter().flatten()) {
                    q = q.bind(v);
                }
                for v in ints {
                    q = q.bind(v);
                }
                Ok(q.fetch_all(&self.pool).await?)
            }

            async fn update_user(
                &self,
                tenant: &str,
                id: &str,
                c: &UserChanges,
                keep_token: Option<&str>,
            ) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await?;
                let res = sqlx::query(
                    "UPDATE users SET email = COALESCE($3, email), password_hash = COALESCE($4, password_hash), \
                     updated_at = $5 WHERE tenant_id = $1 AND id = $2",
                )
                .bind(tenant)
                .bind(id)
                .bind(c.email.as_deref())
                .bind(c.password_hash.as_deref())
                .bind(c.updated_at)
                .execute(&mut *tx)
                .await;
                match res {
                    Ok(r) if r.rows_affected() == 0 => return Err(StoreError::NotFound),
                    Ok(_) => {}
                    Err(e) if is_unique_violation(&e) => return Err(StoreError::DuplicateEmail),
                    Err(e) => return Err(e.into()),
                }
                sqlx::query("DELETE FROM tokens WHERE tenant_id = $1 AND user_id = $2 AND id <> $3")
                    .bind(tenant)
                    .bind(id)
                    .bind(keep_token.unwrap_or(""))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn set_login_time(&self, tenant: &str, id: &str, at: i64) -> Result<(), StoreError> {
                sqlx::query("UPDATE users SET login_at = $3 WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant)
                    .bind(id)
                    .bind(at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn delete_user(&self, tenant: &str, id: &str) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin().await?;
                let n = sqlx::query("DELETE FROM users WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                sqlx::query("DELETE FROM tokens WHERE tenant_id = $1 AND user_id = $2")
                    .bind(tenant)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                if !id.is_empty() {
                    sqlx::query("DELETE FROM settings WHERE tenant_id = $1 AND user_id = $2")
                        .bind(tenant)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(n > 0)
            }

            async fn save_session_token(&self, t: &TokenRecord, limit: u32) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await?;
                insert_token!(&mut *tx, t).await?;
                if limit > 0 {
                    sqlx::query(
                        "DELETE FROM tokens WHERE tenant_id = $1 AND user_id = $2 AND name IS NULL AND seq NOT IN \
                         (SELECT seq FROM tokens WHERE tenant_id = $1 AND user_id = $2 AND name IS NULL \
                          ORDER BY seq DESC LIMIT $3)",
                    )
                    .bind(&t.tenant_id)
                    .bind(&t.user_id)
                    .bind(i64::from(limit))
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn create_personal_token(&self, t: &TokenRecord, limit: u32) -> Result<(), StoreError> {
                let limit = i64::from(limit);
                let mut tx = self.pool.begin().await?;
                match insert_token!(&mut *tx, t).await {
                    Ok(_) => {
                        let count: i64 = count_personal_tokens!(&mut *tx, t).await?;
                        // `count` includes the new token; dropping `tx` rolls it back.
                        if limit > 0 && count > limit {
                            return Err(StoreError::TooManyTokens);
                        }
                        tx.commit().await?;
                        Ok(())
                    }
                    Err(e) if is_unique_violation(&e) => {
                        drop(tx);
                        // The limit wins over a duplicate name, as upstream checks it first.
                        let count: i64 = count_personal_tokens!(&self.pool, t).await?;
                        Err(if limit > 0 && count >= limit {
                            StoreError::TooManyTokens
                        } else {
                            StoreError::DuplicateTokenName
                        })
                    }
                    Err(e) => Err(e.into()),
                }
            }

            async fn check_token(&self, tenant: &str, user_id: &str, id: &str) -> Result<Option<TokenCheck>, StoreError> {
                Ok(sqlx::query_as::<_, TokenCheck>(
                    "SELECT t.name, t.last_used FROM tokens t JOIN users u \
                     ON u.id = t.user_id AND u.tenant_id = t.tenant_id \
                     WHERE t.id = $1 AND t.user_id = $2 AND t.tenant_id = $3",
                )
                .bind(id)
                .bind(user_id)
                .bind(tenant)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn touch_token(&self, id: &str, at: i64) -> Result<(), StoreError> {
                sqlx::query("UPDATE tokens SET last_used = $2 WHERE id = $1")
                    .bind(id)
                    .bind(at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn list_personal_tokens(&self, tenant: &str, user_id: &str) -> Result<Vec<TokenRecord>, StoreError> {
                Ok(sqlx::query_as::<_, TokenRecord>(
                    "SELECT id, user_id, tenant_id, name, issued_at, expires_at, last_used FROM tokens \
                     WHERE tenant_id = $1 AND user_id = $2 AND name IS NOT NULL ORDER BY seq",
                )
                .bind(tenant)
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn delete_token(&self, tenant: &str, user_id: &str, id: &str) -> Result<u64, StoreError> {
                Ok(sqlx::query("DELETE FROM tokens WHERE tenant_id = $1 AND user_id = $2 AND id = $3")
                    .bind(tenant)
                    .bind(user_id)
                    .bind(id)
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }

            async fn delete_user_tokens(&self, tenant: &str, user_id: &str) -> Result<u64, StoreError> {
                Ok(sqlx::query("DELETE FROM tokens WHERE tenant_id = $1 AND user_id = $2")
                    .bind(tenant)
                    .bind(user_id)
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }

            async fn delete_tenant_tokens(&self, tenant: &str) -> Result<u64, StoreError> {
                Ok(sqlx::query("DELETE FROM tokens WHERE tenant_id = $1")
                    .bind(tenant)
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }

            async fn get_settings(&self, tenant: &str, user: Option<&str>) -> Result<Option<SettingsRecord>, StoreError> {
                let row: Option<(String, String)> =
                    sqlx::query_as("SELECT value, etag FROM settings WHERE tenant_id = $1 AND user_id = $2")
                        .bind(tenant)
                        .bind(user.unwrap_or(""))
                        .fetch_optional(&self.pool)
                        .await?;
                row.map(|(value, etag)| {
                    serde_json::from_str(&value)
                        .map(|values| SettingsRecord { values, etag })
                        .map_err(|e| StoreError::Corrupt(format!("settings: {e}")))
                })
                .transpose()
            }

            async fn save_settings(
                &self,
                tenant: &str,
                user: Option<&str>,
                values: &serde_json::Value,
                etag: &str,
                if_match: Option<&str>,
            ) -> Result<(), StoreError> {
                let value = values.to_string();
                let user = user.unwrap_or("");
                let mut tx = self.pool.begin().await?;
                let updated = match if_match {
                    Some(m) => sqlx::query(
                        "UPDATE settings SET value = $3, etag = $4 WHERE tenant_id = $1 AND user_id = $2 AND etag = $5",
                    )
                    .bind(tenant)
                    .bind(user)
                    .bind(&value)
                    .bind(etag)
                    .bind(m),
                    None => sqlx::query("UPDATE settings SET value = $3, etag = $4 WHERE tenant_id = $1 AND user_id = $2")
                        .bind(tenant)
                        .bind(user)
                        .bind(&value)
                        .bind(etag),
                }
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if updated == 0 {
                    let inserted = sqlx::query(
                        "INSERT INTO settings (tenant_id, user_id, etag, value) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (tenant_id, user_id) DO NOTHING",
                    )
                    .bind(tenant)
                    .bind(user)
                    .bind(etag)
                    .bind(&value)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if inserted == 0 {
                        // The settings exist under another tag.
                        return Err(StoreError::ETagMismatch);
                    }
                }
                tx.commit().await?;
                Ok(())
            }
        }
    };
}

/// Inserts a token row inside a transaction.
macro_rules! insert_token {
    ($ex:expr, $t:expr) => {
        sqlx::query(
            "INSERT INTO tokens (id, user_id, tenant_id, name, issued_at, expires_at, last_used) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&$t.id)
        .bind(&$t.user_id)
        .bind(&$t.tenant_id)
        .bind($t.name.as_deref())
        .bind($t.issued_at)
        .bind($t.expires_at)
        .bind($t.last_used)
        .execute($ex)
    };
}

/// Counts a user's personal access tokens.
macro_rules! count_personal_tokens {
    ($ex:expr, $t:expr) => {
        sqlx::query_scalar("SELECT COUNT(*) FROM tokens WHERE tenant_id = $1 AND user_id = $2 AND name IS NOT NULL")
            .bind(&$t.tenant_id)
            .bind(&$t.user_id)
            .fetch_one($ex)
    };
}

pub(crate) use {count_personal_tokens, insert_token, sql_store};

/// The column list every user query selects.
pub(crate) const USER_COLUMNS: &str =
    "SELECT id, tenant_id, email, password_hash, created_at, updated_at, login_at FROM users";

/// Builds the user listing query: the SQL (or `None` when a filter list is empty, which
/// matches nothing) and the integer bounds to bind after the tenant, ids and emails.
pub(crate) fn list_users_sql(f: &crate::store::UserFilter) -> (Option<String>, Vec<i64>) {
    let mut sql = format!("{USER_COLUMNS} WHERE tenant_id = $1");
    let mut n = 1;
    for list in [(&f.ids, "id"), (&f.emails, "email")] {
        if let (Some(values), column) = list {
            if values.is_empty() {
                return (None, Vec::new());
            }
            let marks: Vec<String> = values
                .iter()
                .map(|_| {
                    n += 1;
                    format!("${n}")
                })
                .collect();
            sql.push_str(&format!(" AND {column} IN ({})", marks.join(", ")));
        }
    }
    let mut ints = Vec::new();
    for (bound, cond) in [
        (f.created_after, "created_at >"),
        (f.created_before, "created_at <"),
        (f.updated_after, "updated_at >"),
        (f.updated_before, "updated_at <"),
    ] {
        if let Some(v) = bound {
            n += 1;
            sql.push_str(&format!(" AND {cond} ${n}"));
            ints.push(v);
        }
    }
    sql.push_str(" ORDER BY seq");
    (Some(sql), ints)
}
