//! deviceauth operations, named after upstream's: submitting auth requests, admitting and
//! dismissing devices, preauthorization, decommissioning, tokens and limits. Knows no HTTP.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use mender_api::workflows::WorkflowStarter;
use mender_core::jwt::{KeySet, SigningKey};
use mender_core::limit::{Rate, RateLimiter, addr_key};
use mender_core::{
    AuthSetId, DeviceId, Secret, SharedClock, TenantId, Timestamp, TokenId, failpoint,
};
use mender_queue::outbox::{OutboxMessage, OutboxSignal};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::DeviceauthConfig;
use crate::canon;
use crate::crypto::{DeviceKey, KeyError};
use crate::error::{Error, Result};
use crate::model::{Device, DeviceFilter, LIMIT_MAX_DEVICES, NewDevice, Status, TokenState};
use crate::store::{
    AuthRecord, DeviceBrief, DeviceauthStore, Dismissal, PendingCaps, Preauth, StatusChange,
    StoreError, Transition,
};
use crate::token;

/// Who a request acts for: the tenant (empty in the open-source server) and the request id
/// passed on to workflows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ctx {
    /// Tenant id.
    pub tenant: TenantId,
    /// `X-MEN-RequestID`.
    pub request_id: String,
}

/// Minimum time between two check-in time writes for one device, so that token
/// verification does not write on every device request.
const CHECK_IN_RESOLUTION: Duration = Duration::from_secs(60);

/// Seconds per day: inventory hears of a check-in once per UTC day.
const DAY_SECS: i64 = 86_400;

/// The auth request body (`id_data` is a string holding JSON). A missing or `null` field is
/// blank, as in upstream's Go decoding, and reported by the checks that follow.
#[derive(Debug, Deserialize)]
struct AuthRequestBody {
    #[serde(default)]
    id_data: Option<String>,
    #[serde(default)]
    pubkey: Option<String>,
    #[serde(default)]
    #[allow(dead_code)] // Accepted and ignored in the open-source server, as upstream.
    tenant_token: Option<Secret>,
}

/// The preauthorization body. Missing fields are blank, as in upstream's Go decoding, so that
/// they are reported as upstream reports them.
#[derive(Debug, Deserialize)]
pub struct PreauthRequest {
    /// Identity attributes (a JSON object).
    #[serde(default)]
    pub identity_data: Value,
    /// PEM public key (`null` reads as blank, as in Go).
    #[serde(default)]
    pub pubkey: Option<String>,
    /// Add the key even if the identity exists.
    #[serde(default)]
    pub force: bool,
}

/// The deviceauth service logic.
pub struct App {
    store: Arc<dyn DeviceauthStore>,
    clock: SharedClock,
    key: SigningKey,
    keys: KeySet,
    config: DeviceauthConfig,
    workflows: Arc<dyn WorkflowStarter>,
    outbox: OutboxSignal,
    /// Auth requests per client address; `None` when switched off.
    auth_limit: Option<RateLimiter<IpAddr>>,
}

/// The failpoint right after an accept committed (the device and its `provision_device`
/// outbox row), before the relay has started the workflow.
pub const FAILPOINT_AFTER_ACCEPT: &str = "after-accept-commit";
/// The failpoint right after a decommission committed, before its workflow started.
pub const FAILPOINT_AFTER_DECOMMISSION: &str = "after-decommission-commit";

fn new_id() -> String {
    // Time-ordered UUIDs keep "oldest first" listings stable within one second.
    uuid::Uuid::now_v7().to_string()
}

/// A device to create with fresh ids, from its canonical identity and its key.
fn new_device(id: canon::Canonical, key: &DeviceKey) -> NewDevice {
    NewDevice {
        device_id: new_id().into(),
        auth_set_id: new_id().into(),
        id_data: id.text,
        id_data_sha256: id.sha256,
        pubkey: key.normalized_pem(),
    }
}

/// `Ok` when the store found the record to act on, else 404 saying `what` was not found.
fn found(found: bool, what: &str) -> Result<()> {
    if found {
        Ok(())
    } else {
        Err(Error::NotFound(format!("{what} not found")))
    }
}

