//! Shared building blocks every mender-rs service uses: the upstream error body,
//! request ids, paging, the JSON extractor, token identity and JWT signing, the clock and
//! time type, typed ids, secrets that stay out of logs, and Go-compatible JSON text.
//!
//! Nothing here knows about a particular service or a database.

pub mod client;
pub mod clock;
pub mod error;
pub mod failpoint;
pub mod goform;
pub mod gojson;
pub mod identity;
pub mod ids;
pub mod json;
pub mod jwt;
pub mod limit;
pub mod paging;
pub mod query;
pub mod request_id;
pub mod secret;
pub mod secret_file;
pub mod service;
pub mod settings;
pub mod verify;

pub use client::ClientAddr;
pub use clock::{Clock, SharedClock, Timestamp};
pub use error::ApiError;
pub use identity::Identity;
pub use ids::{ArtifactId, AuthSetId, DeploymentId, DeviceId, JobId, TenantId, TokenId, UserId};
pub use json::Json;
pub use request_id::RequestId;
pub use secret::Secret;
