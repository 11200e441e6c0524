//! SQL shared by both backends: the query builder that numbers `$n` placeholders in order,
//! the translation of a search [`Query`] into SQL, and (as a macro) the store implementation
//! itself, which differs between SQLite and PostgreSQL only in a few dialect snippets.
//!
//! Every value reaches the database as a bound parameter; the only text spliced into SQL is
//! built here from constants and placeholder numbers.

use super::{CmpOp, Cond, Key, Query, Scalar, SortKey, sort_key};

/// A bound value.
#[derive(Debug, Clone)]
pub(crate) enum Bind {
    Text(String),
    NullText,
    Int(i64),
    Float(f64),
    NullFloat,
}

/// The few places where the two SQL dialects differ.
pub(crate) struct Dialect {
    /// A subquery yielding the strings of the JSON array in parameter `$n`.
    pub json_texts: fn(usize) -> String,
    /// A subquery yielding the numbers of the JSON array in parameter `$n`.
    pub json_nums: fn(usize) -> String,
    /// A subquery yielding the integers of the JSON array in parameter `$n`.
    pub json_ints: fn(usize) -> String,
    /// How `WHERE` names the tenant column (SQLite: `+d.tenant_id`, which keeps its planner
    /// from scanning the tenant index when an attribute index is far more selective).
    pub tenant_col: &'static str,
    /// Statements refreshing planner statistics after a bulk load.
    pub analyze: &'static [&'static str],
    /// The statement opening a write transaction.
    pub begin: &'static str,
}

/// SQL text plus its parameters, numbered in the order they are pushed.
#[derive(Debug, Default)]
pub(crate) struct Sql {
    pub text: String,
    pub binds: Vec<Bind>,
}

impl Sql {
    pub fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    /// Appends a placeholder for `b` and returns its number.
    pub fn bind(&mut self, b: Bind) -> usize {
        self.binds.push(b);
        let n = self.binds.len();
        self.text.push('$');
        self.text.push_str(&n.to_string());
        n
    }

    pub fn bind_text(&mut self, s: &str) -> &mut Self {
        self.bind(Bind::Text(s.to_owned()));
        self
    }

    /// Binds a JSON array parameter and appends the dialect's subquery over it.
    pub fn json_list(&mut self, json: String, f: fn(usize) -> String) {
        self.binds.push(Bind::Text(json));
        let sub = f(self.binds.len());
        self.text.push_str(&sub);
    }
}

/// Columns of `devices` read into a record, in the order `row_to_record` expects.
pub(crate) const DEVICE_COLS: &str = "d.seq, d.id, d.attrs, d.group_name, d.created_ts, d.updated_ts, d.revision, d.tags_etag, d.version";

fn attr_subquery(b: &mut Sql, scope: &str, name: &str) {
    b.push("SELECT dev_seq FROM attr_index WHERE scope = ")
        .bind_text(scope);
    b.push(" AND name = ").bind_text(name);
}

