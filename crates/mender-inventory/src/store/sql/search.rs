//! A search [`Query`] as SQL: every predicate an indexed sub-select of `attr_index` producing
//! device rows (`d.seq IN (...)`, negations `NOT IN`, which also match devices without the
//! attribute, as MongoDB does), sorting by joined per-device aggregates.

use mender_core::TenantId;
use mender_db::{Dialect, JsonList, QueryBuilder};

use super::json_array;
use crate::store::{CmpOp, Cond, Key, Query, Scalar, SortKey, prefix_end, sort_key};

/// A device row as [`DeviceRow`](super::DeviceRow) reads it.
pub(super) const SELECT_DEVICES: &str = "SELECT d.id, d.attrs, d.group_name, d.created_ts, \
                                         d.updated_ts, d.revision, d.tags_etag, d.version \
                                         FROM devices d";

/// `SELECT dev_seq ...` of one attribute's index rows, to be continued with value conditions.
fn attr_subquery<'q>(b: &mut QueryBuilder<'q>, scope: &'q str, name: &'q str) {
    b.push("SELECT dev_seq FROM attr_index WHERE scope = ")
        .push_bind(scope)
        .push(" AND name = ")
        .push_bind(name);
}

/// `(t = .. AND ..) OR ...` for "some value equals one of `values`"; `false` (and nothing
/// pushed) when no value can match.
fn values_match<'q>(b: &mut QueryBuilder<'q>, values: &'q [Scalar]) -> bool {
    let mut strs: Vec<&str> = Vec::new();
    let mut nums: Vec<f64> = Vec::new();
    let mut bools: Vec<bool> = Vec::new();
    for v in values {
        match v {
            Scalar::Str(s) => strs.push(s),
            Scalar::Num(n) => nums.push(*n),
            Scalar::Bool(x) => bools.push(*x),
        }
    }
    let mut parts = 0;
    let mut sep = |b: &mut QueryBuilder<'q>| {
        if parts > 0 {
            b.push(" OR ");
        }
        parts += 1;
    };
    if !strs.is_empty() {
        sep(b);
        if let [one] = strs.as_slice() {
            b.push("(t = 2 AND sk = ")
                .push_bind(sort_key(one))
                .push(" AND s = ")
                .push_bind(*one)
                .push(")");
        } else {
            let keys: Vec<String> = strs.iter().map(|s| sort_key(s)).collect();
            b.push("(t = 2 AND sk IN (")
                .push_json_list(json_array(&keys), JsonList::Text)
                .push(") AND s IN (")
                .push_json_list(json_array(&strs), JsonList::Text)
                .push("))");
        }
    }
    if !nums.is_empty() {
        sep(b);
        if let [one] = nums.as_slice() {
            b.push("(t = 1 AND n = ").push_bind(*one).push(")");
        } else {
            b.push("(t = 1 AND n IN (")
                .push_json_list(json_array(&nums), JsonList::Float)
                .push("))");
        }
    }
    for x in bools {
        sep(b);
        b.push("(t = 3 AND n = ").push_bind(bool_num(x)).push(")");
    }
    parts > 0
}

/// Booleans are indexed as the numbers 0 and 1.
fn bool_num(x: bool) -> f64 {
    if x { 1.0 } else { 0.0 }
}

/// Loosened operator for the indexed prefix: `s > v` implies `prefix(s) >= prefix(v)`.
fn prefix_op(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Gt | CmpOp::Gte => ">=",
        CmpOp::Lt | CmpOp::Lte => "<=",
    }
}

/// `d.seq IN (` (`NOT IN (` when `negate`) the devices having attribute `scope/name`; the
/// caller may narrow the subquery before closing it.
fn seq_in_attr<'q>(b: &mut QueryBuilder<'q>, scope: &'q str, name: &'q str, negate: bool) {
    b.push(if negate {
        "d.seq NOT IN ("
    } else {
        "d.seq IN ("
    });
    attr_subquery(b, scope, name);
}

