//! deviceconfig's errors and how each one is answered over HTTP.

use mender_core::ApiError;

use crate::store::StoreError;

/// Everything the deviceconfig logic can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Invalid input (400); the message is upstream's.
    #[error("{0}")]
    Invalid(String),
    /// The device has no configuration record (404).
    #[error("device does not exist")]
    DeviceNotFound,
    /// Provisioning a device that is already there (409).
    #[error("device already exists")]
    DeviceExists,
    /// An update control map outside the Enterprise plan (403).
    #[error("forbidden: update control map is available only for Enterprise customers")]
    UpdateControlMapForbidden,
    /// Deployments refused the configuration deployment (400).
    #[error("configuration deployment failed: {0}")]
    DeploymentRejected(String),
    /// Deployments failed or could not be reached (500, logged).
    #[error("configuration deployment failed: {0}")]
    Deployments(String),
    /// The store failed (500, logged).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Shorthand.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Invalid(_) | Error::DeploymentRejected(_) => {
                ApiError::bad_request(e.to_string())
            }
            Error::DeviceNotFound => ApiError::not_found(e.to_string()),
            Error::DeviceExists => ApiError::conflict(e.to_string()),
            Error::UpdateControlMapForbidden => ApiError::forbidden(e.to_string()),
            // A path id (a tenant) held text no database stores; nothing was written.
            Error::Store(StoreError::Db(ref db)) if db.is_invalid_text() => {
                ApiError::bad_request("text must not contain a NUL character")
            }
            Error::Deployments(_) | Error::Store(_) => ApiError::internal(e),
        }
    }
}
