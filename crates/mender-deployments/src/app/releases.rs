//! Releases: the artifacts sharing a name, with notes and tags.

use std::collections::{BTreeMap, BTreeSet};

use mender_core::{DeploymentId, TenantId, Timestamp};

use super::{App, artifact_key};
use crate::error::{Error, Result};
use crate::model::{Artifact, ArtifactFilter, ReleaseMeta};
use crate::store::ReleaseChange;

/// Most tags a release may carry.
pub const MAX_TAGS: usize = 20;
/// Longest release notes.
pub const MAX_NOTES: usize = 1024;

/// A release with its artifacts.
#[derive(Debug, Clone)]
pub struct Release {
    /// Name.
    pub name: String,
    /// Artifacts, oldest first.
    pub artifacts: Vec<Artifact>,
    /// Notes and tags.
    pub meta: ReleaseMeta,
}

impl Release {
    /// Latest modification of any of its artifacts.
    pub fn modified(&self) -> Option<Timestamp> {
        self.artifacts.iter().map(|a| a.modified).max()
    }
}

/// Release list filters.
#[derive(Debug, Clone, Default)]
pub struct ReleaseFilter {
    /// Name contains (case-insensitive).
    pub name: Option<String>,
    /// Any artifact's description contains.
    pub description: Option<String>,
    /// Any artifact compatible with this device type.
    pub device_type: Option<String>,
    /// Any payload of this type.
    pub update_type: Option<String>,
    /// Has all of these tags.
    pub tags: Vec<String>,
    /// `name`, `modified`, `artifacts_count` or `tags`, and descending.
    pub sort: (String, bool),
}

impl App {
    /// Every release matching the filter, sorted.
    pub async fn list_releases(
        &self,
        tenant: &TenantId,
        f: &ReleaseFilter,
    ) -> Result<Vec<Release>> {
        let (artifacts, _) = self
            .store
            .list_artifacts(tenant, &ArtifactFilter::default())
            .await?;
        let metas: BTreeMap<String, ReleaseMeta> = self
            .store
            .release_metas(tenant)
            .await?
            .into_iter()
            .map(|m| (m.name.clone(), m))
            .collect();
        let mut by_name: BTreeMap<String, Vec<Artifact>> = BTreeMap::new();
        for a in artifacts {
            by_name.entry(a.meta.name.clone()).or_default().push(a);
        }
        let lc = |s: &str| s.to_lowercase();
        let mut out: Vec<Release> = by_name
            .into_iter()
            .map(|(name, artifacts)| Release {
                meta: metas.get(&name).cloned().unwrap_or_else(|| ReleaseMeta {
                    name: name.clone(),
                    ..Default::default()
                }),
                name,
                artifacts,
            })
            .filter(|r| f.name.as_ref().is_none_or(|n| lc(&r.name).contains(&lc(n))))
            .filter(|r| {
                f.description.as_ref().is_none_or(|d| {
                    r.artifacts
                        .iter()
                        .any(|a| lc(&a.description).contains(&lc(d)))
                })
            })
            .filter(|r| {
                f.device_type.as_ref().is_none_or(|t| {
                    r.artifacts
                        .iter()
                        .any(|a| a.meta.device_types_compatible.contains(t))
                })
            })
            .filter(|r| {
                f.update_type.as_ref().is_none_or(|t| {
                    r.artifacts.iter().any(|a| {
                        a.meta
                            .updates
                            .iter()
                            .any(|u| u.type_info.type_.as_deref() == Some(t.as_str()))
                    })
                })
            })
            .filter(|r| {
                f.tags
                    .iter()
                    .all(|t| r.meta.tags.contains(&t.to_lowercase()))
            })
            .collect();
        let (key, desc) = &f.sort;
        out.sort_by(|a, b| {
            let o = match key.as_str() {
                "modified" => a.modified().cmp(&b.modified()),
                "artifacts_count" => a.artifacts.len().cmp(&b.artifacts.len()),
                "tags" => a.meta.tags.cmp(&b.meta.tags),
                _ => std::cmp::Ordering::Equal,
            }
            .then_with(|| a.name.cmp(&b.name));
            if *desc { o.reverse() } else { o }
        });
        Ok(out)
    }

