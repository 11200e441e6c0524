//! Per-tenant storage settings: one JSON document per tenant.

use mender_core::TenantId;
use mender_db::{Db, query};

use crate::store::StoreError;

pub(super) async fn get(db: &Db, tenant: &TenantId) -> Result<Option<String>, StoreError> {
    Ok(
        query("SELECT settings FROM storage_settings WHERE tenant_id = $1")
            .bind(tenant)
            .scalar_optional(db)
            .await?,
    )
}

pub(super) async fn set(
    db: &Db,
    tenant: &TenantId,
    settings: Option<&str>,
) -> Result<(), StoreError> {
    match settings {
        Some(s) => query(
            "INSERT INTO storage_settings (tenant_id, settings) VALUES ($1, $2) \
             ON CONFLICT (tenant_id) DO UPDATE SET settings = excluded.settings",
        )
        .bind(tenant)
        .bind(s),
        None => query("DELETE FROM storage_settings WHERE tenant_id = $1").bind(tenant),
    }
    .execute(db)
    .await?;
    Ok(())
}
