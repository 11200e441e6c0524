//! [`SettingsStore`] on SQL: per-tenant storage settings (one JSON document per tenant) and
//! limits (one row per tenant and limit name).

use mender_core::TenantId;
use mender_db::query;

use super::SqlStore;
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
        Ok(mender_db::get_limit(&self.0, tenant.as_str(), name).await?)
    }

    async fn set_limit(&self, tenant: &TenantId, name: &str, value: u64) -> Result<()> {
        Ok(mender_db::put_limit(&self.0, tenant.as_str(), name, value).await?)
    }
}
