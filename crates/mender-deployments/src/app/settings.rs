//! Tenant settings and limits: storage settings (recorded only, see
//! [`crate::storage_settings`]) and the storage usage limit.

use mender_core::TenantId;

use super::App;
use crate::error::{Error, Result};
use crate::storage_settings::StorageSettings;
use crate::store::StoreError;

impl App {
    /// The tenant's storage settings; `None` means the server defaults.
    pub async fn storage_settings(&self, tenant: &TenantId) -> Result<Option<StorageSettings>> {
        match self.store.get_storage_settings(tenant).await? {
            None => Ok(None),
            Some(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| Error::Store(StoreError::Corrupt(format!("storage settings: {e}")))),
        }
    }

    /// Replaces the tenant's storage settings (validated), or resets them with `None`.
    pub async fn set_storage_settings(
        &self,
        tenant: &TenantId,
        settings: Option<StorageSettings>,
    ) -> Result<()> {
        let text = match &settings {
            Some(s) => {
                s.validate().map_err(Error::BadRequest)?;
                Some(serde_json::to_string(s).map_err(|e| Error::BadRequest(e.to_string()))?)
            }
            None => None,
        };
        Ok(self
            .store
            .set_storage_settings(tenant, text.as_deref())
            .await?)
    }

    /// Total bytes of the tenant's artifacts.
    pub async fn storage_usage(&self, tenant: &TenantId) -> Result<u64> {
        Ok(self.store.storage_usage(tenant).await?)
    }
}