fn auth_set_not_found() -> Error {
    Error::NotFound("authorization set not found".into())
}

/// A store failure on one auth set of a device: a missing set is a 404 of its own.
fn auth_set_error(e: StoreError) -> Error {
    match e {
        StoreError::NotFound => auth_set_not_found(),
        e => e.into(),
    }
}

impl App {
    /// Builds the logic over a store, a clock, a signing key, a workflow starter (for the
    /// best-effort starts) and the signal of the outbox relay (for the others).
    pub fn new(
        store: Arc<dyn DeviceauthStore>,
        clock: SharedClock,
        key: SigningKey,
        config: DeviceauthConfig,
        workflows: Arc<dyn WorkflowStarter>,
        outbox: OutboxSignal,
    ) -> Self {
        let keys = KeySet::single(key.verifying_key());
        let auth_limit = (config.auth_requests_per_minute > 0).then(|| {
            let rate = Rate {
                burst: config.auth_requests_burst,
                per_minute: config.auth_requests_per_minute,
            };
            RateLimiter::new(clock.clone(), rate, config.auth_requests_tracked_addresses)
        });
        Self {
            auth_limit,
            store,
            clock,
            key,
            keys,
            config,
            workflows,
            outbox,
        }
    }

    /// Parses a device key and applies the configured minimum strength: the one check that
    /// auth requests and preauthorization share, so that they refuse the same keys with the
    /// same message.
    fn device_key(&self, pem: &str) -> Result<DeviceKey, KeyError> {
        let key = DeviceKey::from_pem(pem)?;
        self.config.key_policy().check(key.info())?;
        Ok(key)
    }

    /// The current time in whole seconds: what the store keeps, tokens carry and inventory
    /// is told.
    fn now_secs(&self) -> Timestamp {
        self.clock.now().trunc_secs()
    }

    /// Checks the database.
    pub async fn health(&self) -> Result<()> {
        self.store.ping().await.map_err(Error::from)
    }

    /// Counts an auth request from client address `from` against its rate limit;
    /// [`Error::TooManyRequests`] when it is spent. Called before the request is read, so a
    /// flood costs no parsing, signature checks or database work.
    pub fn admit_auth_request(&self, from: IpAddr) -> Result<()> {
        match &self.auth_limit {
            Some(limit) => limit.check(addr_key(from)).map_err(Error::TooManyRequests),
            None => Ok(()),
        }
    }

    /// Identity data larger than configured is refused, before anything is stored.
    fn check_id_size(&self, id: &canon::Canonical, field: &str) -> std::result::Result<(), String> {
        let max = self.config.max_id_data_bytes;
        if id.text.len() > max {
            return Err(format!("{field}: must be at most {max} bytes"));
        }
        Ok(())
    }

    /// Processes a signed auth request: the raw body and the `X-MEN-Signature` header.
    /// Returns a token once the device's auth set is accepted.
    ///
    /// As in upstream's next release (unlike 4.1), the signature is checked before anything
    /// is written, so a forged request leaves no trace.
    pub async fn submit_auth_request(
        &self,
        ctx: &Ctx,
        body: &[u8],
        signature: Option<&str>,
    ) -> Result<Secret> {
        let req: AuthRequestBody = if body.iter().all(u8::is_ascii_whitespace) {
            // Go's json.Unmarshal on nothing.
            Err("unexpected end of JSON input".to_owned())
        } else {
            serde_json::from_slice(body).map_err(|e| e.to_string())
        }
        .map_err(|e| Error::BadRequest(format!("failed to decode auth request: {e}")))?;
        let invalid = |m: &str| Error::BadRequest(format!("invalid auth request: {m}"));
        let id_data = req.id_data.unwrap_or_default();
        if id_data.is_empty() {
            return Err(invalid("id_data must be provided"));
        }
        let pubkey = req.pubkey.unwrap_or_default();
        if pubkey.is_empty() {
            return Err(invalid("pubkey must be provided"));
        }
        let key = self
            .device_key(&pubkey)
            .map_err(|e| invalid(&e.to_string()))?;
        let id = canon::canonicalize_str(&id_data).map_err(|e| invalid(&e.to_string()))?;
        self.check_id_size(&id, "id_data")
            .map_err(|e| invalid(&e))?;
        let signature = signature
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| Error::BadRequest("missing request signature header".into()))?;
        if !key.verify(signature, body) {
            return Err(Error::Unauthorized("signature verification failed".into()));
        }
        let new = new_device(id, &key);
        let unauthorized = || Error::Unauthorized("dev auth: unauthorized".into());

