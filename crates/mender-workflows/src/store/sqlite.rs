//! [`SqliteStore`]: the job store on SQLite (the SQL lives in `sql_store!`).

use sqlx::SqlitePool;

/// The job store on a SQLite pool.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// A store on a migrated pool.
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }
}

super::sql_store!(SqliteStore);
