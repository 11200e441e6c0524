//! Releases: the artifacts sharing a name, with notes and tags; and the next release's
//! software listing (`v1alpha1/deployments/software`), which lists releases as "software"
//! with their kind and compatible types.

use std::collections::{BTreeMap, BTreeSet};

use mender_core::{DeploymentId, TenantId, Timestamp};

use super::App;
use crate::error::{Error, Result};
use crate::model::{Artifact, ArtifactFilter, ReleaseMeta};
use crate::store::{ArtifactDeletion, ReleaseChange};

/// Most tags a release may carry.
pub const MAX_TAGS: usize = 20;
/// Most distinct tags over all releases of a tenant.
pub const MAX_UNIQUE_TAGS: usize = 100;
/// Longest release notes, in bytes.
pub const MAX_NOTES: usize = 1024;
/// Longest tag, in bytes.
pub const MAX_TAG: usize = 1024;

/// Upstream's `Notes.Validate`: at most 1024 bytes, and no character that Go's
/// `unicode.IsGraphic` refuses, except at the very start (upstream only looks from the
/// second byte on); the error names the first byte of the offending character, as Go's `%c`
/// prints a byte.
pub fn validate_notes(notes: &str) -> Result<(), String> {
    if notes.len() > MAX_NOTES {
        return Err("release notes too long".to_owned());
    }
    if let Some((i, _)) = notes.char_indices().find(|(_, c)| !is_graphic(*c))
        && i > 0
    {
        let byte = notes.as_bytes()[i];
        return Err(format!(
            "invalid character '{}' at offset {i}",
            char::from(byte)
        ));
    }
    Ok(())
}

/// Go's `unicode.IsGraphic`: letters, marks, numbers, punctuation, symbols and spaces (`Zs`).
fn is_graphic(c: char) -> bool {
    use unicode_properties::{GeneralCategory as G, UnicodeGeneralCategory};
    !matches!(
        c.general_category(),
        G::Control
            | G::Format
            | G::Surrogate
            | G::PrivateUse
            | G::Unassigned
            | G::LineSeparator
            | G::ParagraphSeparator
    )
}

/// Upstream's tag list: each tag lower-cased, duplicates dropped (first one kept), then
/// `Tags.Validate`: at most 20, each 1 to 1024 bytes of `[A-Za-z0-9-_.]`.
pub fn normalize_tags(tags: Vec<String>) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for t in tags {
        let t = t.to_lowercase();
        if !out.contains(&t) {
            out.push(t);
        }
    }
    if out.len() > MAX_TAGS {
        return Err(format!(
            "the total number of tags per exceeded maximum of {MAX_TAGS}"
        ));
    }
    for t in &out {
        if t.is_empty() {
            return Err("tag cannot be empty".to_owned());
        }
        if t.len() > MAX_TAG {
            return Err(format!("tag must be less than {MAX_TAG} characters"));
        }
        if let Some(c) = t
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        {
            return Err(format!("invalid character '{c}' in string \"{t}\""));
        }
    }
    Ok(out)
}

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
    /// Has any of these tags (lower-cased).
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
        // A release lists its artifacts in the order they came.
        for list in by_name.values_mut() {
            list.sort_by(|a, b| a.modified.cmp(&b.modified).then_with(|| a.id.cmp(&b.id)));
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
                f.tags.is_empty()
                    || f.tags
                        .iter()
                        .any(|t| r.meta.tags.contains(&t.to_lowercase()))
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

    /// Sets a release's notes (upstream `PATCH .../releases/{name}`): the notes are checked
    /// first (400), then the release must exist (404).
    pub async fn set_release_notes(
        &self,
        tenant: &TenantId,
        name: &str,
        notes: &str,
    ) -> Result<()> {
        validate_notes(notes)
            .map_err(|e| Error::BadRequest(format!("invalid request body: {e}")))?;
        self.update_release(tenant, name, ReleaseChange::Notes(notes))
            .await
    }

    /// Replaces a release's tags (upstream `PUT .../releases/{name}/tags`): lower-cased and
    /// deduplicated in the order given; at most 20 of `[a-z0-9-_.]` (400); at most 100
    /// distinct tags over all releases afterwards (409, checked even for an unknown
    /// release); then the release must exist (404).
    pub async fn set_release_tags(
        &self,
        tenant: &TenantId,
        name: &str,
        tags: Vec<String>,
    ) -> Result<()> {
        let tags = normalize_tags(tags)
            .map_err(|e| Error::BadRequest(format!("invalid request body: {e}")))?;
        if !tags.is_empty() {
            // Upstream counts the release's current tags as in use too.
            let others = self
                .release_tags(tenant)
                .await?
                .into_iter()
                .filter(|t| !tags.contains(t))
                .count();
            if tags.len() + others > MAX_UNIQUE_TAGS {
                return Err(Error::Conflict(format!(
                    "the total number of unique tags ({MAX_UNIQUE_TAGS}) has been exceeded"
                )));
            }
        }
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
                let deleted = self
                    .store
                    .delete_artifact(tenant, &a.id, self.clock.now())
                    .await
                    .map_err(|e| ReleasesInUse::Other(e.into()))?;
                if deleted == ArtifactDeletion::Deleted {
                    self.remove_artifact_file(tenant, &a.id).await;
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

/// What kind of software a release is: the next release's `kind` (releases of artifacts; the
/// open-source server has no manifests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseKind {
    /// Artifacts sharing a name.
    Release,
    /// A manifest (never stored here).
    Manifest,
}

impl ReleaseKind {
    /// Parses `release` or `manifest`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "release" => Some(Self::Release),
            "manifest" => Some(Self::Manifest),
            _ => None,
        }
    }
}

