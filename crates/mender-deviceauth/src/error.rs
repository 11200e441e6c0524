//! deviceauth errors and how they are answered.

use mender_core::ApiError;

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
    /// Accepting would exceed the device limit.
    #[error("maximum number of accepted devices reached")]
    LimitReached,
    /// A workflow could not be started.
    #[error("cannot start workflow {name}: {cause}")]
    Workflow {
        /// Workflow name.
        name: &'static str,
        /// Why.
        cause: String,
    },
    /// The store failed.
    #[error("{0}")]
    Store(StoreError),
    /// Anything else that is our fault (e.g. signing failed).
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Error::NotFound("not found".into()),
            StoreError::Mismatch => {
                Error::BadRequest("dev auth: dev ID and auth ID mismatch".into())
            }
            StoreError::InvalidTransition(_) => Error::BadRequest("dev auth: bad request".into()),
            StoreError::LimitReached => Error::LimitReached,
            e @ StoreError::Db(_) => Error::Store(e),
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::BadRequest(m) => ApiError::bad_request(m),
            Error::Unauthorized(m) => ApiError::new(axum::http::StatusCode::UNAUTHORIZED, m),
            Error::NotFound(m) => ApiError::not_found(m),
            Error::Conflict(_) => ApiError::conflict("device already exists"),
            Error::LimitReached => {
                ApiError::unprocessable("maximum number of accepted devices reached")
            }
            e @ (Error::Workflow { .. } | Error::Store(_) | Error::Internal(_)) => {
                ApiError::internal(e)
            }
        }
    }
}

/// Shorthand for results of deviceauth operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