    /// One release (404 when it has no artifacts).
    pub async fn get_release(&self, tenant: &TenantId, name: &str) -> Result<Release> {
        let artifacts = self.store.artifacts_by_name(tenant, name).await?;
        if artifacts.is_empty() {
            return Err(Error::NotFound("release not found".to_owned()));
        }
        let meta = self
            .store
            .release_metas(tenant)
            .await?
            .into_iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| ReleaseMeta {
                name: name.to_owned(),
                ..Default::default()
            });
        Ok(Release {
            name: name.to_owned(),
            artifacts,
            meta,
        })
    }

    /// Sets a release's notes.
    pub async fn set_release_notes(
        &self,
        tenant: &TenantId,
        name: &str,
        notes: &str,
    ) -> Result<()> {
        if notes.chars().count() > MAX_NOTES {
            return Err(Error::BadRequest(format!(
                "notes: must be at most {MAX_NOTES} characters"
            )));
        }
        self.update_release(tenant, name, ReleaseChange::Notes(notes))
            .await
    }

    /// Replaces a release's tags (lower-cased, deduplicated, at most 20).
    pub async fn set_release_tags(
        &self,
        tenant: &TenantId,
        name: &str,
        tags: Vec<String>,
    ) -> Result<()> {
        let tags: BTreeSet<String> = tags.into_iter().map(|t| t.to_lowercase()).collect();
        if tags.len() > MAX_TAGS {
            return Err(Error::BadRequest(format!(
                "tags: at most {MAX_TAGS} tags per release"
            )));
        }
        for t in &tags {
            if t.is_empty()
                || t.len() > 1024
                || !t
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
            {
                return Err(Error::BadRequest(
                    "tags: must contain only letters, digits, underscores, periods and hyphens"
                        .to_owned(),
                ));
            }
        }
        let tags: Vec<String> = tags.into_iter().collect();
        self.update_release(tenant, name, ReleaseChange::Tags(&tags))
            .await
    }

    /// Changes the notes or tags of a release that has artifacts.
    async fn update_release(
        &self,
        tenant: &TenantId,
        name: &str,
        change: ReleaseChange<'_>,
    ) -> Result<()> {
        self.get_release(tenant, name).await?;
        let now = self.clock.now();
        if !self.store.update_release(tenant, name, change, now).await? {
            return Err(Error::NotFound("release not found".to_owned()));
        }
        Ok(())
    }

    /// Every tag in use, sorted.
    pub async fn release_tags(&self, tenant: &TenantId) -> Result<Vec<String>> {
        let tags: BTreeSet<String> = self
            .store
            .release_metas(tenant)
            .await?
            .into_iter()
            .flat_map(|m| m.tags)
            .collect();
        Ok(tags.into_iter().collect())
    }

    /// Every payload type in use, sorted.
    pub async fn release_types(&self, tenant: &TenantId) -> Result<Vec<String>> {
        let (artifacts, _) = self
            .store
            .list_artifacts(tenant, &ArtifactFilter::default())
            .await?;
        let types: BTreeSet<String> = artifacts
            .iter()
            .flat_map(|a| {
                a.meta
                    .updates
                    .iter()
                    .filter_map(|u| u.type_info.type_.clone())
            })
            .collect();
        Ok(types.into_iter().collect())
    }

    /// Deletes releases (all their artifacts); fails with the ids of unfinished deployments
    /// that use them.
    pub async fn delete_releases(
        &self,
        tenant: &TenantId,
        names: &[String],
    ) -> Result<(), ReleasesInUse> {
        let active = self
            .store
            .active_deployments_of(tenant, names)
            .await
            .map_err(|e| ReleasesInUse::Other(e.into()))?;
        if !active.is_empty() {
            return Err(ReleasesInUse::Active(active));
        }
        for name in names {
            let artifacts = self
                .store
                .artifacts_by_name(tenant, name)
                .await
                .map_err(|e| ReleasesInUse::Other(e.into()))?;
            for a in artifacts {
                self.store
                    .delete_artifact(tenant, &a.id)
                    .await
                    .map_err(|e| ReleasesInUse::Other(e.into()))?;
                if let Err(e) = self.blobs.delete(&artifact_key(tenant, &a.id)).await {
                    tracing::warn!(artifact_id = %a.id, error = %e, "cannot delete artifact file");
                }
            }
        }
        Ok(())
    }
}

/// Why releases could not be deleted.
#[derive(Debug)]
pub enum ReleasesInUse {
    /// Unfinished deployments use them.
    Active(Vec<DeploymentId>),
    /// Something else failed.
    Other(Error),
}
