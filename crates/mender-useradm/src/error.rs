//! useradm's error enum and how each case renders as upstream's error body and status.

use axum::http::StatusCode;
use mender_core::ApiError;
use mender_core::limit::RetryAfter;

use crate::store::StoreError;

/// What a refused bcrypt job is told to wait: the queue drains in about a bcrypt time.
const BUSY_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// Everything useradm operations can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Login without usable HTTP Basic credentials.
    #[error("invalid or missing auth header")]
    AuthHeader,
    /// Wrong credentials, unknown user, revoked token.
    #[error("unauthorized")]
    Unauthorized,
    /// No token in `Authorization` nor in the `JWT` cookie.
    #[error("authorization not present in header")]
    NoAuth,
    /// `Authorization` is not `Bearer <token>`.
    #[error("malformed Authorization header")]
    MalformedAuthHeader,
    /// Bad signature, unknown key, expired or incomplete claims.
    #[error("invalid jwt")]
    InvalidToken,
    /// The token's scope does not allow the request.
    #[error("unauthorized")]
    Forbidden,
    /// Malformed or invalid input.
    #[error("{0}")]
    BadRequest(String),
    /// Well-formed input breaking a rule (password length, ...).
    #[error("{0}")]
    Unprocessable(String),
    /// Another user has the email.
    #[error("user with a given email already exists")]
    DuplicateEmail,
    /// Another user has the id.
    #[error("user with a given id already exists")]
    DuplicateUserId,
    /// No such user.
    #[error("user not found")]
    UserNotFound,
    /// `current_password` is missing or wrong.
    #[error("current password mismatch")]
    CurrentPasswordMismatch,
    /// Only users may change their own password.
    #[error("password cannot be modified")]
    CannotModifyPassword,
    /// The password is part of the email.
    #[error("password is too similar to the email")]
    PasswordTooSimilar,
    /// The user holds the maximum number of personal access tokens.
    #[error("maximum number of personal acess tokens reached for this user")]
    TooManyTokens,
    /// The user has a personal access token with this name.
    #[error("Personal Access Token with a given name already exists")]
    DuplicateTokenName,
    /// The user changed (or went) between reading and writing them.
    #[error("entity tag did not match any records")]
    UserChanged,
    /// `If-Match` names another version of the settings.
    #[error("ETag doesn't match")]
    ETagMismatch,
    /// The database does not answer (health check).
    #[error("error reaching the database: {0}")]
    Unavailable(String),
    /// Too many failed logins: wait before trying again.
    #[error("too many requests")]
    TooManyRequests(RetryAfter),
    /// Every bcrypt worker is busy and the queue is full.
    #[error("the server is busy, try again later")]
    Busy,
    /// A store failure.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Anything else that is our fault.
    #[error("{0}")]
    Internal(String),
}

impl Error {
    /// Whether creating a user failed because the email or id is taken.
    pub fn is_duplicate(&self) -> bool {
        matches!(self, Error::DuplicateEmail | Error::DuplicateUserId)
    }
}

impl From<mender_core::limit::Busy> for Error {
    fn from(_: mender_core::limit::Busy) -> Self {
        Error::Busy
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let msg = e.to_string();
        match e {
            Error::AuthHeader
            | Error::Unauthorized
            | Error::NoAuth
            | Error::MalformedAuthHeader
            | Error::InvalidToken => ApiError::unauthorized(msg),
            Error::Forbidden => ApiError::forbidden(msg),
            Error::BadRequest(_) => ApiError::bad_request(msg),
            Error::Unprocessable(_)
            | Error::DuplicateEmail
            | Error::DuplicateUserId
            | Error::CurrentPasswordMismatch
            | Error::CannotModifyPassword
            | Error::PasswordTooSimilar
            | Error::TooManyTokens => ApiError::unprocessable(msg),
            Error::UserNotFound => ApiError::not_found(msg),
            Error::DuplicateTokenName | Error::UserChanged => ApiError::conflict(msg),
            Error::ETagMismatch => ApiError::new(StatusCode::PRECONDITION_FAILED, msg),
            Error::Unavailable(_) => {
                tracing::warn!(error = %msg, "health check failed");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, msg)
            }
            Error::TooManyRequests(wait) => wait.too_many_requests(),
            Error::Busy => RetryAfter(BUSY_RETRY).with_status(StatusCode::SERVICE_UNAVAILABLE, msg),
            Error::Store(e) => ApiError::internal(e),
            Error::Internal(m) => ApiError::internal(m),
        }
    }
}
