//! Inventory operations, named after upstream's: attribute updates per scope with their
//! limits, tags with ETags, groups, device status updates, listing and searching.
//! Knows nothing of HTTP.

use std::sync::Arc;

use mender_core::{DeviceId, SharedClock, TenantId, Timestamp};
use serde::Deserialize;
use serde_json::Value;

use crate::InventoryConfig;
use crate::error::{Error, Result};
use crate::model::{
    self, ATTR_CREATED, ATTR_GROUP, ATTR_UPDATED, Attribute, Device, DeviceRecord,
    DeviceStatistics, FilterAttribute, SCOPE_IDENTITY, SCOPE_INVENTORY, SCOPE_MONITOR,
    SCOPE_SYSTEM, SCOPE_TAGS, StoredAttr, UpdateResult,
};
use crate::search::{CompiledIdentitySearch, CompiledSearch, ListParams};
use crate::store::{Cond, InventoryStore, Key, Query, Scalar};

/// Attempts of one optimistic read-modify-write before giving up.
const MAX_ATTEMPTS: usize = 16;
/// Devices sampled by `filters/attributes` (upstream: 5,000).
const FILTER_ATTRIBUTES_SAMPLE: i64 = 5000;
/// Entries returned by `filters/attributes` (upstream: 500).
const FILTER_ATTRIBUTES_LIMIT: i64 = 500;
/// Identity attribute holding the deviceauth status.
const ATTR_STATUS: &str = "status";
/// Statuses that set the identity `status` attribute.
const STATUSES: [&str; 5] = ["accepted", "preauthorized", "pending", "rejected", "noauth"];
/// Seconds in a (UTC) day.
const DAY_SECS: i64 = 24 * 60 * 60;

/// PUT (replace the scope) or PATCH (merge into it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Upsert the given attributes.
    Merge,
    /// The scope becomes exactly the given attributes.
    Replace,
}

/// `{"id", "revision"}` of the bulk status update.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DeviceUpdate {
    /// Device id.
    pub id: DeviceId,
    /// Revision of the device in deviceauth; older revisions are conflicts.
    #[serde(default)]
    pub revision: i64,
}

/// The inventory service logic.
pub struct App {
    store: Arc<dyn InventoryStore>,
    clock: SharedClock,
    config: InventoryConfig,
}

/// What a modification closure decided.
enum Change {
    /// Write the record.
    Write,
    /// Nothing changed; don't write.
    Skip,
}

impl Change {
    /// `Write` when `changed`, else `Skip`.
    fn write_if(changed: bool) -> Self {
        if changed { Change::Write } else { Change::Skip }
    }
}

/// Checks a bulk group change: a valid group name and at least one device.
fn check_members(ids: &[DeviceId], group: &str) -> Result<()> {
    model::validate_group(group)?;
    if ids.is_empty() {
        return Err(Error::Invalid("no device IDs present in payload".into()));
    }
    Ok(())
}

impl App {
    /// Logic over a store with times from `clock` and limits from `config`.
    pub fn new(
        store: Arc<dyn InventoryStore>,
        clock: SharedClock,
        config: InventoryConfig,
    ) -> Self {
        Self {
            store,
            clock,
            config,
        }
    }

    /// The time now, to the millisecond the store keeps.
    fn now(&self) -> Timestamp {
        model::to_millis(self.clock.now())
    }

    /// The configuration in use.
    pub fn config(&self) -> &InventoryConfig {
        &self.config
    }

    /// The store, for tools that seed data directly.
    pub fn store(&self) -> Arc<dyn InventoryStore> {
        self.store.clone()
    }

    /// Checks the database.
    pub async fn health(&self) -> Result<()> {
        Ok(self.store.ping().await?)
    }

    /// Reads, changes and writes one device, retrying when a concurrent write got there first.
    /// With `create`, a missing device starts empty; otherwise it is `DeviceNotFound`.
    async fn modify<F>(
        &self,
        tenant: &TenantId,
        id: &DeviceId,
        create: bool,
        mut f: F,
    ) -> Result<DeviceRecord>
    where
        F: FnMut(&mut DeviceRecord, bool) -> Result<Change>,
    {
        model::validate_device_id(id.as_str())?;
        for _ in 0..MAX_ATTEMPTS {
            let existing = self.store.get_device(tenant, id).await?;
            let is_new = existing.is_none();
            if is_new && !create {
                return Err(Error::DeviceNotFound);
            }
            let mut rec = existing.unwrap_or_else(|| DeviceRecord::new(id.clone(), self.now()));
            if let Change::Skip = f(&mut rec, is_new)? {
                return Ok(rec);
            }
            if rec.doc_json().len() > self.config.max_document_bytes {
                return Err(Error::DocumentTooLarge);
            }
            let written = if is_new {
                self.store.insert_device(tenant, &rec).await?
            } else {
                self.store.update_device(tenant, &rec).await?
            };
            if written {
                return Ok(rec);
            }
        }
        Err(Error::Contention)
    }

