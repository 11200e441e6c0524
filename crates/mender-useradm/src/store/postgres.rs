//! The useradm store on PostgreSQL (one schema per service).

use super::sql::{USER_COLUMNS, count_personal_tokens, insert_token, list_users_sql, sql_store};
use super::{
    SettingsRecord, StoreError, TokenCheck, TokenRecord, UserChanges, UserFilter, UserRecord,
    is_unique_violation,
};

sql_store!(PostgresStore, sqlx::PgPool);
