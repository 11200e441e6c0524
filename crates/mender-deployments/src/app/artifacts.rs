//! Artifact operations: upload (streamed and parsed), list, show, edit, delete, links and
//! serving the signed downloads.

use std::time::Duration;

use mender_blob::{BlobRead, ByteRange, ByteStream};
use mender_core::{ArtifactId, TenantId, Timestamp};

use super::settings::{storage_limit_exceeded, upload_limit};
use super::{App, LinkBase, artifact_key, check, found, is_uuid, parse::store_and_parse};
use crate::error::{Error, Result};
use crate::model::{Artifact, ArtifactFilter};
use crate::store::{ArtifactDeletion, Reservation};

/// Path prefix of the signed artifact download route.
pub const DOWNLOAD_PREFIX: &str = "/api/devices/v1/deployments/download/artifacts";

/// A download link and its expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The URL.
    pub uri: String,
    /// When it stops working.
    pub expire: Timestamp,
}

/// An artifact download being served.
#[derive(Debug)]
pub struct Download {
    /// The artifact's name (for `Content-Disposition`).
    pub name: String,
    /// The bytes.
    pub read: BlobRead,
}

impl App {
    /// Uploads an artifact: streams it into blob storage while parsing it, then records it.
    /// `id` may be given (internal uploads, generated artifacts); otherwise a new one is made.
    /// The id is reserved before any byte is stored, so a second upload of the same id can
    /// neither replace nor delete the file of the first (409 instead).
    pub async fn upload_artifact(
        &self,
        tenant: &TenantId,
        id: Option<ArtifactId>,
        description: String,
        data: ByteStream<'_>,
    ) -> Result<ArtifactId> {
        let id = id.unwrap_or_else(|| ArtifactId::new(mender_core::ids::new_uuid()));
        if !is_uuid(id.as_str()) {
            return Err(Error::BadRequest("artifact_id must be a UUID".to_owned()));
        }
        match self
            .store
            .reserve_artifact_id(tenant, &id, self.clock.now())
            .await?
        {
            Reservation::Reserved => {}
            Reservation::Exists => {
                return Err(Error::Conflict(
                    "an artifact with this id already exists".to_owned(),
                ));
            }
            Reservation::Held => {
                return Err(Error::Conflict(
                    "an artifact with this id is being uploaded or deleted".to_owned(),
                ));
            }
        }
        let res = self.upload_reserved(tenant, &id, description, data).await;
        if res.is_err()
            && let Err(e) = self.store.release_artifact_id(&id).await
        {
            // The claim ages out and is swept at the next start.
            tracing::warn!(artifact_id = %id, error = %e, "cannot release the id of a failed upload");
        }
        res.map(|()| id)
    }

    /// The upload of an id this caller has reserved; on failure nothing is left in storage.
    async fn upload_reserved(
        &self,
        tenant: &TenantId,
        id: &ArtifactId,
        description: String,
        data: ByteStream<'_>,
    ) -> Result<()> {
        let key = artifact_key(tenant, id);
        let room = self.storage_room(tenant).await?;
        let (limit, by_storage) = upload_limit(self.config.max_image_size, room);
        if room == Some(0) {
            return Err(storage_limit_exceeded());
        }
        let budget = self.config.parse_limits();
        let meta = match store_and_parse(&self.blobs, &key, data, limit, budget).await {
            Err(Error::TooLarge(_)) if by_storage => return Err(storage_limit_exceeded()),
            other => other?,
        };
        let size = meta.size;
        let artifact = Artifact {
            id: id.clone(),
            tenant: tenant.clone(),
            description,
            meta,
            modified: self.clock.now(),
        };
        if let Err(e) = self.store.insert_artifact(&artifact).await {
            if let Err(de) = self.blobs.delete(&key).await {
                tracing::warn!(error = %de, "cannot delete blob of a rejected artifact");
            }
            return Err(e.into());
        }
        tracing::info!(artifact_id = %id, name = %artifact.meta.name, size, "artifact uploaded");
        Ok(())
    }

    /// Deletes the file of an artifact whose record is gone and releases its id (held by
    /// [`DeploymentsStore::delete_artifact`](crate::store::ArtifactStore::delete_artifact)
    /// until now). A failure is logged: the start-up sweep finishes the job.
    pub(crate) async fn remove_artifact_file(&self, tenant: &TenantId, id: &ArtifactId) {
        if let Err(e) = self.blobs.delete(&artifact_key(tenant, id)).await {
            tracing::warn!(artifact_id = %id, error = %e, "artifact record deleted but its file could not be");
            return;
        }
        if let Err(e) = self.store.release_artifact_id(id).await {
            tracing::warn!(artifact_id = %id, error = %e, "cannot release the id of a deleted artifact");
        }
    }

