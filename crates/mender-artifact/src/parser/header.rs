//! Reading `header.tar*` and `header-augment.tar*`: header-info, type-info, meta-data.

use std::collections::BTreeMap;
use std::io::{self, Read};

use serde_json::{Map, Value};

use crate::compression::Compression;
use crate::error::Error;
use crate::headers::{HeaderInfoV2, HeaderInfoV3, PayloadType, TypeInfoV3, decode};
use crate::io::{HashingReader, LimitedReader, read_capped};
use crate::manifest::{Manifest, is_index, parse_index};
use crate::parser::{MAX_HEADER_COMPRESSED, MAX_HEADER_DECOMPRESSED, MAX_JSON, MAX_PAYLOADS};
use crate::tar_reader::{EntryKind, TarReader};
use crate::validate::check_entry;

/// What `header.tar` says about the artifact.
#[derive(Debug, Default)]
pub(crate) struct Header {
    pub(crate) name: String,
    pub(crate) device_types: Vec<String>,
    pub(crate) group: Option<String>,
    /// v3 header-info depends (without empty lists); `None` for v2.
    pub(crate) depends: Option<Map<String, Value>>,
    pub(crate) payloads: Vec<PayloadHeader>,
}

/// What the header says about one payload.
#[derive(Debug, Default)]
pub(crate) struct PayloadHeader {
    pub(crate) type_: Option<String>,
    pub(crate) provides: BTreeMap<String, String>,
    pub(crate) depends: Map<String, Value>,
    pub(crate) clears: Option<Vec<String>>,
    pub(crate) meta_data: Option<Map<String, Value>>,
    /// v2 `headers/NNNN/files`.
    pub(crate) files_v2: Option<Vec<String>>,
}

/// Which header member is being read.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Main,
    Augment,
}

/// Read one header member from the outer tar, verify its checksum and fold its
/// contents into `header`.
pub(crate) fn read_header<R: Read>(
    outer: &mut TarReader<R>,
    member: &str,
    compression: Compression,
    version: u32,
    kind: Kind,
    manifest: &mut Manifest,
    header: &mut Header,
) -> Result<(), Error> {
    let expected = manifest.take(member)?;
    let mut hashing = HashingReader::new(LimitedReader::new(
        &mut *outer,
        MAX_HEADER_COMPRESSED,
        member,
    ));
    {
        let decoder = compression
            .decoder(&mut hashing)
            .map_err(|e| Error::from_io(e, member))?;
        let limited = LimitedReader::new(decoder, MAX_HEADER_DECOMPRESSED, member);
        let mut tar = TarReader::new(limited, member);
        read_members(&mut tar, version, kind, header)?;
        // Whatever follows the tar end inside the compressed stream still counts
        // towards the checksum; read it (bounded by the limit above).
        io::copy(&mut tar.into_inner(), &mut io::sink()).map_err(|e| Error::from_io(e, member))?;
    }
    io::copy(&mut hashing, &mut io::sink()).map_err(|e| Error::from_io(e, member))?;
    let actual = hashing.hex_digest();
    if actual != expected {
        return Err(Error::ChecksumMismatch {
            file: member.to_string(),
            expected,
            actual,
        });
    }
    Ok(())
}

fn read_members<R: Read>(
    tar: &mut TarReader<R>,
    version: u32,
    kind: Kind,
    header: &mut Header,
) -> Result<(), Error> {
    let first = tar
        .next_entry()?
        .ok_or_else(|| Error::Missing("header-info".into()))?;
    check_entry(&first, false)?;
    if first.name != "header-info" {
        return Err(Error::Missing(format!(
            "header-info as the first member of the header (found {:?})",
            first.name
        )));
    }
    let raw = read_capped(&mut *tar, MAX_JSON, "header-info")?;
    match kind {
        Kind::Main => apply_header_info(&raw, version, header)?,
        Kind::Augment => apply_augment_info(&raw, header)?,
    }

    while let Some(entry) = tar.next_entry()? {
        check_entry(&entry, true)?;
        if entry.kind == EntryKind::Directory {
            continue;
        }
        let name = entry.name.as_str();
        if let Some(script) = name.strip_prefix("scripts/") {
            // State scripts are the client's business; deployments stores nothing.
            if kind == Kind::Augment || script.is_empty() || script.contains('/') {
                return Err(Error::UnexpectedFile(format!("header: {name}")));
            }
            continue;
        }
        let Some((index, file)) = name
            .strip_prefix("headers/")
            .and_then(|r| r.split_once('/'))
            .filter(|(i, _)| is_index(i))
        else {
            return Err(Error::UnexpectedFile(format!("header: {name}")));
        };
        let index = parse_index(index);
        let payload = header
            .payloads
            .get_mut(index)
            .ok_or_else(|| Error::invalid(format!("header member {name} belongs to no payload")))?;
        match file {
            "type-info" => {
                let raw = read_capped(&mut *tar, MAX_JSON, name)?;
                if version >= 3 {
                    apply_type_info(&raw, name, kind, payload)?;
                }
                // v2 type-info only repeats the type; upstream ignores it.
            }
            "meta-data" => {
                let raw = read_capped(&mut *tar, MAX_JSON, name)?;
                apply_meta_data(&raw, name, payload)?;
            }
            "files" if version < 3 && kind == Kind::Main => {
                let raw = read_capped(&mut *tar, MAX_JSON, name)?;
                let files: FilesV2 = decode(&raw, name)?;
                if files.files.iter().any(String::is_empty) {
                    return Err(Error::invalid(format!("{name} lists an empty file name")));
                }
                payload.files_v2 = Some(files.files);
            }
            f if kind == Kind::Main
                && (f.starts_with("signatures/") || f.starts_with("scripts/")) =>
            {
                // Legacy per-payload signatures and scripts carry nothing we store.
            }
            _ => return Err(Error::UnexpectedFile(format!("header: {name}"))),
        }
    }
    Ok(())
}

