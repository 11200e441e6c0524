//! Helpers shared by the integration tests: checksums and a builder for hand-made (possibly
//! hostile) artifacts. The real `mender-artifact` tool is `mender_testkit::mender_artifact`.
#![allow(dead_code)]

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One tar member of a hand-made artifact.
#[derive(Clone)]
pub struct Member {
    pub name: String,
    pub data: Vec<u8>,
    pub kind: tar::EntryType,
    pub link: Option<String>,
}

pub fn file(name: &str, data: impl Into<Vec<u8>>) -> Member {
    Member {
        name: name.to_string(),
        data: data.into(),
        kind: tar::EntryType::Regular,
        link: None,
    }
}

/// Tar `members`, writing names raw so hostile names (`..`, absolute) survive.
pub fn tar_of(members: &[Member]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for m in members {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(m.kind);
        h.set_size(m.data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        let name = m.name.as_bytes();
        if name.len() > 100 {
            // Long names go through the tar crate (GNU long-name extension).
            b.append_data(&mut h, &m.name, m.data.as_slice()).unwrap();
            continue;
        }
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        if let Some(l) = &m.link {
            h.as_old_mut().linkname[..l.len()].copy_from_slice(l.as_bytes());
        }
        h.set_cksum();
        b.append(&h, m.data.as_slice()).unwrap();
    }
    b.into_inner().unwrap()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A hand-made version 3 artifact with one payload; every piece can be tampered with
/// before `build` computes (or skips) the manifest.
pub struct Craft {
    pub version: Vec<u8>,
    pub header_members: Vec<Member>,
    pub data_members: Vec<Member>,
    /// Extra manifest lines (name → checksum) or overrides.
    pub manifest_extra: BTreeMap<String, String>,
    /// Manifest entries to leave out.
    pub manifest_skip: Vec<String>,
    pub gzip_header: bool,
    /// Replace the compressed header bytes entirely.
    pub header_override: Option<Vec<u8>>,
    /// Replace the compressed data tar entirely (manifest still lists `data_members`).
    pub data_override: Option<Vec<u8>>,
    /// Outer members after the data, e.g. junk.
    pub trailing_members: Vec<Member>,
    pub omit_version: bool,
    pub omit_manifest: bool,
    pub omit_header: bool,
}

pub fn header_info(name: &str, devices: &[&str]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "payloads": [{"type": "script"}],
        "artifact_provides": {"artifact_name": name},
        "artifact_depends": {"device_type": devices},
    }))
    .unwrap()
}

impl Craft {
    pub fn new() -> Self {
        Craft {
            version: br#"{"format":"mender","version":3}"#.to_vec(),
            header_members: vec![
                file("header-info", header_info("crafted", &["dev"])),
                file(
                    "headers/0000/type-info",
                    br#"{"type":"script","artifact_provides":{"rootfs-image.script.version":"crafted"}}"#.to_vec(),
                ),
            ],
            data_members: vec![file("run.sh", b"#!/bin/sh\necho hi\n".to_vec())],
            manifest_extra: BTreeMap::new(),
            manifest_skip: Vec::new(),
            gzip_header: true,
            header_override: None,
            data_override: None,
            trailing_members: Vec::new(),
            omit_version: false,
            omit_manifest: false,
            omit_header: false,
        }
    }

    pub fn header_name(&self) -> &'static str {
        if self.gzip_header {
            "header.tar.gz"
        } else {
            "header.tar"
        }
    }

    pub fn build(&self) -> Vec<u8> {
        let header_tar = tar_of(&self.header_members);
        let header = match &self.header_override {
            Some(h) => h.clone(),
            None if self.gzip_header => gzip(&header_tar),
            None => header_tar,
        };
        let data = match &self.data_override {
            Some(d) => d.clone(),
            None => gzip(&tar_of(&self.data_members)),
        };
        let mut sums = Vec::new();
        for m in &self.data_members {
            sums.push((format!("data/0000/{}", m.name), sha256_hex(&m.data)));
        }
        sums.push((self.header_name().to_string(), sha256_hex(&header)));
        sums.push(("version".to_string(), sha256_hex(&self.version)));
        let mut manifest = String::new();
        for (name, sum) in sums {
            if self.manifest_skip.contains(&name) {
                continue;
            }
            let sum = self.manifest_extra.get(&name).cloned().unwrap_or(sum);
            manifest.push_str(&format!("{sum}  {name}\n"));
        }
        for (name, sum) in &self.manifest_extra {
            if !manifest.contains(&format!("  {name}\n")) {
                manifest.push_str(&format!("{sum}  {name}\n"));
            }
        }
        let mut outer = Vec::new();
        if !self.omit_version {
            outer.push(file("version", self.version.clone()));
        }
        if !self.omit_manifest {
            outer.push(file("manifest", manifest.into_bytes()));
        }
        if !self.omit_header {
            outer.push(file(self.header_name(), header));
        }
        outer.push(file("data/0000.tar.gz", data));
        outer.extend(self.trailing_members.iter().cloned());
        tar_of(&outer)
    }
}