        // A preauthorized (identity, key) pair is admitted on its first request.
        if let Some(set) = self
            .store
            .find_auth_set(&ctx.tenant, &new.id_data_sha256, &new.pubkey)
            .await?
            && set.status == Status::Preauthorized
        {
            let device = self
                .store
                .get_device(&ctx.tenant, &set.device_id)
                .await?
                .ok_or_else(unauthorized)?;
            if device.decommissioning {
                return Err(unauthorized());
            }
            let admit = Transition {
                to: Status::Accepted,
                allowed_from: &[Status::Preauthorized],
                max_devices: self.max_devices(&ctx.tenant).await?,
            };
            let effects = |c: &StatusChange| status_change_effects(ctx, c);
            match self
                .store
                .set_auth_set_status(
                    &ctx.tenant,
                    &set.device_id,
                    &set.id,
                    admit,
                    self.now_secs(),
                    &effects,
                )
                .await
            {
                Err(StoreError::LimitReached) => {
                    return Err(Error::Unauthorized("unauthorized".into()));
                }
                other => other?,
            };
            self.committed(Some(FAILPOINT_AFTER_ACCEPT));
            return self
                .issue_token(ctx, &set.id, &set.device_id, device.check_in_time)
                .await;
        }

        match self
            .store
            .record_auth_request(&ctx.tenant, &new, self.now_secs(), self.pending_caps())
            .await?
        {
            AuthRecord::Decommissioning => Err(unauthorized()),
            AuthRecord::TooManyPending => Err(Error::TooManyPending),
            AuthRecord::Recorded {
                device,
                auth_set,
                device_created,
                previous_status,
            } => {
                if device_created {
                    self.inventory_identity(ctx, &device).await?;
                }
                if let Some(prev) = previous_status {
                    self.status_changed(ctx, &device, prev).await?;
                }
                if auth_set.status == Status::Accepted {
                    self.issue_token(ctx, &auth_set.id, &device.id, device.check_in_time)
                        .await
                } else {
                    Err(unauthorized())
                }
            }
        }
    }

    fn pending_caps(&self) -> PendingCaps {
        PendingCaps {
            sets_per_device: self.config.max_pending_auth_sets_per_device,
            devices: self.config.max_pending_devices,
        }
    }

    async fn issue_token(
        &self,
        ctx: &Ctx,
        auth_set_id: &AuthSetId,
        device_id: &DeviceId,
        last: Option<Timestamp>,
    ) -> Result<Secret> {
        let now = self.now_secs();
        let subject = token::Subject {
            auth_set_id,
            device_id,
            tenant: &ctx.tenant,
        };
        let (raw, record) = token::issue(
            &self.key,
            &self.config.jwt_issuer,
            self.config.jwt_exp_timeout,
            subject,
            now,
        )?;
        self.store.save_token(&record).await?;
        self.sync_check_in(ctx, device_id, last, now).await;
        Ok(raw)
    }

    /// Verifies a device token: stateless checks, then one lookup of the token, its auth set
    /// and its device. Returns the claims and the token state.
    pub async fn verify_token(
        &self,
        ctx: &Ctx,
        raw: &Secret,
    ) -> Result<(token::Checked, TokenState)> {
        let checked = token::check(&self.keys, raw, self.clock.now())?;
        let unauthorized = || Error::Unauthorized("unauthorized".into());
        let state = self
            .store
            .token_state(&checked.jti)
            .await?
            .ok_or_else(unauthorized)?;
        if state.auth_set_status != Status::Accepted
            || state.decommissioning
            || state.device_id != checked.sub
            || state.tenant_id != checked.tenant
        {
            return Err(unauthorized());
        }
        let now = self.now_secs();
        if state
            .check_in_time
            .is_none_or(|t| now.since(t) >= CHECK_IN_RESOLUTION)
        {
            let ctx = Ctx {
                tenant: state.tenant_id.clone(),
                ..ctx.clone()
            };
            if let Err(e) = self
                .store
                .set_check_in(&ctx.tenant, &state.device_id, now)
                .await
            {
                tracing::warn!(error = %e, "cannot record device check-in");
            }
            self.sync_check_in(&ctx, &state.device_id, state.check_in_time, now)
                .await;
        }
        Ok((checked, state))
    }

    /// Tells inventory the check-in time when the day changed, as upstream does without a cache.
    async fn sync_check_in(
        &self,
        ctx: &Ctx,
        device_id: &DeviceId,
        last: Option<Timestamp>,
        now: Timestamp,
    ) {
        let day = |t: Timestamp| t.unix_secs().div_euclid(DAY_SECS);
        if last.is_some_and(|t| day(t) == day(now)) {
            return;
        }
        let attrs = json!([{"name": "check_in_time", "value": now, "scope": "system"}]);
        let inputs = json!({
            "request_id": ctx.request_id,
            "tenant_id": ctx.tenant,
            "device_id": device_id,
            "scope": "system",
            "attributes": attrs.to_string(),
        });
        if let Err(e) = self
            .workflows
            .start_workflow("update_device_inventory", inputs)
            .await
        {
            // Best effort, as upstream: the check-in is recorded here either way.
            tracing::warn!(error = %e, "cannot sync check-in time to inventory");
        }
    }

    /// Devices matching `filter`; the second value says whether more follow.
    pub async fn list_devices(
        &self,
        ctx: &Ctx,
        filter: &DeviceFilter,
        skip: u64,
        per_page: u64,
    ) -> Result<(Vec<Device>, bool)> {
        let mut devices = self
            .store
            .list_devices(&ctx.tenant, filter, skip, per_page + 1)
            .await?;
        let has_next = devices.len() as u64 > per_page;
        devices.truncate(per_page as usize);
        Ok((devices, has_next))
    }

    /// One device.
    pub async fn get_device(&self, ctx: &Ctx, id: &DeviceId) -> Result<Device> {
        self.store
            .get_device(&ctx.tenant, id)
            .await?
            .ok_or_else(|| Error::NotFound("device not found".into()))
    }

    /// Device count, optionally of one status.
    pub async fn count_devices(&self, ctx: &Ctx, status: Option<Status>) -> Result<u64> {
        Ok(self.store.count_devices(&ctx.tenant, status).await?)
    }

    /// Starts decommissioning: the device's tokens stop working at once and the
    /// `decommission_device` workflow removes it from every service.
    pub async fn decommission_device(&self, ctx: &Ctx, id: &DeviceId) -> Result<()> {
        let marked = self
            .store
            .set_decommissioning(
                &ctx.tenant,
                id,
                self.now_secs(),
                &[decommission_message(ctx, id)],
            )
            .await?;
        found(marked, "device")?;
        self.committed(Some(FAILPOINT_AFTER_DECOMMISSION));
        Ok(())
    }

    /// Upstream's internal device update (next release): records whether the device has been
    /// provisioned. `Error::NotFound` if the device does not exist in the tenant.
    pub async fn update_device(
        &self,
        ctx: &Ctx,
        id: &DeviceId,
        provisioned: Option<bool>,
    ) -> Result<()> {
        let updated = self
            .store
            .update_device(&ctx.tenant, id, provisioned, self.now_secs())
            .await?;
        found(updated, "device")
    }

    /// Deletes a device and its auth sets and tokens (the last step of decommissioning).
    pub async fn delete_device(&self, ctx: &Ctx, id: &DeviceId) -> Result<()> {
        found(self.store.delete_device(&ctx.tenant, id).await?, "device")
    }

    /// Status of one auth set of a device.
    pub async fn auth_set_status(
        &self,
        ctx: &Ctx,
        device_id: &DeviceId,
        auth_set_id: &AuthSetId,
    ) -> Result<Status> {
        match self.store.get_auth_set(&ctx.tenant, auth_set_id).await? {
            Some(set) if set.device_id == *device_id => Ok(set.status),
            _ => Err(auth_set_not_found()),
        }
    }

    /// Accepts, rejects or resets (pending) an auth set, with upstream's transition rules.
    pub async fn set_auth_set_status(
        &self,
        ctx: &Ctx,
        device_id: &DeviceId,
        auth_set_id: &AuthSetId,
        status: Status,
    ) -> Result<()> {
        let allowed_from: &[Status] = match status {
            Status::Accepted => &[Status::Pending, Status::Rejected],
            Status::Rejected => &[Status::Pending, Status::Accepted],
            Status::Pending => &[Status::Accepted, Status::Rejected],
            Status::Preauthorized | Status::Noauth => {
                return Err(Error::BadRequest("incorrect device status".into()));
            }
        };
        let max_devices = if status == Status::Accepted {
            self.max_devices(&ctx.tenant).await?
        } else {
            0
        };
        let transition = Transition {
            to: status,
            allowed_from,
            max_devices,
        };
        let effects = |c: &StatusChange| status_change_effects(ctx, c);
        self.store
            .set_auth_set_status(
                &ctx.tenant,
                device_id,
                auth_set_id,
                transition,
                self.now_secs(),
                &effects,
            )
            .await
            .map_err(auth_set_error)?;
        self.committed((status == Status::Accepted).then_some(FAILPOINT_AFTER_ACCEPT));
        Ok(())
    }

    /// Dismisses (deletes) an auth set.
    pub async fn dismiss_auth_set(
        &self,
        ctx: &Ctx,
        device_id: &DeviceId,
        auth_set_id: &AuthSetId,
    ) -> Result<()> {
        let effects = |outcome: &Dismissal| match outcome {
            // A preauthorized device was never provisioned, but inventory indexes it:
            // upstream's special status "decommissioned" makes inventory drop it.
            Dismissal::DeviceDeleted => vec![status_message(ctx, device_id, 0, "decommissioned")],
            Dismissal::SetRemoved {
                device,
                previous_device_status,
            } => status_changed_message(ctx, device, *previous_device_status)
                .into_iter()
                .collect(),
        };
        self.store
            .delete_auth_set(
                &ctx.tenant,
                device_id,
                auth_set_id,
                self.now_secs(),
                &effects,
            )
            .await
            .map_err(auth_set_error)?;
        self.committed(None);
        Ok(())
    }

    /// Preauthorizes an identity with a key. `Error::Conflict` carries the existing device.
    pub async fn preauthorize(&self, ctx: &Ctx, req: &PreauthRequest) -> Result<Device> {
        let bad = |m: String| Error::BadRequest(format!("failed to decode preauth request: {m}"));
        // Upstream's order: required fields (reported together, as ozzo does), then the key,
        // then the identity.
        let pubkey = req.pubkey.as_deref().unwrap_or_default();
        let no_identity = match &req.identity_data {
            Value::Null => true,
            Value::Object(map) => map.is_empty(),
            _ => false,
        };
        let blank: Vec<&str> = [
            ("identity_data: cannot be blank", no_identity),
            ("pubkey: cannot be blank", pubkey.is_empty()),
        ]
        .into_iter()
        .filter_map(|(m, b)| b.then_some(m))
        .collect();
        if !blank.is_empty() {
            return Err(bad(format!("{}.", blank.join("; "))));
        }
        let key = self.device_key(pubkey).map_err(|e| bad(e.to_string()))?;
        let id = canon::canonicalize_value(&req.identity_data).map_err(|e| bad(e.to_string()))?;
        self.check_id_size(&id, "identity_data").map_err(bad)?;
        let new = new_device(id, &key);
        let effects = |outcome: &Preauth| match outcome {
            Preauth::Created(device) => status_changed_message(ctx, device, Status::Noauth)
                .into_iter()
                .chain([identity_message(ctx, device)])
                .collect(),
            Preauth::Conflict(_) => Vec::new(),
            Preauth::Forced {
                device,
                previous_device_status,
            } => status_changed_message(ctx, device, *previous_device_status)
                .into_iter()
                .collect(),
        };
        let outcome = self
            .store
            .preauthorize(&ctx.tenant, &new, req.force, self.now_secs(), &effects)
            .await?;
        self.committed(None);
        match outcome {
            Preauth::Created(device) | Preauth::Forced { device, .. } => Ok(device),
            Preauth::Conflict(device) => Err(Error::Conflict(Box::new(device))),
        }
    }

    /// Revokes one token (by `jti`).
    pub async fn revoke_token(&self, ctx: &Ctx, jti: &TokenId) -> Result<()> {
        found(self.store.delete_token(&ctx.tenant, jti).await?, "token")
    }

    /// Deletes the tokens of one device or of a whole tenant.
    pub async fn delete_tokens(
        &self,
        tenant: &TenantId,
        device_id: Option<&DeviceId>,
    ) -> Result<()> {
        self.store.delete_tokens(tenant, device_id).await?;
        Ok(())
    }

    /// The effective device limit of a tenant (0 = unlimited).
    pub async fn max_devices(&self, tenant: &TenantId) -> Result<u64> {
        Ok(self
            .store
            .get_limit(tenant, LIMIT_MAX_DEVICES)
            .await?
            .unwrap_or(self.config.max_devices))
    }

    /// Sets a tenant's device limit.
    pub async fn set_max_devices(&self, tenant: &TenantId, value: u64) -> Result<()> {
        Ok(self
            .store
            .put_limit(tenant, LIMIT_MAX_DEVICES, value)
            .await?)
    }

    /// Removes a tenant's device limit (the configured default applies again).
    pub async fn delete_max_devices(&self, tenant: &TenantId) -> Result<()> {
        Ok(self.store.delete_limit(tenant, LIMIT_MAX_DEVICES).await?)
    }

    /// Reconciling with other services: every device of every tenant, briefly.
    pub async fn device_briefs(&self) -> Result<Vec<DeviceBrief>> {
        Ok(self.store.device_briefs().await?)
    }

    /// Repairs an accepted device that inventory lacks (drift from a crash before the
    /// outbox): queues `provision_device` and its identity attributes through the outbox,
    /// unless it is no longer accepted or provisioning is already waiting there. Whether it
    /// queued anything.
    pub async fn reprovision(&self, ctx: &Ctx, id: &DeviceId) -> Result<bool> {
        let Some(device) = self.store.get_device(&ctx.tenant, id).await? else {
            return Ok(false);
        };
        if device.status != Status::Accepted
            || device.decommissioning
            || self
                .store
                .outbox_has("provision_device", id.as_str())
                .await?
        {
            return Ok(false);
        }
        let messages = [
            provision_message(ctx, &device),
            identity_message(ctx, &device),
        ];
        self.store.push_outbox(&messages, self.now_secs()).await?;
        self.committed(None);
        Ok(true)
    }

    /// Repairs a device left marked for decommissioning without its workflow (drift from a
    /// crash before the outbox): queues `decommission_device` again unless it is waiting in
    /// the outbox. Whether it queued anything.
    pub async fn redecommission(&self, ctx: &Ctx, id: &DeviceId) -> Result<bool> {
        let Some(device) = self.store.get_device(&ctx.tenant, id).await? else {
            return Ok(false);
        };
        if !device.decommissioning
            || self
                .store
                .outbox_has("decommission_device", id.as_str())
                .await?
        {
            return Ok(false);
        }
        self.store
            .push_outbox(&[decommission_message(ctx, id)], self.now_secs())
            .await?;
        self.committed(None);
        Ok(true)
    }

    /// After a write that may have put rows in the outbox: passes `failpoint` (the crash tests'
    /// window between the commit and the workflow start) and wakes the relay.
    fn committed(&self, failpoint: Option<&str>) {
        if let Some(name) = failpoint {
            failpoint::hit(name);
        }
        self.outbox.notify();
    }

    /// Starts a workflow at once (the auth-request path, which does not go through the outbox).
    async fn start(&self, message: OutboxMessage) -> Result<()> {
        let name = message.workflow;
        self.workflows
            .start_workflow(name, message.inputs)
            .await
            .map(|_| ())
            .map_err(|e| Error::Workflow {
                name,
                cause: e.to_string(),
            })
    }

    /// `update_device_status` when the device status changed.
    async fn status_changed(&self, ctx: &Ctx, device: &Device, previous: Status) -> Result<()> {
        match status_changed_message(ctx, device, previous) {
            Some(m) => self.start(m).await,
            None => Ok(()),
        }
    }

    /// `update_device_inventory` with the identity attributes of a new device.
    async fn inventory_identity(&self, ctx: &Ctx, device: &Device) -> Result<()> {
        self.start(identity_message(ctx, device)).await
    }
}

