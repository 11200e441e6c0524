//! The deviceauth store on PostgreSQL (one schema per service, chosen by the pool's search path).

use sqlx::postgres::{PgConnection, PgPool, PgRow};

/// deviceauth tables in a PostgreSQL schema.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// A store on a migrated pool.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

super::sql::impl_store!(PgStore, PgConnection, PgRow, "BEGIN");
