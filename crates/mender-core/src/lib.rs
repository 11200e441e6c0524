//! Shared building blocks every mender-rs service uses: the upstream error body,
//! request ids, paging, the JSON extractor, token identity and JWT signing.
//!
//! Nothing here knows about a particular service or a database.

pub mod error;
pub mod identity;
pub mod json;
pub mod jwt;
pub mod paging;
pub mod request_id;
pub mod secret_file;
pub mod service;
pub mod verify;

pub use error::ApiError;
pub use identity::Identity;
pub use json::Json;
pub use request_id::RequestId;
