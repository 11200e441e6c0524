//! The deviceauth store on SQLite. Write transactions start with `BEGIN IMMEDIATE` so that
//! concurrent auth requests queue on the write lock instead of failing on lock upgrade.

use sqlx::sqlite::{SqliteConnection, SqlitePool, SqliteRow};

/// deviceauth tables in a SQLite database.
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

super::sql::impl_store!(SqliteStore, SqliteConnection, SqliteRow, "BEGIN IMMEDIATE");
