//! Generating single-file artifacts from raw uploads (`POST /artifacts/generate`): the raw
//! file is stored and the `generate_artifact` workflow is started with a [`GenerateJob`]; the
//! job is then executed in-process by [`App::generate_artifact`], which writes the artifact with
//! the mender-artifact writer and stores it like an uploaded one.

use std::io::{Seek, SeekFrom, Write};

use futures::StreamExt;
use mender_blob::{BlobError, ByteStream};
use mender_core::{ArtifactId, TenantId};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;

use super::settings::{storage_limit_exceeded, upload_limit};
use super::{App, check, generate_key, is_uuid, length_within};
use crate::error::{Error, Result};

/// Name of the workflow started for a generate request.
pub const GENERATE_WORKFLOW: &str = "generate_artifact";

/// A generate request as the user sent it (the file comes separately as a stream).
#[derive(Debug, Clone, Default)]
pub struct GenerateRequest {
    /// Artifact name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Compatible device types.
    pub device_types_compatible: Vec<String>,
    /// Update module; only `single_file`.
    pub kind: String,
    /// JSON arguments for the module (`dest_dir`, `filename`, `permissions`).
    pub args: String,
    /// File name of the uploaded part.
    pub file_name: String,
}

/// The workflow inputs of `generate_artifact`, and what [`App::generate_artifact`] executes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerateJob {
    /// Request id of the upload.
    #[serde(default)]
    pub request_id: String,
    /// Tenant.
    #[serde(default)]
    pub tenant_id: TenantId,
    /// Id the generated artifact gets.
    pub artifact_id: ArtifactId,
    /// Artifact name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Compatible device types.
    pub device_types_compatible: Vec<String>,
    /// Update module (`single_file`).
    #[serde(rename = "type")]
    pub kind: String,
    /// JSON module arguments.
    #[serde(default)]
    pub args: String,
    /// File name of the uploaded part (default for `filename`).
    #[serde(default)]
    pub file_name: String,
}

#[derive(Debug, Default, Deserialize)]
struct SingleFileArgs {
    #[serde(default)]
    dest_dir: Option<String>,
    #[serde(default)]
    filename: Option<String>,
    #[serde(default)]
    permissions: Option<String>,
    #[serde(default)]
    software_version: Option<String>,
}

impl App {
    /// Stores the raw file and starts the `generate_artifact` workflow; returns the id the
    /// artifact will have.
    pub async fn start_generate(
        &self,
        tenant: &TenantId,
        req: GenerateRequest,
        data: ByteStream<'_>,
    ) -> Result<ArtifactId> {
        check(&[
            (
                length_within(&req.name, 4096),
                "name: must be 1 to 4096 characters",
            ),
            (
                !req.device_types_compatible.is_empty(),
                "device_types_compatible: cannot be blank",
            ),
            (
                req.kind == "single_file",
                "type: only single_file is supported",
            ),
        ])?;
        parse_args(&req.args)?;
        let id = ArtifactId::new(mender_core::ids::new_uuid());
        let key = generate_key(tenant, &id);
        // The generated artifact holds the whole file: a file that does not fit under the
        // storage limit is refused now (the artifact is checked again when it is stored).
        let room = self.storage_room(tenant).await?;
        let (limit, by_storage) = upload_limit(self.config.max_generate_data_size, room);
        if room == Some(0) {
            return Err(storage_limit_exceeded());
        }
        match self.blobs.put(&key, data, limit).await {
            Ok(_) => {}
            Err(BlobError::TooLarge { .. }) if by_storage => return Err(storage_limit_exceeded()),
            Err(BlobError::TooLarge { limit }) => {
                return Err(Error::TooLarge(format!(
                    "file too large: the limit is {limit} bytes"
                )));
            }
            Err(BlobError::Source(e)) => {
                return Err(Error::BadRequest(format!("failed to read the upload: {e}")));
            }
            Err(e) => return Err(e.into()),
        }
        let job = GenerateJob {
            request_id: mender_core::request_id::current().unwrap_or_default(),
            tenant_id: tenant.clone(),
            artifact_id: id.clone(),
            name: req.name,
            description: req.description,
            device_types_compatible: req.device_types_compatible,
            kind: req.kind,
            args: req.args,
            file_name: req.file_name,
        };
        let inputs = serde_json::to_value(&job).map_err(|e| Error::BadRequest(e.to_string()))?;
        if let Err(e) = self
            .workflows
            .start_workflow(GENERATE_WORKFLOW, inputs)
            .await
        {
            let _ = self.blobs.delete(&key).await;
            return Err(Error::Upstream(format!(
                "cannot start artifact generation: {e}"
            )));
        }
        Ok(id)
    }

