//! [`SqlStore`]: the deviceauth store on SQLite or PostgreSQL, each statement written once.
//!
//! Times are stored as unix seconds (`BIGINT`), statuses by their wire names ([`rows`]).
//! Writes that touch several rows run in one write transaction ([`Db::begin_write`]) built
//! from the shared statements in [`steps`]; a device and its auth sets are read in one read
//! transaction.

mod rows;
mod steps;

use async_trait::async_trait;
use mender_core::{AuthSetId, DeviceId, TenantId, Timestamp, TokenId};
use mender_db::{Db, QueryBuilder, Tx, query};
use mender_queue::outbox::{self, OutboxMessage};

use self::rows::{DEVICE_SELECT, DeviceRow, TokenStateRow, signed, unsigned};
use self::steps::{
    delete_device_tokens, device_row_where, device_where, existing_device, existing_set,
    insert_device, insert_set, pending_devices, set_by_id, set_where, sets_of, settle,
    trim_pending_sets,
};
use crate::model::{AuthSet, Device, DeviceFilter, NewDevice, Status, TokenRecord, TokenState};
use crate::store::{
    AuthRecord, DeviceBrief, DeviceauthStore, Dismissal, Effects, PendingCaps, Preauth,
    StatusChange, StoreError, Transition,
};

/// The deviceauth store on either backend (a database opened with [`crate::SCHEMA`]).
#[derive(Debug, Clone)]
pub struct SqlStore(pub Db);

/// Writes the workflows `outcome` asks for to the outbox and commits: the outcome and its
/// workflows become durable together or not at all.
async fn commit_with<T>(
    mut tx: Tx,
    outcome: T,
    effects: Effects<'_, T>,
    at: Timestamp,
) -> Result<T, StoreError> {
    outbox::push(&mut tx, &effects(&outcome), at).await?;
    tx.commit().await?;
    Ok(outcome)
}

#[derive(sqlx::FromRow)]
struct BriefRow {
    tenant_id: String,
    id: String,
    status: String,
    decommissioning: bool,
}

