//! The deviceauth store's contract: [`DeviceauthStore`] over devices, authentication sets,
//! tokens and limits, its result types and [`StoreError`]. Every method that changes more
//! than one row runs in one transaction, so no request leaves a half-written record. A state
//! change that starts workflows takes the workflows to start ([`Effects`]) and writes them to
//! the outbox in the same transaction (`mender_queue::outbox`), so that the change and its
//! workflows commit together. The one implementation is [`SqlStore`].

use async_trait::async_trait;
use mender_core::{AuthSetId, DeviceId, TenantId, Timestamp, TokenId};

use mender_queue::outbox::OutboxMessage;

use crate::model::{AuthSet, Device, DeviceFilter, NewDevice, Status, TokenRecord, TokenState};

mod sql;

pub use sql::SqlStore;

/// Store failures the app layer reacts to; everything else is `Db`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The device or auth set does not exist (in this tenant).
    #[error("not found")]
    NotFound,
    /// The auth set belongs to another device.
    #[error("dev auth: dev ID and auth ID mismatch")]
    Mismatch,
    /// The requested status change is not allowed from the current status.
    #[error("invalid status transition from {0}")]
    InvalidTransition(Status),
    /// Accepting would exceed `max_devices`.
    #[error("maximum number of accepted devices reached")]
    LimitReached,
    /// The database failed, or holds a value the domain refuses (an unknown status).
    #[error(transparent)]
    Db(#[from] mender_db::Error),
}

/// The most auth sets read with one device (in listings, lookups and auth requests): the
/// accepted and preauthorized ones first, then the newest. Pending sets are capped when
/// recorded ([`PendingCaps`]), so only sets that users created (rejected or preauthorized
/// ones) can exceed it; this keeps every read bounded even then.
pub const AUTH_SETS_READ_PER_DEVICE: u64 = 100;

/// Caps applied when recording an auth request; 0 means no cap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PendingCaps {
    /// Pending auth sets one device keeps: a new key beyond it replaces the oldest pending
    /// set (never an accepted, preauthorized or rejected one).
    pub sets_per_device: u64,
    /// Pending devices a tenant may have: beyond it a new identity is not recorded.
    pub devices: u64,
}

/// The result of recording an auth request.
// Returned once per request and never stored, so boxing the device would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum AuthRecord {
    /// The device is being decommissioned: nothing was written.
    Decommissioning,
    /// The identity is new and the tenant has `PendingCaps::devices` pending devices:
    /// nothing was written.
    TooManyPending,
    /// The device and auth set as they are now.
    Recorded {
        /// The device, with its auth sets.
        device: Device,
        /// The auth set matching the request.
        auth_set: AuthSet,
        /// Whether the device was created by this request.
        device_created: bool,
        /// The device status before, if this request changed it.
        previous_status: Option<Status>,
    },
}

/// The result of a status change on an auth set.
#[derive(Debug, Clone)]
pub struct StatusChange {
    /// The device after the change, with its auth sets.
    pub device: Device,
    /// The auth set's status before.
    pub previous_set_status: Status,
    /// The device status before.
    pub previous_device_status: Status,
}

/// The result of dismissing an auth set.
#[derive(Debug, Clone)]
pub enum Dismissal {
    /// The device had only preauthorized data and was deleted with the set.
    DeviceDeleted,
    /// The set was removed; the device remains.
    SetRemoved {
        /// The device after the change.
        device: Device,
        /// The device status before.
        previous_device_status: Status,
    },
}

/// The result of a preauthorization.
#[derive(Debug, Clone)]
pub enum Preauth {
    /// A new device was created with a preauthorized auth set.
    Created(Device),
    /// The identity exists and `force` was not set: nothing was written.
    Conflict(Device),
    /// The identity exists and `force` added (or reset) the preauthorized set.
    Forced {
        /// The device after the change.
        device: Device,
        /// The device status before.
        previous_device_status: Status,
    },
}

/// A requested status change of an auth set, checked and applied in one transaction.
#[derive(Debug, Clone, Copy)]
pub struct Transition<'a> {
    /// The new status.
    pub to: Status,
    /// The statuses the set may be in for the change to be allowed.
    pub allowed_from: &'a [Status],
    /// The tenant's device limit when accepting (0 = unlimited).
    pub max_devices: u64,
}

/// The workflows a write asks for, decided by the app from the write's outcome (which only
/// the store's transaction knows) and written by the store to the outbox before it commits.
pub type Effects<'a, T> = &'a (dyn Fn(&T) -> Vec<OutboxMessage> + Send + Sync);

/// What reconciling with other services needs to know of a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceBrief {
    /// Tenant id.
    pub tenant: TenantId,
    /// Device id.
    pub id: DeviceId,
    /// Device status.
    pub status: Status,
    /// Whether it is being decommissioned.
    pub decommissioning: bool,
}

/// Storage for deviceauth. Tenant ids scope every lookup; the open-source server uses `""`.
#[async_trait]
pub trait DeviceauthStore: Send + Sync {
    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Records an auth request: creates the device (status `noauth`) if its identity is new,
    /// adds a `pending` auth set if the (identity, key) pair is new, drops the device's
    /// oldest pending sets beyond `caps.sets_per_device`, and recomputes the device status.
    /// Writes nothing if the device is being decommissioned, or if the identity is new and
    /// the tenant already has `caps.devices` pending devices.
    async fn record_auth_request(
        &self,
        tenant: &TenantId,
        req: &NewDevice,
        now: Timestamp,
        caps: PendingCaps,
    ) -> Result<AuthRecord, StoreError>;

