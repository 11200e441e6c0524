//! mender-inventory: the device inventory service (upstream `inventory`): attributes in
//! scopes (`identity`, `inventory`, `system`, `tags`, `monitor`, or any other a service
//! writes), groups, the v1 list, the v2 filter search, the device statistics and the
//! (v2alpha1) identity search, over SQLite or PostgreSQL.
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
//! The same index answers the device statistics (range scans of the `identity/status` and
//! `system/tier` entries, never a document) and the identity search's prefixes (a string
//! starts with `p` when it lies between `p` and `p`'s successor, bytewise on both backends).
//!
//! Regular expressions (`$regex`) are compiled with the `regex` crate (linear time, size
//! limits) and matched in Rust against the attribute's distinct stored strings; the
//! matching values then become an ordinary indexed `IN` predicate. Neither database ever
//! evaluates a user-supplied pattern, so both backends behave identically and no pattern
//! can backtrack.
//!
//! Times (`created_ts`, `updated_ts`, tag timestamps, `check_in_time`) come from the injected
//! clock and are kept as fixed-width RFC 3339 text with milliseconds
//! ([`model::format_time`]), the form existing databases hold: text order is time order, so
//! the index compares and sorts them as strings.

use std::sync::Arc;

use mender_core::SharedClock;
use mender_core::service::Routers;
use mender_db::{Db, Schema};
use sqlx::migrate::Migrator;

pub mod app;
pub mod config;
pub mod error;
pub mod gotext;
mod http;
pub mod model;
pub mod search;
pub mod store;

pub use app::App;
pub use config::InventoryConfig;
pub use error::Error;
pub use store::{InventoryStore, StoreError};

/// The service name: its SQLite file is `<data-dir>/inventory.db`, its PostgreSQL schema
/// `mender_inventory`.
pub const SERVICE: &str = "inventory";

static MIG_SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static MIG_POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// The inventory's tables on both backends (the PostgreSQL ones compare text in byte order).
pub static SCHEMA: Schema = Schema::new(SERVICE, &MIG_SQLITE, &MIG_POSTGRES);

/// The inventory service: its logic and its routes.
pub struct Service {
    app: Arc<App>,
}

impl Service {
    /// The service on a database opened with [`SCHEMA`]; times come from `clock`.
    pub fn new(db: Db, clock: SharedClock, config: InventoryConfig) -> Arc<Self> {
        let store = Arc::new(store::SqlStore(db));
        Arc::new(Self {
            app: Arc::new(App::new(store, clock, config)),
        })
    }

    /// The logic, for in-process callers.
    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    /// Device routes (`/api/devices/v1/inventory/...`), management v1/v2/v2alpha1 routes and the
    /// internal routes (`/api/internal/v{1,2}/inventory/...` and the legacy `/api/0.1.0/...`).
    pub fn routers(&self) -> Routers {
        http::routers(self.app.clone())
    }
}
