//! mender-inventory: the device inventory service (upstream `inventory`): attributes in
//! scopes (`identity`, `inventory`, `system`, `tags`, `monitor`), groups, the v1 list and
//! the v2 filter search, over SQLite or PostgreSQL.
//!
//! # Store design
//!
//! Each device is one `devices` row holding its attribute document as JSON (every scope
//! except the system attributes `group`, `created_ts` and `updated_ts`, which are columns),
//! the tags ETag, the deviceauth revision, a keyword string for free-text search and a
//! `version` counter for optimistic concurrency. Reads of a device are one row.
//!
//! Searches run on `attr_index`, a derived table rewritten with the device in the same
//! transaction: one row per scalar value (arrays give one row per element) with its type,
//! its number, its string and an indexed 128-character prefix of the string. B-tree indexes
//! on `(scope, name, prefix, device)` and `(scope, name, number, device)` turn every
//! predicate into an index range scan producing device ids (`seq IN (...)`); negations are
//! `NOT IN`, which also matches devices without the attribute, as upstream's MongoDB does.
//! Sorting joins a per-device MIN/MAX aggregate of the sort attribute. Counting uses the
//! same predicates without the joins. This keeps `filters/search` independent of the
//! number of attributes per device and fast at 100,000 devices × 30 attributes on both
//! backends (see `examples/search_bench.rs`).
//!
//! Regular expressions (`$regex`) are compiled with the `regex` crate (linear time, size
//! limits) and matched in Rust against the attribute's distinct stored strings; the
//! matching values then become an ordinary indexed `IN` predicate. Neither database ever
//! evaluates a user-supplied pattern, so both backends behave identically and no pattern
//! can backtrack.

use std::sync::Arc;

use mender_core::service::Routers;
use mender_db::{Db, Migrations};
use serde::{Deserialize, Serialize};
use sqlx::migrate::Migrator;

pub mod app;
pub mod error;
mod http;
pub mod model;
pub mod search;
pub mod store;

pub use app::Inventory;
pub use error::Error;
pub use store::InventoryStore;

static MIG_SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static MIG_POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

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

/// The inventory service: its logic and its routes.
pub struct Service {
    app: Arc<Inventory>,
}

impl Service {
    /// The service on a connected, migrated database (see [`Service::migrations`]).
    pub fn new(db: Db, config: InventoryConfig) -> Arc<Self> {
        let store: Arc<dyn InventoryStore> = match db {
            Db::Sqlite(p) => Arc::new(store::sqlite::SqliteStore::new(p)),
            Db::Postgres(p) => Arc::new(store::postgres::PgStore::new(p)),
        };
        Self::with_store(store, config)
    }

    /// The service over any store.
    pub fn with_store(store: Arc<dyn InventoryStore>, config: InventoryConfig) -> Arc<Self> {
        Arc::new(Self {
            app: Arc::new(Inventory::new(store, config)),
        })
    }

    /// The logic, for in-process callers.
    pub fn app(&self) -> &Arc<Inventory> {
        &self.app
    }

    /// Device routes (`/api/devices/v1/inventory/...`), management v1/v2 routes and the
    /// internal routes (`/api/internal/v{1,2}/inventory/...` and the legacy `/api/0.1.0/...`).
    pub fn routers(&self) -> Routers {
        http::routers(self.app.clone())
    }

    /// The migrations of both backends.
    pub fn migrations() -> Migrations {
        Migrations {
            sqlite: &MIG_SQLITE,
            postgres: &MIG_POSTGRES,
        }
    }
}
