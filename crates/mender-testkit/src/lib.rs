//! Shared test support for mender-rs: a device simulator that signs authentication
//! requests exactly like mender-client and talks to the device API over HTTP(S), the
//! typed in-process client service tests call their routers with ([`TestClient`]), the
//! real `mender-artifact` tool for tests that build artifacts with it ([`mender_artifact`]),
//! and the JSON lookups tests repeat ([`json`]).
//!
//! It depends on no service crate, so any test or benchmark can use it against an
//! in-process router or a running `mender-server`.

mod auth;
mod client;
pub mod http;
pub mod identity;
pub mod json;
pub mod key;
pub mod mender_artifact;

pub use auth::{AuthRequest, SignedRequest};
pub use client::{DeviceClient, DeviceClientBuilder};
pub use http::{TestClient, TestResponse};
pub use key::DeviceKey;
