//! The statements the store's transactions share: reading a device with its auth sets,
//! inserting devices and sets, recomputing a device's status, dropping its tokens.

use mender_core::{AuthSetId, DeviceId, TenantId};
use mender_db::{Conn, Error, FromRow, QueryBuilder, Tx, query};

use super::rows::{
    DEVICE_SELECT, DeviceRow, SET_SELECT, SetRow, sets_from, signed, status_of, unsigned,
};
use crate::model::{AuthSet, Device, NewDevice, Status};
use crate::store::{AUTH_SETS_READ_PER_DEVICE, StoreError};

/// The auth sets of these devices, oldest first, at most [`AUTH_SETS_READ_PER_DEVICE`] per
/// device: the accepted and preauthorized ones, then the newest others.
pub(super) async fn sets_of<'a>(
    tx: &mut Tx,
    device_ids: impl IntoIterator<Item = &'a DeviceId>,
) -> Result<Vec<AuthSet>, Error> {
    let mut q = QueryBuilder::new(
        tx.dialect(),
        "SELECT id, device_id, id_data, id_data_sha256, pubkey, status, ts FROM (\
         SELECT id, device_id, id_data, id_data_sha256, pubkey, status, ts, ROW_NUMBER() OVER (\
         PARTITION BY device_id ORDER BY \
         CASE WHEN status IN ('accepted', 'preauthorized') THEN 0 ELSE 1 END, ts DESC, id DESC\
         ) AS n FROM auth_sets WHERE device_id IN (",
    );
    q.push_list(device_ids)
        .push(")) AS ranked WHERE n <= ")
        .push_bind(signed(AUTH_SETS_READ_PER_DEVICE))
        .push(" ORDER BY ts, id");
    sets_from(q.build().fetch_all(&mut *tx).await?)
}

