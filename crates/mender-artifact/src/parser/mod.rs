//! Streaming artifact parser: walks the outer tar once, verifies every checksum in the
//! manifest and returns the metadata. Memory use is bounded by the caps below,
//! whatever the size of the payloads.

mod data;
mod header;

use std::collections::BTreeMap;
use std::io::{self, Read};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::budget::{Budget, ParseLimits};
use crate::compression::Compression;
use crate::error::Error;
use crate::headers::{VersionInfo, decode};
use crate::io::{SourceReader, hex, read_capped};
use crate::manifest::{Manifest, is_index, parse_index};
use crate::model::{ArtifactInfo, ArtifactMeta, TypeInfo, Update};
use crate::tar_reader::{EntryHeader, TarReader};
use crate::validate::{check_entry, check_string};

use data::PayloadFiles;
use header::{Header, Kind};

/// Largest JSON header member (`header-info`, `type-info`, `meta-data`).
pub const MAX_JSON: u64 = 1024 * 1024;
/// Largest `manifest` / `manifest-augment`.
pub const MAX_MANIFEST: u64 = 1024 * 1024;
/// Largest `version` member.
const MAX_VERSION: u64 = 4096;
/// Largest `manifest.sig`.
pub const MAX_SIGNATURE: u64 = 64 * 1024;
/// Largest header tarball as stored in the artifact.
pub const MAX_HEADER_COMPRESSED: u64 = 64 * 1024 * 1024;
/// Largest header tarball after decompression (bounds decompression bombs).
pub const MAX_HEADER_DECOMPRESSED: u64 = 64 * 1024 * 1024;
/// Payload indexes have four digits.
const MAX_PAYLOADS: usize = 10_000;
/// Upstream deployments accepts at most this many compatible device types.
const MAX_DEVICE_TYPES: usize = 200;

/// A parsed artifact: the metadata plus the raw signed material, so a caller can
/// verify `signature` over `manifest` with a key of its choosing.
#[derive(Clone, PartialEq)]
pub struct ParsedArtifact {
    /// The metadata deployments stores.
    pub meta: ArtifactMeta,
    /// The `manifest` member exactly as stored (the signed message).
    pub manifest: Vec<u8>,
    /// The `manifest.sig` member exactly as stored, if present.
    pub signature: Option<Vec<u8>>,
}

impl std::fmt::Debug for ParsedArtifact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParsedArtifact")
            .field("meta", &self.meta)
            .field("manifest_len", &self.manifest.len())
            .field("signed", &self.signature.is_some())
            .finish()
    }
}

/// Parse an artifact from `input` and return its metadata.
///
/// Reads `input` to its very end (also past the tar end marker), so a [`TeeReader`]
/// around it sees the whole file, and `size` is the full length.
///
/// [`TeeReader`]: crate::TeeReader
pub fn parse<R: Read>(input: R) -> Result<ArtifactMeta, Error> {
    parse_with_limits(input, ParseLimits::default())
}

/// Like [`parse`], within `limits` (decompression ratio, parse time) instead of the defaults.
pub fn parse_with_limits<R: Read>(input: R, limits: ParseLimits) -> Result<ArtifactMeta, Error> {
    parse_artifact_with_limits(input, limits).map(|p| p.meta)
}

/// Like [`parse`], also returning the manifest and signature bytes.
pub fn parse_artifact<R: Read>(input: R) -> Result<ParsedArtifact, Error> {
    parse_artifact_with_limits(input, ParseLimits::default())
}

