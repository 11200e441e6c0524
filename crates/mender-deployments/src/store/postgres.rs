//! The deployments store on PostgreSQL.

super::sql::sql_store!(PgStore, sqlx::PgPool, sqlx::Postgres);
