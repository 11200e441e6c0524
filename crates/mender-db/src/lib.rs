//! Database connections for every service: the backend is chosen by URL (`sqlite://DIR`
//! or `postgres://...`), each service gets its own SQLite file or its own PostgreSQL schema,
//! and its migrations run at connect.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub mod testing;

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// One SQLite file per service in this directory.
    Sqlite(PathBuf),
    /// One schema per service in this PostgreSQL database.
    Postgres(String),
}

/// Errors opening or migrating a database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL is neither `sqlite://` nor `postgres://`.
    #[error(
        "database URL {0:?} is not supported: use postgres://USER@HOST:PORT/DB for PostgreSQL, or leave it unset to use SQLite in the data directory"
    )]
    UnsupportedUrl(String),
    /// Connecting failed.
    #[error("cannot open the {service} database at {location}: {source}")]
    Connect {
        /// Service name.
        service: String,
        /// File or server, without credentials.
        location: String,
        /// Cause.
        source: sqlx::Error,
    },
    /// Migrations failed.
    #[error("cannot migrate the {service} database: {source}")]
    Migrate {
        /// Service name.
        service: String,
        /// Cause.
        source: sqlx::migrate::MigrateError,
    },
}

impl DatabaseUrl {
    /// Parses a configured URL; SQLite URLs name a directory.
    pub fn parse(url: &str) -> Result<Self, DbError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(url.to_owned()))
        } else if let Some(dir) = url.strip_prefix("sqlite://") {
            Ok(Self::Sqlite(PathBuf::from(dir)))
        } else {
            Err(DbError::UnsupportedUrl(redact(url)))
        }
    }

    /// SQLite files in `dir`.
    pub fn sqlite_dir(dir: &Path) -> Self {
        Self::Sqlite(dir.to_path_buf())
    }

    /// A description safe to print: no password.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(dir) => format!("SQLite files in {}", dir.display()),
            Self::Postgres(url) => format!("PostgreSQL {}", redact(url)),
        }
    }
}

/// Removes the password from a URL so it can be logged.
pub fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((userinfo, host)) = rest.split_once('@')
    {
        let user = userinfo.split(':').next().unwrap_or("");
        let masked = if userinfo.contains(':') {
            format!("{user}:***")
        } else {
            user.to_owned()
        };
        return format!("{scheme}://{masked}@{host}");
    }
    url.to_owned()
}

/// A service's connection pool on one of the two backends.
#[derive(Debug, Clone)]
pub enum Db {
    /// SQLite, the embedded default.
    Sqlite(SqlitePool),
    /// PostgreSQL, for scale-out.
    Postgres(PgPool),
}

/// The migrations of one service, one tree per backend.
#[derive(Debug, Clone, Copy)]
pub struct Migrations {
    /// SQLite migrations.
    pub sqlite: &'static Migrator,
    /// PostgreSQL migrations.
    pub postgres: &'static Migrator,
}

impl Db {
    /// Opens (creating if needed) the database of `service` and runs its migrations.
    pub async fn connect(
        url: &DatabaseUrl,
        service: &str,
        migrations: Migrations,
    ) -> Result<Self, DbError> {
        let db = match url {
            DatabaseUrl::Sqlite(dir) => {
                let file = dir.join(format!("{service}.db"));
                Self::Sqlite(open_sqlite(&file, service).await?)
            }
            DatabaseUrl::Postgres(url) => {
                Self::Postgres(open_postgres(url, &format!("mender_{service}"), service).await?)
            }
        };
        db.migrate(service, migrations).await?;
        Ok(db)
    }

    /// Runs the migrations for this backend.
    pub async fn migrate(&self, service: &str, migrations: Migrations) -> Result<(), DbError> {
        let res = match self {
            Db::Sqlite(p) => migrations.sqlite.run(p).await,
            Db::Postgres(p) => migrations.postgres.run(p).await,
        };
        res.map_err(|source| DbError::Migrate {
            service: service.to_owned(),
            source,
        })
    }

    /// A short backend name for logs and tests.
    pub fn backend(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// Checks that the database answers (for the health endpoints).
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        match self {
            Db::Sqlite(p) => sqlx::query("SELECT 1").execute(p).await.map(|_| ()),
            Db::Postgres(p) => sqlx::query("SELECT 1").execute(p).await.map(|_| ()),
        }
    }
}

async fn open_sqlite(file: &Path, service: &str) -> Result<SqlitePool, DbError> {
    if let Some(parent) = file.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let opts = SqliteConnectOptions::new()
        .filename(file)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true);
    SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(opts)
        .await
        .map_err(|source| DbError::Connect {
            service: service.to_owned(),
            location: file.display().to_string(),
            source,
        })
}

/// Opens a pool whose connections use `schema` (created if missing) as their search path.
pub async fn open_postgres(url: &str, schema: &str, service: &str) -> Result<PgPool, DbError> {
    let err = |source| DbError::Connect {
        service: service.to_owned(),
        location: redact(url),
        source,
    };
    let base = PgConnectOptions::from_str(url).map_err(err)?;
    let bootstrap = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(base.clone())
        .await
        .map_err(err)?;
    // The schema name is built from service names, never from user input; check anyway.
    assert!(
        schema
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_'),
        "schema names are identifiers"
    );
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE SCHEMA IF NOT EXISTS \"{schema}\""
    )))
    .execute(&bootstrap)
    .await
    .map_err(err)?;
    bootstrap.close().await;
    PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(base.options([("search_path", schema)]))
        .await
        .map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_redact() {
        assert_eq!(
            DatabaseUrl::parse("sqlite:///tmp/x").unwrap(),
            DatabaseUrl::Sqlite("/tmp/x".into())
        );
        assert!(matches!(
            DatabaseUrl::parse("postgres://u:p@h/db").unwrap(),
            DatabaseUrl::Postgres(_)
        ));
        assert!(
            DatabaseUrl::parse("mysql://u:secret@h/db")
                .unwrap_err()
                .to_string()
                .contains("u:***@h/db")
        );
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }
}