/// Like [`parse_artifact`], within `limits`.
pub fn parse_artifact_with_limits<R: Read>(
    input: R,
    limits: ParseLimits,
) -> Result<ParsedArtifact, Error> {
    let budget = Budget::new(limits);
    let mut tar = TarReader::new(SourceReader::new(input, budget.clone()), "artifact");

    expect_member(&mut tar, "version", "as the first member")?;
    let raw_version = read_capped(&mut tar, MAX_VERSION, "version")?;
    let info: VersionInfo = decode(&raw_version, "version")?;
    if info.format != "mender" {
        return Err(Error::UnsupportedFormat(info.format));
    }
    let version = match info.version {
        2 => 2u32,
        3 => 3u32,
        v => return Err(Error::UnsupportedVersion(v)),
    };

    let mut manifest = Manifest::default();
    expect_member(&mut tar, "manifest", "after version")?;
    let raw_manifest = read_capped(&mut tar, MAX_MANIFEST, "manifest")?;
    manifest.add_raw(&raw_manifest)?;
    manifest.verify("version", &hex(&Sha256::digest(&raw_version)))?;

    let mut entry = next_file(&mut tar)?;
    let mut signature = None;
    if entry.as_ref().is_some_and(|e| e.name == "manifest.sig") {
        signature = Some(read_capped(&mut tar, MAX_SIGNATURE, "manifest.sig")?);
        entry = next_file(&mut tar)?;
    }
    let mut augmented = false;
    if version >= 3 && entry.as_ref().is_some_and(|e| e.name == "manifest-augment") {
        let raw = read_capped(&mut tar, MAX_MANIFEST, "manifest-augment")?;
        manifest.add_raw(&raw)?;
        augmented = true;
        entry = next_file(&mut tar)?;
    }

    let mut header = Header::default();
    read_header_member(
        &mut tar,
        entry,
        Kind::Main,
        version,
        &mut manifest,
        &mut header,
    )?;

    let mut entry = next_file(&mut tar)?;
    if augmented {
        read_header_member(
            &mut tar,
            entry,
            Kind::Augment,
            version,
            &mut manifest,
            &mut header,
        )?;
        entry = next_file(&mut tar)?;
    }

    let mut payloads = expected_files(version, &header, &manifest)?;
    while let Some(e) = entry {
        let (index, compression) =
            data_member(&e.name).ok_or_else(|| Error::UnexpectedFile(e.name.clone()))?;
        let payload = payloads
            .get_mut(index)
            .ok_or_else(|| Error::invalid(format!("{} belongs to no payload", e.name)))?;
        data::read_data(
            &mut tar,
            &e.name,
            index,
            compression,
            &mut manifest,
            payload,
            &budget,
        )?;
        entry = next_file(&mut tar)?;
    }

    let mut unseen = manifest.unseen();
    for (index, payload) in payloads.iter().enumerate() {
        for (name, found) in payload.expected.iter().zip(&payload.found) {
            let path = format!("data/{index:04}/{name}");
            if found.is_none() && !unseen.contains(&path) {
                unseen.push(path);
            }
        }
    }
    if !unseen.is_empty() {
        return Err(Error::MissingFiles(unseen));
    }

    // Read to the very end so the caller's copy (tee) holds the whole upload.
    let mut source = tar.into_inner();
    io::copy(&mut source, &mut io::sink()).map_err(|e| Error::from_io(e, "artifact"))?;
    budget.check_time()?;

    let meta = build_meta(version, header, payloads, signature.is_some(), source.count)?;
    Ok(ParsedArtifact {
        meta,
        manifest: raw_manifest,
        signature,
    })
}

/// The next outer member, which must be a safe regular file.
fn next_file<R: Read>(tar: &mut TarReader<R>) -> Result<Option<EntryHeader>, Error> {
    let entry = tar.next_entry()?;
    if let Some(e) = &entry {
        check_entry(e, false)?;
    }
    Ok(entry)
}

/// Reads the next member, which must be `name`; `place` says where it belongs, for the error.
fn expect_member<R: Read>(tar: &mut TarReader<R>, name: &str, place: &str) -> Result<(), Error> {
    let entry = next_file(tar)?.ok_or_else(|| Error::Missing(name.into()))?;
    if entry.name != name {
        return Err(Error::Missing(format!(
            "{name} {place} (found {:?})",
            entry.name
        )));
    }
    Ok(())
}

/// Reads `entry`, which must be the `header.tar[.gz|.xz|.zst]` member (`header-augment.tar...`
/// for [`Kind::Augment`]), into `out`.
fn read_header_member<R: Read>(
    tar: &mut TarReader<R>,
    entry: Option<EntryHeader>,
    kind: Kind,
    version: u32,
    manifest: &mut Manifest,
    out: &mut Header,
) -> Result<(), Error> {
    let stem = match kind {
        Kind::Main => "header",
        Kind::Augment => "header-augment",
    };
    let entry = entry.ok_or_else(|| Error::Missing(format!("{stem}.tar")))?;
    let compression = member_compression(&entry.name, stem)
        .ok_or_else(|| Error::Missing(format!("{stem}.tar (found {:?})", entry.name)))?;
    header::read_header(tar, &entry.name, compression, version, kind, manifest, out)
}

/// `<stem>.tar[.gz|.xz|.zst]` → its compression.
fn member_compression(name: &str, stem: &str) -> Option<Compression> {
    Compression::split_name(name)
        .filter(|(s, _)| *s == stem)
        .map(|(_, c)| c)
}

