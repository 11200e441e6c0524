//! Statements assembled at run time (filters, `IN` lists, sort orders): [`QueryBuilder`]
//! numbers the `$n` placeholders in the order values are bound, and only accepts fixed
//! (`&'static str`) SQL text, so a value can reach the database only as a bound parameter.

use std::fmt::Write;

use crate::dialect::JsonList;
use crate::{Bind, Dialect, Query, query::Arg};

/// A bound parameter's number, to refer to the same value again with [`QueryBuilder::push_param`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param(usize);

/// Builds a [`Query`] piece by piece.
#[derive(Debug)]
pub struct QueryBuilder<'q> {
    dialect: Dialect,
    sql: String,
    args: Vec<Arg<'q>>,
}

impl<'q> QueryBuilder<'q> {
    /// Starts a statement for a database of `dialect`.
    pub fn new(dialect: Dialect, sql: &'static str) -> Self {
        Self {
            dialect,
            sql: sql.to_owned(),
            args: Vec::new(),
        }
    }

    /// The dialect the statement is built for.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Appends fixed SQL text.
    pub fn push(&mut self, sql: &'static str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Binds `value` without appending anything; [`push_param`](Self::push_param) places it,
    /// as often as needed.
    pub fn param(&mut self, value: impl Bind<'q>) -> Param {
        self.args.push(value.into_arg());
        Param(self.args.len())
    }

    /// Appends the placeholder of an already bound parameter.
    pub fn push_param(&mut self, p: Param) -> &mut Self {
        // Writing to a String cannot fail.
        let _ = write!(self.sql, "${}", p.0);
        self
    }

    /// Binds `value` and appends its placeholder.
    pub fn push_bind(&mut self, value: impl Bind<'q>) -> &mut Self {
        let p = self.param(value);
        self.push_param(p)
    }

    /// Binds every value and appends their placeholders separated by commas (for `IN (...)`).
    /// Appends nothing for no values: the caller decides what an empty list means.
    pub fn push_list<T: Bind<'q>>(&mut self, values: impl IntoIterator<Item = T>) -> &mut Self {
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.sql.push_str(", ");
            }
            self.push_bind(v);
        }
        self
    }

    /// Binds `json` (a JSON array) and appends a sub-select over its elements as `kind`
    /// (see [`Dialect::json_list`]): one parameter for a list of any length.
    pub fn push_json_list(&mut self, json: String, kind: JsonList) -> &mut Self {
        let Param(n) = self.param(json);
        let sub = self.dialect.json_list(n, kind);
        self.sql.push_str(&sub);
        self
    }

    /// Appends a column reference the planner must not pick an index for
    /// (see [`Dialect::unindexed`]).
    pub fn push_unindexed(&mut self, column: &'static str) -> &mut Self {
        let col = self.dialect.unindexed(column);
        self.sql.push_str(&col);
        self
    }

    /// Appends a generated identifier: `prefix` followed by `n` (`k0`, `k1`, ...), for a
    /// statement that joins the same table once per item of a list (one join per sort key).
    /// Only the fixed prefix and a number reach the text.
    pub fn push_alias(&mut self, prefix: &'static str, n: usize) -> &mut Self {
        // Writing to a String cannot fail.
        let _ = write!(self.sql, "{prefix}{n}");
        self
    }

    /// The SQL text so far.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// The finished statement.
    pub fn build(self) -> Query<'q> {
        Query::from_parts(self.sql, self.args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_placeholders_in_bind_order() {
        let mut b = QueryBuilder::new(Dialect::Postgres, "SELECT x FROM t WHERE a = ");
        b.push_bind("a");
        let again = b.param(7_i64);
        b.push(" AND b IN (").push_list(["x", "y"]).push(")");
        b.push(" AND c > ")
            .push_param(again)
            .push(" AND d < ")
            .push_param(again);
        b.push(" AND e IN (")
            .push_json_list("[1]".into(), JsonList::Int)
            .push(")");
        assert_eq!(
            b.sql(),
            "SELECT x FROM t WHERE a = $1 AND b IN ($3, $4) AND c > $2 AND d < $2 \
             AND e IN (SELECT json_array_elements_text($5::json)::bigint)"
        );
    }

    #[test]
    fn empty_list_appends_nothing() {
        let mut b = QueryBuilder::new(Dialect::Sqlite, "IN (");
        b.push_list(Vec::<i64>::new()).push(")");
        assert_eq!(b.sql(), "IN ()");
        b.push_unindexed("d.tenant_id");
        assert!(b.sql().ends_with("+d.tenant_id"));
    }

    #[test]
    fn aliases_are_prefix_and_number() {
        let mut b = QueryBuilder::new(Dialect::Postgres, "JOIN t ");
        b.push_alias("k", 0)
            .push(" ON ")
            .push_alias("k", 12)
            .push(".x");
        assert_eq!(b.sql(), "JOIN t k0 ON k12.x");
    }
}
