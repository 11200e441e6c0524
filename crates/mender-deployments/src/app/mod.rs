//! Deployments business logic, named after Mender operations. Knows no HTTP: handlers parse
//! requests, call these methods and render the results.

pub mod artifacts;
pub mod configuration;
pub mod deployments;
pub mod devices;
pub mod generate;
mod parse;
pub mod releases;
mod settings;
pub mod sweep;

use std::sync::Arc;

use mender_api::inventory::InventoryClient;
use mender_api::workflows::WorkflowStarter;
use mender_blob::BlobStore;
use mender_core::{ArtifactId, SharedClock, TenantId};

use crate::config::DeploymentsConfig;
use crate::error::{Error, Result};
use crate::presign::Presigner;
use crate::store::DeploymentsStore;

/// Everything the operations need.
pub struct App {
    pub(crate) store: Arc<dyn DeploymentsStore>,
    pub(crate) clock: SharedClock,
    pub(crate) blobs: Arc<dyn BlobStore>,
    pub(crate) config: DeploymentsConfig,
    pub(crate) presigner: Presigner,
    pub(crate) workflows: Arc<dyn WorkflowStarter>,
    pub(crate) inventory: Arc<dyn InventoryClient>,
}

/// Where links point: scheme and host for URLs the server hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkBase {
    /// `https` or `http`.
    pub scheme: String,
    /// Host and optional port.
    pub host: String,
}

/// Blob key of an artifact file.
pub(crate) fn artifact_key(tenant: &TenantId, id: &ArtifactId) -> String {
    if tenant.is_empty() {
        format!("artifacts/{id}")
    } else {
        format!("artifacts/{tenant}/{id}")
    }
}

/// Blob key of a raw file waiting for artifact generation.
pub(crate) fn generate_key(tenant: &TenantId, id: &ArtifactId) -> String {
    if tenant.is_empty() {
        format!("generate/{id}")
    } else {
        format!("generate/{tenant}/{id}")
    }
}

/// `v`, or a 404 "<what> not found".
pub(crate) fn found<T>(v: Option<T>, what: &str) -> Result<T> {
    v.ok_or_else(|| Error::NotFound(format!("{what} not found")))
}

/// A 400 with the message of the first rule that does not hold, in order.
pub(crate) fn check(rules: &[(bool, &str)]) -> Result<()> {
    match rules.iter().find(|(holds, _)| !holds) {
        Some((_, message)) => Err(Error::BadRequest((*message).to_owned())),
        None => Ok(()),
    }
}

/// Whether `s` is 1 to `max` characters long.
pub(crate) fn length_within(s: &str, max: usize) -> bool {
    !s.is_empty() && s.chars().count() <= max
}

/// Checks that an id from a path is a UUID, so it can be used as a key and compared safely.
pub(crate) fn is_uuid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok()
}
