//! [`SqlStore`]: the inventory in two tables on SQLite or PostgreSQL, each statement written
//! once through `mender_db`; [`search`] turns a search [`Query`] into SQL.
//!
//! Every value reaches the database as a bound parameter; the statements are assembled from
//! fixed text only, with the few dialect differences (JSON lists, the tenant column SQLite's
//! planner must not pick, planner statistics) asked of [`Dialect`](mender_db::Dialect).

mod search;

use std::collections::BTreeMap;

use async_trait::async_trait;
use mender_core::{DeviceId, TenantId};
use mender_db::{Db, JsonList, QueryBuilder, Tx, query};
use serde::Serialize;

use self::search::{SELECT_DEVICES, count_sql, page_sql, where_sql};
use super::{
    Cond, IndexRow, InventoryStore, Key, Query, Result, StoreError, TierCounts, group_row,
    index_rows,
};
use crate::model::{DeviceRecord, FilterAttribute, UpdateResult, format_time, parse_time};

/// Bulk loads at least this large refresh the planner statistics.
const BULK_ANALYZE_ROWS: u64 = 100;
/// Index rows per multi-row INSERT (8 parameters each).
const ROWS_PER_INSERT: usize = 500;
/// The tables whose statistics a bulk load makes stale.
const TABLES: &[&str] = &["devices", "attr_index"];
/// An update changing more attributes than this rewrites all of the device's index rows in
/// one statement instead of one delete per changed attribute.
const MAX_ATTRS_REWRITTEN_ONE_BY_ONE: usize = 32;

/// The inventory store on either backend (a database opened with [`crate::SCHEMA`]).
#[derive(Debug, Clone)]
pub struct SqlStore(pub Db);

/// A `devices` row; times and the attribute document are decoded by [`DeviceRow::into_record`].
#[derive(sqlx::FromRow)]
struct DeviceRow {
    #[sqlx(try_from = "String")]
    id: DeviceId,
    attrs: String,
    group_name: Option<String>,
    created_ts: String,
    updated_ts: Option<String>,
    revision: i64,
    tags_etag: Option<String>,
    version: i64,
}

impl DeviceRow {
    fn into_record(self) -> Result<DeviceRecord> {
        let corrupt = |what: String| StoreError::Corrupt {
            device: self.id.clone(),
            what,
        };
        let attrs = DeviceRecord::attrs_from_json(&self.attrs)
            .map_err(|e| corrupt(format!("attribute document: {e}")))?;
        let time = |column: &str, text: &str| {
            parse_time(text).map_err(|e| corrupt(format!("{column} {text:?}: {e}")))
        };
        let created_ts = time("created_ts", &self.created_ts)?;
        let updated_ts = match &self.updated_ts {
            Some(t) => Some(time("updated_ts", t)?),
            None => None,
        };
        Ok(DeviceRecord {
            id: self.id,
            attrs,
            group: self.group_name,
            created_ts,
            updated_ts,
            revision: self.revision,
            tags_etag: self.tags_etag,
            version: self.version,
        })
    }
}

/// An `attr_index` row as read back, to compare with the rows a write would produce.
#[derive(sqlx::FromRow)]
struct StoredIndexRow {
    scope: String,
    name: String,
    i: i64,
    t: i64,
    s: Option<String>,
    sk: Option<String>,
    n: Option<f64>,
}

impl From<StoredIndexRow> for IndexRow {
    fn from(r: StoredIndexRow) -> Self {
        IndexRow {
            scope: r.scope,
            name: r.name,
            i: r.i,
            t: r.t,
            s: r.s,
            sk: r.sk,
            n: r.n,
        }
    }
}

/// Index rows per attribute `(scope, name)`, each attribute's rows in element order.
type RowsByAttr = BTreeMap<(String, String), Vec<IndexRow>>;

fn by_attr(rows: impl IntoIterator<Item = IndexRow>) -> RowsByAttr {
    let mut out = RowsByAttr::new();
    for r in rows {
        out.entry((r.scope.clone(), r.name.clone()))
            .or_default()
            .push(r);
    }
    for rows in out.values_mut() {
        rows.sort_by_key(|r| r.i);
    }
    out
}