/// `(t = .. AND ..) OR ...` for "some value equals one of `values`"; `None` if it can't match.
fn values_match(b: &mut Sql, values: &[Scalar], d: &Dialect) -> bool {
    let strs: Vec<&str> = values
        .iter()
        .filter_map(|v| {
            if let Scalar::Str(s) = v {
                Some(s.as_str())
            } else {
                None
            }
        })
        .collect();
    let nums: Vec<f64> = values
        .iter()
        .filter_map(|v| {
            if let Scalar::Num(n) = v {
                Some(*n)
            } else {
                None
            }
        })
        .collect();
    let bools: Vec<bool> = values
        .iter()
        .filter_map(|v| {
            if let Scalar::Bool(x) = v {
                Some(*x)
            } else {
                None
            }
        })
        .collect();
    let mut parts = 0;
    let mut sep = |b: &mut Sql| {
        if parts > 0 {
            b.push(" OR ");
        }
        parts += 1;
    };
    if !strs.is_empty() {
        sep(b);
        if let [one] = strs.as_slice() {
            b.push("(t = 2 AND sk = ").bind_text(&sort_key(one));
            b.push(" AND s = ").bind_text(one);
            b.push(")");
        } else {
            let keys: Vec<String> = strs.iter().map(|s| sort_key(s)).collect();
            b.push("(t = 2 AND sk IN (");
            b.json_list(json_strings(&keys), d.json_texts);
            b.push(") AND s IN (");
            b.json_list(json_strings(&strs), d.json_texts);
            b.push("))");
        }
    }
    if !nums.is_empty() {
        sep(b);
        if let [one] = nums.as_slice() {
            b.push("(t = 1 AND n = ");
            b.bind(Bind::Float(*one));
            b.push(")");
        } else {
            b.push("(t = 1 AND n IN (");
            let json = serde_json::to_string(&nums).unwrap_or_else(|_| "[]".into());
            b.json_list(json, d.json_nums);
            b.push("))");
        }
    }
    for x in bools {
        sep(b);
        b.push("(t = 3 AND n = ");
        b.bind(Bind::Float(if x { 1.0 } else { 0.0 }));
        b.push(")");
    }
    parts > 0
}

fn json_strings<S: AsRef<str>>(v: &[S]) -> String {
    let v: Vec<&str> = v.iter().map(AsRef::as_ref).collect();
    serde_json::to_string(&v).unwrap_or_else(|_| "[]".into())
}

/// Loosened operator for the indexed prefix: `s > v` implies `prefix(s) >= prefix(v)`.
fn prefix_op(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Gt | CmpOp::Gte => ">=",
        CmpOp::Lt | CmpOp::Lte => "<=",
    }
}

fn cond_sql(b: &mut Sql, c: &Cond, d: &Dialect) {
    match c {
        Cond::In {
            key: Key::Attr { scope, name },
            values,
            negate,
        } => {
            b.push(if *negate {
                "d.seq NOT IN ("
            } else {
                "d.seq IN ("
            });
            attr_subquery(b, scope, name);
            b.push(" AND (");
            if !values_match(b, values, d) {
                b.push("1 = 0");
            }
            b.push("))");
        }
        Cond::In {
            key: Key::DeviceId,
            values,
            negate,
        } => {
            let ids: Vec<&str> = values
                .iter()
                .filter_map(|v| {
                    if let Scalar::Str(s) = v {
                        Some(s.as_str())
                    } else {
                        None
                    }
                })
                .collect();
            match (ids.as_slice(), negate) {
                ([], false) => {
                    b.push("1 = 0");
                }
                ([], true) => {
                    b.push("1 = 1");
                }
                ([one], neg) => {
                    b.push(if *neg { "d.id <> " } else { "d.id = " })
                        .bind_text(one);
                }
                (many, neg) => {
                    b.push(if *neg { "d.id NOT IN (" } else { "d.id IN (" });
                    b.json_list(json_strings(many), d.json_texts);
                    b.push(")");
                }
            }
        }
        Cond::Exists {
            key: Key::Attr { scope, name },
            exists,
        } => {
            b.push(if *exists {
                "d.seq IN ("
            } else {
                "d.seq NOT IN ("
            });
            attr_subquery(b, scope, name);
            b.push(")");
        }
        Cond::Exists {
            key: Key::DeviceId,
            exists,
        } => {
            b.push(if *exists { "1 = 1" } else { "1 = 0" });
        }
        Cond::Cmp {
            key: Key::Attr { scope, name },
            op,
            value,
        } => {
            b.push("d.seq IN (");
            attr_subquery(b, scope, name);
            match value {
                Scalar::Str(s) => {
                    b.push(" AND t = 2 AND sk ")
                        .push(prefix_op(*op))
                        .push(" ")
                        .bind_text(&sort_key(s));
                    b.push(" AND s ").push(op.sql()).push(" ").bind_text(s);
                }
                Scalar::Num(n) => {
                    b.push(" AND t = 1 AND n ").push(op.sql()).push(" ");
                    b.bind(Bind::Float(*n));
                }
                Scalar::Bool(x) => {
                    b.push(" AND t = 3 AND n ").push(op.sql()).push(" ");
                    b.bind(Bind::Float(if *x { 1.0 } else { 0.0 }));
                }
            }
            b.push(")");
        }
        Cond::Cmp {
            key: Key::DeviceId,
            op,
            value,
        } => match value {
            Scalar::Str(s) => {
                b.push("d.id ").push(op.sql()).push(" ").bind_text(s);
            }
            _ => {
                b.push("1 = 0");
            }
        },
        Cond::DeviceIds(ids) => {
            b.push("d.id IN (");
            b.json_list(json_strings(ids), d.json_texts);
            b.push(")");
        }
        Cond::Text(words) => {
            b.push("(1 = 0");
            for w in words {
                b.push(" OR d.text LIKE ").bind_text(&format!("% {w} %"));
                b.push(" OR lower(d.group_name) = ").bind_text(w);
            }
            b.push(")");
        }
    }
}