#[async_trait]
impl DeviceauthStore for SqlStore {
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(self.0.ping().await?)
    }

    async fn record_auth_request(
        &self,
        tenant: &TenantId,
        req: &NewDevice,
        now: Timestamp,
        caps: PendingCaps,
    ) -> Result<AuthRecord, StoreError> {
        let now = now.unix_secs();
        let mut tx = self.0.begin_write().await?;
        let mut created = false;
        let identity = &req.id_data_sha256;
        let device = match device_row_where(&mut tx, tenant, "id_data_sha256", identity).await? {
            Some(device) => device,
            None => {
                // SQLite's write lock makes the count exact; on PostgreSQL concurrent new
                // identities can pass it together, so the cap may be exceeded by as many.
                if caps.devices > 0 && pending_devices(&mut tx, tenant).await? >= caps.devices {
                    tx.rollback().await?;
                    return Ok(AuthRecord::TooManyPending);
                }
                created = insert_device(&mut tx, tenant, req, Status::Noauth, now).await?;
                device_row_where(&mut tx, tenant, "id_data_sha256", identity)
                    .await?
                    .ok_or(StoreError::NotFound)?
            }
        };
        if device.decommissioning {
            tx.rollback().await?;
            return Ok(AuthRecord::Decommissioning);
        }
        insert_set(&mut tx, tenant, &device.id, req, Status::Pending, now).await?;
        if caps.sets_per_device > 0 {
            trim_pending_sets(&mut tx, &device.id, &req.pubkey, caps.sets_per_device).await?;
        }
        let (before, device) = settle(&mut tx, tenant, &device.id, now).await?;
        let auth_set = set_where(
            &mut tx,
            &[("device_id", device.id.as_str()), ("pubkey", &req.pubkey)],
        )
        .await?
        .ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        let previous_status = (before != device.status).then_some(before);
        Ok(AuthRecord::Recorded {
            device,
            auth_set,
            device_created: created,
            previous_status,
        })
    }

    async fn find_auth_set(
        &self,
        tenant: &TenantId,
        id_data_sha256: &str,
        pubkey: &str,
    ) -> Result<Option<AuthSet>, StoreError> {
        let conditions = [
            ("tenant_id", tenant.as_str()),
            ("id_data_sha256", id_data_sha256),
            ("pubkey", pubkey),
        ];
        Ok(set_where(&self.0, &conditions).await?)
    }

    async fn get_auth_set(
        &self,
        tenant: &TenantId,
        id: &AuthSetId,
    ) -> Result<Option<AuthSet>, StoreError> {
        Ok(set_by_id(&self.0, tenant, id).await?)
    }

    async fn set_auth_set_status(
        &self,
        tenant: &TenantId,
        device_id: &DeviceId,
        auth_set_id: &AuthSetId,
        change: Transition<'_>,
        now: Timestamp,
        effects: Effects<'_, StatusChange>,
    ) -> Result<StatusChange, StoreError> {
        let at = now;
        let now = now.unix_secs();
        let mut tx = self.0.begin_write().await?;
        let set = existing_set(&mut tx, tenant, auth_set_id).await?;
        if set.device_id != *device_id {
            return Err(StoreError::Mismatch);
        }
        let device = existing_device(&mut tx, tenant, device_id).await?;
        if set.status == change.to {
            let unchanged = StatusChange {
                previous_device_status: device.status,
                previous_set_status: set.status,
                device,
            };
            return commit_with(tx, unchanged, effects, at).await;
        }
        if !change.allowed_from.contains(&set.status) {
            return Err(StoreError::InvalidTransition(set.status));
        }
        if change.to == Status::Accepted
            && device.status != Status::Accepted
            && change.max_devices > 0
        {
            let accepted: i64 =
                query("SELECT COUNT(*) FROM devices WHERE tenant_id = $1 AND status = 'accepted'")
                    .bind(tenant)
                    .scalar(&mut tx)
                    .await?;
            if unsigned(accepted) >= change.max_devices {
                return Err(StoreError::LimitReached);
            }
        }
        if set.status == Status::Accepted {
            delete_device_tokens(&mut tx, device_id).await?;
        }
        if change.to == Status::Accepted {
            // One accepted set per device: the others are rejected and their tokens go.
            query(
                "UPDATE auth_sets SET status = 'rejected' \
                 WHERE device_id = $1 AND id <> $2 AND status = 'accepted'",
            )
            .bind(device_id)
            .bind(auth_set_id)
            .execute(&mut tx)
            .await?;
            query("DELETE FROM tokens WHERE device_id = $1 AND id <> $2")
                .bind(device_id)
                .bind(auth_set_id)
                .execute(&mut tx)
                .await?;
        }
        query("UPDATE auth_sets SET status = $1 WHERE id = $2")
            .bind(change.to.as_str())
            .bind(auth_set_id)
            .execute(&mut tx)
            .await?;
        let (previous_device_status, device) = settle(&mut tx, tenant, device_id, now).await?;
        let change = StatusChange {
            device,
            previous_set_status: set.status,
            previous_device_status,
        };
        commit_with(tx, change, effects, at).await
    }

    async fn delete_auth_set(
        &self,
        tenant: &TenantId,
        device_id: &DeviceId,
        auth_set_id: &AuthSetId,
        now: Timestamp,
        effects: Effects<'_, Dismissal>,
    ) -> Result<Dismissal, StoreError> {
        let at = now;
        let now = now.unix_secs();
        let mut tx = self.0.begin_write().await?;
        let set = existing_set(&mut tx, tenant, auth_set_id).await?;
        if set.device_id != *device_id {
            return Err(StoreError::NotFound);
        }
        query("DELETE FROM auth_sets WHERE id = $1")
            .bind(auth_set_id)
            .execute(&mut tx)
            .await?;
        if set.status == Status::Accepted {
            delete_device_tokens(&mut tx, device_id).await?;
        }
        let remaining: i64 = query("SELECT COUNT(*) FROM auth_sets WHERE device_id = $1")
            .bind(device_id)
            .scalar(&mut tx)
            .await?;
        if set.status == Status::Preauthorized && remaining == 0 {
            delete_device_tokens(&mut tx, device_id).await?;
            query("DELETE FROM devices WHERE id = $1")
                .bind(device_id)
                .execute(&mut tx)
                .await?;
            return commit_with(tx, Dismissal::DeviceDeleted, effects, at).await;
        }
        let (previous_device_status, device) = settle(&mut tx, tenant, device_id, now).await?;
        let removed = Dismissal::SetRemoved {
            device,
            previous_device_status,
        };
        commit_with(tx, removed, effects, at).await
    }

    async fn preauthorize(
        &self,
        tenant: &TenantId,
        req: &NewDevice,
        force: bool,
        now: Timestamp,
        effects: Effects<'_, Preauth>,
    ) -> Result<Preauth, StoreError> {
        let at = now;
        let now = now.unix_secs();
        let mut tx = self.0.begin_write().await?;
        if insert_device(&mut tx, tenant, req, Status::Preauthorized, now).await? {
            insert_set(
                &mut tx,
                tenant,
                &req.device_id,
                req,
                Status::Preauthorized,
                now,
            )
            .await?;
            let device = existing_device(&mut tx, tenant, &req.device_id).await?;
            return commit_with(tx, Preauth::Created(device), effects, at).await;
        }
        let existing = device_where(&mut tx, tenant, "id_data_sha256", &req.id_data_sha256)
            .await?
            .ok_or(StoreError::NotFound)?;
        if !force {
            tx.rollback().await?;
            return Ok(Preauth::Conflict(existing));
        }
        if let Some(old) = existing.auth_sets.iter().find(|s| s.pubkey == req.pubkey) {
            if old.status == Status::Accepted {
                delete_device_tokens(&mut tx, &existing.id).await?;
            }
            query("UPDATE auth_sets SET status = 'preauthorized' WHERE id = $1")
                .bind(&old.id)
                .execute(&mut tx)
                .await?;
        } else {
            insert_set(
                &mut tx,
                tenant,
                &existing.id,
                req,
                Status::Preauthorized,
                now,
            )
            .await?;
        }
        let (previous_device_status, device) = settle(&mut tx, tenant, &existing.id, now).await?;
        let forced = Preauth::Forced {
            device,
            previous_device_status,
        };
        commit_with(tx, forced, effects, at).await
    }

    async fn get_device(
        &self,
        tenant: &TenantId,
        id: &DeviceId,
    ) -> Result<Option<Device>, StoreError> {
        let mut tx = self.0.begin_read().await?;
        let device = device_where(&mut tx, tenant, "id", id.as_str()).await?;
        tx.commit().await?;
        Ok(device)
    }

    async fn list_devices(
        &self,
        tenant: &TenantId,
        filter: &DeviceFilter,
        skip: u64,
        limit: u64,
    ) -> Result<Vec<Device>, StoreError> {
        let mut tx = self.0.begin_read().await?;
        let mut q = QueryBuilder::new(tx.dialect(), DEVICE_SELECT);
        q.push(" WHERE tenant_id = ").push_bind(tenant);
        if !filter.status.is_empty() {
            q.push(" AND status IN (")
                .push_list(filter.status.iter().map(|s| s.as_str()))
                .push(")");
        }
        if !filter.ids.is_empty() {
            q.push(" AND id IN (").push_list(&filter.ids).push(")");
        }
        // Upstream sorts by (status, _id) with MongoDB's byte-wise string order. Statuses and
        // ids (UUIDs) are lower-case ASCII with hyphens at fixed places, which every SQLite and
        // PostgreSQL collation orders byte-wise, so the plain ORDER BY (and its index) serves.
        q.push(" ORDER BY status, id LIMIT ")
            .push_bind(signed(limit))
            .push(" OFFSET ")
            .push_bind(signed(skip));
        let mut devices = q
            .build()
            .fetch_all::<DeviceRow>(&mut tx)
            .await?
            .into_iter()
            .map(DeviceRow::into_device)
            .collect::<Result<Vec<_>, _>>()?;
        if devices.is_empty() {
            return Ok(devices);
        }
        let sets = sets_of(&mut tx, devices.iter().map(|d| &d.id)).await?;
        tx.commit().await?;
        for set in sets {
            if let Some(d) = devices.iter_mut().find(|d| d.id == set.device_id) {
                d.auth_sets.push(set);
            }
        }
        Ok(devices)
    }

    async fn count_devices(
        &self,
        tenant: &TenantId,
        status: Option<Status>,
    ) -> Result<u64, StoreError> {
        let mut q = QueryBuilder::new(
            self.0.dialect(),
            "SELECT COUNT(*) FROM devices WHERE tenant_id = ",
        );
        q.push_bind(tenant);
        if let Some(s) = status {
            q.push(" AND status = ").push_bind(s.as_str());
        }
        let n: i64 = q.build().scalar(&self.0).await?;
        Ok(unsigned(n))
    }

    async fn update_device(
        &self,
        tenant: &TenantId,
        id: &DeviceId,
        provisioned: Option<bool>,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let n = query(
            "UPDATE devices SET provisioned = COALESCE($1, provisioned), \
             revision = revision + 1, updated_ts = $2 WHERE tenant_id = $3 AND id = $4",
        )
        .bind(provisioned)
        .bind(now.unix_secs())
        .bind(tenant)
        .bind(id)
        .execute(&self.0)
        .await?;
        Ok(n > 0)
    }

    async fn set_decommissioning(
        &self,
        tenant: &TenantId,
        id: &DeviceId,
        now: Timestamp,
        effects: &[OutboxMessage],
    ) -> Result<bool, StoreError> {
        let mut tx = self.0.begin_write().await?;
        let n = query(
            "UPDATE devices SET decommissioning = TRUE, revision = revision + 1, updated_ts = $1 \
             WHERE tenant_id = $2 AND id = $3",
        )
        .bind(now.unix_secs())
        .bind(tenant)
        .bind(id)
        .execute(&mut tx)
        .await?;
        if n == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        outbox::push(&mut tx, effects, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn push_outbox(
        &self,
        messages: &[OutboxMessage],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.0.begin_write().await?;
        outbox::push(&mut tx, messages, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn outbox_has(&self, workflow: &str, subject: &str) -> Result<bool, StoreError> {
        Ok(outbox::has_pending(&self.0, workflow, subject).await?)
    }

    async fn device_briefs(&self) -> Result<Vec<DeviceBrief>, StoreError> {
        let rows: Vec<BriefRow> = query(
            "SELECT tenant_id, id, status, decommissioning FROM devices ORDER BY tenant_id, id",
        )
        .fetch_all(&self.0)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(DeviceBrief {
                    tenant: r.tenant_id.into(),
                    id: r.id.into(),
                    status: rows::status_of(&r.status)?,
                    decommissioning: r.decommissioning,
                })
            })
            .collect()
    }

    async fn delete_device(&self, tenant: &TenantId, id: &DeviceId) -> Result<bool, StoreError> {
        let mut tx = self.0.begin_write().await?;
        // The device row goes last: whether it existed is the answer.
        let mut deleted = 0;
        for sql in [
            "DELETE FROM tokens WHERE tenant_id = $1 AND device_id = $2",
            "DELETE FROM auth_sets WHERE tenant_id = $1 AND device_id = $2",
            "DELETE FROM devices WHERE tenant_id = $1 AND id = $2",
        ] {
            deleted = query(sql).bind(tenant).bind(id).execute(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(deleted > 0)
    }

    async fn save_token(&self, token: &TokenRecord) -> Result<(), StoreError> {
        let mut tx = self.0.begin_write().await?;
        query(
            "INSERT INTO tokens (id, tenant_id, device_id, issued_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (id) DO UPDATE SET tenant_id = excluded.tenant_id, \
             device_id = excluded.device_id, issued_at = excluded.issued_at, \
             expires_at = excluded.expires_at",
        )
        .bind(&token.id)
        .bind(&token.tenant_id)
        .bind(&token.device_id)
        .bind(token.issued_at.unix_secs())
        .bind(token.expires_at.unix_secs())
        .execute(&mut tx)
        .await?;
        query("UPDATE devices SET check_in_time = $1 WHERE id = $2")
            .bind(token.issued_at.unix_secs())
            .bind(&token.device_id)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn token_state(&self, jti: &TokenId) -> Result<Option<TokenState>, StoreError> {
        let row: Option<TokenStateRow> = query(
            "SELECT t.device_id, t.tenant_id, a.status, d.decommissioning, d.check_in_time \
             FROM tokens t JOIN auth_sets a ON a.id = t.id JOIN devices d ON d.id = a.device_id \
             WHERE t.id = $1",
        )
        .bind(jti)
        .fetch_optional(&self.0)
        .await?;
        Ok(row.map(TokenStateRow::into_state).transpose()?)
    }

    async fn delete_token(&self, tenant: &TenantId, jti: &TokenId) -> Result<bool, StoreError> {
        let n = query("DELETE FROM tokens WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(jti)
            .execute(&self.0)
            .await?;
        Ok(n > 0)
    }

    async fn delete_tokens(
        &self,
        tenant: &TenantId,
        device_id: Option<&DeviceId>,
    ) -> Result<u64, StoreError> {
        let mut q = QueryBuilder::new(self.0.dialect(), "DELETE FROM tokens WHERE tenant_id = ");
        q.push_bind(tenant);
        if let Some(d) = device_id {
            q.push(" AND device_id = ").push_bind(d);
        }
        Ok(q.build().execute(&self.0).await?)
    }

    async fn set_check_in(
        &self,
        tenant: &TenantId,
        device_id: &DeviceId,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        query("UPDATE devices SET check_in_time = $1 WHERE tenant_id = $2 AND id = $3")
            .bind(now.unix_secs())
            .bind(tenant)
            .bind(device_id)
            .execute(&self.0)
            .await?;
        Ok(())
    }

    async fn get_limit(&self, tenant: &TenantId, name: &str) -> Result<Option<u64>, StoreError> {
        Ok(mender_db::get_limit(&self.0, tenant.as_str(), name).await?)
    }

    async fn put_limit(&self, tenant: &TenantId, name: &str, value: u64) -> Result<(), StoreError> {
        Ok(mender_db::put_limit(&self.0, tenant.as_str(), name, value).await?)
    }

    async fn delete_limit(&self, tenant: &TenantId, name: &str) -> Result<(), StoreError> {
        query("DELETE FROM limits WHERE tenant_id = $1 AND name = $2")
            .bind(tenant)
            .bind(name)
            .execute(&self.0)
            .await?;
        Ok(())
    }
}
