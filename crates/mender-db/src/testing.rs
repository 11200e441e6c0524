//! Fresh databases for tests: every conformance suite runs against both backends, each as its
//! own test (`<suite>::sqlite::<name>`, `<suite>::postgres::<name>`), so a failure says which
//! database it was.
//!
//! PostgreSQL is taken from `MENDER_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/test`);
//! each database gets a new schema, so tests run in parallel without seeing each other.
//! Set `MENDER_TEST_SKIP_PG=1` to run SQLite only; without it a missing server fails the test.
//!
//! ```ignore
//! async fn creates_user(backend: Backend) {
//!     let db = backend.open(&mender_useradm::SCHEMA).await;
//!     // ... use &db as a mender_db::Db
//! }
//! mender_db::each_backend!(creates_user);
//! ```

use std::ops::Deref;

use crate::{DatabaseUrl, Db, Schema};

/// Default PostgreSQL URL for tests.
pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The PostgreSQL URL tests use, or `None` when PostgreSQL tests are switched off.
pub fn pg_url() -> Option<String> {
    if std::env::var("MENDER_TEST_SKIP_PG").is_ok_and(|v| v == "1") {
        return None;
    }
    Some(std::env::var("MENDER_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_owned()))
}

/// A backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in a temporary directory.
    Sqlite,
    /// A fresh schema in the test PostgreSQL database.
    Postgres,
}

/// A migrated test database; derefs to its [`Db`] and keeps its files alive.
#[derive(Debug)]
pub struct TestDb {
    db: Db,
    _dir: Option<tempfile::TempDir>,
}

impl Deref for TestDb {
    type Target = Db;
    fn deref(&self) -> &Db {
        &self.db
    }
}

impl TestDb {
    /// The database handle (cheap to clone).
    pub fn db(&self) -> Db {
        self.db.clone()
    }
}

impl Backend {
    /// Whether tests on this backend run (PostgreSQL can be switched off).
    pub fn enabled(self) -> bool {
        match self {
            Self::Sqlite => true,
            Self::Postgres => pg_url().is_some(),
        }
    }

    /// A freshly migrated database of `schema` with `make` applied to it (a store on it, as in
    /// `backend.open_with(&SCHEMA, SqlStore)`); the [`TestDb`] keeps the database alive.
    pub async fn open_with<T>(self, schema: &Schema, make: impl FnOnce(Db) -> T) -> (T, TestDb) {
        let db = self.open(schema).await;
        (make(db.db()), db)
    }

    /// A freshly migrated database of `schema` on this backend. Panics (failing the test) when
    /// it cannot be had.
    pub async fn open(self, schema: &Schema) -> TestDb {
        match self {
            Self::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let db = Db::connect(&DatabaseUrl::Sqlite(dir.path().to_path_buf()), schema)
                    .await
                    .expect("sqlite test database");
                TestDb {
                    db,
                    _dir: Some(dir),
                }
            }
            Self::Postgres => {
                let url = pg_url().expect("PostgreSQL tests are switched off");
                let db = postgres(&url, schema).await.unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL test database at {url}: {e} (set MENDER_TEST_SKIP_PG=1 to skip)"
                    )
                });
                TestDb { db, _dir: None }
            }
        }
    }
}

/// A migrated PostgreSQL database of `schema` in a fresh PostgreSQL schema.
pub async fn postgres(url: &str, schema: &Schema) -> Result<Db, crate::OpenError> {
    let name = format!("test_{}_{}", schema.service, unique());
    let db = Db::postgres(url, &name, schema.service).await?;
    db.migrate(schema).await?;
    Ok(db)
}

fn unique() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{}_{}_{}",
        std::process::id(),
        nanos,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Turns `async fn name(backend: Backend)` test bodies into one `#[tokio::test]` per backend:
/// `sqlite::name` and `postgres::name`. The PostgreSQL one passes without running when
/// PostgreSQL tests are switched off (`MENDER_TEST_SKIP_PG=1`).
#[macro_export]
macro_rules! each_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::testing::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if $crate::testing::Backend::Postgres.enabled() {
                        super::$name($crate::testing::Backend::Postgres).await;
                    }
                }
            )*
        }
    };
}