/// `WHERE` body: the tenant and every condition.
pub(crate) fn where_sql(b: &mut Sql, tenant: &str, conds: &[Cond], d: &Dialect) {
    b.push(d.tenant_col).push(" = ").bind_text(tenant);
    for c in conds {
        b.push(" AND ");
        cond_sql(b, c, d);
    }
}

/// `SELECT COUNT(*)` of a query.
pub(crate) fn count_sql(tenant: &str, q: &Query, d: &Dialect) -> Sql {
    let mut b = Sql::default();
    b.push("SELECT COUNT(*) FROM devices d WHERE ");
    where_sql(&mut b, tenant, &q.conds, d);
    b
}

/// The page of a query, sorted: per attribute sort key a joined per-device aggregate
/// (smallest value ascending, largest descending, missing first ascending, as MongoDB does),
/// numbers before strings, then creation order.
pub(crate) fn page_sql(tenant: &str, q: &Query, d: &Dialect) -> Sql {
    let mut b = Sql::default();
    b.push("SELECT ").push(DEVICE_COLS).push(" FROM devices d");
    let mut order = Vec::new();
    for (i, SortKey { key, desc }) in q.sort.iter().enumerate() {
        let dir = if *desc { "DESC" } else { "ASC" };
        match key {
            Key::DeviceId => order.push(format!("d.id {dir}")),
            Key::Attr { scope, name } => {
                let agg = if *desc { "MAX" } else { "MIN" };
                b.push(&format!(
                    " LEFT JOIN (SELECT dev_seq, {agg}(t) AS t, {agg}(n) AS n, {agg}(s) AS s FROM attr_index WHERE scope = "
                ));
                b.bind_text(scope);
                b.push(" AND name = ").bind_text(name);
                b.push(&format!(
                    " AND t > 0 GROUP BY dev_seq) k{i} ON k{i}.dev_seq = d.seq"
                ));
                order.push(format!(
                    "COALESCE(k{i}.t, 0) {dir}, k{i}.n {dir}, k{i}.s {dir}"
                ));
            }
        }
    }
    b.push(" WHERE ");
    where_sql(&mut b, tenant, &q.conds, d);
    order.push("d.seq ASC".into());
    b.push(" ORDER BY ").push(&order.join(", "));
    b.push(" LIMIT ");
    b.bind(Bind::Int(i64::try_from(q.limit).unwrap_or(i64::MAX)));
    b.push(" OFFSET ");
    b.bind(Bind::Int(i64::try_from(q.offset).unwrap_or(i64::MAX)));
    b
}

