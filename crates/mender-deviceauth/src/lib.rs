//! mender-deviceauth: device admission and device tokens, speaking upstream Mender's
//! deviceauth APIs (device v1, management v2, internal v1).
//!
//! Devices sign auth requests with their own key; a user admits them (or preauthorizes
//! them); admitted devices get RS256/EdDSA tokens that the gateway checks through
//! [`Service::verifier`] on every device request.
//!
//! Admission changes (accept, reject, dismiss, preauthorize, decommission) write the
//! workflows they start to an outbox table in the same transaction; the composition root runs
//! [`Service::outbox_relay`] to move them to the workflow engine.

use std::sync::Arc;

use mender_api::workflows::WorkflowStarter;
use mender_core::SharedClock;
use mender_core::jwt::SigningKey;
use mender_core::service::Routers;
use mender_core::verify::TokenVerifier;
use mender_db::{Db, Schema};
use mender_queue::outbox::{Outbox, OutboxSignal, Relay, RelaySettings};
use sqlx::migrate::Migrator;

pub mod app;
pub mod canon;
pub mod config;
pub mod crypto;
pub mod error;
pub mod http;
pub mod model;
pub mod store;
pub mod token;
pub mod verifier;

pub use config::{DeviceauthConfig, load_or_generate, load_signing_key};
pub use verifier::DeviceVerifier;

// Both backends run the same SQL, so one migration tree serves both.
static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// The service name (SQLite file `deviceauth.db`, PostgreSQL schema `mender_deviceauth`).
pub const SERVICE: &str = "deviceauth";

/// deviceauth's tables, to pass to `Db::connect`.
pub static SCHEMA: Schema = Schema::portable(SERVICE, &MIGRATIONS);

/// The deviceauth service.
pub struct Service {
    app: Arc<app::App>,
    outbox: Outbox,
}

impl Service {
    /// Builds the service on a database migrated with [`SCHEMA`], the clock it reads the time
    /// from, the token signing key, its configuration and the workflow starter (used directly
    /// only for best-effort starts; the others go through the outbox and its relay).
    pub fn new(
        db: Db,
        clock: SharedClock,
        key: SigningKey,
        config: DeviceauthConfig,
        workflows: Arc<dyn WorkflowStarter>,
    ) -> Arc<Self> {
        let store = Arc::new(store::SqlStore(db.clone()));
        let outbox = Outbox {
            service: SERVICE,
            db,
            signal: OutboxSignal::default(),
            clock: clock.clone(),
        };
        let app = app::App::new(store, clock, key, config, workflows, outbox.signal.clone());
        Arc::new(Self {
            app: Arc::new(app),
            outbox,
        })
    }

    /// The relay that moves this service's outbox rows to `starter` (the workflow engine);
    /// the caller spawns it ([`Relay::spawn`]). It is woken by every commit of this service.
    pub fn outbox_relay(
        &self,
        starter: Arc<dyn WorkflowStarter>,
        settings: RelaySettings,
    ) -> Relay {
        Relay::new(self.outbox.clone(), starter, settings)
    }

    /// The routes: `open` (auth requests), `management` (v2), `internal` (v1); no `devices` routes.
    pub fn routers(&self) -> Routers {
        Routers {
            open: http::devices_v1::routes(self.app.clone()),
            management: http::management_v2::routes(self.app.clone()),
            devices: axum::Router::new(),
            internal: http::internal_v1::routes(self.app.clone()),
        }
    }

    /// The device token verifier for the gateway.
    pub fn verifier(&self) -> Arc<dyn TokenVerifier> {
        Arc::new(DeviceVerifier::new(self.app.clone()))
    }

    /// The service logic, for in-process callers and tests.
    pub fn app(&self) -> &Arc<app::App> {
        &self.app
    }
}
