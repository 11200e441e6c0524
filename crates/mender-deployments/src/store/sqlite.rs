//! The deployments store on SQLite (the embedded default).

super::sql::sql_store!(SqliteStore, sqlx::SqlitePool, sqlx::Sqlite);
