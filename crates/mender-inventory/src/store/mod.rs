//! Inventory persistence: the [`InventoryStore`] trait, the backend-neutral search query it
//! answers, the index rows derived from a device record, [`StoreError`], and [`SqlStore`],
//! the one implementation (SQLite and PostgreSQL).
//!
//! Writes are whole-record: the app reads a device, changes it in Rust and writes it back
//! guarded by its `version` counter (optimistic concurrency), so the attribute rules live in
//! one place and behave the same on both backends. Group changes are bulk SQL updates.

use async_trait::async_trait;
use mender_core::{DeviceId, TenantId};
use serde_json::Value;

use crate::model::{
    ATTR_CREATED, ATTR_GROUP, ATTR_UPDATED, DeviceRecord, FilterAttribute, SCOPE_SYSTEM,
    UpdateResult, format_time,
};

mod sql;

pub use sql::SqlStore;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] mender_db::Error),
    /// A stored device could not be read back (its attribute document or a time).
    #[error("device {device:?} is stored corrupt: {what}")]
    Corrupt {
        /// The device.
        device: DeviceId,
        /// What could not be read, and why.
        what: String,
    },
}

/// Shorthand for store results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Characters of a string value kept in the indexed key column `sk`.
pub const SORT_KEY_CHARS: usize = 128;

/// A scalar a predicate compares with.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// String.
    Str(String),
    /// Number.
    Num(f64),
    /// Boolean.
    Bool(bool),
}

/// What a predicate or sort looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// An attribute by scope and name.
    Attr {
        /// Scope.
        scope: String,
        /// Name.
        name: String,
    },
    /// The device id (`identity/id`).
    DeviceId,
}

/// Ordering comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `>`
    Gt,
    /// `>=`
    Gte,
    /// `<`
    Lt,
    /// `<=`
    Lte,
}

impl CmpOp {
    /// SQL operator.
    pub fn sql(self) -> &'static str {
        match self {
            CmpOp::Gt => ">",
            CmpOp::Gte => ">=",
            CmpOp::Lt => "<",
            CmpOp::Lte => "<=",
        }
    }
}

/// One search condition, with upstream's (MongoDB) meaning: an array attribute matches when
/// any element matches, and negations also match devices without the attribute.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// Some value equals one of `values` (`$eq`, `$in`); `negate`: none does (`$ne`, `$nin`).
    In {
        /// Attribute.
        key: Key,
        /// Values (of the same JSON type as the stored ones to match).
        values: Vec<Scalar>,
        /// Negation.
        negate: bool,
    },
    /// The attribute is present (or absent).
    Exists {
        /// Attribute.
        key: Key,
        /// Wanted presence.
        exists: bool,
    },
    /// Some value of the same type compares true.
    Cmp {
        /// Attribute.
        key: Key,
        /// Operator.
        op: CmpOp,
        /// Operand.
        value: Scalar,
    },
    /// Some string value starts with `prefix` (code-point order, as the index compares).
    Prefix {
        /// Attribute.
        key: Key,
        /// The prefix.
        prefix: String,
    },
    /// The device id is one of these.
    DeviceIds(Vec<DeviceId>),
    /// Full-text: some keyword is a word of the device's text.
    Text(Vec<String>),
}

/// One sort criterion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    /// Attribute.
    pub key: Key,
    /// Descending.
    pub desc: bool,
}

/// A search: conditions (AND), sort, page window.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Query {
    /// Conditions, all of which must hold.
    pub conds: Vec<Cond>,
    /// Sort criteria, then creation order.
    pub sort: Vec<SortKey>,
    /// Rows to skip.
    pub offset: u64,
    /// Page size.
    pub limit: u64,
}

/// Device counts behind the statistics: per identity `status` (`accepted`, `pending`), all
/// devices, and for the devices that have a system `tier` attribute, their count per tier
/// value (`None`: the value is not a string).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TierCounts {
    /// `(status, devices)`.
    pub totals: Vec<(String, u64)>,
    /// `(status, tier, devices)` of the devices with a tier.
    pub tiered: Vec<(String, Option<String>, u64)>,
}

