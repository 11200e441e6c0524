//! The service's errors and how they are answered (upstream's messages and status codes).

use mender_core::ApiError;

use crate::store::StoreError;

/// What can go wrong in the workflows service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No definition by that name (or none new enough).
    #[error("Workflow not found")]
    WorkflowNotFound,
    /// Required inputs were not given.
    #[error("Missing input parameters: [{}]", .0.join(" "))]
    MissingInputs(Vec<String>),
    /// A definition with this name and the same or a higher version exists.
    #[error("Workflow already exists")]
    WorkflowExists,
    /// A request body could not be used.
    #[error("{0}")]
    BadRequest(String),
    /// No job with that id.
    #[error("not found")]
    JobNotFound,
    /// The job store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The queue failed.
    #[error(transparent)]
    Queue(#[from] mender_queue::QueueError),
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::WorkflowNotFound | Error::JobNotFound => ApiError::not_found(e.to_string()),
            Error::MissingInputs(_) | Error::BadRequest(_) => ApiError::bad_request(e.to_string()),
            Error::WorkflowExists => ApiError::conflict(e.to_string()),
            Error::Store(_) | Error::Queue(_) => ApiError::internal(e),
        }
    }
}

impl From<Error> for mender_api::workflows::StartError {
    fn from(e: Error) -> Self {
        use mender_api::workflows::StartError;
        match e {
            Error::WorkflowNotFound => StartError::NotFound(String::new()),
            Error::MissingInputs(missing) => StartError::MissingInputs(missing),
            other => StartError::Other(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_upstream() {
        let e = Error::MissingInputs(vec!["a".into(), "b".into()]);
        assert_eq!(e.to_string(), "Missing input parameters: [a b]");
        let api = ApiError::from(Error::WorkflowExists);
        assert_eq!(
            (api.status.as_u16(), api.message.as_str()),
            (409, "Workflow already exists")
        );
    }
}