/// The workflows a status change of an auth set asks for: `update_device_status` when the
/// device status changed, and `provision_device` when the device became accepted and was not
/// provisioned before (upstream's next release skips it once the workflow has set
/// `provisioned`).
fn status_change_effects(ctx: &Ctx, change: &StatusChange) -> Vec<OutboxMessage> {
    let mut out: Vec<OutboxMessage> =
        status_changed_message(ctx, &change.device, change.previous_device_status)
            .into_iter()
            .collect();
    if change.device.status == Status::Accepted
        && change.previous_set_status != Status::Accepted
        && change.previous_device_status != Status::Accepted
        && !change.device.provisioned
    {
        out.push(provision_message(ctx, &change.device));
    }
    out
}

/// `update_device_status` for one device.
fn status_message(ctx: &Ctx, id: &DeviceId, revision: i64, status: &str) -> OutboxMessage {
    OutboxMessage::new(
        "update_device_status",
        id.as_str(),
        json!({
            "request_id": ctx.request_id,
            "devices": [{"id": id, "revision": revision}],
            "device_status": status,
            "tenant_id": ctx.tenant,
        }),
    )
}

/// `update_device_status` if the device status differs from `previous`.
fn status_changed_message(ctx: &Ctx, device: &Device, previous: Status) -> Option<OutboxMessage> {
    (device.status != previous)
        .then(|| status_message(ctx, &device.id, device.revision, device.status.as_str()))
}

