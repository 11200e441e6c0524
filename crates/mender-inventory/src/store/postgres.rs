//! The PostgreSQL store: JSON lists are expanded with `json_array_elements_text` and cast.

crate::store::sql::impl_store!(
    PgStore,
    sqlx::Postgres,
    sql::Dialect {
        json_texts: |n| format!("SELECT json_array_elements_text(${n}::json)"),
        json_nums: |n| format!("SELECT json_array_elements_text(${n}::json)::float8"),
        json_ints: |n| format!("SELECT json_array_elements_text(${n}::json)::bigint"),
        analyze: &["ANALYZE devices", "ANALYZE attr_index"],
        tenant_col: "d.tenant_id",
        begin: "BEGIN",
    }
);
