//! Opening a service's database: one SQLite file or one PostgreSQL schema per service, its
//! migrations run at connect, and the [`Db`] handle every store holds.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Postgres, Sqlite};

use crate::{DatabaseUrl, Dialect, Error, OpenError, Query, Tx, redact};

/// A service's database schema: its name and its migrations on each backend.
///
/// Each service crate declares one as `pub static SCHEMA`; where a service's migrations are
/// byte-identical on both backends, both fields point at the same migrator.
#[derive(Debug, Clone, Copy)]
pub struct Schema {
    /// The service name: the SQLite file is `<dir>/<service>.db`, the PostgreSQL schema is
    /// `mender_<service>`.
    pub service: &'static str,
    sqlite: &'static Migrator,
    postgres: &'static Migrator,
}

impl Schema {
    /// A schema with separate migrations per backend.
    pub const fn new(
        service: &'static str,
        sqlite: &'static Migrator,
        postgres: &'static Migrator,
    ) -> Self {
        Self {
            service,
            sqlite,
            postgres,
        }
    }

    /// A schema whose migrations are the same SQL on both backends.
    pub const fn portable(service: &'static str, migrations: &'static Migrator) -> Self {
        Self::new(service, migrations, migrations)
    }
}

/// A service's connection pool on one of the two backends. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Db {
    pub(crate) pool: Pool,
}

/// The pool behind a [`Db`]; private so that no store matches on the backend.
#[derive(Debug, Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// One connection taken from the pool, for statements that depend on a setting of their
/// session; statements run on it with `.execute(&mut conn)`.
pub(crate) enum PoolConn {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
}

impl Pool {
    async fn acquire(&self) -> Result<PoolConn, sqlx::Error> {
        Ok(match self {
            Self::Sqlite(p) => PoolConn::Sqlite(p.acquire().await?),
            Self::Postgres(p) => PoolConn::Postgres(p.acquire().await?),
        })
    }
}

impl Db {
    /// Opens (creating if needed) the database of `schema.service` and runs its migrations.
    pub async fn connect(url: &DatabaseUrl, schema: &Schema) -> Result<Self, OpenError> {
        let service = schema.service;
        let db = match url {
            DatabaseUrl::Sqlite(dir) => {
                let file = dir.join(format!("{service}.db"));
                Self::sqlite(&file, service).await?
            }
            DatabaseUrl::Postgres(url) => {
                Self::postgres(url, &format!("mender_{service}"), service).await?
            }
        };
        db.migrate(schema).await?;
        Ok(db)
    }

    /// Runs the migrations for this backend.
    pub async fn migrate(&self, schema: &Schema) -> Result<(), OpenError> {
        let res = match &self.pool {
            Pool::Sqlite(p) => schema.sqlite.run(p).await,
            Pool::Postgres(p) => schema.postgres.run(p).await,
        };
        res.map_err(|source| OpenError::Migrate {
            service: schema.service.to_owned(),
            source,
        })
    }

    /// Which SQL dialect this database speaks.
    pub fn dialect(&self) -> Dialect {
        match self.pool {
            Pool::Sqlite(_) => Dialect::Sqlite,
            Pool::Postgres(_) => Dialect::Postgres,
        }
    }

    /// A short backend name for logs and tests.
    pub fn backend(&self) -> &'static str {
        self.dialect().name()
    }

    /// Checks that the database answers (for the health endpoints).
    pub async fn ping(&self) -> Result<(), Error> {
        crate::query("SELECT 1").execute(self).await.map(|_| ())
    }

    /// Opens a transaction that will write. On SQLite it takes the database's write lock at
    /// once (`BEGIN IMMEDIATE`), so a transaction that reads before it writes queues behind
    /// other writers instead of failing when it upgrades its lock.
    pub async fn begin_write(&self) -> Result<Tx, Error> {
        Tx::begin(&self.pool, true).await
    }

    /// Opens a transaction that only reads: all of its statements see the one state of the
    /// database when it first read (SQLite's snapshot; PostgreSQL's `REPEATABLE READ`).
    pub async fn begin_read(&self) -> Result<Tx, Error> {
        Tx::begin(&self.pool, false).await
    }

    /// Refreshes the query planner's statistics for `tables` (see [`Dialect::analyze`]), after
    /// a bulk load made them stale long before automatic analysis notices. The statements run
    /// on one connection: SQLite's `analysis_limit` is a setting of the connection.
    pub async fn analyze(&self, tables: &[&'static str]) -> Result<(), Error> {
        let mut conn = self.pool.acquire().await?;
        for sql in self.dialect().analyze(tables) {
            Query::from_parts(sql, Vec::new())
                .execute(&mut conn)
                .await?;
        }
        Ok(())
    }

    /// Closes the pool, waiting for connections in use to come back.
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }

    async fn sqlite(file: &Path, service: &str) -> Result<Self, OpenError> {
        if let Some(parent) = file.parent() {
            // A failure shows up as the connect error below, which names the file.
            let _ = std::fs::create_dir_all(parent);
        }
        let opts = SqliteConnectOptions::new()
            .filename(file)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(opts)
            .await
            .map_err(|source| OpenError::Connect {
                service: service.to_owned(),
                location: file.display().to_string(),
                source,
            })?;
        Ok(Self {
            pool: Pool::Sqlite(pool),
        })
    }

    /// Opens a pool whose connections use `schema` (created if missing) as their search path.
    pub(crate) async fn postgres(
        url: &str,
        schema: &str,
        service: &str,
    ) -> Result<Self, OpenError> {
        let err = |source| OpenError::Connect {
            service: service.to_owned(),
            location: redact(url),
            source,
        };
        if !schema
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            // Schema names are built from service names, never from input.
            return Err(err(sqlx::Error::Configuration(
                format!("{schema:?} is not a valid schema name").into(),
            )));
        }
        let base = PgConnectOptions::from_str(url).map_err(err)?;
        let bootstrap = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(base.clone())
            .await
            .map_err(err)?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE SCHEMA IF NOT EXISTS \"{schema}\""
        )))
        .execute(&bootstrap)
        .await
        .map_err(err)?;
        bootstrap.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(base.options([("search_path", schema)]))
            .await
            .map_err(err)?;
        Ok(Self {
            pool: Pool::Postgres(pool),
        })
    }
}
