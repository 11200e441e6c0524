//! deviceauth errors and how they are answered.

use axum::http::StatusCode;
use mender_core::ApiError;
use mender_core::limit::RetryAfter;

use crate::model::Device;
use crate::store::StoreError;

/// Everything that can go wrong in a deviceauth operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Malformed input.
    #[error("{0}")]
    BadRequest(String),
    /// The caller (a device) is not admitted, or its request is not authentic.
    #[error("{0}")]
    Unauthorized(String),
    /// No such device, auth set or token.
    #[error("{0}")]
    NotFound(String),
    /// The identity already exists (preauthorization); carries the existing device.
    #[error("device already exists")]
    Conflict(Box<Device>),
    /// The client sent too many requests: wait before trying again.
    #[error("too many requests")]
    TooManyRequests(RetryAfter),
    /// A new identity while the tenant has the most pending devices it may have.
    #[error("maximum number of pending devices reached")]
    TooManyPending,
    /// A workflow could not be started.
    #[error("cannot start workflow {name}: {cause}")]
    Workflow {
        /// Workflow name.
        name: &'static str,
        /// Why.
        cause: String,
    },
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Anything else that is our fault (e.g. signing failed).
    #[error("{0}")]
    Internal(String),
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::BadRequest(m) => ApiError::bad_request(m),
            Error::Unauthorized(m) => ApiError::new(StatusCode::UNAUTHORIZED, m),
            Error::NotFound(m) => ApiError::not_found(m),
            Error::Conflict(_) => ApiError::conflict("device already exists"),
            Error::TooManyRequests(wait) => wait.too_many_requests(),
            e @ Error::TooManyPending => ApiError::forbidden(e.to_string()),
            Error::Store(StoreError::NotFound) => ApiError::not_found("not found"),
            Error::Store(StoreError::Mismatch) => {
                ApiError::bad_request("dev auth: dev ID and auth ID mismatch")
            }
            Error::Store(StoreError::InvalidTransition(_)) => {
                ApiError::bad_request("dev auth: bad request")
            }
            Error::Store(StoreError::LimitReached) => {
                ApiError::unprocessable("maximum number of accepted devices reached")
            }
            e @ (Error::Workflow { .. } | Error::Store(StoreError::Db(_)) | Error::Internal(_)) => {
                ApiError::internal(e)
            }
        }
    }
}

/// Shorthand for results of deviceauth operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
