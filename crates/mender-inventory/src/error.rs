//! Inventory errors and how each one is answered over HTTP.

use axum::http::StatusCode;
use mender_core::ApiError;

use crate::store::StoreError;

/// Everything the inventory logic can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Invalid input (400).
    #[error("{0}")]
    Invalid(String),
    /// Too many attributes in a scope (400).
    #[error("the number of attributes in the scope is above the limit")]
    TooManyAttributes,
    /// The merged inventory document would exceed the size limit (400).
    #[error("the inventory document is too large")]
    DocumentTooLarge,
    /// The device does not exist (404).
    #[error("Device not found")]
    DeviceNotFound,
    /// No device is in the group (404).
    #[error("group not found")]
    GroupNotFound,
    /// Unknown status in the bulk status route (404).
    #[error("unrecognized status: {0}")]
    UnknownStatus(String),
    /// `If-Match` did not match the tags ETag (412).
    #[error("ETag does not match")]
    ETagMismatch,
    /// `If-Unmodified-Since` not met (412).
    #[error("write conflict")]
    PreconditionFailed,
    /// A stale revision in a status update (409).
    #[error("write conflict")]
    WriteConflict,
    /// The store failed (500, logged).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Concurrent writers kept changing the device (500, logged).
    #[error("too many concurrent updates of device")]
    Contention,
    /// Work handed to the blocking pool did not finish (500, logged).
    #[error("background task failed: {0}")]
    Task(String),
}

/// Shorthand.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Invalid(_) | Error::TooManyAttributes | Error::DocumentTooLarge => {
                ApiError::bad_request(e.to_string())
            }
            Error::DeviceNotFound | Error::GroupNotFound | Error::UnknownStatus(_) => {
                ApiError::not_found(e.to_string())
            }
            Error::ETagMismatch | Error::PreconditionFailed => {
                ApiError::new(StatusCode::PRECONDITION_FAILED, e.to_string())
            }
            Error::WriteConflict => ApiError::conflict(e.to_string()),
            // The input held text a database cannot store; nothing was written.
            Error::Store(StoreError::Db(ref db)) if db.is_invalid_text() => {
                ApiError::bad_request("text must not contain a NUL character")
            }
            Error::Store(_) | Error::Contention | Error::Task(_) => ApiError::internal(e),
        }
    }
}
