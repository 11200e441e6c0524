//! The SQLite store (the embedded default): JSON lists are expanded with `json_each`.

crate::store::sql::impl_store!(
    SqliteStore,
    sqlx::Sqlite,
    sql::Dialect {
        json_texts: |n| format!("SELECT value FROM json_each(${n})"),
        json_nums: |n| format!("SELECT value FROM json_each(${n})"),
        json_ints: |n| format!("SELECT value FROM json_each(${n})"),
        analyze: &["PRAGMA analysis_limit = 1000", "ANALYZE"],
        tenant_col: "+d.tenant_id",
        // Take the write lock up front: a read that later upgrades to a write fails at
        // once (SQLITE_BUSY_SNAPSHOT) when another writer committed in between.
        begin: "BEGIN IMMEDIATE",
    }
);
