//! Tenant settings and limits: storage settings (recorded only, see
//! [`crate::storage_settings`]) and the storage limit (bytes of stored artifacts; 0 means
//! unlimited), which uploads and generated artifacts must stay within.

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

    /// The tenant's storage limit in bytes; 0 (also when never set) means unlimited.
    pub async fn storage_limit(&self, tenant: &TenantId) -> Result<u64> {
        Ok(self
            .store
            .get_limit(tenant, STORAGE_LIMIT)
            .await?
            .unwrap_or(0))
    }

    /// Sets the tenant's storage limit in bytes (0: unlimited). Artifacts already stored stay
    /// even when they exceed it.
    pub async fn set_storage_limit(&self, tenant: &TenantId, limit: u64) -> Result<()> {
        if i64::try_from(limit).is_err() {
            return Err(Error::BadRequest(format!(
                "limit: must be no greater than {}",
                i64::MAX
            )));
        }
        Ok(self.store.set_limit(tenant, STORAGE_LIMIT, limit).await?)
    }

    /// How many more bytes the tenant may store: `None` without a limit.
    pub(crate) async fn storage_room(&self, tenant: &TenantId) -> Result<Option<u64>> {
        let limit = self.storage_limit(tenant).await?;
        if limit == 0 {
            return Ok(None);
        }
        let usage = self.storage_usage(tenant).await?;
        Ok(Some(limit.saturating_sub(usage)))
    }

    /// Refuses an upload that declares `size` bytes when it would not fit in the tenant's
    /// storage limit.
    pub async fn check_storage_room(&self, tenant: &TenantId, size: u64) -> Result<()> {
        match self.storage_room(tenant).await? {
            Some(room) if size > room => Err(storage_limit_exceeded()),
            _ => Ok(()),
        }
    }
}

/// The name of the storage limit (upstream `model.LimitStorage`).
pub(crate) const STORAGE_LIMIT: &str = "storage";

/// What an upload that would exceed the tenant's storage limit gets: 413, like an artifact
/// over the size limit (the open-source upstream has no such limit; see the compatibility
/// notes).
pub(crate) fn storage_limit_exceeded() -> Error {
    Error::TooLarge("storage limit exceeded".to_owned())
}

/// The byte limit of an upload: `max`, or the room left under the storage limit when that is
/// smaller; whether the storage limit is the one that binds.
pub(crate) fn upload_limit(max: u64, room: Option<u64>) -> (u64, bool) {
    match room {
        Some(room) if room < max => (room, true),
        _ => (max, false),
    }
}