/// Implements [`super::InventoryStore`] for a pool type with the given dialect.
macro_rules! impl_store {
    ($store:ident, $db:ty, $dialect:expr) => {
        use async_trait::async_trait;
        use sqlx::Row;

        use crate::error::{Error, Result};
        use crate::model::{DeviceRecord, FilterAttribute, UpdateResult};
        use crate::store::sql::{self, Bind, DEVICE_COLS, Sql};
        use crate::store::{IndexRow, InventoryStore, Key, Query, group_row, index_rows};

        type Pool = sqlx::Pool<$db>;
        type Q = sqlx::query::Query<'static, $db, <$db as sqlx::Database>::Arguments>;

        const DIALECT: sql::Dialect = $dialect;
        /// Bulk loads at least this large refresh the planner statistics.
        const BULK_ANALYZE_ROWS: u64 = 100;
        /// Index rows per multi-row INSERT (8 parameters each).
        const ROWS_PER_INSERT: usize = 500;

        fn bind_all(mut q: Q, binds: Vec<Bind>) -> Q {
            for b in binds {
                q = match b {
                    Bind::Text(s) => q.bind(s),
                    Bind::NullText => q.bind(None::<String>),
                    Bind::Int(i) => q.bind(i),
                    Bind::Float(f) => q.bind(f),
                    Bind::NullFloat => q.bind(None::<f64>),
                };
            }
            q
        }

        fn query(s: Sql) -> Q {
            // The text was built by `sql.rs` from constants; values are bound parameters.
            bind_all(sqlx::query(sqlx::AssertSqlSafe(s.text)), s.binds)
        }

        fn row_to_record(row: &<$db as sqlx::Database>::Row) -> Result<DeviceRecord> {
            let doc: String = row.try_get("attrs")?;
            let attrs = DeviceRecord::attrs_from_json(&doc).map_err(|e| Error::Db(sqlx::Error::Decode(Box::new(e))))?;
            Ok(DeviceRecord {
                id: row.try_get("id")?,
                attrs,
                group: row.try_get("group_name")?,
                created_ts: row.try_get("created_ts")?,
                updated_ts: row.try_get("updated_ts")?,
                revision: row.try_get("revision")?,
                tags_etag: row.try_get("tags_etag")?,
                version: row.try_get("version")?,
            })
        }

        fn json_ints(v: &[i64]) -> String {
            serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
        }

        async fn insert_rows(
            conn: &mut <$db as sqlx::Database>::Connection,
            rows: &[(i64, IndexRow)],
        ) -> Result<()> {
            for chunk in rows.chunks(ROWS_PER_INSERT) {
                let mut b = Sql::default();
                b.push("INSERT INTO attr_index (dev_seq, scope, name, i, t, s, sk, n) VALUES ");
                for (k, (seq, r)) in chunk.iter().enumerate() {
                    b.push(if k == 0 { "(" } else { ", (" });
                    b.bind(Bind::Int(*seq));
                    b.push(", ");
                    b.bind(Bind::Text(r.scope.clone()));
                    b.push(", ");
                    b.bind(Bind::Text(r.name.clone()));
                    b.push(", ");
                    b.bind(Bind::Int(r.i));
                    b.push(", ");
                    b.bind(Bind::Int(r.t));
                    b.push(", ");
                    b.bind(r.s.clone().map_or(Bind::NullText, Bind::Text));
                    b.push(", ");
                    b.bind(r.sk.clone().map_or(Bind::NullText, Bind::Text));
                    b.push(", ");
                    b.bind(r.n.map_or(Bind::NullFloat, Bind::Float));
                    b.push(")");
                }
                query(b).execute(&mut *conn).await?;
            }
            Ok(())
        }

        /// Replaces the group of the devices `seqs` (None = no group) and its index rows.
        async fn write_group(
            conn: &mut <$db as sqlx::Database>::Connection,
            seqs: &[i64],
            group: Option<&str>,
        ) -> Result<()> {
            if seqs.is_empty() {
                return Ok(());
            }
            let mut b = Sql::default();
            b.push("UPDATE devices SET group_name = ");
            b.bind(group.map_or(Bind::NullText, |g| Bind::Text(g.to_owned())));
            b.push(", version = version + 1 WHERE seq IN (");
            b.json_list(json_ints(seqs), DIALECT.json_ints);
            b.push(")");
            query(b).execute(&mut *conn).await?;
            let mut b = Sql::default();
            b.push("DELETE FROM attr_index WHERE scope = 'system' AND name = 'group' AND dev_seq IN (");
            b.json_list(json_ints(seqs), DIALECT.json_ints);
            b.push(")");
            query(b).execute(&mut *conn).await?;
            if let Some(row) = group.and_then(group_row) {
                let rows: Vec<(i64, IndexRow)> = seqs.iter().map(|s| (*s, row.clone())).collect();
                insert_rows(conn, &rows).await?;
            }
            Ok(())
        }

        /// Inserts a device and its index rows; `false` if the id exists.
        async fn insert_one(
            conn: &mut <$db as sqlx::Database>::Connection,
            tenant: &str,
            rec: &DeviceRecord,
        ) -> Result<bool> {
            let seq: Option<i64> = sqlx::query_scalar(
                "INSERT INTO devices (tenant_id, id, attrs, group_name, created_ts, updated_ts, revision, tags_etag, text, version) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0) ON CONFLICT (tenant_id, id) DO NOTHING RETURNING seq",
            )
            .bind(tenant.to_owned())
            .bind(rec.id.clone())
            .bind(rec.doc_json())
            .bind(rec.group.clone())
            .bind(rec.created_ts.clone())
            .bind(rec.updated_ts.clone())
            .bind(rec.revision)
            .bind(rec.tags_etag.clone())
            .bind(rec.text_keywords())
            .fetch_optional(&mut *conn)
            .await?;
            let Some(seq) = seq else { return Ok(false) };
            let rows: Vec<(i64, IndexRow)> = index_rows(rec).into_iter().map(|r| (seq, r)).collect();
            insert_rows(conn, &rows).await?;
            Ok(true)
        }

        /// The store on this backend.
        #[derive(Debug, Clone)]
        pub struct $store {
            pool: Pool,
        }

        impl $store {
            /// A store on a migrated pool.
            pub fn new(pool: Pool) -> Self {
                Self { pool }
            }
        }

        #[async_trait]
        impl InventoryStore for $store {
            async fn ping(&self) -> Result<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn get_device(&self, tenant: &str, id: &str) -> Result<Option<DeviceRecord>> {
                let mut b = Sql::default();
                b.push("SELECT ").push(DEVICE_COLS).push(" FROM devices d WHERE d.tenant_id = ");
                b.bind_text(tenant);
                b.push(" AND d.id = ").bind_text(id);
                let row = query(b).fetch_optional(&self.pool).await?;
                row.as_ref().map(row_to_record).transpose()
            }

            async fn insert_device(&self, tenant: &str, rec: &DeviceRecord) -> Result<bool> {
                let mut tx = self.pool.begin_with(DIALECT.begin).await?;
                let created = insert_one(&mut tx, tenant, rec).await?;
                if created {
                    tx.commit().await?;
                }
                Ok(created)
            }

            async fn insert_devices(&self, tenant: &str, recs: &[DeviceRecord]) -> Result<u64> {
                let mut tx = self.pool.begin_with(DIALECT.begin).await?;
                let mut n = 0;
                for rec in recs {
                    n += u64::from(insert_one(&mut tx, tenant, rec).await?);
                }
                tx.commit().await?;
                // Plans for the attribute index depend on statistics; a bulk load makes
                // them stale long before automatic analysis notices.
                if n >= BULK_ANALYZE_ROWS {
                    let mut conn = self.pool.acquire().await?;
                    for stmt in DIALECT.analyze {
                        sqlx::query(*stmt).execute(&mut *conn).await?;
                    }
                }
                Ok(n)
            }

            async fn update_device(&self, tenant: &str, rec: &DeviceRecord) -> Result<bool> {
                let mut tx = self.pool.begin_with(DIALECT.begin).await?;
                let seq: Option<i64> = sqlx::query_scalar(
                    "UPDATE devices SET attrs = $1, group_name = $2, updated_ts = $3, revision = $4, tags_etag = $5, \
                     text = $6, version = version + 1 WHERE tenant_id = $7 AND id = $8 AND version = $9 RETURNING seq",
                )
                .bind(rec.doc_json())
                .bind(rec.group.clone())
                .bind(rec.updated_ts.clone())
                .bind(rec.revision)
                .bind(rec.tags_etag.clone())
                .bind(rec.text_keywords())
                .bind(tenant.to_owned())
                .bind(rec.id.clone())
                .bind(rec.version)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(seq) = seq else { return Ok(false) };
                sqlx::query("DELETE FROM attr_index WHERE dev_seq = $1").bind(seq).execute(&mut *tx).await?;
                let rows: Vec<(i64, IndexRow)> = index_rows(rec).into_iter().map(|r| (seq, r)).collect();
                insert_rows(&mut tx, &rows).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn delete_devices(&self, tenant: &str, ids: &[String]) -> Result<u64> {
                if ids.is_empty() {
                    return Ok(0);
                }
                let mut b = Sql::default();
                b.push("DELETE FROM devices WHERE tenant_id = ").bind_text(tenant);
                b.push(" AND id IN (");
                b.json_list(serde_json::to_string(ids).unwrap_or_else(|_| "[]".into()), DIALECT.json_texts);
                b.push(")");
                Ok(query(b).execute(&self.pool).await?.rows_affected())
            }

            async fn set_group(&self, tenant: &str, ids: &[String], group: &str) -> Result<UpdateResult> {
                if ids.is_empty() {
                    return Ok(UpdateResult::default());
                }
                let mut tx = self.pool.begin_with(DIALECT.begin).await?;
                let mut b = Sql::default();
                b.push("SELECT seq, group_name FROM devices WHERE tenant_id = ").bind_text(tenant);
                b.push(" AND id IN (");
                b.json_list(serde_json::to_string(ids).unwrap_or_else(|_| "[]".into()), DIALECT.json_texts);
                b.push(")");
                let rows = query(b).fetch_all(&mut *tx).await?;
                let mut changed = Vec::new();
                for r in &rows {
                    let g: Option<String> = r.try_get("group_name")?;
                    if g.as_deref() != Some(group) {
                        changed.push(r.try_get::<i64, _>("seq")?);
                    }
                }
                write_group(&mut tx, &changed, Some(group)).await?;
                tx.commit().await?;
                Ok(UpdateResult {
                    matched_count: rows.len() as u64,
                    updated_count: changed.len() as u64,
                    ..Default::default()
                })
            }

            async fn unset_group(&self, tenant: &str, ids: Option<&[String]>, group: &str) -> Result<u64> {
                let mut tx = self.pool.begin_with(DIALECT.begin).await?;
                let mut b = Sql::default();
                b.push("SELECT seq FROM devices WHERE tenant_id = ").bind_text(tenant);
                b.push(" AND group_name = ").bind_text(group);
                if let Some(ids) = ids {
                    b.push(" AND id IN (");
                    b.json_list(serde_json::to_string(ids).unwrap_or_else(|_| "[]".into()), DIALECT.json_texts);
                    b.push(")");
                }
                let seqs: Vec<i64> = query(b)
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(|r| r.try_get::<i64, _>("seq"))
                    .collect::<Result<_, _>>()?;
                write_group(&mut tx, &seqs, None).await?;
                tx.commit().await?;
                Ok(seqs.len() as u64)
            }

            async fn list_groups(&self, tenant: &str, status: Option<&str>) -> Result<Vec<String>> {
                let mut b = Sql::default();
                b.push("SELECT DISTINCT d.group_name FROM devices d WHERE d.tenant_id = ").bind_text(tenant);
                b.push(" AND d.group_name IS NOT NULL");
                if let Some(st) = status {
                    b.push(" AND d.seq IN (SELECT dev_seq FROM attr_index WHERE scope = 'identity' AND name = 'status' AND t = 2 AND s = ");
                    b.bind_text(st);
                    b.push(")");
                }
                b.push(" ORDER BY d.group_name");
                let rows = query(b).fetch_all(&self.pool).await?;
                Ok(rows.iter().map(|r| r.try_get::<String, _>(0)).collect::<Result<_, _>>()?)
            }

            async fn search(&self, tenant: &str, q: &Query) -> Result<(Vec<DeviceRecord>, u64)> {
                let total: i64 = {
                    let c = sql::count_sql(tenant, q, &DIALECT);
                    bind_scalar(c).fetch_one(&self.pool).await?
                };
                if total == 0 || q.limit == 0 {
                    return Ok((Vec::new(), total.max(0) as u64));
                }
                let rows = query(sql::page_sql(tenant, q, &DIALECT)).fetch_all(&self.pool).await?;
                let devs = rows.iter().map(row_to_record).collect::<Result<Vec<_>>>()?;
                Ok((devs, total as u64))
            }

            async fn search_ids(&self, tenant: &str, conds: &[$crate::store::Cond]) -> Result<Vec<String>> {
                let mut b = Sql::default();
                b.push("SELECT d.id FROM devices d WHERE ");
                sql::where_sql(&mut b, tenant, conds, &DIALECT);
                b.push(" ORDER BY d.seq");
                let rows = query(b).fetch_all(&self.pool).await?;
                Ok(rows.iter().map(|r| r.try_get::<String, _>(0)).collect::<Result<_, _>>()?)
            }

            async fn distinct_strings(&self, tenant: &str, key: &Key) -> Result<Vec<String>> {
                let mut b = Sql::default();
                match key {
                    Key::DeviceId => {
                        b.push("SELECT d.id FROM devices d WHERE d.tenant_id = ").bind_text(tenant);
                    }
                    Key::Attr { scope, name } => {
                        // Across tenants on purpose: the values only feed an IN list that
                        // the tenant-restricted search applies, and skipping the join halves
                        // the scan.
                        b.push("SELECT DISTINCT s FROM attr_index WHERE scope = ").bind_text(scope);
                        b.push(" AND name = ").bind_text(name);
                        b.push(" AND t = 2");
                    }
                }
                let rows = query(b).fetch_all(&self.pool).await?;
                Ok(rows.iter().map(|r| r.try_get::<String, _>(0)).collect::<Result<_, _>>()?)
            }

            async fn filter_attributes(&self, tenant: &str, sample: i64, limit: i64) -> Result<Vec<FilterAttribute>> {
                let rows = sqlx::query(
                    "SELECT a.scope, a.name, COUNT(*) AS c FROM attr_index a \
                     WHERE a.i = 0 AND a.dev_seq IN (SELECT seq FROM devices WHERE tenant_id = $1 ORDER BY seq LIMIT $2) \
                     GROUP BY a.scope, a.name ORDER BY c DESC, a.scope ASC, a.name ASC LIMIT $3",
                )
                .bind(tenant.to_owned())
                .bind(sample)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        Ok(FilterAttribute {
                            scope: r.try_get("scope")?,
                            name: r.try_get("name")?,
                            count: r.try_get("c")?,
                        })
                    })
                    .collect()
            }
        }

        fn bind_scalar(s: Sql) -> sqlx::query::QueryScalar<'static, $db, i64, <$db as sqlx::Database>::Arguments> {
            let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(s.text));
            for b in s.binds {
                q = match b {
                    Bind::Text(s) => q.bind(s),
                    Bind::NullText => q.bind(None::<String>),
                    Bind::Int(i) => q.bind(i),
                    Bind::Float(f) => q.bind(f),
                    Bind::NullFloat => q.bind(None::<f64>),
                };
            }
            q
        }
    };
}

pub(crate) use impl_store;
