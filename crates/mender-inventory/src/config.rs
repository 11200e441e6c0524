//! [`InventoryConfig`]: the inventory's section of the server configuration.

use serde::{Deserialize, Serialize};

/// Inventory settings (upstream `limit_attributes`, `limit_tags`, `request_size_limit`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InventoryConfig {
    /// Most attributes a device may have in the `inventory` scope (0 = no limit).
    pub limit_attributes: usize,
    /// Most tags a device may have (0 = no limit).
    pub limit_tags: usize,
    /// Largest request body and largest stored attribute document, in bytes.
    pub max_document_bytes: usize,
}

impl Default for InventoryConfig {
    fn default() -> Self {
        Self {
            limit_attributes: 100,
            limit_tags: 20,
            max_document_bytes: 1024 * 1024,
        }
    }
}