    /// Refuses array values longer than `max_array_len`: every element is a search index row
    /// written under the database's write lock.
    fn check_arrays(&self, attrs: &[Attribute]) -> Result<()> {
        let max = self.config.max_array_len;
        match attrs
            .iter()
            .find(|a| a.value.as_array().is_some_and(|v| v.len() > max))
        {
            Some(a) => Err(Error::Invalid(format!(
                "value: the array of attribute {:?} has more than {max} elements.",
                a.name
            ))),
            None => Ok(()),
        }
    }

    fn limit_for(&self, scope: &str) -> usize {
        match scope {
            SCOPE_INVENTORY => self.config.limit_attributes,
            SCOPE_TAGS => self.config.limit_tags,
            _ => 0,
        }
    }

    /// Checks the scope limit before a write (upstream's rules: PUT counts the new set,
    /// PATCH counts existing plus new names).
    fn check_limit(
        &self,
        rec: &DeviceRecord,
        scope: &str,
        attrs: &[Attribute],
        mode: Mode,
    ) -> Result<()> {
        let limit = self.limit_for(scope);
        if limit == 0 {
            return Ok(());
        }
        let count = match mode {
            Mode::Replace => attrs.len(),
            Mode::Merge => {
                let mut names: Vec<&str> = attrs
                    .iter()
                    .filter(|a| !rec.attrs.contains_key(&(scope.to_owned(), a.name.clone())))
                    .map(|a| a.name.as_str())
                    .collect();
                names.sort_unstable();
                names.dedup();
                rec.count_scope(scope) + names.len()
            }
        };
        if count > limit {
            return Err(Error::TooManyAttributes);
        }
        Ok(())
    }

    /// Device API: replaces (PUT) or merges (PATCH) the device's `inventory` scope and bumps
    /// `updated_ts` (at least once a day even when nothing changed, as upstream does).
    pub async fn update_device_inventory(
        &self,
        tenant: &TenantId,
        id: &DeviceId,
        attrs: Vec<Attribute>,
        mode: Mode,
    ) -> Result<()> {
        self.check_arrays(&attrs)?;
        self.modify(tenant, id, true, |rec, is_new| {
            self.check_limit(rec, SCOPE_INVENTORY, &attrs, mode)?;
            let changed = apply(rec, SCOPE_INVENTORY, &attrs, mode)?;
            let now = self.now();
            let same_day = rec.updated_ts.is_some_and(|u| {
                u.unix_secs().div_euclid(DAY_SECS) == now.unix_secs().div_euclid(DAY_SECS)
            });
            if !changed && !is_new && same_day {
                return Ok(Change::Skip);
            }
            rec.updated_ts = Some(now);
            Ok(Change::Write)
        })
        .await
        .map(drop)
    }

    /// Management: replaces or merges the `tags` scope. `if_match` must equal the device's
    /// current tags ETag; every change gives a new ETag. Tags never touch `updated_ts`.
    pub async fn update_tags(
        &self,
        tenant: &TenantId,
        id: &DeviceId,
        mut tags: Vec<Attribute>,
        mode: Mode,
        if_match: Option<&str>,
    ) -> Result<()> {
        self.check_arrays(&tags)?;
        let now = model::format_time(self.now());
        for t in &mut tags {
            t.scope = SCOPE_TAGS.to_owned();
            t.timestamp.get_or_insert_with(|| now.clone());
        }
        let res = self
            .modify(tenant, id, false, |rec, _| {
                if let Some(tag) = if_match
                    && rec.tags_etag.as_deref() != Some(tag)
                {
                    return Err(Error::ETagMismatch);
                }
                self.check_limit(rec, SCOPE_TAGS, &tags, mode)?;
                apply(rec, SCOPE_TAGS, &tags, mode)?;
                rec.tags_etag = Some(uuid::Uuid::new_v4().to_string());
                Ok(Change::Write)
            })
            .await;
        match res {
            Err(Error::DeviceNotFound) if if_match.is_some() => Err(Error::ETagMismatch),
            other => other.map(drop),
        }
    }

