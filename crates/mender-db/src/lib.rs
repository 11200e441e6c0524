//! The one storage mechanism every store and the job queue use: a [`Db`] handle over SQLite
//! (the embedded default) or PostgreSQL, chosen by URL, with statements written once in plain
//! Rust ([`query`], [`QueryBuilder`]) and run on either backend.
//!
//! # Layout
//! - [`url`]: where the data lives (`sqlite://DIR`, `postgres://...`), with password redaction.
//! - `db` ([`Db`], [`Schema`]): opening one SQLite file or PostgreSQL schema per service and
//!   running its migrations.
//! - `query` ([`Query`], [`Bind`], [`Arg`]): a statement with its bound values, executed on a
//!   [`Db`] or inside a [`Tx`]. This is the only place that hands statements to sqlx, so how
//!   SQLite or PostgreSQL is reached (pool, connection per thread, statement reuse) can change
//!   here without touching any store.
//! - `builder` ([`QueryBuilder`]): statements assembled at run time, numbering `$n` in order.
//! - `dialect` ([`Dialect`]): every place where the two SQL dialects differ.
//! - `limits` ([`get_limit`], [`put_limit`]): the per-tenant `limits` table several services
//!   share the shape of.
//! - `tx` ([`Tx`]): transactions; [`Db::begin_write`] takes SQLite's write lock up front.
//! - [`testing`]: fresh databases on both backends for conformance suites.

mod builder;
mod db;
mod dialect;
mod error;
mod limits;
mod query;
mod tx;
pub mod url;

#[cfg(feature = "testing")]
pub mod testing;

pub use builder::{Param, QueryBuilder};
pub use db::{Db, Schema};
pub use dialect::{Dialect, JsonList};
pub use error::{Error, OpenError};
pub use limits::{get_limit, put_limit};
pub use query::{Arg, Bind, Blob, Column, Conn, FromRow, Query, query};
pub use tx::Tx;
pub use url::{DatabaseUrl, redact};
