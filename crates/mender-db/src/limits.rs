//! Per-tenant named limits: several services keep a `limits` table with the same columns
//! (`tenant_id`, `name`, `value BIGINT`, primary key `(tenant_id, name)`), read and written
//! here once.

use crate::{Conn, Error, query};

/// The limit `name` of `tenant`, if one is stored (a negative stored value reads as 0).
pub async fn get_limit<'c>(
    on: impl Into<Conn<'c>>,
    tenant: &str,
    name: &str,
) -> Result<Option<u64>, Error> {
    let v: Option<i64> = query("SELECT value FROM limits WHERE tenant_id = $1 AND name = $2")
        .bind(tenant)
        .bind(name)
        .scalar_optional(on)
        .await?;
    Ok(v.map(|n| u64::try_from(n).unwrap_or_default()))
}

/// Stores the limit `name` of `tenant`, replacing any earlier value (values beyond `i64`
/// saturate, as the column is a signed `BIGINT`).
pub async fn put_limit<'c>(
    on: impl Into<Conn<'c>>,
    tenant: &str,
    name: &str,
    value: u64,
) -> Result<(), Error> {
    query(
        "INSERT INTO limits (tenant_id, name, value) VALUES ($1, $2, $3) \
         ON CONFLICT (tenant_id, name) DO UPDATE SET value = excluded.value",
    )
    .bind(tenant)
    .bind(name)
    .bind(i64::try_from(value).unwrap_or(i64::MAX))
    .execute(on)
    .await?;
    Ok(())
}