fn cond_sql<'q>(b: &mut QueryBuilder<'q>, c: &'q Cond) {
    match c {
        Cond::In {
            key: Key::Attr { scope, name },
            values,
            negate,
        } => {
            seq_in_attr(b, scope, name, *negate);
            b.push(" AND (");
            if !values_match(b, values) {
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
                .filter_map(|v| match v {
                    Scalar::Str(s) => Some(s.as_str()),
                    _ => None,
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
                        .push_bind(*one);
                }
                (many, neg) => {
                    b.push(if *neg { "d.id NOT IN (" } else { "d.id IN (" })
                        .push_json_list(json_array(many), JsonList::Text)
                        .push(")");
                }
            }
        }
        Cond::Exists {
            key: Key::Attr { scope, name },
            exists,
        } => {
            seq_in_attr(b, scope, name, !*exists);
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
                        .push_bind(sort_key(s))
                        .push(" AND s ")
                        .push(op.sql())
                        .push(" ")
                        .push_bind(s);
                }
                Scalar::Num(n) => {
                    b.push(" AND t = 1 AND n ")
                        .push(op.sql())
                        .push(" ")
                        .push_bind(*n);
                }
                Scalar::Bool(x) => {
                    b.push(" AND t = 3 AND n ")
                        .push(op.sql())
                        .push(" ")
                        .push_bind(bool_num(*x));
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
                b.push("d.id ").push(op.sql()).push(" ").push_bind(s);
            }
            _ => {
                b.push("1 = 0");
            }
        },
        Cond::Prefix {
            key: Key::DeviceId,
            prefix,
        } => {
            b.push("d.id >= ").push_bind(prefix.as_str());
            if let Some(end) = prefix_end(prefix) {
                b.push(" AND d.id < ").push_bind(end);
            }
        }
        Cond::Prefix {
            key: Key::Attr { scope, name },
            prefix,
        } => {
            // A string starting with the prefix lies between the prefix and its end; so does
            // its indexed key, between the prefix's key and that key's end.
            seq_in_attr(b, scope, name, false);
            let key = sort_key(prefix);
            let key_end = prefix_end(&key);
            b.push(" AND t = 2 AND sk >= ").push_bind(key);
            if let Some(end) = key_end {
                b.push(" AND sk < ").push_bind(end);
            }
            b.push(" AND s >= ").push_bind(prefix.as_str());
            if let Some(end) = prefix_end(prefix) {
                b.push(" AND s < ").push_bind(end);
            }
            b.push(")");
        }
        Cond::DeviceIds(ids) => {
            b.push("d.id IN (")
                .push_json_list(json_array(ids), JsonList::Text)
                .push(")");
        }
        Cond::Text(words) => {
            b.push("(1 = 0");
            for w in words {
                b.push(" OR d.text LIKE ")
                    .push_bind(format!("% {w} %"))
                    .push(" OR lower(d.group_name) = ")
                    .push_bind(w);
            }
            b.push(")");
        }
    }
}

/// `WHERE` body: the tenant and every condition. SQLite must not answer the tenant from its
/// index: its planner would prefer that index to a far more selective attribute index.
pub(super) fn where_sql<'q>(b: &mut QueryBuilder<'q>, tenant: &'q TenantId, conds: &'q [Cond]) {
    b.push_unindexed("d.tenant_id")
        .push(" = ")
        .push_bind(tenant);
    for c in conds {
        b.push(" AND ");
        cond_sql(b, c);
    }
}

/// `SELECT COUNT(*)` of a query.
pub(super) fn count_sql<'q>(
    dialect: Dialect,
    tenant: &'q TenantId,
    q: &'q Query,
) -> QueryBuilder<'q> {
    let mut b = QueryBuilder::new(dialect, "SELECT COUNT(*) FROM devices d WHERE ");
    where_sql(&mut b, tenant, &q.conds);
    b
}