/// Persistence of device inventories.
#[async_trait]
pub trait InventoryStore: Send + Sync {
    /// Checks the database answers.
    async fn ping(&self) -> Result<()>;
    /// One device.
    async fn get_device(&self, tenant: &TenantId, id: &DeviceId) -> Result<Option<DeviceRecord>>;
    /// Creates a device; `false` if it already exists.
    async fn insert_device(&self, tenant: &TenantId, rec: &DeviceRecord) -> Result<bool>;
    /// Creates many devices in one transaction (bulk loading); existing ids are skipped.
    /// Returns how many were created.
    async fn insert_devices(&self, tenant: &TenantId, recs: &[DeviceRecord]) -> Result<u64>;
    /// Replaces a device if its stored `version` still equals `rec.version` (then bumped);
    /// `false` if it changed or vanished meanwhile.
    async fn update_device(&self, tenant: &TenantId, rec: &DeviceRecord) -> Result<bool>;
    /// Deletes devices; returns how many existed.
    async fn delete_devices(&self, tenant: &TenantId, ids: &[DeviceId]) -> Result<u64>;
    /// Puts devices into `group`: matched = existing, updated = those that changed group.
    async fn set_group(
        &self,
        tenant: &TenantId,
        ids: &[DeviceId],
        group: &str,
    ) -> Result<UpdateResult>;
    /// Removes devices from `group` (all of its devices with `ids = None`); returns how many.
    async fn unset_group(
        &self,
        tenant: &TenantId,
        ids: Option<&[DeviceId]>,
        group: &str,
    ) -> Result<u64>;
    /// Group names in use, sorted; optionally only of devices with this identity `status`.
    async fn list_groups(&self, tenant: &TenantId, status: Option<&str>) -> Result<Vec<String>>;
    /// A page of matching devices and the number of all matches.
    async fn search(&self, tenant: &TenantId, q: &Query) -> Result<(Vec<DeviceRecord>, u64)>;
    /// Ids of every matching device, in creation order, without counting or loading documents
    /// (for callers that need the whole set, such as deployments to all devices).
    async fn search_ids(&self, tenant: &TenantId, conds: &[Cond]) -> Result<Vec<DeviceId>>;
    /// `(tenant, id)` of every device of every tenant, ordered: what reconciling with device
    /// authentication compares.
    async fn all_device_ids(&self) -> Result<Vec<(TenantId, DeviceId)>>;
    /// Distinct string values of an attribute (for regular expressions, matched in Rust).
    async fn distinct_strings(&self, tenant: &TenantId, key: &Key) -> Result<Vec<String>>;
    /// The device counts of the statistics (one snapshot, from the index, never the
    /// documents).
    async fn tier_counts(&self, tenant: &TenantId) -> Result<TierCounts>;
    /// Attribute names per scope with the number of devices having them, over the first
    /// `sample` devices, at most `limit` entries, most frequent first.
    async fn filter_attributes(
        &self,
        tenant: &TenantId,
        sample: i64,
        limit: i64,
    ) -> Result<Vec<FilterAttribute>>;
}

/// One row of the search index.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexRow {
    /// Scope.
    pub scope: String,
    /// Name.
    pub name: String,
    /// Element position (0 for scalars).
    pub i: i64,
    /// Type: 0 none (empty array), 1 number, 2 string, 3 boolean.
    pub t: i64,
    /// String value.
    pub s: Option<String>,
    /// Indexed prefix of `s`.
    pub sk: Option<String>,
    /// Number (or 0/1 for booleans).
    pub n: Option<f64>,
}

/// The smallest string after every string that starts with `prefix` (bytewise, which is
/// code-point order), or `None` when there is none (only U+10FFFF characters).
pub fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// The indexed prefix of a string.
pub fn sort_key(s: &str) -> String {
    s.chars().take(SORT_KEY_CHARS).collect()
}

fn scalar_row(scope: &str, name: &str, i: i64, v: &Value) -> Option<IndexRow> {
    let (t, s, n) = match v {
        Value::String(s) => (2, Some(s.clone()), None),
        Value::Number(n) => (1, None, n.as_f64()),
        Value::Bool(b) => (3, None, Some(if *b { 1.0 } else { 0.0 })),
        _ => return None,
    };
    Some(IndexRow {
        scope: scope.to_owned(),
        name: name.to_owned(),
        i,
        t,
        sk: s.as_deref().map(sort_key),
        s,
        n,
    })
}

/// The index rows of a device: one per scalar value, system attributes included.
pub fn index_rows(rec: &DeviceRecord) -> Vec<IndexRow> {
    let mut out = Vec::with_capacity(rec.attrs.len() + 3);
    for ((scope, name), a) in &rec.attrs {
        match &a.value {
            Value::Array(items) if items.is_empty() => out.push(IndexRow {
                scope: scope.clone(),
                name: name.clone(),
                i: 0,
                t: 0,
                s: None,
                sk: None,
                n: None,
            }),
            Value::Array(items) => out.extend(
                items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| scalar_row(scope, name, i as i64, v)),
            ),
            v => out.extend(scalar_row(scope, name, 0, v)),
        }
    }
    out.extend(system_rows(rec));
    out
}

/// The index rows of the system attributes kept as columns.
pub fn system_rows(rec: &DeviceRecord) -> Vec<IndexRow> {
    let mut out = Vec::with_capacity(3);
    // The stored text form: string predicates and sorting on these are time order.
    let sys = |name: &str, t| scalar_row(SCOPE_SYSTEM, name, 0, &Value::String(format_time(t)));
    out.extend(sys(ATTR_CREATED, rec.created_ts));
    if let Some(u) = rec.updated_ts {
        out.extend(sys(ATTR_UPDATED, u));
    }
    if let Some(g) = &rec.group {
        out.extend(group_row(g));
    }
    out
}

/// The index row of a group membership.
pub fn group_row(group: &str) -> Option<IndexRow> {
    scalar_row(
        SCOPE_SYSTEM,
        ATTR_GROUP,
        0,
        &Value::String(group.to_owned()),
    )
}