    /// Internal (`PATCH .../device/{id}/attributes` and `.../attribute/scope/{scope}`): merges
    /// attributes, each into its own scope (any scope name), creating the device if it is
    /// missing, even for an empty list. `not_modified_after` (`If-Unmodified-Since`) refuses
    /// the write when an existing device's `updated_ts` is later; the write itself never
    /// touches `updated_ts`. As upstream, no attribute-count limit applies here (the document
    /// size limit still does).
    pub async fn upsert_attributes(
        &self,
        tenant: &TenantId,
        id: &DeviceId,
        attrs: Vec<Attribute>,
        not_modified_after: Option<Timestamp>,
    ) -> Result<()> {
        self.check_arrays(&attrs)?;
        self.modify(tenant, id, true, |rec, is_new| {
            if let (Some(limit), Some(updated), false) =
                (not_modified_after, rec.updated_ts, is_new)
                && updated > limit
            {
                return Err(Error::PreconditionFailed);
            }
            let changed = merge_scopes(rec, &attrs, |_, _, _| Ok(()))?;
            Ok(Change::write_if(changed || is_new))
        })
        .await
        .map(drop)
    }

    /// Internal: creates a device (or merges into an existing one) with attributes in their
    /// own scopes (default `inventory`), as `provision_device` does.
    pub async fn add_device(
        &self,
        tenant: &TenantId,
        id: &DeviceId,
        attrs: Vec<Attribute>,
    ) -> Result<()> {
        self.check_arrays(&attrs)?;
        self.modify(tenant, id, true, |rec, is_new| {
            let changed = merge_scopes(rec, &attrs, |rec, scope, of_scope| {
                self.check_limit(rec, scope, of_scope, Mode::Merge)
            })?;
            Ok(Change::write_if(changed || is_new))
        })
        .await
        .map(drop)
    }

    /// One device.
    pub async fn get_device(&self, tenant: &TenantId, id: &DeviceId) -> Result<DeviceRecord> {
        self.store
            .get_device(tenant, id)
            .await?
            .ok_or(Error::DeviceNotFound)
    }