    /// Executes a generate job: builds the single-file artifact from the stored raw file,
    /// stores it as a normal artifact with id `job.artifact_id` and removes the raw file.
    pub async fn generate_artifact(&self, job: &GenerateJob) -> Result<ArtifactId> {
        if !is_uuid(job.artifact_id.as_str()) {
            return Err(Error::BadRequest("artifact_id must be a UUID".to_owned()));
        }
        let args = parse_args(&job.args)?;
        let key = generate_key(&job.tenant_id, &job.artifact_id);
        let raw = tempfile::tempfile().map_err(|e| Error::Upstream(format!("temp file: {e}")))?;
        let mut raw = tokio::fs::File::from_std(raw);
        let mut read = self.blobs.get(&key, None).await.map_err(|e| match e {
            BlobError::NotFound => {
                Error::NotFound("raw file for artifact generation not found".to_owned())
            }
            other => other.into(),
        })?;
        while let Some(chunk) = read.stream.next().await {
            tokio::io::AsyncWriteExt::write_all(&mut raw, &chunk.map_err(BlobError::Io)?)
                .await
                .map_err(BlobError::Io)?;
        }
        let raw = raw.into_std().await;
        let spec = mender_artifact::SingleFileArtifact {
            name: job.name.clone(),
            device_types: job.device_types_compatible.clone(),
            dest_dir: args.dest_dir.clone().unwrap_or_else(|| "/".to_owned()),
            filename: args
                .filename
                .clone()
                .filter(|f| !f.is_empty())
                .unwrap_or_else(|| file_base_name(&job.file_name)),
            permissions: parse_mode(args.permissions.as_deref())?,
            software_version: args.software_version.clone(),
            compression: mender_artifact::Compression::default(),
        };
        let size = read.total;
        let out = tokio::task::spawn_blocking(move || -> Result<std::fs::File> {
            let mut raw = raw;
            raw.seek(SeekFrom::Start(0)).map_err(BlobError::Io)?;
            let out = tempfile::tempfile().map_err(BlobError::Io)?;
            let mut out = mender_artifact::write_single_file_artifact(out, &spec, raw, size)
                .map_err(|e| Error::BadRequest(format!("cannot generate artifact: {e}")))?;
            out.flush().map_err(BlobError::Io)?;
            out.seek(SeekFrom::Start(0)).map_err(BlobError::Io)?;
            Ok(out)
        })
        .await
        .map_err(|e| Error::Upstream(format!("artifact writer panicked: {e}")))??;
        let id = self
            .upload_artifact(
                &job.tenant_id,
                Some(job.artifact_id.clone()),
                job.description.clone(),
                file_stream(out),
            )
            .await?;
        if let Err(e) = self.blobs.delete(&key).await {
            tracing::warn!(error = %e, "cannot delete raw file of a generated artifact");
        }
        Ok(id)
    }
}

fn parse_args(args: &str) -> Result<SingleFileArgs> {
    if args.trim().is_empty() {
        return Ok(SingleFileArgs::default());
    }
    serde_json::from_str(args).map_err(|e| Error::BadRequest(format!("args: invalid JSON: {e}")))
}

fn parse_mode(s: Option<&str>) -> Result<u32> {
    match s {
        None | Some("") => Ok(0o644),
        Some(m) => u32::from_str_radix(m.trim_start_matches("0o"), 8)
            .ok()
            .filter(|m| *m <= 0o7777)
            .ok_or_else(|| {
                Error::BadRequest("args: permissions must be an octal file mode".to_owned())
            }),
    }
}

fn file_base_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ','))
        .collect();
    if clean.is_empty() || clean.chars().all(|c| c == '.') {
        "file".to_owned()
    } else {
        clean
    }
}

/// Streams a file from its current position.
fn file_stream(f: std::fs::File) -> ByteStream<'static> {
    let f = tokio::fs::File::from_std(f);
    Box::pin(futures::stream::try_unfold(
        (f, vec![0u8; 64 * 1024]),
        |(mut f, mut buf)| async move {
            let n = f.read(&mut buf).await?;
            if n == 0 {
                return Ok(None);
            }
            let chunk = bytes::Bytes::copy_from_slice(&buf[..n]);
            Ok(Some((chunk, (f, buf))))
        },
    ))
}