    /// The auth set with this identity hash and normalised key.
    async fn find_auth_set(
        &self,
        tenant: &TenantId,
        id_data_sha256: &str,
        pubkey: &str,
    ) -> Result<Option<AuthSet>, StoreError>;

    /// An auth set by id.
    async fn get_auth_set(
        &self,
        tenant: &TenantId,
        id: &AuthSetId,
    ) -> Result<Option<AuthSet>, StoreError>;

    /// Moves an auth set of `device_id` to `change.to` if its current status is in
    /// `change.allowed_from` (no-op when already there). Accepting checks `change.max_devices`
    /// unless the device is already accepted, and rejects the device's other accepted sets;
    /// leaving `accepted` deletes the device's tokens. The device status is recomputed.
    async fn set_auth_set_status(
        &self,
        tenant: &TenantId,
        device_id: &DeviceId,
        auth_set_id: &AuthSetId,
        change: Transition<'_>,
        now: Timestamp,
        effects: Effects<'_, StatusChange>,
    ) -> Result<StatusChange, StoreError>;

    /// Removes an auth set; removing an accepted one deletes the device's tokens, removing a
    /// preauthorized one deletes the device when no other set remains.
    async fn delete_auth_set(
        &self,
        tenant: &TenantId,
        device_id: &DeviceId,
        auth_set_id: &AuthSetId,
        now: Timestamp,
        effects: Effects<'_, Dismissal>,
    ) -> Result<Dismissal, StoreError>;

    /// Creates a preauthorized device and auth set, or with `force` adds the set to the
    /// existing device of that identity.
    async fn preauthorize(
        &self,
        tenant: &TenantId,
        req: &NewDevice,
        force: bool,
        now: Timestamp,
        effects: Effects<'_, Preauth>,
    ) -> Result<Preauth, StoreError>;

    /// A device with its auth sets (at most [`AUTH_SETS_READ_PER_DEVICE`]).
    async fn get_device(
        &self,
        tenant: &TenantId,
        id: &DeviceId,
    ) -> Result<Option<Device>, StoreError>;

    /// Devices matching `filter` ordered by status, then id (byte order, as upstream), with
    /// their auth sets (at most [`AUTH_SETS_READ_PER_DEVICE`] each).
    async fn list_devices(
        &self,
        tenant: &TenantId,
        filter: &DeviceFilter,
        skip: u64,
        limit: u64,
    ) -> Result<Vec<Device>, StoreError>;

    /// Number of devices, optionally of one status.
    async fn count_devices(
        &self,
        tenant: &TenantId,
        status: Option<Status>,
    ) -> Result<u64, StoreError>;

    /// Applies an internal update (upstream's `DeviceUpdate`, whose only settable field is
    /// `provisioned`): sets `provisioned` when given, and always bumps the revision and
    /// `updated_ts`. `false` if the device does not exist in the tenant.
    async fn update_device(
        &self,
        tenant: &TenantId,
        id: &DeviceId,
        provisioned: Option<bool>,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Marks a device as decommissioning and writes `effects` to the outbox in the same
    /// transaction; `false` (and nothing written) if it does not exist.
    async fn set_decommissioning(
        &self,
        tenant: &TenantId,
        id: &DeviceId,
        now: Timestamp,
        effects: &[OutboxMessage],
    ) -> Result<bool, StoreError>;

    /// Writes `messages` to the outbox on their own (work a reconciler found missing).
    async fn push_outbox(
        &self,
        messages: &[OutboxMessage],
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// Whether an outbox row of `workflow` about `subject` waits for the relay.
    async fn outbox_has(&self, workflow: &str, subject: &str) -> Result<bool, StoreError>;

    /// Every device of every tenant, ordered by tenant and id: what reconciling with
    /// inventory compares.
    async fn device_briefs(&self) -> Result<Vec<DeviceBrief>, StoreError>;

    /// Deletes a device, its auth sets and tokens; `false` if it does not exist.
    async fn delete_device(&self, tenant: &TenantId, id: &DeviceId) -> Result<bool, StoreError>;

    /// Stores (or replaces) the token of an auth set and records the device's check-in.
    async fn save_token(&self, token: &TokenRecord) -> Result<(), StoreError>;

    /// What verification needs about token `jti`, in one indexed lookup.
    async fn token_state(&self, jti: &TokenId) -> Result<Option<TokenState>, StoreError>;

    /// Deletes one token; `false` if it does not exist.
    async fn delete_token(&self, tenant: &TenantId, jti: &TokenId) -> Result<bool, StoreError>;

    /// Deletes the tokens of a device, or of the whole tenant.
    async fn delete_tokens(
        &self,
        tenant: &TenantId,
        device_id: Option<&DeviceId>,
    ) -> Result<u64, StoreError>;

    /// Records a device check-in time.
    async fn set_check_in(
        &self,
        tenant: &TenantId,
        device_id: &DeviceId,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// A stored limit.
    async fn get_limit(&self, tenant: &TenantId, name: &str) -> Result<Option<u64>, StoreError>;

    /// Stores a limit.
    async fn put_limit(&self, tenant: &TenantId, name: &str, value: u64) -> Result<(), StoreError>;

    /// Removes a limit.
    async fn delete_limit(&self, tenant: &TenantId, name: &str) -> Result<(), StoreError>;
}