/// `update_device_inventory` with the identity attributes of a device (`status` is skipped:
/// in the identity scope it means the admission status).
pub(crate) fn identity_message(ctx: &Ctx, device: &Device) -> OutboxMessage {
    let attrs: Vec<Value> = match crate::model::identity_value(&device.id_data) {
        Value::Object(map) => map
            .into_iter()
            .filter(|(k, _)| k != "status")
            .map(|(name, value)| json!({"name": name, "value": value, "scope": "identity"}))
            .collect(),
        _ => Vec::new(),
    };
    OutboxMessage::new(
        "update_device_inventory",
        device.id.as_str(),
        json!({
            "request_id": ctx.request_id,
            "tenant_id": ctx.tenant,
            "device_id": device.id,
            "scope": "identity",
            // Upstream passes the attributes as a JSON string: the workflow sends it as the body.
            "attributes": Value::Array(attrs).to_string(),
        }),
    )
}

/// `provision_device` for an accepted device.
pub(crate) fn provision_message(ctx: &Ctx, device: &Device) -> OutboxMessage {
    // A device is strings, numbers and timestamps: serializing it cannot fail.
    let device_json = serde_json::to_value(device).unwrap_or_else(|e| {
        tracing::error!(error = %e, "cannot encode a device for provision_device");
        Value::Null
    });
    OutboxMessage::new(
        "provision_device",
        device.id.as_str(),
        json!({
            "request_id": ctx.request_id,
            "device_id": device.id,
            "tenant_id": ctx.tenant,
            "device": device_json,
            "status": device.status.as_str(),
        }),
    )
}

/// `decommission_device` for a device.
pub(crate) fn decommission_message(ctx: &Ctx, id: &DeviceId) -> OutboxMessage {
    OutboxMessage::new(
        "decommission_device",
        id.as_str(),
        json!({"request_id": ctx.request_id, "device_id": id, "tenant_id": ctx.tenant}),
    )
}