/// The software list's filters (upstream `SoftwareFilter`).
#[derive(Debug, Clone, Default)]
pub struct SoftwareFilter {
    /// Exact names (any of them).
    pub names: Vec<String>,
    /// Name prefix (case-sensitive).
    pub name_prefix: String,
    /// Kind; `None` for every kind.
    pub kind: Option<ReleaseKind>,
    /// Payload type of any artifact.
    pub update_type: String,
    /// Any of these tags (lower-cased).
    pub tags: Vec<String>,
    /// Sort key (`name`, `modified` or `tags`) and whether descending.
    pub sort: (String, bool),
    /// Rows to skip.
    pub offset: u64,
    /// Rows to return.
    pub limit: u64,
}

impl App {
    /// A page of releases as software, and the total matching.
    pub async fn list_software(
        &self,
        tenant: &TenantId,
        f: &SoftwareFilter,
    ) -> Result<(Vec<Release>, u64)> {
        if f.kind == Some(ReleaseKind::Manifest) {
            return Ok((Vec::new(), 0));
        }
        let all = self
            .list_releases(tenant, &ReleaseFilter::default())
            .await?;
        let mut found: Vec<Release> =
            all.into_iter()
                .filter(|r| f.names.is_empty() || f.names.contains(&r.name))
                .filter(|r| r.name.starts_with(&f.name_prefix))
                .filter(|r| {
                    f.update_type.is_empty()
                        || r.artifacts.iter().any(|a| {
                            a.meta.updates.iter().any(|u| {
                                u.type_info.type_.as_deref() == Some(f.update_type.as_str())
                            })
                        })
                })
                .filter(|r| f.tags.is_empty() || f.tags.iter().any(|t| r.meta.tags.contains(t)))
                .collect();
        let (key, desc) = &f.sort;
        found.sort_by(|a, b| {
            let o = match key.as_str() {
                "modified" => a.modified().cmp(&b.modified()),
                "tags" => a.meta.tags.cmp(&b.meta.tags),
                _ => a.name.cmp(&b.name),
            };
            let o = if *desc { o.reverse() } else { o };
            o.then_with(|| a.name.cmp(&b.name))
        });
        let total = found.len() as u64;
        let page = found
            .into_iter()
            .skip(usize::try_from(f.offset).unwrap_or(usize::MAX))
            .take(usize::try_from(f.limit).unwrap_or(usize::MAX))
            .collect();
        Ok((page, total))
    }

    /// Every tag of the releases of `kind` (all kinds when `None`), sorted.
    pub async fn software_tags(
        &self,
        tenant: &TenantId,
        kind: Option<ReleaseKind>,
    ) -> Result<Vec<String>> {
        if kind == Some(ReleaseKind::Manifest) {
            return Ok(Vec::new());
        }
        let mut tags = self.release_tags(tenant).await?;
        tags.retain(|t| !t.is_empty());
        Ok(tags)
    }
}
