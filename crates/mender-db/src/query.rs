//! A statement and its bound values ([`Query`]), and the one place where statements are handed
//! to sqlx: written once with `$1, $2, ...` placeholders, run on SQLite or PostgreSQL, on the
//! pool or inside a transaction ([`Conn`]).

use std::borrow::Cow;

use sqlx::postgres::{PgArguments, PgConnection, PgPool, PgRow};
use sqlx::sqlite::{SqliteArguments, SqliteConnection, SqlitePool, SqliteRow};
use sqlx::{Arguments, AssertSqlSafe, Encode, Postgres, Sqlite};

use crate::db::{Pool, PoolConn};
use crate::tx::TxConn;
use crate::{Db, Dialect, Error, Tx};

/// A row type both backends can decode: derive `sqlx::FromRow` on a struct whose fields are
/// [`Column`]s (or tuples of them).
pub trait FromRow:
    for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin
{
}

impl<T> FromRow for T where
    T: for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin
{
}

/// A column type both backends can decode (`i64`, `String`, `bool`, `f64`, `Vec<u8>`, and
/// `Option`s of them).
pub trait Column:
    for<'r> sqlx::Decode<'r, Sqlite>
    + sqlx::Type<Sqlite>
    + for<'r> sqlx::Decode<'r, Postgres>
    + sqlx::Type<Postgres>
    + Send
    + Unpin
{
}

impl<T> Column for T where
    T: for<'r> sqlx::Decode<'r, Sqlite>
        + sqlx::Type<Sqlite>
        + for<'r> sqlx::Decode<'r, Postgres>
        + sqlx::Type<Postgres>
        + Send
        + Unpin
{
}

/// A bound value. `None` is SQL `NULL` of the variant's type: PostgreSQL needs to know it.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg<'q> {
    /// `BIGINT` / `INTEGER`.
    Int(Option<i64>),
    /// `DOUBLE PRECISION` / `REAL`.
    Float(Option<f64>),
    /// `BOOLEAN` (an integer on SQLite).
    Bool(Option<bool>),
    /// `TEXT`.
    Text(Option<Cow<'q, str>>),
    /// `BYTEA` / `BLOB`.
    Bytes(Option<Cow<'q, [u8]>>),
}

/// A value that can be bound to a placeholder.
pub trait Bind<'q> {
    /// The value as an argument.
    fn into_arg(self) -> Arg<'q>;
    /// `NULL` of this type (what `None::<Self>` binds).
    fn null() -> Arg<'q>;
}

/// Binary data to bind (`BYTEA` / `BLOB`).
#[derive(Debug, Clone, Copy)]
pub struct Blob<'q>(pub &'q [u8]);

/// `Bind` for owned types: each binds as `$variant(Some(convert(value)))`, and its
/// `NULL` is the same variant's `None`.
macro_rules! bind_owned {
    ($($ty:ty => $variant:ident),+ $(,)?) => {$(
        impl<'q> Bind<'q> for $ty {
            fn into_arg(self) -> Arg<'q> {
                Arg::$variant(Some(self.into()))
            }
            fn null() -> Arg<'q> {
                Arg::$variant(None)
            }
        }
    )+};
}

// Every integer widens losslessly into the `i64` both backends store; owned text and bytes
// move into the `Cow` without a copy.
bind_owned!(
    i64 => Int,
    i32 => Int,
    i16 => Int,
    u32 => Int,
    u16 => Int,
    u8 => Int,
    bool => Bool,
    f64 => Float,
    String => Text,
    Cow<'q, str> => Text,
    Vec<u8> => Bytes,
);

impl<'q, T: AsRef<str> + ?Sized> Bind<'q> for &'q T {
    fn into_arg(self) -> Arg<'q> {
        Arg::Text(Some(Cow::Borrowed(self.as_ref())))
    }
    fn null() -> Arg<'q> {
        Arg::Text(None)
    }
}

impl<'q> Bind<'q> for Blob<'q> {
    fn into_arg(self) -> Arg<'q> {
        Arg::Bytes(Some(Cow::Borrowed(self.0)))
    }
    fn null() -> Arg<'q> {
        Arg::Bytes(None)
    }
}

impl<'q, T: Bind<'q>> Bind<'q> for Option<T> {
    fn into_arg(self) -> Arg<'q> {
        match self {
            Some(v) => v.into_arg(),
            None => T::null(),
        }
    }
    fn null() -> Arg<'q> {
        T::null()
    }
}

