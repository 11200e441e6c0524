//! Fresh databases for tests: every conformance suite runs against both backends.
//!
//! PostgreSQL is taken from `MENDER_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/test`);
//! each call gets a new schema, so tests run in parallel without seeing each other.
//! Set `MENDER_TEST_SKIP_PG=1` to run SQLite only; without it a missing server fails the test.

use crate::{Db, DbError, Migrations, open_postgres};

/// Default PostgreSQL URL for tests.
pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The PostgreSQL URL tests use, or `None` when PostgreSQL tests are switched off.
pub fn pg_url() -> Option<String> {
    if std::env::var("MENDER_TEST_SKIP_PG").is_ok_and(|v| v == "1") {
        return None;
    }
    Some(std::env::var("MENDER_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_owned()))
}

/// A migrated SQLite database in a temporary directory (kept alive by the returned guard).
pub async fn sqlite(
    service: &str,
    migrations: Migrations,
) -> Result<(Db, tempfile::TempDir), DbError> {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Db::connect(
        &crate::DatabaseUrl::Sqlite(dir.path().to_path_buf()),
        service,
        migrations,
    )
    .await?;
    Ok((db, dir))
}

/// A migrated PostgreSQL database in a fresh schema.
pub async fn postgres(url: &str, service: &str, migrations: Migrations) -> Result<Db, DbError> {
    let schema = format!("test_{service}_{}", uuid_like());
    let db = Db::Postgres(open_postgres(url, &schema, service).await?);
    db.migrate(service, migrations).await?;
    Ok(db)
}

/// Every backend a conformance suite must pass on: SQLite always, PostgreSQL unless switched off.
pub async fn all(service: &str, migrations: Migrations) -> Vec<(Db, Option<tempfile::TempDir>)> {
    let mut out = Vec::new();
    let (db, dir) = sqlite(service, migrations)
        .await
        .expect("sqlite test database");
    out.push((db, Some(dir)));
    if let Some(url) = pg_url() {
        let db = postgres(&url, service, migrations)
            .await
            .unwrap_or_else(|e| {
                panic!("PostgreSQL test database at {url}: {e} (set MENDER_TEST_SKIP_PG=1 to skip)")
            });
        out.push((db, None));
    }
    out
}

fn uuid_like() -> String {
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
