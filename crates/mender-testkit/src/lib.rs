//! Shared test support for mender-rs: a device simulator that signs authentication
//! requests exactly like mender-client and talks to the device API over HTTP(S), and the
//! typed in-process client service tests call their routers with ([`TestClient`]).
//!
//! It depends on no service crate, so any test or benchmark can use it against an
//! in-process router or a running `mender-server`.

mod auth;
mod client;
pub mod http;
mod key;

pub use auth::{AuthRequest, SignedRequest};
pub use client::{DeviceClient, DeviceClientBuilder};
pub use http::{TestClient, TestResponse};
pub use key::DeviceKey;