impl<'q> Bind<'q> for Arg<'q> {
    fn into_arg(self) -> Arg<'q> {
        self
    }
    fn null() -> Arg<'q> {
        Arg::Text(None)
    }
}

/// Where a statement runs: a [`Db`]'s pool (`&db`), an open transaction (`&mut tx`), or (inside
/// this crate) one connection taken from the pool.
pub struct Conn<'c>(ConnInner<'c>);

enum ConnInner<'c> {
    SqlitePool(&'c SqlitePool),
    PgPool(&'c PgPool),
    Sqlite(&'c mut SqliteConnection),
    Pg(&'c mut PgConnection),
}

impl<'c> From<&'c Db> for Conn<'c> {
    fn from(db: &'c Db) -> Self {
        Self(match &db.pool {
            Pool::Sqlite(p) => ConnInner::SqlitePool(p),
            Pool::Postgres(p) => ConnInner::PgPool(p),
        })
    }
}

impl<'c> From<&'c mut PoolConn> for Conn<'c> {
    fn from(conn: &'c mut PoolConn) -> Self {
        Self(match conn {
            PoolConn::Sqlite(c) => ConnInner::Sqlite(c),
            PoolConn::Postgres(c) => ConnInner::Pg(c),
        })
    }
}

impl<'c> From<&'c mut Tx> for Conn<'c> {
    fn from(tx: &'c mut Tx) -> Self {
        Self(match tx.conn() {
            TxConn::Sqlite(c) => ConnInner::Sqlite(c),
            TxConn::Postgres(c) => ConnInner::Pg(c),
        })
    }
}

impl Conn<'_> {
    /// The dialect of the database this runs on.
    pub fn dialect(&self) -> Dialect {
        match self.0 {
            ConnInner::SqlitePool(_) | ConnInner::Sqlite(_) => Dialect::Sqlite,
            ConnInner::PgPool(_) | ConnInner::Pg(_) => Dialect::Postgres,
        }
    }
}

/// Runs `$op` on whichever connection `$on` is: `$q` is the statement, built for that
/// backend by `$sqlite` or `$pg`, and `$e` the executor (pool or connection).
macro_rules! on_conn {
    ($on:expr, $sqlite:expr, $pg:expr, |$q:ident, $e:ident| $op:expr) => {
        match $on.into().0 {
            ConnInner::SqlitePool($e) => on_conn!(@run $q = $sqlite, $op),
            ConnInner::Sqlite($e) => on_conn!(@run $q = $sqlite, $op),
            ConnInner::PgPool($e) => on_conn!(@run $q = $pg, $op),
            ConnInner::Pg($e) => on_conn!(@run $q = $pg, $op),
        }
    };
    (@run $q:ident = $build:expr, $op:expr) => {{
        let $q = $build?;
        $op
    }};
}

/// A statement with `$n` placeholders and the values bound to them, in order.
#[derive(Debug, Clone)]
#[must_use = "a query does nothing until it is executed or fetched"]
pub struct Query<'q> {
    sql: Cow<'static, str>,
    args: Vec<Arg<'q>>,
}

/// A statement written in the source: its text is fixed, every value is bound.
pub fn query<'q>(sql: &'static str) -> Query<'q> {
    Query {
        sql: Cow::Borrowed(sql),
        args: Vec::new(),
    }
}

impl<'q> Query<'q> {
    pub(crate) fn from_parts(sql: String, args: Vec<Arg<'q>>) -> Self {
        Self {
            sql: Cow::Owned(sql),
            args,
        }
    }

    /// Binds the next placeholder.
    pub fn bind(mut self, value: impl Bind<'q>) -> Self {
        self.args.push(value.into_arg());
        self
    }

