//! Every place where the SQL of the two backends differs. Stores write one statement for both
//! and ask the [`Dialect`] for the few fragments that cannot be the same.

/// The SQL dialect of a [`Db`](crate::Db).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite 3.35 or later.
    Sqlite,
    /// PostgreSQL 12 or later.
    Postgres,
}

/// Which scalar type a JSON list parameter expands to (see [`Dialect::json_list`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonList {
    /// Strings.
    Text,
    /// Floating-point numbers.
    Float,
    /// Integers.
    Int,
}

impl Dialect {
    /// A short name for logs and tests.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }

    /// A sub-select yielding the elements of the JSON array bound as parameter `$n`, as
    /// `kind`: lets one bound value stand for a list of any length.
    pub fn json_list(self, n: usize, kind: JsonList) -> String {
        match (self, kind) {
            (Self::Sqlite, _) => format!("SELECT value FROM json_each(${n})"),
            (Self::Postgres, JsonList::Text) => {
                format!("SELECT json_array_elements_text(${n}::json)")
            }
            (Self::Postgres, JsonList::Float) => {
                format!("SELECT json_array_elements_text(${n}::json)::float8")
            }
            (Self::Postgres, JsonList::Int) => {
                format!("SELECT json_array_elements_text(${n}::json)::bigint")
            }
        }
    }

    /// Appended to a row-locking sub-select so that concurrent claimers skip rows another
    /// transaction holds (PostgreSQL). SQLite has one writer at a time and needs nothing.
    pub fn skip_locked(self) -> &'static str {
        match self {
            Self::Sqlite => "",
            Self::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }

    /// Appended to a `SELECT` inside a write transaction whose rows the transaction relies on
    /// until it commits: on PostgreSQL other writers of those rows wait for it. SQLite's write
    /// transactions ([`Db::begin_write`](crate::Db::begin_write)) already exclude each other.
    pub fn for_update(self) -> &'static str {
        match self {
            Self::Sqlite => "",
            Self::Postgres => " FOR UPDATE",
        }
    }

    /// A column reference that the query planner must not use an index for. SQLite's planner
    /// picks a low-selectivity index over a far more selective one when both apply; a unary
    /// `+` takes the column out of its choice. PostgreSQL plans from statistics and needs none.
    pub fn unindexed(self, column: &'static str) -> String {
        match self {
            Self::Sqlite => format!("+{column}"),
            Self::Postgres => column.to_owned(),
        }
    }

    /// Statements that refresh the planner's statistics for `tables` after a bulk load.
    pub fn analyze(self, tables: &[&'static str]) -> Vec<String> {
        match self {
            Self::Sqlite => vec![
                "PRAGMA analysis_limit = 1000".to_owned(),
                "ANALYZE".to_owned(),
            ],
            Self::Postgres => tables.iter().map(|t| format!("ANALYZE {t}")).collect(),
        }
    }
}
