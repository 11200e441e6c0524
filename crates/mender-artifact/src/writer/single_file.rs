//! The `single-file` update module artifact, as `single-file-artifact-gen` makes it.

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Seek, Write};

use serde_json::Map;
use time::OffsetDateTime;

use crate::compression::Compression;
use crate::error::Error;
use crate::writer::{ArtifactSpec, Payload, PayloadFile, write_artifact};

/// Parameters of a `single-file` artifact.
#[derive(Debug, Clone)]
pub struct SingleFileArtifact {
    /// Artifact name.
    pub name: String,
    /// Compatible device types (at least one).
    pub device_types: Vec<String>,
    /// Absolute directory on the device the file is installed into.
    pub dest_dir: String,
    /// File name on the device; letters, digits and `_-.,` only.
    pub filename: String,
    /// Mode of the installed file, e.g. `0o644`.
    pub permissions: u32,
    /// Value of `rootfs-image.single-file.version`; defaults to the artifact name.
    pub software_version: Option<String>,
    /// Compression of header and data.
    pub compression: Compression,
}

/// Write a version 3 `single-file` artifact: payload files `dest_dir`, `filename`,
/// `permissions` (each a line of text) and the file itself, providing
/// `rootfs-image.single-file.version` and clearing `rootfs-image.single-file.*`, exactly
/// like `mender-artifact write module-image -T single-file` via
/// `single-file-artifact-gen`. `file` is read twice from its start; `file_size` must
/// be its exact length.
pub fn write_single_file_artifact<W: Write, F: Read + Seek>(
    out: W,
    spec: &SingleFileArtifact,
    mut file: F,
    file_size: u64,
) -> Result<W, Error> {
    if !spec.dest_dir.starts_with('/') {
        return Err(Error::invalid("dest_dir must be an absolute path"));
    }
    if spec.dest_dir.contains('\n') {
        return Err(Error::invalid("dest_dir must be a single line"));
    }
    if spec.permissions > 0o7777 {
        return Err(Error::invalid(
            "permissions must be a file mode (at most 0o7777)",
        ));
    }
    let mut dest_dir = Cursor::new(format!("{}\n", spec.dest_dir).into_bytes());
    let mut filename = Cursor::new(format!("{}\n", spec.filename).into_bytes());
    let mut permissions = Cursor::new(format!("{:o}\n", spec.permissions).into_bytes());
    let small = |name: &str, c: &mut Cursor<Vec<u8>>| -> (String, u64) {
        (name.to_string(), c.get_ref().len() as u64)
    };
    let (n1, s1) = small("dest_dir", &mut dest_dir);
    let (n2, s2) = small("filename", &mut filename);
    let (n3, s3) = small("permissions", &mut permissions);
    let version = spec
        .software_version
        .clone()
        .unwrap_or_else(|| spec.name.clone());
    let payload = Payload {
        payload_type: "single-file".into(),
        files: vec![
            PayloadFile {
                name: n1,
                content: &mut dest_dir,
                size: s1,
            },
            PayloadFile {
                name: n2,
                content: &mut filename,
                size: s2,
            },
            PayloadFile {
                name: n3,
                content: &mut permissions,
                size: s3,
            },
            PayloadFile {
                name: spec.filename.clone(),
                content: &mut file,
                size: file_size,
            },
        ],
        artifact_provides: BTreeMap::from([(
            "rootfs-image.single-file.version".to_string(),
            version,
        )]),
        artifact_depends: Map::new(),
        clears_artifact_provides: vec!["rootfs-image.single-file.*".to_string()],
        meta_data: None,
    };
    let now = OffsetDateTime::now_utc();
    write_artifact(
        out,
        ArtifactSpec {
            name: spec.name.clone(),
            device_types: spec.device_types.clone(),
            artifact_group: None,
            depends_artifact_names: Vec::new(),
            depends_groups: Vec::new(),
            payloads: vec![payload],
            compression: spec.compression,
            mtime: now.replace_nanosecond(0).unwrap_or(now),
        },
    )
}
