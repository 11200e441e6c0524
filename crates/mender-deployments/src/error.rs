//! Deployments errors and their HTTP answers.

use mender_core::ApiError;

use crate::store::StoreError;

/// Everything a deployments operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Invalid input; the message is sent to the client.
    #[error("{0}")]
    BadRequest(String),
    /// The thing asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Clashes with existing state.
    #[error("{0}")]
    Conflict(String),
    /// Well-formed but cannot be done (e.g. no artifacts for a deployment).
    #[error("{0}")]
    Unprocessable(String),
    /// A signed link is expired or its signature is wrong.
    #[error("{0}")]
    Forbidden(String),
    /// The upload is larger than allowed.
    #[error("{0}")]
    TooLarge(String),
    /// Another service failed.
    #[error("{0}")]
    Upstream(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Blob storage failed.
    #[error("blob storage: {0}")]
    Blob(#[from] mender_blob::BlobError),
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::BadRequest(m) => ApiError::bad_request(m),
            Error::NotFound(m) => ApiError::not_found(m),
            Error::Conflict(m) => ApiError::conflict(m),
            Error::Unprocessable(m) => ApiError::unprocessable(m),
            Error::Forbidden(m) => ApiError::forbidden(m),
            Error::TooLarge(m) => ApiError::new(axum::http::StatusCode::PAYLOAD_TOO_LARGE, m),
            Error::Store(StoreError::ArtifactConflict) => {
                ApiError::conflict("an artifact with the same name and depends already exists")
            }
            other => ApiError::internal(other),
        }
    }
}
