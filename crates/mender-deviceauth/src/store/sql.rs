//! The SQL of the deviceauth store, shared by the SQLite and PostgreSQL implementations.
//!
//! The statements are plain SQL that both backends accept (`$n` placeholders,
//! `ON CONFLICT`, `RETURNING`); only the pool, connection and row types differ, so one
//! macro expands the same implementation for each backend.

/// Columns of `devices`, in the order `device_from_row` reads them.
pub(super) const DEVICE_COLS: &str = "id, tenant_id, id_data, id_data_sha256, status, decommissioning, created_ts, updated_ts, check_in_time, revision";
/// Columns of `auth_sets`, in the order `set_from_row` reads them.
pub(super) const SET_COLS: &str = "id, device_id, id_data, id_data_sha256, pubkey, status, ts";

/// `$from, $from+1, ...` for `n` values.
pub(super) fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Expands `DeviceauthStore` for a store struct with a `pool` field.
/// `$begin` is the statement that opens a write transaction.
macro_rules! impl_store {
    ($store:ty, $conn:ty, $row:ty, $begin:expr) => {
        use async_trait::async_trait;
        use sqlx::Row;

        use crate::model::{AuthSet, Device, DeviceFilter, NewDevice, Status, TokenRecord, TokenState};
        use crate::store::sql::{DEVICE_COLS, SET_COLS, placeholders};
        use crate::store::{AuthRecord, DeviceauthStore, Dismissal, Preauth, StatusChange, StoreError};

        fn status_of(s: &str) -> Result<Status, sqlx::Error> {
            Status::parse(s).ok_or_else(|| sqlx::Error::Decode(format!("unknown status {s:?}").into()))
        }

        fn device_from_row(row: &$row) -> Result<Device, sqlx::Error> {
            Ok(Device {
                id: row.try_get(0)?,
                tenant_id: row.try_get(1)?,
                id_data: row.try_get(2)?,
                id_data_sha256: row.try_get(3)?,
                status: status_of(&row.try_get::<String, _>(4)?)?,
                decommissioning: row.try_get(5)?,
                created_ts: row.try_get(6)?,
                updated_ts: row.try_get(7)?,
                check_in_time: row.try_get(8)?,
                revision: row.try_get(9)?,
                auth_sets: Vec::new(),
            })
        }

        fn set_from_row(row: &$row) -> Result<AuthSet, sqlx::Error> {
            Ok(AuthSet {
                id: row.try_get(0)?,
                device_id: row.try_get(1)?,
                id_data: row.try_get(2)?,
                id_data_sha256: row.try_get(3)?,
                pubkey: row.try_get(4)?,
                status: status_of(&row.try_get::<String, _>(5)?)?,
                ts: row.try_get(6)?,
            })
        }

        async fn sets_of(conn: &mut $conn, device_id: &str) -> Result<Vec<AuthSet>, sqlx::Error> {
            let sql = format!("SELECT {SET_COLS} FROM auth_sets WHERE device_id = $1 ORDER BY ts, id");
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(device_id).fetch_all(&mut *conn).await?;
            rows.iter().map(set_from_row).collect()
        }

        async fn device_where(
            conn: &mut $conn,
            column: &str,
            tenant: &str,
            value: &str,
        ) -> Result<Option<Device>, sqlx::Error> {
            // `column` is one of our own column names, never input.
            let sql = format!("SELECT {DEVICE_COLS} FROM devices WHERE tenant_id = $1 AND {column} = $2");
            let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(tenant)
                .bind(value)
                .fetch_optional(&mut *conn)
                .await?
            else {
                return Ok(None);
            };
            let mut dev = device_from_row(&row)?;
            dev.auth_sets = sets_of(conn, &dev.id).await?;
            Ok(Some(dev))
        }

        async fn device_by_id(conn: &mut $conn, tenant: &str, id: &str) -> Result<Option<Device>, sqlx::Error> {
            device_where(conn, "id", tenant, id).await
        }

        async fn set_by_id(conn: &mut $conn, tenant: &str, id: &str) -> Result<Option<AuthSet>, sqlx::Error> {
            let sql = format!("SELECT {SET_COLS} FROM auth_sets WHERE tenant_id = $1 AND id = $2");
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(tenant)
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
            row.as_ref().map(set_from_row).transpose()
        }

        /// Recomputes the device status from its sets; on change bumps the revision.
        /// Returns the status before.
        async fn recompute_status(conn: &mut $conn, device_id: &str, now: i64) -> Result<Status, sqlx::Error> {
            let current: String = sqlx::query_scalar("SELECT status FROM devices WHERE id = $1")
                .bind(device_id)
                .fetch_one(&mut *conn)
                .await?;
            let current = status_of(&current)?;
            let sets: Vec<String> = sqlx::query_scalar("SELECT status FROM auth_sets WHERE device_id = $1")
                .bind(device_id)
                .fetch_all(&mut *conn)
                .await?;
            let sets = sets.iter().map(|s| status_of(s)).collect::<Result<Vec<_>, _>>()?;
            let new = Status::of_device(sets);
            if new != current {
                sqlx::query(
                    "UPDATE devices SET status = $1, revision = revision + 1, updated_ts = $2 WHERE id = $3",
                )
                .bind(new.as_str())
                .bind(now)
                .bind(device_id)
                .execute(&mut *conn)
                .await?;
            }
            Ok(current)
        }

        async fn delete_device_tokens(conn: &mut $conn, device_id: &str) -> Result<u64, sqlx::Error> {
            let res = sqlx::query("DELETE FROM tokens WHERE device_id = $1").bind(device_id).execute(&mut *conn).await?;
            Ok(res.rows_affected())
        }

        async fn insert_device(
            conn: &mut $conn,
            tenant: &str,
            req: &NewDevice,
            status: Status,
            now: i64,
        ) -> Result<bool, sqlx::Error> {
            let inserted: Option<String> = sqlx::query_scalar(
                "INSERT INTO devices (id, tenant_id, id_data, id_data_sha256, status, decommissioning, \
                 created_ts, updated_ts, revision) VALUES ($1, $2, $3, $4, $5, FALSE, $6, $6, 1) \
                 ON CONFLICT (tenant_id, id_data_sha256) DO NOTHING RETURNING id",
            )
            .bind(&req.device_id)
            .bind(tenant)
            .bind(&req.id_data)
            .bind(&req.id_data_sha256)
            .bind(status.as_str())
            .bind(now)
            .fetch_optional(&mut *conn)
            .await?;
            Ok(inserted.is_some())
        }

        async fn insert_set(
            conn: &mut $conn,
            tenant: &str,
            device_id: &str,
            req: &NewDevice,
            status: Status,
            now: i64,
        ) -> Result<bool, sqlx::Error> {
            let inserted: Option<String> = sqlx::query_scalar(
                "INSERT INTO auth_sets (id, tenant_id, device_id, id_data, id_data_sha256, pubkey, status, ts) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (tenant_id, id_data_sha256, pubkey) DO NOTHING RETURNING id",
            )
            .bind(&req.auth_set_id)
            .bind(tenant)
            .bind(device_id)
            .bind(&req.id_data)
            .bind(&req.id_data_sha256)
            .bind(&req.pubkey)
            .bind(status.as_str())
            .bind(now)
            .fetch_optional(&mut *conn)
            .await?;
            Ok(inserted.is_some())
        }

        fn missing() -> StoreError {
            StoreError::NotFound
        }

        #[async_trait]
        impl DeviceauthStore for $store {
            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn record_auth_request(
                &self,
                tenant: &str,
                req: &NewDevice,
                now: i64,
            ) -> Result<AuthRecord, StoreError> {
                let mut tx = self.pool.begin_with($begin).await?;
                let created = insert_device(&mut tx, tenant, req, Status::Noauth, now).await?;
                let device = device_where(&mut tx, "id_data_sha256", tenant, &req.id_data_sha256)
                    .await?
                    .ok_or_else(missing)?;
                if device.decommissioning {
                    tx.rollback().await?;
                    return Ok(AuthRecord::Decommissioning);
                }
                insert_set(&mut tx, tenant, &device.id, req, Status::Pending, now).await?;
                let before = recompute_status(&mut tx, &device.id, now).await?;
                let device = device_by_id(&mut tx, tenant, &device.id).await?.ok_or_else(missing)?;
                let auth_set = device
                    .auth_sets
                    .iter()
                    .find(|s| s.pubkey == req.pubkey)
                    .cloned()
                    .ok_or_else(missing)?;
                tx.commit().await?;
                let previous_status = (before != device.status).then_some(before);
                Ok(AuthRecord::Recorded { device, auth_set, device_created: created, previous_status })
            }

            async fn find_auth_set(
                &self,
                tenant: &str,
                id_data_sha256: &str,
                pubkey: &str,
            ) -> Result<Option<AuthSet>, StoreError> {
                let sql = format!(
                    "SELECT {SET_COLS} FROM auth_sets WHERE tenant_id = $1 AND id_data_sha256 = $2 AND pubkey = $3"
                );
                let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(tenant)
                    .bind(id_data_sha256)
                    .bind(pubkey)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().map(set_from_row).transpose()?)
            }

            async fn get_auth_set(&self, tenant: &str, id: &str) -> Result<Option<AuthSet>, StoreError> {
                let mut conn = self.pool.acquire().await?;
                Ok(set_by_id(&mut conn, tenant, id).await?)
            }

            async fn set_auth_set_status(
                &self,
                tenant: &str,
                device_id: &str,
                auth_set_id: &str,
                status: Status,
                allowed_from: &[Status],
                max_devices: u64,
                now: i64,
            ) -> Result<StatusChange, StoreError> {
                let mut tx = self.pool.begin_with($begin).await?;
                let set = set_by_id(&mut tx, tenant, auth_set_id).await?.ok_or_else(missing)?;
                if set.device_id != device_id {
                    return Err(StoreError::Mismatch);
                }
                let device = device_by_id(&mut tx, tenant, device_id).await?.ok_or_else(missing)?;
                if set.status == status {
                    return Ok(StatusChange {
                        previous_device_status: device.status,
                        previous_set_status: set.status,
                        device,
                    });
                }
                if !allowed_from.contains(&set.status) {
                    return Err(StoreError::InvalidTransition(set.status));
                }
                if status == Status::Accepted && device.status != Status::Accepted && max_devices > 0 {
                    let accepted: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM devices WHERE tenant_id = $1 AND status = 'accepted'",
                    )
                    .bind(tenant)
                    .fetch_one(&mut *tx)
                    .await?;
                    if accepted as u64 >= max_devices {
                        return Err(StoreError::LimitReached);
                    }
                }
                if set.status == Status::Accepted {
                    delete_device_tokens(&mut tx, device_id).await?;
                }
                if status == Status::Accepted {
                    // One accepted set per device: the others are rejected and their tokens go.
                    sqlx::query(
                        "UPDATE auth_sets SET status = 'rejected' WHERE device_id = $1 AND id <> $2 AND status = 'accepted'",
                    )
                    .bind(device_id)
                    .bind(auth_set_id)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("DELETE FROM tokens WHERE device_id = $1 AND id <> $2")
                        .bind(device_id)
                        .bind(auth_set_id)
                        .execute(&mut *tx)
                        .await?;
                }
                sqlx::query("UPDATE auth_sets SET status = $1 WHERE id = $2")
                    .bind(status.as_str())
                    .bind(auth_set_id)
                    .execute(&mut *tx)
                    .await?;
                let previous_device_status = recompute_status(&mut tx, device_id, now).await?;
                let device = device_by_id(&mut tx, tenant, device_id).await?.ok_or_else(missing)?;
                tx.commit().await?;
                Ok(StatusChange { device, previous_set_status: set.status, previous_device_status })
            }

            async fn delete_auth_set(
                &self,
                tenant: &str,
                device_id: &str,
                auth_set_id: &str,
                now: i64,
            ) -> Result<Dismissal, StoreError> {
                let mut tx = self.pool.begin_with($begin).await?;
                let set = set_by_id(&mut tx, tenant, auth_set_id).await?.ok_or_else(missing)?;
                if set.device_id != device_id {
                    return Err(StoreError::NotFound);
                }
                sqlx::query("DELETE FROM auth_sets WHERE id = $1").bind(auth_set_id).execute(&mut *tx).await?;
                if set.status == Status::Accepted {
                    delete_device_tokens(&mut tx, device_id).await?;
                }
                let remaining: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM auth_sets WHERE device_id = $1")
                    .bind(device_id)
                    .fetch_one(&mut *tx)
                    .await?;
                if set.status == Status::Preauthorized && remaining == 0 {
                    delete_device_tokens(&mut tx, device_id).await?;
                    sqlx::query("DELETE FROM devices WHERE id = $1").bind(device_id).execute(&mut *tx).await?;
                    tx.commit().await?;
                    return Ok(Dismissal::DeviceDeleted);
                }
                let previous_device_status = recompute_status(&mut tx, device_id, now).await?;
                let device = device_by_id(&mut tx, tenant, device_id).await?.ok_or_else(missing)?;
                tx.commit().await?;
                Ok(Dismissal::SetRemoved { device, previous_device_status })
            }

            async fn preauthorize(
                &self,
                tenant: &str,
                req: &NewDevice,
                force: bool,
                now: i64,
            ) -> Result<Preauth, StoreError> {
                let mut tx = self.pool.begin_with($begin).await?;
                if insert_device(&mut tx, tenant, req, Status::Preauthorized, now).await? {
                    insert_set(&mut tx, tenant, &req.device_id, req, Status::Preauthorized, now).await?;
                    let device = device_by_id(&mut tx, tenant, &req.device_id).await?.ok_or_else(missing)?;
                    tx.commit().await?;
                    return Ok(Preauth::Created(device));
                }
                let existing = device_where(&mut tx, "id_data_sha256", tenant, &req.id_data_sha256)
                    .await?
                    .ok_or_else(missing)?;
                if !force {
                    tx.rollback().await?;
                    return Ok(Preauth::Conflict(existing));
                }
                if let Some(old) = existing.auth_sets.iter().find(|s| s.pubkey == req.pubkey) {
                    if old.status == Status::Accepted {
                        delete_device_tokens(&mut tx, &existing.id).await?;
                    }
                    sqlx::query("UPDATE auth_sets SET status = 'preauthorized' WHERE id = $1")
                        .bind(&old.id)
                        .execute(&mut *tx)
                        .await?;
                } else {
                    insert_set(&mut tx, tenant, &existing.id, req, Status::Preauthorized, now).await?;
                }
                let previous_device_status = recompute_status(&mut tx, &existing.id, now).await?;
                let device = device_by_id(&mut tx, tenant, &existing.id).await?.ok_or_else(missing)?;
                tx.commit().await?;
                Ok(Preauth::Forced { device, previous_device_status })
            }

            async fn get_device(&self, tenant: &str, id: &str) -> Result<Option<Device>, StoreError> {
                let mut conn = self.pool.acquire().await?;
                Ok(device_by_id(&mut conn, tenant, id).await?)
            }

            async fn list_devices(
                &self,
                tenant: &str,
                filter: &DeviceFilter,
                skip: u64,
                limit: u64,
            ) -> Result<Vec<Device>, StoreError> {
                // Only placeholders are generated here; every value is bound.
                let mut sql = format!("SELECT {DEVICE_COLS} FROM devices WHERE tenant_id = $1");
                let mut next = 2;
                if !filter.status.is_empty() {
                    sql.push_str(&format!(" AND status IN ({})", placeholders(next, filter.status.len())));
                    next += filter.status.len();
                }
                if !filter.ids.is_empty() {
                    sql.push_str(&format!(" AND id IN ({})", placeholders(next, filter.ids.len())));
                    next += filter.ids.len();
                }
                sql.push_str(&format!(" ORDER BY created_ts, id LIMIT ${} OFFSET ${}", next, next + 1));
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant);
                for s in &filter.status {
                    q = q.bind(s.as_str());
                }
                for id in &filter.ids {
                    q = q.bind(id.as_str());
                }
                let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                let skip = i64::try_from(skip).unwrap_or(i64::MAX);
                let mut conn = self.pool.acquire().await?;
                let rows = q.bind(limit).bind(skip).fetch_all(&mut *conn).await?;
                let mut devices = rows.iter().map(device_from_row).collect::<Result<Vec<_>, _>>()?;
                if devices.is_empty() {
                    return Ok(devices);
                }
                let sql = format!(
                    "SELECT {SET_COLS} FROM auth_sets WHERE device_id IN ({}) ORDER BY ts, id",
                    placeholders(1, devices.len())
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for d in &devices {
                    q = q.bind(d.id.as_str());
                }
                let sets = q.fetch_all(&mut *conn).await?;
                for row in &sets {
                    let set = set_from_row(row)?;
                    if let Some(d) = devices.iter_mut().find(|d| d.id == set.device_id) {
                        d.auth_sets.push(set);
                    }
                }
                Ok(devices)
            }

            async fn count_devices(&self, tenant: &str, status: Option<Status>) -> Result<u64, StoreError> {
                let n: i64 = match status {
                    Some(s) => {
                        sqlx::query_scalar("SELECT COUNT(*) FROM devices WHERE tenant_id = $1 AND status = $2")
                            .bind(tenant)
                            .bind(s.as_str())
                            .fetch_one(&self.pool)
                            .await?
                    }
                    None => {
                        sqlx::query_scalar("SELECT COUNT(*) FROM devices WHERE tenant_id = $1")
                            .bind(tenant)
                            .fetch_one(&self.pool)
                            .await?
                    }
                };
                Ok(n.max(0) as u64)
            }

            async fn set_decommissioning(&self, tenant: &str, id: &str, now: i64) -> Result<bool, StoreError> {
                let res = sqlx::query(
                    "UPDATE devices SET decommissioning = TRUE, revision = revision + 1, updated_ts = $1 \
                     WHERE tenant_id = $2 AND id = $3",
                )
                .bind(now)
                .bind(tenant)
                .bind(id)
                .execute(&self.pool)
                .await?;
                Ok(res.rows_affected() > 0)
            }

            async fn delete_device(&self, tenant: &str, id: &str) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin_with($begin).await?;
                sqlx::query("DELETE FROM tokens WHERE tenant_id = $1 AND device_id = $2")
                    .bind(tenant)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM auth_sets WHERE tenant_id = $1 AND device_id = $2")
                    .bind(tenant)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let res = sqlx::query("DELETE FROM devices WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(res.rows_affected() > 0)
            }

            async fn save_token(&self, token: &TokenRecord) -> Result<(), StoreError> {
                let mut tx = self.pool.begin_with($begin).await?;
                sqlx::query(
                    "INSERT INTO tokens (id, tenant_id, device_id, issued_at, expires_at) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (id) DO UPDATE SET tenant_id = excluded.tenant_id, device_id = excluded.device_id, \
                     issued_at = excluded.issued_at, expires_at = excluded.expires_at",
                )
                .bind(&token.id)
                .bind(&token.tenant_id)
                .bind(&token.device_id)
                .bind(token.issued_at)
                .bind(token.expires_at)
                .execute(&mut *tx)
                .await?;
                sqlx::query("UPDATE devices SET check_in_time = $1 WHERE id = $2")
                    .bind(token.issued_at)
                    .bind(&token.device_id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn token_state(&self, jti: &str) -> Result<Option<TokenState>, StoreError> {
                let row = sqlx::query(
                    "SELECT t.device_id, t.tenant_id, a.status, d.decommissioning, d.check_in_time \
                     FROM tokens t JOIN auth_sets a ON a.id = t.id JOIN devices d ON d.id = a.device_id \
                     WHERE t.id = $1",
                )
                .bind(jti)
                .fetch_optional(&self.pool)
                .await?;
                let Some(row) = row else { return Ok(None) };
                Ok(Some(TokenState {
                    device_id: row.try_get(0)?,
                    tenant_id: row.try_get(1)?,
                    auth_set_status: status_of(&row.try_get::<String, _>(2)?)?,
                    decommissioning: row.try_get(3)?,
                    check_in_time: row.try_get(4)?,
                }))
            }

            async fn delete_token(&self, tenant: &str, jti: &str) -> Result<bool, StoreError> {
                let res = sqlx::query("DELETE FROM tokens WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant)
                    .bind(jti)
                    .execute(&self.pool)
                    .await?;
                Ok(res.rows_affected() > 0)
            }

            async fn delete_tokens(&self, tenant: &str, device_id: Option<&str>) -> Result<u64, StoreError> {
                let res = match device_id {
                    Some(d) => {
                        sqlx::query("DELETE FROM tokens WHERE tenant_id = $1 AND device_id = $2")
                            .bind(tenant)
                            .bind(d)
                            .execute(&self.pool)
                            .await?
                    }
                    None => sqlx::query("DELETE FROM tokens WHERE tenant_id = $1").bind(tenant).execute(&self.pool).await?,
                };
                Ok(res.rows_affected())
            }

            async fn set_check_in(&self, tenant: &str, device_id: &str, now: i64) -> Result<(), StoreError> {
                sqlx::query("UPDATE devices SET check_in_time = $1 WHERE tenant_id = $2 AND id = $3")
                    .bind(now)
                    .bind(tenant)
                    .bind(device_id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn get_limit(&self, tenant: &str, name: &str) -> Result<Option<u64>, StoreError> {
                let v: Option<i64> = sqlx::query_scalar("SELECT value FROM limits WHERE tenant_id = $1 AND name = $2")
                    .bind(tenant)
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(v.map(|v| v.max(0) as u64))
            }

            async fn put_limit(&self, tenant: &str, name: &str, value: u64) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO limits (tenant_id, name, value) VALUES ($1, $2, $3) \
                     ON CONFLICT (tenant_id, name) DO UPDATE SET value = excluded.value",
                )
                .bind(tenant)
                .bind(name)
                .bind(i64::try_from(value).unwrap_or(i64::MAX))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn delete_limit(&self, tenant: &str, name: &str) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM limits WHERE tenant_id = $1 AND name = $2")
                    .bind(tenant)
                    .bind(name)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
        }
    };
}

pub(super) use impl_store;