#[derive(serde::Deserialize)]
struct FilesV2 {
    #[serde(default)]
    files: Vec<String>,
}

fn payload_headers(types: Vec<PayloadType>) -> Result<Vec<PayloadHeader>, Error> {
    if types.is_empty() {
        return Err(Error::invalid("no payloads"));
    }
    if types.len() > MAX_PAYLOADS {
        return Err(Error::invalid(format!("more than {MAX_PAYLOADS} payloads")));
    }
    Ok(types
        .into_iter()
        .map(|t| PayloadHeader {
            type_: t.type_,
            ..PayloadHeader::default()
        })
        .collect())
}

fn apply_header_info(raw: &[u8], version: u32, header: &mut Header) -> Result<(), Error> {
    if version < 3 {
        let info: HeaderInfoV2 = decode(raw, "header-info")?;
        if info.updates.iter().any(|u| u.type_.is_none()) {
            return Err(Error::invalid("empty payload in a version 2 artifact"));
        }
        header.name = info.artifact_name;
        header.device_types = info.device_types_compatible;
        header.payloads = payload_headers(info.updates)?;
        return Ok(());
    }
    let info: HeaderInfoV3 = decode(raw, "header-info")?;
    let provides = info
        .artifact_provides
        .ok_or_else(|| Error::invalid("header-info has no artifact_provides"))?;
    let depends = info.artifact_depends.unwrap_or_default();
    header.name = provides.artifact_name;
    header.group = Some(provides.artifact_group).filter(|g| !g.is_empty());
    header.device_types = depends.device_type.clone();
    header.depends = Some(depends.to_map());
    header.payloads = payload_headers(info.payloads)?;
    Ok(())
}

/// The augmented header-info may only repeat (or blank out) the payload types.
fn apply_augment_info(raw: &[u8], header: &mut Header) -> Result<(), Error> {
    let info: HeaderInfoV3 = decode(raw, "header-augment: header-info")?;
    if info.payloads.len() > header.payloads.len() {
        return Err(Error::invalid(
            "augmented header lists more payloads than the header",
        ));
    }
    for (aug, orig) in info.payloads.iter().zip(&header.payloads) {
        match aug.type_.as_deref() {
            None | Some("") => {}
            Some(t) if orig.type_.as_deref() == Some(t) => {}
            Some(t) => {
                return Err(Error::invalid(format!(
                    "augmented payload type {t:?} differs from the header's"
                )));
            }
        }
    }
    Ok(())
}

fn apply_type_info(
    raw: &[u8],
    name: &str,
    kind: Kind,
    payload: &mut PayloadHeader,
) -> Result<(), Error> {
    let info: TypeInfoV3 = decode(raw, name)?;
    info.check(name)?;
    // mender-artifact before 4.3.1 (e.g. Debian's 3.9) writes `"type": ""` in rootfs
    // type-info, and the reader deployments uses ignores the field; only a different,
    // non-empty type is treated as corrupt.
    let declared = info.type_.as_deref().filter(|t| !t.is_empty());
    if kind == Kind::Main && declared.is_some() && declared != payload.type_.as_deref() {
        return Err(Error::invalid(format!(
            "type in {name} does not match header-info"
        )));
    }
    // Augmented values override the original ones key by key.
    payload
        .provides
        .extend(info.artifact_provides.unwrap_or_default());
    payload
        .depends
        .extend(info.artifact_depends.unwrap_or_default());
    if info.clears_artifact_provides.is_some() {
        payload.clears = info.clears_artifact_provides;
    }
    Ok(())
}

fn apply_meta_data(raw: &[u8], name: &str, payload: &mut PayloadHeader) -> Result<(), Error> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let value: Value = decode(raw, name)?;
    let Value::Object(map) = value else {
        return Err(Error::InvalidJson {
            file: name.to_string(),
            message: "top level of meta-data must be a JSON object".into(),
        });
    };
    match &mut payload.meta_data {
        Some(existing) => merge_json(existing, map),
        None => payload.meta_data = Some(map),
    }
    Ok(())
}

/// Merge `overlay` into `base`: nested objects merge, other values are replaced.
fn merge_json(base: &mut Map<String, Value>, overlay: Map<String, Value>) {
    for (k, v) in overlay {
        match (base.get_mut(&k), v) {
            (Some(Value::Object(b)), Value::Object(o)) => merge_json(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}