/// Brings a device's index rows from what is stored to `rec`'s, touching only the
/// attributes that changed: a device re-reporting its inventory usually changes a few values
/// out of hundreds, and every rewritten row costs four index updates under the write lock.
async fn write_index(tx: &mut Tx, seq: i64, rec: &DeviceRecord) -> Result<()> {
    let old: Vec<StoredIndexRow> =
        query("SELECT scope, name, i, t, s, sk, n FROM attr_index WHERE dev_seq = $1")
            .bind(seq)
            .fetch_all(&mut *tx)
            .await?;
    let old = by_attr(old.into_iter().map(IndexRow::from));
    let new = by_attr(index_rows(rec));
    let changed: Vec<&(String, String)> = old
        .keys()
        .chain(new.keys())
        .filter(|k| old.get(*k) != new.get(*k))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if changed.is_empty() {
        return Ok(());
    }
    let rewrite_all = changed.len() > MAX_ATTRS_REWRITTEN_ONE_BY_ONE;
    if rewrite_all {
        query("DELETE FROM attr_index WHERE dev_seq = $1")
            .bind(seq)
            .execute(&mut *tx)
            .await?;
    } else {
        for (scope, name) in changed.iter().filter(|k| old.contains_key(**k)) {
            query("DELETE FROM attr_index WHERE dev_seq = $1 AND scope = $2 AND name = $3")
                .bind(seq)
                .bind(scope)
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
    }
    let rows: Vec<(i64, IndexRow)> = new
        .iter()
        .filter(|(k, _)| rewrite_all || changed.contains(k))
        .flat_map(|(_, rows)| rows.iter().cloned().map(|r| (seq, r)))
        .collect();
    insert_rows(tx, &rows).await
}

/// A JSON array parameter (see [`QueryBuilder::push_json_list`]).
pub(super) fn json_array<T: Serialize + ?Sized>(values: &T) -> String {
    serde_json::to_string(values).unwrap_or_else(|_| "[]".into())
}

/// Writes index rows, many per statement.
async fn insert_rows(tx: &mut Tx, rows: &[(i64, IndexRow)]) -> Result<()> {
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut b = QueryBuilder::new(
            tx.dialect(),
            "INSERT INTO attr_index (dev_seq, scope, name, i, t, s, sk, n) VALUES ",
        );
        for (k, (seq, r)) in chunk.iter().enumerate() {
            b.push(if k == 0 { "(" } else { ", (" })
                .push_bind(*seq)
                .push(", ")
                .push_bind(&r.scope)
                .push(", ")
                .push_bind(&r.name)
                .push(", ")
                .push_bind(r.i)
                .push(", ")
                .push_bind(r.t)
                .push(", ")
                .push_bind(r.s.as_deref())
                .push(", ")
                .push_bind(r.sk.as_deref())
                .push(", ")
                .push_bind(r.n)
                .push(")");
        }
        b.build().execute(&mut *tx).await?;
    }
    Ok(())
}

/// Replaces the group of the devices `seqs` (None = no group) and its index rows.
async fn write_group(tx: &mut Tx, seqs: &[i64], group: Option<&str>) -> Result<()> {
    if seqs.is_empty() {
        return Ok(());
    }
    let mut b = QueryBuilder::new(tx.dialect(), "UPDATE devices SET group_name = ");
    b.push_bind(group)
        .push(", version = version + 1 WHERE seq IN (")
        .push_json_list(json_array(seqs), JsonList::Int)
        .push(")");
    b.build().execute(&mut *tx).await?;
    let mut b = QueryBuilder::new(
        tx.dialect(),
        "DELETE FROM attr_index WHERE scope = 'system' AND name = 'group' AND dev_seq IN (",
    );
    b.push_json_list(json_array(seqs), JsonList::Int).push(")");
    b.build().execute(&mut *tx).await?;
    if let Some(row) = group.and_then(group_row) {
        let rows: Vec<(i64, IndexRow)> = seqs.iter().map(|s| (*s, row.clone())).collect();
        insert_rows(tx, &rows).await?;
    }
    Ok(())
}

/// Inserts a device and its index rows; `false` if the id exists.
async fn insert_one(tx: &mut Tx, tenant: &TenantId, rec: &DeviceRecord) -> Result<bool> {
    let seq: Option<i64> = query(
        "INSERT INTO devices (tenant_id, id, attrs, group_name, created_ts, updated_ts, revision, \
         tags_etag, text, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0) \
         ON CONFLICT (tenant_id, id) DO NOTHING RETURNING seq",
    )
    .bind(tenant)
    .bind(&rec.id)
    .bind(rec.doc_json())
    .bind(rec.group.as_deref())
    .bind(format_time(rec.created_ts))
    .bind(rec.updated_ts.map(format_time))
    .bind(rec.revision)
    .bind(rec.tags_etag.as_deref())
    .bind(rec.text_keywords())
    .scalar_optional(&mut *tx)
    .await?;
    let Some(seq) = seq else { return Ok(false) };
    let rows: Vec<(i64, IndexRow)> = index_rows(rec).into_iter().map(|r| (seq, r)).collect();
    insert_rows(tx, &rows).await?;
    Ok(true)
}

