//! Row types of the deviceauth tables and their decoding into domain types: times are unix
//! seconds, statuses their wire names.

use mender_core::{AuthSetId, DeviceId, TenantId, Timestamp};
use mender_db::Error;

use crate::crypto::KeyInfo;
use crate::model::{AuthSet, Device, Status, TokenState};

/// The device columns [`DeviceRow`] reads.
pub(super) const DEVICE_SELECT: &str = "SELECT id, tenant_id, id_data, id_data_sha256, status, \
     decommissioning, created_ts, updated_ts, check_in_time, revision, provisioned FROM devices";
/// The auth set columns [`SetRow`] reads.
pub(super) const SET_SELECT: &str =
    "SELECT id, device_id, id_data, id_data_sha256, pubkey, status, ts FROM auth_sets";

/// A `devices` row.
#[derive(sqlx::FromRow)]
pub(super) struct DeviceRow {
    #[sqlx(try_from = "String")]
    id: DeviceId,
    #[sqlx(try_from = "String")]
    tenant_id: TenantId,
    id_data: String,
    id_data_sha256: String,
    status: String,
    decommissioning: bool,
    created_ts: i64,
    updated_ts: i64,
    check_in_time: Option<i64>,
    revision: i64,
    provisioned: bool,
}

impl DeviceRow {
    /// The device, without its auth sets.
    pub(super) fn into_device(self) -> Result<Device, Error> {
        Ok(Device {
            id: self.id,
            tenant_id: self.tenant_id,
            id_data: self.id_data,
            id_data_sha256: self.id_data_sha256,
            status: status_of(&self.status)?,
            decommissioning: self.decommissioning,
            created_ts: Timestamp::from_unix_secs(self.created_ts),
            updated_ts: Timestamp::from_unix_secs(self.updated_ts),
            check_in_time: self.check_in_time.map(Timestamp::from_unix_secs),
            revision: self.revision,
            provisioned: self.provisioned,
            auth_sets: Vec::new(),
        })
    }
}

/// An `auth_sets` row.
#[derive(sqlx::FromRow)]
pub(super) struct SetRow {
    #[sqlx(try_from = "String")]
    id: AuthSetId,
    #[sqlx(try_from = "String")]
    device_id: DeviceId,
    id_data: String,
    id_data_sha256: String,
    pubkey: String,
    status: String,
    ts: i64,
}

impl SetRow {
    pub(super) fn into_set(self) -> Result<AuthSet, Error> {
        Ok(AuthSet {
            id: self.id,
            device_id: self.device_id,
            id_data: self.id_data,
            id_data_sha256: self.id_data_sha256,
            status: status_of(&self.status)?,
            ts: Timestamp::from_unix_secs(self.ts),
            key: KeyInfo::of_pem(&self.pubkey),
            pubkey: self.pubkey,
        })
    }
}

/// A token joined with its auth set and device: what verification needs.
#[derive(sqlx::FromRow)]
pub(super) struct TokenStateRow {
    #[sqlx(try_from = "String")]
    device_id: DeviceId,
    #[sqlx(try_from = "String")]
    tenant_id: TenantId,
    status: String,
    decommissioning: bool,
    check_in_time: Option<i64>,
}

impl TokenStateRow {
    pub(super) fn into_state(self) -> Result<TokenState, Error> {
        Ok(TokenState {
            device_id: self.device_id,
            tenant_id: self.tenant_id,
            auth_set_status: status_of(&self.status)?,
            decommissioning: self.decommissioning,
            check_in_time: self.check_in_time.map(Timestamp::from_unix_secs),
        })
    }
}

/// A status by its wire name; an unknown one is a decoding error.
pub(super) fn status_of(s: &str) -> Result<Status, Error> {
    Status::parse(s).ok_or_else(|| Error::decode(format!("unknown status {s:?}")))
}

/// Decodes auth set rows.
pub(super) fn sets_from(rows: Vec<SetRow>) -> Result<Vec<AuthSet>, Error> {
    rows.into_iter().map(SetRow::into_set).collect()
}

/// Converts a count or limit to `u64`; the columns never hold negative values.
pub(super) fn unsigned(n: i64) -> u64 {
    u64::try_from(n).unwrap_or_default()
}

/// Converts a limit or offset to `i64`, saturating.
pub(super) fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
