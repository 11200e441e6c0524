//! mender-useradm: Mender's user administration service — users, login and logout, settings,
//! personal access tokens, and the user-token verification the gateway runs for every
//! management request.
//!
//! Wire it with [`Service::new`] over a database opened with [`SCHEMA`], expose
//! [`Service::routers`] and hand [`Service::verifier`] to the gateway.

use std::sync::Arc;

use mender_core::SharedClock;
use mender_core::service::Routers;
use mender_core::verify::TokenVerifier;
use mender_db::{Db, Schema};
use sqlx::migrate::Migrator;

pub mod app;
pub mod config;
pub mod error;
mod http;
pub mod keys;
pub mod model;
pub mod store;
pub mod throttle;
pub mod validate;
pub mod verify;

pub use config::UseradmConfig;
pub use error::Error;
pub use keys::Keys;
pub use model::User;

static MIG_SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static MIG_POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// The service name: the SQLite file and PostgreSQL schema are named after it.
pub const SERVICE: &str = "useradm";

/// useradm's tables on both backends.
pub static SCHEMA: Schema = Schema::new(SERVICE, &MIG_SQLITE, &MIG_POSTGRES);

/// The useradm service.
pub struct Service {
    app: app::App,
}

impl Service {
    /// The service over a database migrated with [`SCHEMA`]; token times, login times and
    /// expiry are read from `clock`.
    pub fn new(db: Db, clock: SharedClock, keys: Keys, config: UseradmConfig) -> Arc<Self> {
        let store = Arc::new(store::SqlStore(db));
        Arc::new(Self {
            app: app::App::new(store, clock, keys, config),
        })
    }

    /// The routes: login is open, the rest of the management API needs a user token,
    /// and the internal API.
    pub fn routers(self: &Arc<Self>) -> Routers {
        http::routers(self.clone())
    }

    /// What the gateway calls to authenticate every management request.
    pub fn verifier(self: &Arc<Self>) -> Arc<dyn TokenVerifier> {
        self.clone()
    }

    /// Creates a user in the open-source tenant (for `mender-server user create` and the
    /// configured first administrator); an email already taken is [`Error::DuplicateEmail`].
    pub async fn create_user(&self, email: &str, password: &str) -> Result<User, Error> {
        let new = model::UserNew {
            email: Some(email.to_owned()),
            password: Some(password.into()),
        };
        self.app
            .create_user(&mender_core::TenantId::default_tenant(), new)
            .await
    }

    /// Whether any user exists (to tell a fresh installation that it needs an administrator).
    pub async fn has_users(&self) -> Result<bool, Error> {
        Ok(self.app.store.has_users().await?)
    }

    /// The application layer, for callers that need operations beyond the HTTP API.
    pub fn app(&self) -> &app::App {
        &self.app
    }
}
