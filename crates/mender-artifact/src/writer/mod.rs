//! Writing version 3 artifacts. Payload files are streamed twice (once to learn their
//! checksums and compressed size, which precede them in the artifact, once to write
//! them), so they are never buffered in memory or on disk.

mod single_file;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Seek, SeekFrom, Write};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::compression::Compression;
use crate::error::Error;
use crate::headers::{ArtifactDepends, ArtifactProvides, HeaderInfoV3, PayloadType, TypeInfoV3};
use crate::io::{CountingSink, CountingWriter, HashingReader, hex};
use crate::validate::{check_string, is_valid_payload_file_name};

pub use single_file::{SingleFileArtifact, write_single_file_artifact};

/// Anything a payload file can be read from twice.
pub trait ReadSeek: Read + Seek {}
impl<T: Read + Seek + ?Sized> ReadSeek for T {}

/// One file of a payload.
pub struct PayloadFile<'a> {
    /// Name inside the payload; letters, digits and `_-.,` only.
    pub name: String,
    /// The content; read from its start, twice.
    pub content: &'a mut dyn ReadSeek,
    /// Exact length of `content` in bytes.
    pub size: u64,
}

/// One payload (an update module invocation).
pub struct Payload<'a> {
    /// Update module name, e.g. `single-file`, `script`, `rootfs-image`.
    pub payload_type: String,
    /// Files in the order they are written.
    pub files: Vec<PayloadFile<'a>>,
    /// `type-info` `artifact_provides`.
    pub artifact_provides: BTreeMap<String, String>,
    /// `type-info` `artifact_depends` (string or string-array values).
    pub artifact_depends: Map<String, Value>,
    /// `type-info` `clears_artifact_provides` (omitted when empty).
    pub clears_artifact_provides: Vec<String>,
    /// `headers/NNNN/meta-data` (omitted when `None`).
    pub meta_data: Option<Map<String, Value>>,
}

/// A whole artifact to write.
pub struct ArtifactSpec<'a> {
    /// Artifact name.
    pub name: String,
    /// Compatible device types (at least one).
    pub device_types: Vec<String>,
    /// `artifact_provides.artifact_group`.
    pub artifact_group: Option<String>,
    /// `artifact_depends.artifact_name`.
    pub depends_artifact_names: Vec<String>,
    /// `artifact_depends.artifact_group`.
    pub depends_groups: Vec<String>,
    /// Payloads (at least one).
    pub payloads: Vec<Payload<'a>>,
    /// Compression of the header and the data tarballs.
    pub compression: Compression,
    /// Modification time recorded for every member.
    pub mtime: OffsetDateTime,
}

/// What pass one learned about a payload.
struct Measured {
    checksums: Vec<String>,
    compressed_len: u64,
}

/// Write `spec` as a version 3 artifact into `out` and return `out`.
pub fn write_artifact<W: Write>(out: W, mut spec: ArtifactSpec<'_>) -> Result<W, Error> {
    check_spec(&spec)?;
    let mtime = spec.mtime.unix_timestamp().max(0) as u64;
    let compression = spec.compression;

    let mut measured = Vec::with_capacity(spec.payloads.len());
    for payload in &mut spec.payloads {
        let mut sink = CountingSink::default();
        let checksums = write_data_tar(&mut sink, payload, compression, mtime)?;
        measured.push(Measured {
            checksums,
            compressed_len: sink.count,
        });
    }

    let header_name = format!("header.tar{}", compression.extension());
    let header = header_tar(&spec, compression)?;
    let version = br#"{"format":"mender","version":3}"#;

    let mut manifest = String::new();
    for (index, (payload, m)) in spec.payloads.iter().zip(&measured).enumerate() {
        for (file, sum) in payload.files.iter().zip(&m.checksums) {
            manifest.push_str(&format!("{sum}  data/{index:04}/{}\n", file.name));
        }
    }
    manifest.push_str(&format!(
        "{}  {header_name}\n",
        hex(&Sha256::digest(&header))
    ));
    manifest.push_str(&format!("{}  version\n", hex(&Sha256::digest(version))));

    let mut tar = tar::Builder::new(out);
    append_bytes(&mut tar, "version", version, 0o600, 0)?;
    append_bytes(&mut tar, "manifest", manifest.as_bytes(), 0o600, 0)?;
    append_bytes(&mut tar, &header_name, &header, 0o600, mtime)?;
    for (index, (payload, m)) in spec.payloads.iter_mut().zip(&measured).enumerate() {
        let name = format!("data/{index:04}.tar{}", compression.extension());
        let mut h = file_header(m.compressed_len, 0o600, mtime);
        h.set_path(&name).map_err(Error::Io)?;
        h.set_cksum();
        let w = tar.get_mut();
        w.write_all(h.as_bytes()).map_err(Error::Io)?;
        let mut counting = CountingWriter {
            inner: &mut *w,
            count: 0,
        };
        let checksums = write_data_tar(&mut counting, payload, compression, mtime)?;
        if checksums != m.checksums || counting.count != m.compressed_len {
            return Err(Error::invalid(format!(
                "payload {index} changed while the artifact was written"
            )));
        }
        let pad = (512 - m.compressed_len % 512) % 512;
        w.write_all(&vec![0u8; pad as usize]).map_err(Error::Io)?;
    }
    tar.into_inner().map_err(Error::Io)
}