/// Accepted and pending devices of a tenant: a range scan of the status entries of the
/// attribute index (`attr_index_s` covers it), each device's tenant checked by primary key.
/// No attribute document is read.
fn status_totals_sql(dialect: mender_db::Dialect, tenant: &TenantId) -> QueryBuilder<'_> {
    let mut b = QueryBuilder::new(
        dialect,
        "SELECT a.sk, COUNT(*) FROM attr_index a JOIN devices d ON d.seq = a.dev_seq \
         WHERE a.scope = 'identity' AND a.name = 'status' AND a.sk IN ('accepted', 'pending') \
         AND ",
    );
    b.push_unindexed("d.tenant_id")
        .push(" = ")
        .push_bind(tenant)
        .push(" GROUP BY a.sk");
    b
}

/// The accepted and pending devices that have a system `tier`, per status, tier type and
/// value: driven by the (usually few) tier entries of the index, each device's status then
/// found by its full index key (`CROSS JOIN` keeps SQLite from driving the join from the
/// status entries instead; PostgreSQL plans it as an ordinary join).
fn status_tiers_sql(dialect: mender_db::Dialect, tenant: &TenantId) -> QueryBuilder<'_> {
    let mut b = QueryBuilder::new(
        dialect,
        "SELECT a.sk, t.t, t.s, COUNT(*) FROM attr_index t CROSS JOIN attr_index a \
         JOIN devices d ON d.seq = t.dev_seq \
         WHERE t.scope = 'system' AND t.name = 'tier' AND t.i = 0 AND a.dev_seq = t.dev_seq \
         AND a.scope = 'identity' AND a.name = 'status' AND a.sk IN ('accepted', 'pending') \
         AND ",
    );
    b.push_unindexed("d.tenant_id")
        .push(" = ")
        .push_bind(tenant)
        .push(" GROUP BY a.sk, t.t, t.s");
    b
}

#[async_trait]
impl InventoryStore for SqlStore {
    async fn ping(&self) -> Result<()> {
        Ok(self.0.ping().await?)
    }

    async fn get_device(&self, tenant: &TenantId, id: &DeviceId) -> Result<Option<DeviceRecord>> {
        let mut b = QueryBuilder::new(self.0.dialect(), SELECT_DEVICES);
        b.push(" WHERE d.tenant_id = ")
            .push_bind(tenant)
            .push(" AND d.id = ")
            .push_bind(id);
        let row: Option<DeviceRow> = b.build().fetch_optional(&self.0).await?;
        row.map(DeviceRow::into_record).transpose()
    }

    async fn insert_device(&self, tenant: &TenantId, rec: &DeviceRecord) -> Result<bool> {
        let mut tx = self.0.begin_write().await?;
        let created = insert_one(&mut tx, tenant, rec).await?;
        if created {
            tx.commit().await?;
        }
        Ok(created)
    }

    async fn insert_devices(&self, tenant: &TenantId, recs: &[DeviceRecord]) -> Result<u64> {
        let mut tx = self.0.begin_write().await?;
        let mut n = 0;
        for rec in recs {
            n += u64::from(insert_one(&mut tx, tenant, rec).await?);
        }
        tx.commit().await?;
        // Plans for the attribute index depend on statistics; a bulk load makes them stale
        // long before automatic analysis notices.
        if n >= BULK_ANALYZE_ROWS {
            self.0.analyze(TABLES).await?;
        }
        Ok(n)
    }

    async fn update_device(&self, tenant: &TenantId, rec: &DeviceRecord) -> Result<bool> {
        let mut tx = self.0.begin_write().await?;
        let seq: Option<i64> = query(
            "UPDATE devices SET attrs = $1, group_name = $2, updated_ts = $3, revision = $4, \
             tags_etag = $5, text = $6, version = version + 1 \
             WHERE tenant_id = $7 AND id = $8 AND version = $9 RETURNING seq",
        )
        .bind(rec.doc_json())
        .bind(rec.group.as_deref())
        .bind(rec.updated_ts.map(format_time))
        .bind(rec.revision)
        .bind(rec.tags_etag.as_deref())
        .bind(rec.text_keywords())
        .bind(tenant)
        .bind(&rec.id)
        .bind(rec.version)
        .scalar_optional(&mut tx)
        .await?;
        let Some(seq) = seq else { return Ok(false) };
        write_index(&mut tx, seq, rec).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn delete_devices(&self, tenant: &TenantId, ids: &[DeviceId]) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut b = QueryBuilder::new(self.0.dialect(), "DELETE FROM devices WHERE tenant_id = ");
        b.push_bind(tenant)
            .push(" AND id IN (")
            .push_json_list(json_array(ids), JsonList::Text)
            .push(")");
        Ok(b.build().execute(&self.0).await?)
    }

