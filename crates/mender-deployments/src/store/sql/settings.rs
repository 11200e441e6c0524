//! [`SettingsStore`] on SQL: per-tenant storage settings (one JSON document per tenant) and
//! limits (one row per tenant and limit name).

use mender_core::TenantId;
use mender_db::query;

use super::SqlStore;
use super::rows::{count, int};
use crate::store::{Result, SettingsStore};

#[async_trait::async_trait]
impl SettingsStore for SqlStore {
    async fn get_storage_settings(&self, tenant: &TenantId) -> Result<Option<String>> {
        Ok(
            query("SELECT settings FROM storage_settings WHERE tenant_id = $1")
                .bind(tenant)
                .scalar_optional(&self.0)
                .await?,
        )
    }

    async fn set_storage_settings(&self, tenant: &TenantId, settings: Option<&str>) -> Result<()> {
        match settings {
            Some(s) => query(
                "INSERT INTO storage_settings (tenant_id, settings) VALUES ($1, $2) \
                 ON CONFLICT (tenant_id) DO UPDATE SET settings = excluded.settings",
            )
            .bind(tenant)
            .bind(s),
            None => query("DELETE FROM storage_settings WHERE tenant_id = $1").bind(tenant),
        }
        .execute(&self.0)
        .await?;
        Ok(())
    }

    async fn get_limit(&self, tenant: &TenantId, name: &str) -> Result<Option<u64>> {
        let v: Option<i64> = query("SELECT value FROM limits WHERE tenant_id = $1 AND name = $2")
            .bind(tenant)
            .bind(name)
            .scalar_optional(&self.0)
            .await?;
        Ok(v.map(count))
    }

    async fn set_limit(&self, tenant: &TenantId, name: &str, value: u64) -> Result<()> {
        query(
            "INSERT INTO limits (tenant_id, name, value) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id, name) DO UPDATE SET value = excluded.value",
        )
        .bind(tenant)
        .bind(name)
        .bind(int(value))
        .execute(&self.0)
        .await?;
        Ok(())
    }
}