    /// Management DELETE: clears the device's `inventory` scope (upstream keeps the record;
    /// decommissioning removes it through the internal API). Missing devices are fine.
    pub async fn delete_inventory(&self, tenant: &TenantId, id: &DeviceId) -> Result<()> {
        let res = self
            .modify(tenant, id, false, |rec, _| {
                apply(rec, SCOPE_INVENTORY, &[], Mode::Replace)?;
                rec.updated_ts = Some(self.now());
                Ok(Change::Write)
            })
            .await;
        match res {
            Ok(_) | Err(Error::DeviceNotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Internal DELETE: removes the device (a missing one is not an error, as upstream).
    pub async fn delete_device(&self, tenant: &TenantId, id: &DeviceId) -> Result<()> {
        self.store
            .delete_devices(tenant, std::slice::from_ref(id))
            .await?;
        Ok(())
    }

    /// Every device of every tenant as `(tenant, id)`: for reconciling with device
    /// authentication at start.
    pub async fn all_device_ids(&self) -> Result<Vec<(TenantId, DeviceId)>> {
        Ok(self.store.all_device_ids().await?)
    }

    /// Internal: bulk status change from deviceauth. Known statuses set `identity/status`
    /// where the given revision is newer than the stored one; `decommissioned` deletes.
    pub async fn update_statuses(
        &self,
        tenant: &TenantId,
        status: &str,
        devices: Vec<DeviceUpdate>,
    ) -> Result<UpdateResult> {
        if status == "decommissioned" {
            let ids: Vec<DeviceId> = devices.into_iter().map(|d| d.id).collect();
            let n = self.store.delete_devices(tenant, &ids).await?;
            return Ok(UpdateResult {
                deleted_count: n,
                ..Default::default()
            });
        }
        if !STATUSES.contains(&status) {
            return Err(Error::UnknownStatus(status.to_owned()));
        }
        let single = devices.len() == 1;
        let mut result = UpdateResult::default();
        for d in devices {
            let mut created = false;
            let res = self
                .modify(tenant, &d.id, true, |rec, is_new| {
                    if !is_new && rec.revision >= d.revision {
                        return Err(Error::WriteConflict);
                    }
                    created = is_new;
                    rec.revision = d.revision;
                    rec.attrs.insert(
                        (SCOPE_IDENTITY.to_owned(), ATTR_STATUS.to_owned()),
                        StoredAttr {
                            value: Value::String(status.to_owned()),
                            description: None,
                            timestamp: None,
                        },
                    );
                    Ok(Change::Write)
                })
                .await;
            match res {
                Ok(_) if single || !created => result.matched_count += 1,
                Ok(_) => result.created_count += 1,
                // In bulk, stale entries are skipped, as upstream's unordered bulk write does.
                Err(Error::WriteConflict) if !single => {}
                Err(e) => return Err(e),
            }
        }
        Ok(result)
    }

    /// The device's group, if any.
    pub async fn device_group(&self, tenant: &TenantId, id: &DeviceId) -> Result<Option<String>> {
        Ok(self.get_device(tenant, id).await?.group)
    }

    /// Moves one device into a group.
    pub async fn set_device_group(
        &self,
        tenant: &TenantId,
        id: &DeviceId,
        group: &str,
    ) -> Result<()> {
        model::validate_group(group)?;
        let r = self
            .store
            .set_group(tenant, std::slice::from_ref(id), group)
            .await?;
        if r.matched_count == 0 {
            return Err(Error::DeviceNotFound);
        }
        Ok(())
    }

    /// Takes one device out of `group`; 404 if it is not in it.
    pub async fn unset_device_group(
        &self,
        tenant: &TenantId,
        id: &DeviceId,
        group: &str,
    ) -> Result<()> {
        let ids = std::slice::from_ref(id);
        if self.store.unset_group(tenant, Some(ids), group).await? == 0 {
            return Err(Error::DeviceNotFound);
        }
        Ok(())
    }

    /// Moves devices into a group.
    pub async fn add_devices_to_group(
        &self,
        tenant: &TenantId,
        ids: &[DeviceId],
        group: &str,
    ) -> Result<UpdateResult> {
        check_members(ids, group)?;
        Ok(self.store.set_group(tenant, ids, group).await?)
    }

    /// Takes devices out of a group.
    pub async fn remove_devices_from_group(
        &self,
        tenant: &TenantId,
        ids: &[DeviceId],
        group: &str,
    ) -> Result<UpdateResult> {
        check_members(ids, group)?;
        let n = self.store.unset_group(tenant, Some(ids), group).await?;
        Ok(UpdateResult {
            matched_count: n,
            updated_count: n,
            ..Default::default()
        })
    }

    /// Empties a group.
    pub async fn delete_group(&self, tenant: &TenantId, group: &str) -> Result<UpdateResult> {
        model::validate_group(group)?;
        let n = self.store.unset_group(tenant, None, group).await?;
        Ok(UpdateResult {
            matched_count: n,
            updated_count: n,
            ..Default::default()
        })
    }

    /// Group names, optionally only of devices with this auth status.
    pub async fn list_groups(
        &self,
        tenant: &TenantId,
        status: Option<&str>,
    ) -> Result<Vec<String>> {
        Ok(self.store.list_groups(tenant, status).await?)
    }

    /// Ids of a group's devices (a page) and their total; 404 when the group has none.
    pub async fn devices_in_group(
        &self,
        tenant: &TenantId,
        group: &str,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<DeviceId>, u64)> {
        let q = Query {
            conds: vec![Cond::In {
                key: Key::Attr {
                    scope: SCOPE_SYSTEM.into(),
                    name: ATTR_GROUP.into(),
                },
                values: vec![Scalar::Str(group.to_owned())],
                negate: false,
            }],
            sort: Vec::new(),
            offset,
            limit,
        };
        let (devs, total) = self.store.search(tenant, &q).await?;
        if total == 0 {
            return Err(Error::GroupNotFound);
        }
        Ok((devs.into_iter().map(|d| d.id).collect(), total))
    }

    /// Ids of every device matching `conds` (no paging, no documents loaded).
    pub async fn device_ids(&self, tenant: &TenantId, conds: Vec<Cond>) -> Result<Vec<DeviceId>> {
        Ok(self.store.search_ids(tenant, &conds).await?)
    }

    /// Management v1 list.
    pub async fn list_devices(
        &self,
        tenant: &TenantId,
        p: ListParams,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<Device>, u64)> {
        let q = Query {
            conds: p.conds,
            sort: p.sort.into_iter().collect(),
            offset,
            limit,
        };
        let (devs, total) = self.store.search(tenant, &q).await?;
        Ok((devs.iter().map(|d| d.to_api(None)).collect(), total))
    }

    /// v2 search. Regular expressions are evaluated here over the attribute's distinct
    /// stored strings, so their semantics (and cost bounds) are the `regex` crate's on
    /// both backends. The matching runs on the blocking pool: over a large fleet it is
    /// CPU work that would otherwise hold up every other request on the async workers.
    pub async fn search(&self, tenant: &TenantId, s: CompiledSearch) -> Result<(Vec<Device>, u64)> {
        let mut conds = s.conds;
        for r in s.regexes {
            let candidates = self.store.distinct_strings(tenant, &r.key).await?;
            let regex = r.regex;
            let values: Vec<Scalar> = tokio::task::spawn_blocking(move || {
                candidates
                    .into_iter()
                    .filter(|v| regex.is_match(v))
                    .map(Scalar::Str)
                    .collect()
            })
            .await
            .map_err(|e| Error::Task(e.to_string()))?;
            conds.push(Cond::In {
                key: r.key,
                values,
                negate: false,
            });
        }
        let q = Query {
            conds,
            sort: s.sort,
            offset: (s.page - 1).saturating_mul(s.per_page),
            limit: s.per_page,
        };
        self.search_page(tenant, &q, s.select.as_deref()).await
    }

    /// One page of the devices `q` matches, each with the attributes `select` names (all
    /// when `None`), and how many match in all.
    async fn search_page(
        &self,
        tenant: &TenantId,
        q: &Query,
        select: Option<&[(String, String)]>,
    ) -> Result<(Vec<Device>, u64)> {
        let (devs, total) = self.store.search(tenant, q).await?;
        Ok((devs.iter().map(|d| d.to_api(select)).collect(), total))
    }

    /// v2alpha1 identity search: devices whose id, identity attribute or tag `name` starts
    /// with the prefix, in creation order.
    pub async fn search_identities(
        &self,
        tenant: &TenantId,
        s: CompiledIdentitySearch,
    ) -> Result<(Vec<Device>, u64)> {
        // No stored string holds a NUL character (the index refuses them), so nothing can
        // match such a prefix; the databases would refuse the parameter.
        let holds_nul = |t: &str| t.contains('\0');
        if holds_nul(&s.prefix) || matches!(&s.key, Key::Attr { name, .. } if holds_nul(name)) {
            return Ok((Vec::new(), 0));
        }
        let q = Query {
            conds: vec![Cond::Prefix {
                key: s.key,
                prefix: s.prefix,
            }],
            sort: Vec::new(),
            offset: (s.page - 1).saturating_mul(s.per_page),
            limit: s.per_page,
        };
        self.search_page(tenant, &q, s.select.as_deref()).await
    }

    /// Accepted and pending devices per tier (the system attribute `tier`; `standard` when a
    /// device has none, and values that are no known tier are not counted), as upstream.
    pub async fn device_statistics(&self, tenant: &TenantId) -> Result<DeviceStatistics> {
        let counts = self.store.tier_counts(tenant).await?;
        let mut stats = DeviceStatistics::default();
        let by = &mut stats.devices_by_status;
        for (status, total) in &counts.totals {
            let with_tier: u64 = counts
                .tiered
                .iter()
                .filter(|(s, _, _)| s == status)
                .map(|(_, _, n)| n)
                .sum();
            if let Some(c) = status_counts(by, status) {
                c.standard += total.saturating_sub(with_tier);
            }
        }
        for (status, tier, n) in &counts.tiered {
            if let Some(slot) = tier
                .as_deref()
                .and_then(|t| status_counts(by, status)?.tier_mut(t))
            {
                *slot += n;
            }
        }
        Ok(stats)
    }

    /// `filters/attributes`: attribute names per scope with device counts.
    pub async fn filter_attributes(&self, tenant: &TenantId) -> Result<Vec<FilterAttribute>> {
        Ok(self
            .store
            .filter_attributes(tenant, FILTER_ATTRIBUTES_SAMPLE, FILTER_ATTRIBUTES_LIMIT)
            .await?)
    }

    /// Internal reindex, which upstream accepts only from devicemonitor to refresh the
    /// `monitor` scope. This server has no devicemonitor, so a device has no alerts.
    pub async fn reindex(&self, tenant: &TenantId, id: &DeviceId, service: &str) -> Result<()> {
        if service != "devicemonitor" {
            return Err(Error::Invalid("unsupported service".into()));
        }
        self.modify(tenant, id, true, |rec, is_new| {
            let mut changed = is_new;
            for (name, value) in [
                ("alert_count", Value::from(0)),
                ("alerts", Value::Bool(false)),
            ] {
                let stored = StoredAttr {
                    value,
                    description: None,
                    timestamp: None,
                };
                let key = (SCOPE_MONITOR.to_owned(), name.to_owned());
                if rec.attrs.get(&key) != Some(&stored) {
                    rec.attrs.insert(key, stored);
                    changed = true;
                }
            }
            Ok(if changed { Change::Write } else { Change::Skip })
        })
        .await
        .map(drop)
    }
}

/// The counters of one of the statuses the statistics count.
fn status_counts<'a>(
    by: &'a mut model::StatisticsByStatus,
    status: &str,
) -> Option<&'a mut model::CountPerTier> {
    match status {
        "accepted" => Some(&mut by.accepted),
        "pending" => Some(&mut by.pending),
        _ => None,
    }
}

/// Merges attributes into their own scopes, scope by scope (sorted), each scope's share
/// first passed to `check`; returns whether anything changed.
fn merge_scopes(
    rec: &mut DeviceRecord,
    attrs: &[Attribute],
    mut check: impl FnMut(&DeviceRecord, &str, &[Attribute]) -> Result<()>,
) -> Result<bool> {
    let mut scopes: Vec<&str> = attrs.iter().map(|a| a.scope.as_str()).collect();
    scopes.sort_unstable();
    scopes.dedup();
    let mut changed = false;
    for scope in scopes {
        let of_scope: Vec<Attribute> = attrs.iter().filter(|a| a.scope == scope).cloned().collect();
        check(rec, scope, &of_scope)?;
        changed |= apply(rec, scope, &of_scope, Mode::Merge)?;
    }
    Ok(changed)
}

/// Applies attributes to one scope of a record; returns whether anything changed.
/// As upstream, a description or timestamp left out keeps the stored one.
fn apply(rec: &mut DeviceRecord, scope: &str, attrs: &[Attribute], mode: Mode) -> Result<bool> {
    let before = rec.clone();
    if mode == Mode::Replace {
        rec.attrs
            .retain(|(s, n), _| s != scope || attrs.iter().any(|a| a.name == *n));
    }
    for a in attrs {
        if scope == SCOPE_SYSTEM && set_system(rec, a)? {
            continue;
        }
        let key = (scope.to_owned(), a.name.clone());
        let entry = rec.attrs.entry(key).or_insert_with(|| StoredAttr {
            value: Value::Null,
            description: None,
            timestamp: None,
        });
        entry.value = a.value.clone();
        if a.description.is_some() {
            entry.description = a.description.clone();
        }
        if a.timestamp.is_some() {
            entry.timestamp = a.timestamp.clone();
        }
    }
    Ok(*rec != before)
}

/// System attributes kept as columns; `check_in_time` is normalised like upstream's date.
/// Returns whether the attribute was handled.
fn set_system(rec: &mut DeviceRecord, a: &Attribute) -> Result<bool> {
    let text = || match &a.value {
        Value::String(s) => Ok(s.clone()),
        _ => Err(Error::Invalid(format!("{}: must be a string", a.name))),
    };
    let time =
        || model::parse_time(&text()?).map_err(|e| Error::Invalid(format!("{}: {e}", a.name)));
    match a.name.as_str() {
        ATTR_GROUP => {
            let g = text()?;
            model::validate_group(&g)?;
            rec.group = Some(g);
        }
        ATTR_UPDATED => rec.updated_ts = Some(time()?),
        ATTR_CREATED => rec.created_ts = time()?,
        "check_in_time" => {
            rec.attrs.insert(
                (SCOPE_SYSTEM.to_owned(), a.name.clone()),
                StoredAttr {
                    value: Value::String(model::format_time(time()?)),
                    description: a.description.clone(),
                    timestamp: None,
                },
            );
        }
        _ => return Ok(false),
    }
    Ok(true)
}
