//! deviceconnect's errors and how each one is answered over HTTP.

use mender_core::ApiError;

use crate::store::StoreError;

/// Everything the deviceconnect logic can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Invalid input (400); the message is upstream's.
    #[error("{0}")]
    Invalid(String),
    /// The device has no record (404).
    #[error("device not found")]
    DeviceNotFound,
    /// The device is known but not connected (404 before a session, as upstream).
    #[error("device not connected")]
    DeviceNotConnected,
    /// A command for a device that is not connected (409).
    #[error("device not connected")]
    NotConnected,
    /// The device's socket went away while the session was being set up (409).
    #[error("failed to connect to device: device disconnected")]
    DeviceGone,
    /// The store failed (500, logged).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Shorthand.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Invalid(_) => ApiError::bad_request(e.to_string()),
            Error::DeviceNotFound | Error::DeviceNotConnected => ApiError::not_found(e.to_string()),
            Error::DeviceGone | Error::NotConnected => ApiError::conflict(e.to_string()),
            // A path id held text no database stores; nothing was written.
            Error::Store(StoreError::Db(ref db)) if db.is_invalid_text() => {
                ApiError::bad_request("text must not contain a NUL character")
            }
            Error::Store(_) => ApiError::internal(e),
        }
    }
}