    /// The statement text.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// Runs the statement; the number of rows it changed.
    pub async fn execute<'c>(self, on: impl Into<Conn<'c>>) -> Result<u64, Error> {
        let done = on_conn!(on, self.sqlite_query(), self.pg_query(), |q, e| q
            .execute(e)
            .await?
            .rows_affected());
        Ok(done)
    }

    /// The first row, if any.
    pub async fn fetch_optional<'c, T: FromRow>(
        self,
        on: impl Into<Conn<'c>>,
    ) -> Result<Option<T>, Error> {
        let row = on_conn!(on, self.sqlite_as(), self.pg_as(), |q, e| q
            .fetch_optional(e)
            .await?);
        Ok(row)
    }

    /// Every row.
    pub async fn fetch_all<'c, T: FromRow>(self, on: impl Into<Conn<'c>>) -> Result<Vec<T>, Error> {
        let rows = on_conn!(on, self.sqlite_as(), self.pg_as(), |q, e| q
            .fetch_all(e)
            .await?);
        Ok(rows)
    }

    /// The first row; an error when there is none.
    pub async fn fetch_one<'c, T: FromRow>(self, on: impl Into<Conn<'c>>) -> Result<T, Error> {
        self.fetch_optional(on)
            .await?
            .ok_or(Error::from(sqlx::Error::RowNotFound))
    }

    /// The first column of the first row; an error when there is no row.
    pub async fn scalar<'c, T: Column>(self, on: impl Into<Conn<'c>>) -> Result<T, Error> {
        Ok(self.fetch_one::<(T,)>(on).await?.0)
    }

    /// The first column of the first row, if there is a row.
    pub async fn scalar_optional<'c, T: Column>(
        self,
        on: impl Into<Conn<'c>>,
    ) -> Result<Option<T>, Error> {
        Ok(self.fetch_optional::<(T,)>(on).await?.map(|(v,)| v))
    }

    /// The first column of every row.
    pub async fn scalars<'c, T: Column>(self, on: impl Into<Conn<'c>>) -> Result<Vec<T>, Error> {
        let rows = self.fetch_all::<(T,)>(on).await?;
        Ok(rows.into_iter().map(|(v,)| v).collect())
    }

    fn sqlite_args(args: Vec<Arg<'q>>) -> Result<SqliteArguments, sqlx::Error> {
        encode_args(args)
    }

    fn pg_args(args: Vec<Arg<'q>>) -> Result<PgArguments, sqlx::Error> {
        encode_args(args)
    }

    fn sqlite_query(
        self,
    ) -> Result<sqlx::query::Query<'static, Sqlite, SqliteArguments>, sqlx::Error> {
        let args = Self::sqlite_args(self.args)?;
        Ok(sqlx::query_with(AssertSqlSafe(self.sql), args))
    }

    fn pg_query(self) -> Result<sqlx::query::Query<'static, Postgres, PgArguments>, sqlx::Error> {
        let args = Self::pg_args(self.args)?;
        Ok(sqlx::query_with(AssertSqlSafe(self.sql), args))
    }

    fn sqlite_as<T: FromRow>(
        self,
    ) -> Result<sqlx::query::QueryAs<'static, Sqlite, T, SqliteArguments>, sqlx::Error> {
        let args = Self::sqlite_args(self.args)?;
        Ok(sqlx::query_as_with(AssertSqlSafe(self.sql), args))
    }

    fn pg_as<T: FromRow>(
        self,
    ) -> Result<sqlx::query::QueryAs<'static, Postgres, T, PgArguments>, sqlx::Error> {
        let args = Self::pg_args(self.args)?;
        Ok(sqlx::query_as_with(AssertSqlSafe(self.sql), args))
    }
}

/// The arguments of one backend, in order, after [`check_text`]. Both backends encode every
/// variant's `Option` as-is, so one function serves both.
fn encode_args<'q, A>(args: Vec<Arg<'q>>) -> Result<A, sqlx::Error>
where
    A: Arguments,
    Option<i64>: Encode<'q, A::Database> + sqlx::Type<A::Database>,
    Option<f64>: Encode<'q, A::Database> + sqlx::Type<A::Database>,
    Option<bool>: Encode<'q, A::Database> + sqlx::Type<A::Database>,
    Option<Cow<'q, str>>: Encode<'q, A::Database> + sqlx::Type<A::Database>,
    Option<Cow<'q, [u8]>>: Encode<'q, A::Database> + sqlx::Type<A::Database>,
{
    check_text(&args)?;
    let mut out = A::default();
    out.reserve(args.len(), 0);
    for arg in args {
        let added = match arg {
            Arg::Int(v) => out.add(v),
            Arg::Float(v) => out.add(v),
            Arg::Bool(v) => out.add(v),
            Arg::Text(v) => out.add(v),
            Arg::Bytes(v) => out.add(v),
        };
        added.map_err(sqlx::Error::Encode)?;
    }
    Ok(out)
}

/// PostgreSQL cannot store a NUL character in text and SQLite can: refusing it on both keeps
/// the backends alike, with an error the caller can recognise ([`Error::is_invalid_text`]).
fn check_text(args: &[Arg<'_>]) -> Result<(), sqlx::Error> {
    let nul = args
        .iter()
        .any(|a| matches!(a, Arg::Text(Some(t)) if t.contains('\0')));
    if nul {
        return Err(sqlx::Error::Encode(Box::new(crate::error::NulInText)));
    }
    Ok(())
}