    async fn set_group(
        &self,
        tenant: &TenantId,
        ids: &[DeviceId],
        group: &str,
    ) -> Result<UpdateResult> {
        if ids.is_empty() {
            return Ok(UpdateResult::default());
        }
        let mut tx = self.0.begin_write().await?;
        let mut b = QueryBuilder::new(
            tx.dialect(),
            "SELECT seq, group_name FROM devices WHERE tenant_id = ",
        );
        b.push_bind(tenant)
            .push(" AND id IN (")
            .push_json_list(json_array(ids), JsonList::Text)
            .push(")");
        let rows: Vec<(i64, Option<String>)> = b.build().fetch_all(&mut tx).await?;
        let changed: Vec<i64> = rows
            .iter()
            .filter(|(_, g)| g.as_deref() != Some(group))
            .map(|(seq, _)| *seq)
            .collect();
        write_group(&mut tx, &changed, Some(group)).await?;
        tx.commit().await?;
        Ok(UpdateResult {
            matched_count: rows.len() as u64,
            updated_count: changed.len() as u64,
            ..Default::default()
        })
    }

    async fn unset_group(
        &self,
        tenant: &TenantId,
        ids: Option<&[DeviceId]>,
        group: &str,
    ) -> Result<u64> {
        let mut tx = self.0.begin_write().await?;
        let mut b = QueryBuilder::new(tx.dialect(), "SELECT seq FROM devices WHERE tenant_id = ");
        b.push_bind(tenant)
            .push(" AND group_name = ")
            .push_bind(group);
        if let Some(ids) = ids {
            b.push(" AND id IN (")
                .push_json_list(json_array(ids), JsonList::Text)
                .push(")");
        }
        let seqs: Vec<i64> = b.build().scalars(&mut tx).await?;
        write_group(&mut tx, &seqs, None).await?;
        tx.commit().await?;
        Ok(seqs.len() as u64)
    }

    async fn list_groups(&self, tenant: &TenantId, status: Option<&str>) -> Result<Vec<String>> {
        let mut b = QueryBuilder::new(
            self.0.dialect(),
            "SELECT DISTINCT d.group_name FROM devices d WHERE d.tenant_id = ",
        );
        b.push_bind(tenant).push(" AND d.group_name IS NOT NULL");
        if let Some(st) = status {
            b.push(
                " AND d.seq IN (SELECT dev_seq FROM attr_index WHERE scope = 'identity' \
                 AND name = 'status' AND t = 2 AND s = ",
            )
            .push_bind(st)
            .push(")");
        }
        b.push(" ORDER BY d.group_name");
        Ok(b.build().scalars(&self.0).await?)
    }

    async fn search(&self, tenant: &TenantId, q: &Query) -> Result<(Vec<DeviceRecord>, u64)> {
        let dialect = self.0.dialect();
        let total: i64 = count_sql(dialect, tenant, q)
            .build()
            .scalar(&self.0)
            .await?;
        let total = u64::try_from(total).unwrap_or_default();
        if total == 0 || q.limit == 0 {
            return Ok((Vec::new(), total));
        }
        let rows: Vec<DeviceRow> = page_sql(dialect, tenant, q)
            .build()
            .fetch_all(&self.0)
            .await?;
        let devs = rows
            .into_iter()
            .map(DeviceRow::into_record)
            .collect::<Result<_>>()?;
        Ok((devs, total))
    }

    async fn search_ids(&self, tenant: &TenantId, conds: &[Cond]) -> Result<Vec<DeviceId>> {
        let mut b = QueryBuilder::new(self.0.dialect(), "SELECT d.id FROM devices d WHERE ");
        where_sql(&mut b, tenant, conds);
        b.push(" ORDER BY d.seq");
        let ids: Vec<String> = b.build().scalars(&self.0).await?;
        Ok(ids.into_iter().map(DeviceId::from).collect())
    }