/// `data/NNNN.tar[.gz|.xz|.zst]` → (index, compression).
fn data_member(name: &str) -> Option<(usize, Compression)> {
    let (stem, c) = Compression::split_name(name)?;
    let index = stem.strip_prefix("data/").filter(|i| is_index(i))?;
    Some((parse_index(index), c))
}

/// Which files each payload must contain: from the manifest (v3) or the `files`
/// headers (v2).
fn expected_files(
    version: u32,
    header: &Header,
    manifest: &Manifest,
) -> Result<Vec<PayloadFiles>, Error> {
    let mut lists: Vec<Vec<String>> = vec![Vec::new(); header.payloads.len()];
    if version >= 3 {
        for (index, name) in manifest.data_files()? {
            let list = lists.get_mut(index).ok_or_else(|| {
                Error::invalid(format!(
                    "manifest entry data/{index:04}/{name} belongs to no payload"
                ))
            })?;
            list.push(name);
        }
    } else {
        for (list, payload) in lists.iter_mut().zip(&header.payloads) {
            *list = payload.files_v2.clone().unwrap_or_default();
        }
    }
    Ok(lists.into_iter().map(PayloadFiles::new).collect())
}

/// Validate the header values and merge provides/depends the way upstream does.
fn build_meta(
    version: u32,
    header: Header,
    payloads: Vec<PayloadFiles>,
    signed: bool,
    size: u64,
) -> Result<ArtifactMeta, Error> {
    if header.name.is_empty() {
        return Err(Error::invalid("artifact name is empty"));
    }
    check_string("artifact name", &header.name)?;
    if header.device_types.is_empty() {
        return Err(Error::invalid("no compatible device types"));
    }
    if header.device_types.len() > MAX_DEVICE_TYPES {
        return Err(Error::invalid(format!(
            "more than {MAX_DEVICE_TYPES} compatible device types"
        )));
    }
    for d in &header.device_types {
        if d.is_empty() {
            return Err(Error::invalid("empty compatible device type"));
        }
        check_string("compatible device type", d)?;
    }
    if let Some(group) = &header.group {
        check_string("artifact group", group)?;
    }

    let mut provides: Option<BTreeMap<String, String>> = None;
    let mut depends: Map<String, Value> = Map::new();
    let mut clears: Vec<String> = Vec::new();
    if version >= 3 {
        let mut p = BTreeMap::new();
        p.insert("artifact_name".to_string(), header.name.clone());
        if let Some(group) = &header.group {
            p.insert("artifact_group".to_string(), group.clone());
        }
        depends = header.depends.clone().unwrap_or_default();
        for list in ["artifact_name", "artifact_group"] {
            if let Some(Value::Array(items)) = depends.get(list) {
                for item in items.iter().filter_map(Value::as_str) {
                    check_string(&format!("artifact_depends.{list}"), item)?;
                }
            }
        }
        for payload in &header.payloads {
            for (k, v) in &payload.provides {
                if p.insert(k.clone(), v.clone()).is_some() {
                    return Err(Error::invalid(format!(
                        "conflicting artifact_provides key {k:?}"
                    )));
                }
            }
            for (k, v) in &payload.depends {
                if depends.insert(k.clone(), v.clone()).is_some() {
                    return Err(Error::invalid(format!(
                        "conflicting artifact_depends key {k:?}"
                    )));
                }
            }
            clears.extend(payload.clears.iter().flatten().cloned());
        }
        provides = Some(p);
    }
    // Upstream always (re)writes device_type from the compatible devices.
    depends.insert(
        "device_type".to_string(),
        Value::Array(
            header
                .device_types
                .iter()
                .cloned()
                .map(Value::String)
                .collect(),
        ),
    );

    let updates = header
        .payloads
        .into_iter()
        .zip(payloads)
        .map(|(h, files)| Update {
            type_info: TypeInfo { type_: h.type_ },
            // Every expected file was verified (the manifest check passed), so all
            // slots are filled; flatten only drops nothing.
            files: files.found.into_iter().flatten().collect(),
            meta_data: h.meta_data.filter(|m| !m.is_empty()),
        })
        .collect();

    Ok(ArtifactMeta {
        name: header.name,
        device_types_compatible: header.device_types,
        info: ArtifactInfo {
            format: "mender".to_string(),
            version,
        },
        signed,
        updates,
        artifact_provides: provides,
        artifact_depends: depends,
        clears_artifact_provides: Some(clears).filter(|c| !c.is_empty()),
        size,
    })
}
