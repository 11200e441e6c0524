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
    /// Most elements of one array attribute value (each is a search index row).
    pub max_array_len: usize,
    /// Most filter predicates of one `filters/search` request.
    pub max_search_filters: usize,
    /// Most `$regex` predicates of one `filters/search` request.
    pub max_search_regexes: usize,
}

impl Default for InventoryConfig {
    fn default() -> Self {
        Self {
            limit_attributes: 100,
            limit_tags: 20,
            max_document_bytes: 1024 * 1024,
            max_array_len: 1024,
            max_search_filters: 100,
            max_search_regexes: 10,
        }
    }
}

impl InventoryConfig {
    /// Checks the settings at start; the error says which key to fix.
    pub fn validate(&self) -> Result<(), String> {
        let size = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        mender_core::settings::require_positive(
            "inventory",
            &[
                ("max_document_bytes", size(self.max_document_bytes)),
                ("max_array_len", size(self.max_array_len)),
                ("max_search_filters", size(self.max_search_filters)),
            ],
        )?;
        if self.max_search_regexes > self.max_search_filters {
            return Err(format!(
                "inventory.max_search_regexes ({}) cannot exceed inventory.max_search_filters ({}); \
                 lower it or raise max_search_filters",
                self.max_search_regexes, self.max_search_filters
            ));
        }
        Ok(())
    }
}