    /// A page of artifacts and the total count.
    pub async fn list_artifacts(
        &self,
        tenant: &TenantId,
        f: &ArtifactFilter,
    ) -> Result<(Vec<Artifact>, u64)> {
        Ok(self.store.list_artifacts(tenant, f).await?)
    }

    /// One artifact.
    pub async fn get_artifact(&self, tenant: &TenantId, id: &ArtifactId) -> Result<Artifact> {
        found(self.store.get_artifact(tenant, id).await?, "artifact")
    }

    /// Edits an artifact's description, as upstream `EditImage`: 400 for a non-UUID id or a
    /// description over 4096 characters, 422 once any deployment (even a finished one) has
    /// listed the artifact, 404 when it does not exist.
    pub async fn edit_artifact(
        &self,
        tenant: &TenantId,
        id: &ArtifactId,
        description: &str,
    ) -> Result<()> {
        check(&[
            (is_uuid(id.as_str()), "ID is not a valid UUID"),
            (
                description.chars().count() <= 4096,
                "description: the length must be no more than 4096",
            ),
        ])?;
        if self.store.artifact_in_any_deployment(tenant, id).await? {
            return Err(Error::Unprocessable(
                "Image has already been used in deployment".to_owned(),
            ));
        }
        if !self
            .store
            .set_artifact_description(tenant, id, description, self.clock.now())
            .await?
        {
            return Err(Error::NotFound("artifact not found".to_owned()));
        }
        Ok(())
    }

    /// Deletes an artifact and its file; 409 while an unfinished deployment uses it.
    pub async fn delete_artifact(&self, tenant: &TenantId, id: &ArtifactId) -> Result<()> {
        match self
            .store
            .delete_artifact(tenant, id, self.clock.now())
            .await?
        {
            ArtifactDeletion::NotFound => Err(Error::NotFound("artifact not found".to_owned())),
            ArtifactDeletion::InUse => Err(Error::Conflict(
                "artifact used in active deployment".to_owned(),
            )),
            ArtifactDeletion::Deleted => {
                self.remove_artifact_file(tenant, id).await;
                Ok(())
            }
        }
    }

    /// A signed link to the artifact file, valid for `expire_seconds`.
    pub async fn artifact_link(
        &self,
        tenant: &TenantId,
        id: &ArtifactId,
        base: &LinkBase,
        expire_seconds: u64,
    ) -> Result<Link> {
        let artifact = self.get_artifact(tenant, id).await?;
        Ok(self.link_for(&artifact, base, link_lifetime(expire_seconds)))
    }

    /// A link for a known artifact, valid for `lifetime`: presigned by the blob store when it
    /// can, else ours.
    pub(crate) fn link_for(
        &self,
        artifact: &Artifact,
        base: &LinkBase,
        lifetime: Duration,
    ) -> Link {
        let expire = self.clock.now() + lifetime;
        let key = artifact_key(&artifact.tenant, &artifact.id);
        if let Some(uri) = self.blobs.presign_get(&key, lifetime) {
            return Link { uri, expire };
        }
        let path = format!("{DOWNLOAD_PREFIX}/{}", artifact.id);
        let query = self.presigner.sign(&path, expire, &artifact.tenant);
        Link {
            uri: format!("{}://{}{path}?{query}", base.scheme, base.host),
            expire,
        }
    }

    /// The signed query string that makes `path` downloadable until `expire`.
    pub fn sign_path(&self, path: &str, expire: Timestamp, tenant: &TenantId) -> String {
        self.presigner.sign(path, expire, tenant)
    }

    /// Checks the signature and expiry of an artifact download link; returns its tenant.
    pub(crate) fn verify_download(
        &self,
        id: &ArtifactId,
        query: &[(String, String)],
    ) -> Result<TenantId> {
        let path = format!("{DOWNLOAD_PREFIX}/{id}");
        self.presigner.verify(&path, query, self.clock.now())
    }

    /// Serves a signed download: checks the signature and expiry, then opens the file.
    pub async fn open_download(
        &self,
        id: &ArtifactId,
        query: &[(String, String)],
        range: Option<ByteRange>,
    ) -> Result<Download> {
        let tenant = self.verify_download(id, query)?;
        if !is_uuid(id.as_str()) {
            return Err(Error::NotFound("artifact not found".to_owned()));
        }
        let artifact = self.get_artifact(&tenant, id).await?;
        let read = self
            .blobs
            .get(&artifact_key(&tenant, id), range)
            .await
            .map_err(|e| match e {
                mender_blob::BlobError::NotFound => {
                    Error::NotFound("artifact file not found".to_owned())
                }
                other => other.into(),
            })?;
        Ok(Download {
            name: artifact.meta.name,
            read,
        })
    }
}

/// How long a link stays valid: the configured seconds, kept between a minute and a week.
pub(crate) fn link_lifetime(expire_seconds: u64) -> Duration {
    Duration::from_secs(expire_seconds.clamp(60, 7 * 24 * 3600))
}