fn check_spec(spec: &ArtifactSpec<'_>) -> Result<(), Error> {
    if spec.name.is_empty() {
        return Err(Error::invalid("artifact name is empty"));
    }
    check_string("artifact name", &spec.name)?;
    if spec.device_types.is_empty() {
        return Err(Error::invalid("no compatible device types"));
    }
    for d in spec
        .device_types
        .iter()
        .chain(&spec.depends_artifact_names)
        .chain(&spec.depends_groups)
    {
        if d.is_empty() {
            return Err(Error::invalid("empty device type, depends name or group"));
        }
        check_string("device type, depends name or group", d)?;
    }
    if let Some(g) = &spec.artifact_group {
        check_string("artifact group", g)?;
    }
    if spec.payloads.is_empty() {
        return Err(Error::invalid("no payloads"));
    }
    if spec.payloads.len() > 9999 {
        return Err(Error::invalid("too many payloads"));
    }
    // Keys that would clash with header-info once a reader merges them.
    let mut provides: BTreeSet<&str> = BTreeSet::from(["artifact_name", "artifact_group"]);
    let mut depends: BTreeSet<&str> =
        BTreeSet::from(["artifact_name", "artifact_group", "device_type"]);
    for p in &spec.payloads {
        if p.payload_type.is_empty() {
            return Err(Error::invalid("empty payload type"));
        }
        check_string("payload type", &p.payload_type)?;
        let mut names = BTreeSet::new();
        for f in &p.files {
            if !is_valid_payload_file_name(&f.name) || f.name.len() > 255 {
                return Err(Error::invalid(format!(
                    "payload file name {:?} may only contain letters, digits and \"_-.,\"",
                    f.name
                )));
            }
            if !names.insert(f.name.as_str()) {
                return Err(Error::invalid(format!(
                    "payload file {:?} given twice",
                    f.name
                )));
            }
        }
        for k in p.artifact_provides.keys() {
            if !provides.insert(k) {
                return Err(Error::invalid(format!(
                    "conflicting artifact_provides key {k:?}"
                )));
            }
        }
        for (k, v) in &p.artifact_depends {
            if !depends.insert(k) {
                return Err(Error::invalid(format!(
                    "conflicting artifact_depends key {k:?}"
                )));
            }
            let ok = match v {
                Value::String(_) => true,
                Value::Array(items) => items.iter().all(Value::is_string),
                _ => false,
            };
            if !ok {
                return Err(Error::invalid(format!(
                    "artifact_depends.{k} must be a string or a list of strings"
                )));
            }
        }
    }
    Ok(())
}

/// Write one payload's (compressed) data tar into `w`; returns the file checksums.
fn write_data_tar<W: Write>(
    w: W,
    payload: &mut Payload<'_>,
    compression: Compression,
    mtime: u64,
) -> Result<Vec<String>, Error> {
    let encoder = compression.encoder(w).map_err(Error::Io)?;
    let mut tar = tar::Builder::new(encoder);
    let mut checksums = Vec::with_capacity(payload.files.len());
    for file in &mut payload.files {
        file.content.seek(SeekFrom::Start(0)).map_err(Error::Io)?;
        let mut hashing = HashingReader::new((&mut *file.content).take(file.size));
        let mut h = file_header(file.size, 0o644, mtime);
        tar.append_data(&mut h, &file.name, &mut hashing)
            .map_err(Error::Io)?;
        if hashing.count != file.size {
            return Err(Error::invalid(format!(
                "payload file {:?} is shorter than its declared size {}",
                file.name, file.size
            )));
        }
        checksums.push(hashing.hex_digest());
    }
    tar.into_inner()
        .and_then(|e| e.finish())
        .map_err(Error::Io)?;
    Ok(checksums)
}

/// The compressed `header.tar`, built in memory (it holds only small JSON files).
fn header_tar(spec: &ArtifactSpec<'_>, compression: Compression) -> Result<Vec<u8>, Error> {
    let info = HeaderInfoV3 {
        payloads: spec
            .payloads
            .iter()
            .map(|p| PayloadType {
                type_: Some(p.payload_type.clone()),
            })
            .collect(),
        artifact_provides: Some(ArtifactProvides {
            artifact_name: spec.name.clone(),
            artifact_group: spec.artifact_group.clone().unwrap_or_default(),
        }),
        artifact_depends: Some(ArtifactDepends {
            artifact_name: spec.depends_artifact_names.clone(),
            device_type: spec.device_types.clone(),
            artifact_group: spec.depends_groups.clone(),
        }),
    };
    let encoder = compression.encoder(Vec::new()).map_err(Error::Io)?;
    let mut tar = tar::Builder::new(encoder);
    append_bytes(&mut tar, "header-info", &to_json(&info)?, 0o600, 0)?;
    for (index, p) in spec.payloads.iter().enumerate() {
        let type_info = TypeInfoV3 {
            type_: Some(p.payload_type.clone()),
            artifact_provides: Some(p.artifact_provides.clone()).filter(|m| !m.is_empty()),
            artifact_depends: Some(p.artifact_depends.clone()).filter(|m| !m.is_empty()),
            clears_artifact_provides: Some(p.clears_artifact_provides.clone())
                .filter(|c| !c.is_empty()),
        };
        let path = format!("headers/{index:04}/type-info");
        append_bytes(&mut tar, &path, &to_json(&type_info)?, 0o600, 0)?;
        if let Some(meta) = &p.meta_data {
            let path = format!("headers/{index:04}/meta-data");
            append_bytes(&mut tar, &path, &to_json(meta)?, 0o600, 0)?;
        }
    }
    tar.into_inner().and_then(|e| e.finish()).map_err(Error::Io)
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(value).map_err(|e| Error::invalid(format!("cannot encode header: {e}")))
}

fn file_header(size: u64, mode: u32, mtime: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(size);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(mtime);
    h
}

fn append_bytes<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    data: &[u8],
    mode: u32,
    mtime: u64,
) -> Result<(), Error> {
    let mut h = file_header(data.len() as u64, mode, mtime);
    tar.append_data(&mut h, path, data).map_err(Error::Io)
}
