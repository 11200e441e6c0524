//! The start-up sweep of artifact storage: files that no artifact record owns (left by a
//! crash between storing an upload and recording it, or between deleting a record and its
//! file) are removed, and artifact ids reserved by uploads or deletions that never finished
//! are freed. The blob store itself removes its leftover temporary files when it opens.

use std::time::Duration;

use mender_core::{ArtifactId, TenantId};

use super::{App, artifact_key, is_uuid};
use crate::error::Result;
use crate::store::Reservation;

/// Prefix of every artifact file's key.
const ARTIFACTS_PREFIX: &str = "artifacts/";

/// What a sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Artifact files without an artifact record, deleted.
    pub orphan_files: u64,
    /// Reservations of uploads or deletions that never finished, released.
    pub abandoned_reservations: u64,
}

/// The tenant and id of an artifact file key (`artifacts/<id>` or
/// `artifacts/<tenant>/<id>`, see [`artifact_key`]); `None` for anything else.
fn parse_artifact_key(key: &str) -> Option<(TenantId, ArtifactId)> {
    let rest = key.strip_prefix(ARTIFACTS_PREFIX)?;
    let (tenant, id) = match rest.split_once('/') {
        None => ("", rest),
        Some((t, id)) if !t.is_empty() && !id.contains('/') => (t, id),
        Some(_) => return None,
    };
    is_uuid(id).then(|| (TenantId::from(tenant), ArtifactId::new(id.to_owned())))
}

impl App {
    /// Sweeps artifact storage (see the module documentation). Safe while other processes
    /// upload: a file is deleted only under a reservation of its id, which no upload can
    /// hold at the same time, and only reservations older than `abandoned_upload_seconds`
    /// are taken for abandoned.
    pub async fn sweep_artifact_storage(&self) -> Result<SweepReport> {
        let mut report = SweepReport::default();
        let now = self.clock.now();
        let before = now - Duration::from_secs(self.config.abandoned_upload_seconds);
        for (tenant, id) in self.store.stale_reservations(before).await? {
            if self.store.get_artifact(&tenant, &id).await?.is_none()
                && self.blobs.delete(&artifact_key(&tenant, &id)).await?
            {
                report.orphan_files += 1;
            }
            self.store.release_artifact_id(&id).await?;
            report.abandoned_reservations += 1;
        }
        for key in self.blobs.list(ARTIFACTS_PREFIX).await? {
            let Some((tenant, id)) = parse_artifact_key(&key) else {
                tracing::warn!(
                    key,
                    "a file in artifact storage that is no artifact's; left alone"
                );
                continue;
            };
            if self.store.get_artifact(&tenant, &id).await?.is_some() {
                continue;
            }
            match self.store.reserve_artifact_id(&tenant, &id, now).await? {
                Reservation::Reserved => {
                    let deleted = self.blobs.delete(&key).await;
                    self.store.release_artifact_id(&id).await?;
                    if deleted? {
                        report.orphan_files += 1;
                    }
                }
                // Committed meanwhile, or held by an upload in progress.
                Reservation::Exists | Reservation::Held => {}
            }
        }
        if report != SweepReport::default() {
            tracing::info!(
                orphan_files = report.orphan_files,
                abandoned_reservations = report.abandoned_reservations,
                "artifact storage swept"
            );
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_keys_parse_back() {
        let id = "0c13a0e6-6b63-4c0a-9a4e-6c0f7e0f4b1e";
        let t = TenantId::from("t1");
        let a = ArtifactId::new(id.to_owned());
        assert_eq!(
            parse_artifact_key(&artifact_key(&t, &a)),
            Some((t, a.clone()))
        );
        let none = TenantId::from("");
        assert_eq!(
            parse_artifact_key(&artifact_key(&none, &a)),
            Some((none, a))
        );
        for bad in [
            "artifacts/not-a-uuid",
            "generate/0c13a0e6-6b63-4c0a-9a4e-6c0f7e0f4b1e",
            "artifacts/a/b/0c13a0e6-6b63-4c0a-9a4e-6c0f7e0f4b1e",
            "artifacts//0c13a0e6-6b63-4c0a-9a4e-6c0f7e0f4b1e",
        ] {
            assert_eq!(parse_artifact_key(bad), None, "{bad}");
        }
    }
}