    async fn all_device_ids(&self) -> Result<Vec<(TenantId, DeviceId)>> {
        let rows: Vec<(String, String)> =
            query("SELECT tenant_id, id FROM devices ORDER BY tenant_id, id")
                .fetch_all(&self.0)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(t, d)| (TenantId::from(t), DeviceId::from(d)))
            .collect())
    }

    async fn distinct_strings(&self, tenant: &TenantId, key: &Key) -> Result<Vec<String>> {
        let b = match key {
            Key::DeviceId => {
                let mut b = QueryBuilder::new(
                    self.0.dialect(),
                    "SELECT d.id FROM devices d WHERE d.tenant_id = ",
                );
                b.push_bind(tenant);
                b
            }
            Key::Attr { scope, name } => {
                // Across tenants on purpose: the values only feed an IN list that the
                // tenant-restricted search applies, and skipping the join halves the scan.
                let mut b = QueryBuilder::new(
                    self.0.dialect(),
                    "SELECT DISTINCT s FROM attr_index WHERE scope = ",
                );
                b.push_bind(scope)
                    .push(" AND name = ")
                    .push_bind(name)
                    .push(" AND t = 2");
                b
            }
        };
        Ok(b.build().scalars(&self.0).await?)
    }

    async fn tier_counts(&self, tenant: &TenantId) -> Result<TierCounts> {
        // The two statements read one snapshot.
        let mut tx = self.0.begin_read().await?;
        let dialect = tx.dialect();
        let totals: Vec<(String, i64)> = status_totals_sql(dialect, tenant)
            .build()
            .fetch_all(&mut tx)
            .await?;
        let tiered: Vec<(String, i64, Option<String>, i64)> = status_tiers_sql(dialect, tenant)
            .build()
            .fetch_all(&mut tx)
            .await?;
        let count = |n: i64| u64::try_from(n).unwrap_or_default();
        Ok(TierCounts {
            totals: totals.into_iter().map(|(s, n)| (s, count(n))).collect(),
            tiered: tiered
                .into_iter()
                .map(|(s, t, tier, n)| (s, tier.filter(|_| t == 2), count(n)))
                .collect(),
        })
    }

    async fn filter_attributes(
        &self,
        tenant: &TenantId,
        sample: i64,
        limit: i64,
    ) -> Result<Vec<FilterAttribute>> {
        let rows: Vec<(String, String, i64)> = query(
            "SELECT a.scope, a.name, COUNT(*) AS c FROM attr_index a \
             WHERE a.i = 0 AND a.dev_seq IN \
             (SELECT seq FROM devices WHERE tenant_id = $1 ORDER BY seq LIMIT $2) \
             GROUP BY a.scope, a.name ORDER BY c DESC, a.scope ASC, a.name ASC LIMIT $3",
        )
        .bind(tenant)
        .bind(sample)
        .bind(limit)
        .fetch_all(&self.0)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(scope, name, count)| FilterAttribute { name, scope, count })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use mender_db::testing::Backend;
    use mender_db::{Dialect, query};

    use super::*;

    /// SQLite's plan of a statement, one line per step.
    async fn plan(db: &Db, b: QueryBuilder<'_>) -> Vec<String> {
        // A test may leak: the statement text must be `'static`.
        let sql: &'static str =
            Box::leak(format!("EXPLAIN QUERY PLAN {}", b.sql()).into_boxed_str());
        let rows: Vec<(i64, i64, i64, String)> = query(sql).bind("").fetch_all(db).await.unwrap();
        rows.into_iter().map(|r| r.3).collect()
    }

    /// The statistics never scan a table: every step is an index search.
    #[tokio::test]
    async fn statistics_are_index_searches() {
        let db = Backend::Sqlite.open(&crate::SCHEMA).await;
        let tenant = TenantId::default();
        for (b, want) in [
            // The status entries, from a covering index.
            (
                status_totals_sql(Dialect::Sqlite, &tenant),
                "COVERING INDEX attr_index_s (scope=? AND name=? AND sk=?)",
            ),
            // From the tier entries to each device's status entry, by its whole key.
            (
                status_tiers_sql(Dialect::Sqlite, &tenant),
                "attr_index_s (scope=? AND name=? AND sk=? AND dev_seq=?)",
            ),
        ] {
            let sql = b.sql().to_owned();
            let steps = plan(&db, b).await;
            assert!(
                steps.iter().all(|s| !s.starts_with("SCAN")),
                "{sql}: {steps:?}"
            );
            assert!(steps.iter().any(|s| s.contains(want)), "{sql}: {steps:?}");
        }
    }
}
