//! mender-deviceconnect: the remote-connection service (upstream `deviceconnect`). A device's
//! mender-connect keeps a websocket open to the server; a user opens a second websocket to
//! the same device, and the service routes the msgpack `ProtoMsg` frames between the two by
//! session id (remote terminal, protocol 1). The store keeps each device's connection status.
//!
//! Wire it with [`Service::new`] over a database opened with [`SCHEMA`] and expose
//! [`Service::routers`]. Sessions are routed in this process only (the [`hub`]).

use std::sync::Arc;

use mender_core::SharedClock;
use mender_core::service::Routers;
use mender_db::{Db, Schema};
use sqlx::migrate::Migrator;

pub mod app;
pub mod error;
mod http;
pub mod hub;
pub mod model;
pub mod protocol;
pub mod store;

pub use app::App;
pub use error::Error;
pub use store::{DeviceConnectStore, StoreError};

/// The service name: its SQLite file is `<data-dir>/deviceconnect.db`, its PostgreSQL schema
/// `mender_deviceconnect`.
pub const SERVICE: &str = "deviceconnect";

static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// deviceconnect's tables: the same SQL on both backends.
pub static SCHEMA: Schema = Schema::portable(SERVICE, &MIGRATIONS);

/// The deviceconnect service: its logic and its routes.
pub struct Service {
    app: Arc<App>,
}

impl Service {
    /// The service on a database opened with [`SCHEMA`]; times come from `clock`, and
    /// sockets are pinged as upstream does.
    pub fn new(db: Db, clock: SharedClock) -> Arc<Self> {
        Self::with_keepalive(db, clock, protocol::Keepalive::default())
    }

    /// [`Service::new`] with other ping timing (tests).
    pub fn with_keepalive(db: Db, clock: SharedClock, keepalive: protocol::Keepalive) -> Arc<Self> {
        let store = Arc::new(store::SqlStore(db));
        Arc::new(Self {
            app: Arc::new(App::new(store, clock, keepalive)),
        })
    }

    /// The logic, for in-process callers.
    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    /// Management routes (`/api/management/v1/deviceconnect/...`), device routes
    /// (`/api/devices/v1/deviceconnect/...`) and internal routes
    /// (`/api/internal/v1/deviceconnect/...`).
    pub fn routers(&self) -> Routers {
        http::routers(self.app.clone())
    }
}