/// The page of a query, sorted: per attribute sort key a joined per-device aggregate
/// (smallest value ascending, largest descending, missing first ascending, as MongoDB does),
/// numbers before strings, then creation order.
pub(super) fn page_sql<'q>(
    dialect: Dialect,
    tenant: &'q TenantId,
    q: &'q Query,
) -> QueryBuilder<'q> {
    let mut b = QueryBuilder::new(dialect, SELECT_DEVICES);
    for (i, SortKey { key, desc }) in q.sort.iter().enumerate() {
        if let Key::Attr { scope, name } = key {
            b.push(if *desc {
                " LEFT JOIN (SELECT dev_seq, MAX(t) AS t, MAX(n) AS n, MAX(s) AS s \
                 FROM attr_index WHERE scope = "
            } else {
                " LEFT JOIN (SELECT dev_seq, MIN(t) AS t, MIN(n) AS n, MIN(s) AS s \
                 FROM attr_index WHERE scope = "
            })
            .push_bind(scope)
            .push(" AND name = ")
            .push_bind(name)
            .push(" AND t > 0 GROUP BY dev_seq) ")
            .push_alias("k", i)
            .push(" ON ")
            .push_alias("k", i)
            .push(".dev_seq = d.seq");
        }
    }
    b.push(" WHERE ");
    where_sql(&mut b, tenant, &q.conds);
    b.push(" ORDER BY ");
    for (i, SortKey { key, desc }) in q.sort.iter().enumerate() {
        let dir = if *desc { " DESC, " } else { " ASC, " };
        match key {
            Key::DeviceId => b.push("d.id").push(dir),
            Key::Attr { .. } => b
                .push("COALESCE(")
                .push_alias("k", i)
                .push(".t, 0)")
                .push(dir)
                .push_alias("k", i)
                .push(".n")
                .push(dir)
                .push_alias("k", i)
                .push(".s")
                .push(dir),
        };
    }
    b.push("d.seq ASC LIMIT ")
        .push_bind(i64::try_from(q.limit).unwrap_or(i64::MAX))
        .push(" OFFSET ")
        .push_bind(i64::try_from(q.offset).unwrap_or(i64::MAX));
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(scope: &str, name: &str) -> Key {
        Key::Attr {
            scope: scope.into(),
            name: name.into(),
        }
    }

    /// The statements the planners were tuned on: a change here is a change of plans.
    #[test]
    fn page_statement_text() {
        let q = Query {
            conds: vec![
                Cond::In {
                    key: attr("inventory", "s"),
                    values: vec![Scalar::Str("a".into()), Scalar::Num(1.0)],
                    negate: true,
                },
                Cond::Cmp {
                    key: attr("inventory", "n"),
                    op: CmpOp::Gt,
                    value: Scalar::Str("x".into()),
                },
                Cond::Text(vec!["w".into()]),
            ],
            sort: vec![
                SortKey {
                    key: attr("tags", "t"),
                    desc: true,
                },
                SortKey {
                    key: Key::DeviceId,
                    desc: false,
                },
            ],
            offset: 40,
            limit: 20,
        };
        let tenant = TenantId::from("t");
        let b = page_sql(Dialect::Sqlite, &tenant, &q);
        assert_eq!(
            b.sql(),
            "SELECT d.id, d.attrs, d.group_name, d.created_ts, d.updated_ts, d.revision, \
             d.tags_etag, d.version FROM devices d LEFT JOIN (SELECT dev_seq, MAX(t) AS t, \
             MAX(n) AS n, MAX(s) AS s FROM attr_index WHERE scope = $1 AND name = $2 AND t > 0 \
             GROUP BY dev_seq) k0 ON k0.dev_seq = d.seq WHERE +d.tenant_id = $3 AND d.seq NOT IN \
             (SELECT dev_seq FROM attr_index WHERE scope = $4 AND name = $5 AND ((t = 2 AND \
             sk = $6 AND s = $7) OR (t = 1 AND n = $8))) AND d.seq IN (SELECT dev_seq FROM \
             attr_index WHERE scope = $9 AND name = $10 AND t = 2 AND sk >= $11 AND s > $12) \
             AND (1 = 0 OR d.text LIKE $13 OR lower(d.group_name) = $14) ORDER BY \
             COALESCE(k0.t, 0) DESC, k0.n DESC, k0.s DESC, d.id ASC, d.seq ASC LIMIT $15 \
             OFFSET $16"
        );
        let b = count_sql(Dialect::Postgres, &tenant, &q);
        assert!(
            b.sql().starts_with(
                "SELECT COUNT(*) FROM devices d WHERE d.tenant_id = $1 AND d.seq NOT IN"
            ),
            "{}",
            b.sql()
        );
    }

    #[test]
    fn lists_bind_one_json_parameter() {
        let q = Query {
            conds: vec![
                Cond::In {
                    key: attr("inventory", "s"),
                    values: vec![Scalar::Str("a".into()), Scalar::Str("b".into())],
                    negate: false,
                },
                Cond::In {
                    key: Key::DeviceId,
                    values: vec![Scalar::Str("a".into()), Scalar::Str("b".into())],
                    negate: true,
                },
                Cond::DeviceIds(vec!["x".into()]),
            ],
            ..Default::default()
        };
        let tenant = TenantId::default();
        let b = count_sql(Dialect::Postgres, &tenant, &q);
        assert_eq!(
            b.sql(),
            "SELECT COUNT(*) FROM devices d WHERE d.tenant_id = $1 AND d.seq IN (SELECT dev_seq \
             FROM attr_index WHERE scope = $2 AND name = $3 AND ((t = 2 AND sk IN (SELECT \
             json_array_elements_text($4::json)) AND s IN (SELECT json_array_elements_text($5::json))))) \
             AND d.id NOT IN (SELECT json_array_elements_text($6::json)) AND d.id IN (SELECT \
             json_array_elements_text($7::json))"
        );
    }
}
