//! mender-deviceconfig: the device configuration service (upstream `deviceconfig`). Users
//! set a device's desired configuration (string keys and values) and deploy it, which
//! creates a one-device configuration deployment in deployments; the device's
//! mender-configure module applies it and reports back the configuration it runs with.
//!
//! Wire it with [`Service::new`] over a database opened with [`SCHEMA`], handing it the
//! [`mender_api::deployments::ConfigurationDeployments`] that reaches deployments, and
//! expose [`Service::routers`].

use std::sync::Arc;

use mender_api::deployments::ConfigurationDeployments;
use mender_core::SharedClock;
use mender_core::service::Routers;
use mender_db::{Db, Schema};
use sqlx::migrate::Migrator;

pub mod app;
pub mod error;
mod http;
pub mod model;
pub mod store;

pub use app::App;
pub use error::Error;
pub use store::{DeviceConfigStore, StoreError};

/// The service name: its SQLite file is `<data-dir>/deviceconfig.db`, its PostgreSQL schema
/// `mender_deviceconfig`.
pub const SERVICE: &str = "deviceconfig";

static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// deviceconfig's tables: the same SQL on both backends.
pub static SCHEMA: Schema = Schema::portable(SERVICE, &MIGRATIONS);

/// The deviceconfig service: its logic and its routes.
pub struct Service {
    app: Arc<App>,
}

impl Service {
    /// The service on a database opened with [`SCHEMA`]; times come from `clock`, and
    /// deploying a configuration calls `deployments`.
    pub fn new(
        db: Db,
        clock: SharedClock,
        deployments: Arc<dyn ConfigurationDeployments>,
    ) -> Arc<Self> {
        let store = Arc::new(store::SqlStore(db));
        Arc::new(Self {
            app: Arc::new(App::new(store, clock, deployments)),
        })
    }

    /// The logic, for in-process callers.
    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    /// Management routes (`/api/management/v1/deviceconfig/...`), device routes
    /// (`/api/devices/v1/deviceconfig/...`) and internal routes
    /// (`/api/internal/v1/deviceconfig/...`).
    pub fn routers(&self) -> Routers {
        http::routers(self.app.clone())
    }
}
