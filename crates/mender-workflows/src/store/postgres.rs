//! [`PostgresStore`]: the job store on PostgreSQL (the SQL lives in `sql_store!`).

use sqlx::PgPool;

/// The job store on a PostgreSQL pool.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// A store on a migrated pool.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

super::sql_store!(PostgresStore);
