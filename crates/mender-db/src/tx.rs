//! Transactions: several statements that commit together or not at all. Dropping a [`Tx`]
//! without [`Tx::commit`] rolls it back.

use sqlx::postgres::PgConnection;
use sqlx::sqlite::SqliteConnection;
use sqlx::{Postgres, Sqlite, Transaction};

use crate::db::Pool;
use crate::{Dialect, Error};

/// An open transaction; statements run in it with `.execute(&mut tx)`, `.fetch_all(&mut tx)`.
pub struct Tx {
    inner: Inner,
}

enum Inner {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// The connection a transaction runs on.
pub(crate) enum TxConn<'c> {
    Sqlite(&'c mut SqliteConnection),
    Postgres(&'c mut PgConnection),
}

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx")
            .field("dialect", &self.dialect())
            .finish()
    }
}

impl Tx {
    pub(crate) async fn begin(pool: &Pool, write: bool) -> Result<Self, Error> {
        let inner = match pool {
            // A deferred transaction that reads first and writes later fails outright
            // (SQLITE_BUSY_SNAPSHOT) when another writer committed in between; taking the
            // write lock at BEGIN makes it wait for the lock instead.
            Pool::Sqlite(p) if write => Inner::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            // SQLite's deferred transaction reads one snapshot from its first read on.
            Pool::Sqlite(p) => Inner::Sqlite(p.begin().await?),
            Pool::Postgres(p) if write => Inner::Postgres(p.begin().await?),
            // PostgreSQL's default (read committed) takes a new snapshot per statement; a
            // read transaction promises one state for all of its statements.
            Pool::Postgres(p) => Inner::Postgres(
                p.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .await?,
            ),
        };
        Ok(Self { inner })
    }

    pub(crate) fn conn(&mut self) -> TxConn<'_> {
        match &mut self.inner {
            Inner::Sqlite(t) => TxConn::Sqlite(t),
            Inner::Postgres(t) => TxConn::Postgres(t),
        }
    }

    /// The dialect of the database this transaction runs on.
    pub fn dialect(&self) -> Dialect {
        match self.inner {
            Inner::Sqlite(_) => Dialect::Sqlite,
            Inner::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Makes every statement of the transaction durable.
    pub async fn commit(self) -> Result<(), Error> {
        match self.inner {
            Inner::Sqlite(t) => t.commit().await?,
            Inner::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }

    /// Undoes every statement of the transaction.
    pub async fn rollback(self) -> Result<(), Error> {
        match self.inner {
            Inner::Sqlite(t) => t.rollback().await?,
            Inner::Postgres(t) => t.rollback().await?,
        }
        Ok(())
    }
}