/// The first row `select` reads where every `(column, value)` of `conditions` holds.
async fn row_where<'c, R: FromRow>(
    on: impl Into<Conn<'c>>,
    select: &'static str,
    conditions: &[(&'static str, &str)],
) -> Result<Option<R>, Error> {
    let on = on.into();
    let mut q = QueryBuilder::new(on.dialect(), select);
    for (i, &(column, value)) in conditions.iter().enumerate() {
        q.push(if i == 0 { " WHERE " } else { " AND " })
            .push(column)
            .push(" = ")
            .push_bind(value);
    }
    q.build().fetch_optional(on).await
}

/// The auth set where every `(column, value)` of `conditions` holds.
pub(super) async fn set_where<'c>(
    on: impl Into<Conn<'c>>,
    conditions: &[(&'static str, &str)],
) -> Result<Option<AuthSet>, Error> {
    row_where::<SetRow>(on, SET_SELECT, conditions)
        .await?
        .map(SetRow::into_set)
        .transpose()
}

/// The device of `tenant` whose `column` (`id` or `id_data_sha256`) is `value`, without its
/// sets.
pub(super) async fn device_row_where(
    tx: &mut Tx,
    tenant: &TenantId,
    column: &'static str,
    value: &str,
) -> Result<Option<Device>, Error> {
    let conditions = [("tenant_id", tenant.as_str()), (column, value)];
    row_where::<DeviceRow>(&mut *tx, DEVICE_SELECT, &conditions)
        .await?
        .map(DeviceRow::into_device)
        .transpose()
}

/// The device of `tenant` whose `column` (`id` or `id_data_sha256`) is `value`, with its sets.
pub(super) async fn device_where(
    tx: &mut Tx,
    tenant: &TenantId,
    column: &'static str,
    value: &str,
) -> Result<Option<Device>, Error> {
    let Some(mut device) = device_row_where(tx, tenant, column, value).await? else {
        return Ok(None);
    };
    device.auth_sets = sets_of(tx, [&device.id]).await?;
    Ok(Some(device))
}

/// Number of pending devices of a tenant.
pub(super) async fn pending_devices(tx: &mut Tx, tenant: &TenantId) -> Result<u64, Error> {
    let n: i64 = query("SELECT COUNT(*) FROM devices WHERE tenant_id = $1 AND status = 'pending'")
        .bind(tenant)
        .scalar(&mut *tx)
        .await?;
    Ok(unsigned(n))
}

/// Deletes the device's oldest pending sets beyond `keep`, never the one with `pubkey`.
pub(super) async fn trim_pending_sets(
    tx: &mut Tx,
    device_id: &DeviceId,
    pubkey: &str,
    keep: u64,
) -> Result<(), Error> {
    let pending: i64 =
        query("SELECT COUNT(*) FROM auth_sets WHERE device_id = $1 AND status = 'pending'")
            .bind(device_id)
            .scalar(&mut *tx)
            .await?;
    let excess = unsigned(pending).saturating_sub(keep);
    if excess > 0 {
        query(
            "DELETE FROM auth_sets WHERE id IN (SELECT id FROM auth_sets \
             WHERE device_id = $1 AND status = 'pending' AND pubkey <> $2 \
             ORDER BY ts, id LIMIT $3)",
        )
        .bind(device_id)
        .bind(pubkey)
        .bind(signed(excess))
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// The device a transaction has just found or written; `NotFound` if it is not there.
pub(super) async fn existing_device(
    tx: &mut Tx,
    tenant: &TenantId,
    id: &DeviceId,
) -> Result<Device, StoreError> {
    device_where(tx, tenant, "id", id.as_str())
        .await?
        .ok_or(StoreError::NotFound)
}

/// Auth set `id` of `tenant`; `NotFound` if there is none.
pub(super) async fn existing_set(
    tx: &mut Tx,
    tenant: &TenantId,
    id: &AuthSetId,
) -> Result<AuthSet, StoreError> {
    set_by_id(&mut *tx, tenant, id)
        .await?
        .ok_or(StoreError::NotFound)
}

pub(super) async fn set_by_id<'c>(
    on: impl Into<Conn<'c>>,
    tenant: &TenantId,
    id: &AuthSetId,
) -> Result<Option<AuthSet>, Error> {
    set_where(on, &[("tenant_id", tenant.as_str()), ("id", id.as_str())]).await
}

/// Recomputes the device status from its sets; on change bumps the revision.
/// Returns the status before.
async fn recompute_status(tx: &mut Tx, device_id: &DeviceId, now: i64) -> Result<Status, Error> {
    let current: String = query("SELECT status FROM devices WHERE id = $1")
        .bind(device_id)
        .scalar(&mut *tx)
        .await?;
    let current = status_of(&current)?;
    let sets: Vec<String> = query("SELECT DISTINCT status FROM auth_sets WHERE device_id = $1")
        .bind(device_id)
        .scalars(&mut *tx)
        .await?;
    let sets = sets
        .iter()
        .map(|s| status_of(s))
        .collect::<Result<Vec<_>, _>>()?;
    let new = Status::of_device(sets);
    if new != current {
        query(
            "UPDATE devices SET status = $1, revision = revision + 1, updated_ts = $2 WHERE id = $3",
        )
        .bind(new.as_str())
        .bind(now)
        .bind(device_id)
        .execute(&mut *tx)
        .await?;
    }
    Ok(current)
}

/// Recomputes the device status after its sets changed; the status before and the device now.
pub(super) async fn settle(
    tx: &mut Tx,
    tenant: &TenantId,
    device_id: &DeviceId,
    now: i64,
) -> Result<(Status, Device), StoreError> {
    let before = recompute_status(tx, device_id, now).await?;
    Ok((before, existing_device(tx, tenant, device_id).await?))
}

pub(super) async fn delete_device_tokens(tx: &mut Tx, device_id: &DeviceId) -> Result<u64, Error> {
    query("DELETE FROM tokens WHERE device_id = $1")
        .bind(device_id)
        .execute(&mut *tx)
        .await
}

/// Inserts the device unless its identity exists; whether it was inserted.
pub(super) async fn insert_device(
    tx: &mut Tx,
    tenant: &TenantId,
    req: &NewDevice,
    status: Status,
    now: i64,
) -> Result<bool, Error> {
    let inserted: Option<String> = query(
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
    .scalar_optional(&mut *tx)
    .await?;
    Ok(inserted.is_some())
}

/// Inserts an auth set unless its (identity, key) pair exists; whether it was inserted.
pub(super) async fn insert_set(
    tx: &mut Tx,
    tenant: &TenantId,
    device_id: &DeviceId,
    req: &NewDevice,
    status: Status,
    now: i64,
) -> Result<bool, Error> {
    let inserted: Option<String> = query(
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
    .scalar_optional(&mut *tx)
    .await?;
    Ok(inserted.is_some())
}
