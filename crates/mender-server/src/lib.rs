//! `mender-server`: every Mender service in one process. This crate is the composition root:
//! it reads the configuration, opens the databases, builds the services, wires them to each
//! other through `mender-api` traits, and serves the gateway's routers.

pub mod adapters;
pub mod compose;
pub mod config;
pub mod dispatch;
pub mod listener;
pub mod reconcile;
pub mod serve;
pub mod tls;

pub use config::Config;
pub use serve::{Running, start};
