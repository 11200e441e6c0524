//! Reading `data/NNNN.tar*`: stream every payload file through SHA-256 and check it
//! against the manifest. Payload bytes are never buffered.

use std::io::{self, Read};

use time::OffsetDateTime;

use crate::budget::{Budget, BudgetReader};
use crate::compression::Compression;
use crate::error::Error;
use crate::io::HashingReader;
use crate::manifest::Manifest;
use crate::model::UpdateFile;
use crate::tar_reader::TarReader;
use crate::validate::{check_entry, is_valid_payload_file_name};

/// One payload's expected files and what was found for them.
#[derive(Debug, Default)]
pub(crate) struct PayloadFiles {
    /// File names in manifest (v3) or `files` header (v2) order.
    pub(crate) expected: Vec<String>,
    /// Filled in as the data tar is read, parallel to `expected`.
    pub(crate) found: Vec<Option<UpdateFile>>,
    /// Whether the payload's data member has been read.
    pub(crate) data_seen: bool,
}

impl PayloadFiles {
    pub(crate) fn new(expected: Vec<String>) -> Self {
        let found = vec![None; expected.len()];
        Self {
            expected,
            found,
            data_seen: false,
        }
    }
}

/// Read one `data/NNNN.tar*` member (the outer reader is positioned on it).
pub(crate) fn read_data<R: Read>(
    outer: &mut TarReader<R>,
    member: &str,
    index: usize,
    compression: Compression,
    manifest: &mut Manifest,
    payload: &mut PayloadFiles,
    budget: &Budget,
) -> Result<(), Error> {
    if payload.data_seen {
        return Err(Error::UnexpectedFile(format!(
            "{member} (payload data repeated)"
        )));
    }
    payload.data_seen = true;
    let decoder = compression
        .decoder(&mut *outer)
        .map_err(|e| Error::from_io(e, member))?;
    let mut tar = TarReader::new(BudgetReader::new(decoder, budget, member), member);
    while let Some(entry) = tar.next_entry()? {
        check_entry(&entry, false)?;
        if !is_valid_payload_file_name(&entry.name) {
            return Err(Error::UnsafeEntry {
                name: entry.name.chars().take(200).collect(),
                reason: "payload file names may only contain letters, digits and \"_-.,\"",
            });
        }
        let slot = payload
            .expected
            .iter()
            .position(|n| *n == entry.name)
            .ok_or_else(|| Error::NotInManifest(format!("data/{index:04}/{}", entry.name)))?;
        if payload.found[slot].is_some() {
            return Err(Error::UnexpectedFile(format!(
                "{member}: {} appears twice",
                entry.name
            )));
        }
        let mut hashing = HashingReader::new(&mut tar);
        io::copy(&mut hashing, &mut io::sink()).map_err(|e| Error::from_io(e, member))?;
        let checksum = hashing.hex_digest();
        let size = hashing.count;
        manifest.verify(&format!("data/{index:04}/{}", entry.name), &checksum)?;
        let date = OffsetDateTime::from_unix_timestamp(entry.mtime).map_err(|_| {
            Error::invalid(format!("{member}: {} has an invalid mtime", entry.name))
        })?;
        payload.found[slot] = Some(UpdateFile {
            name: entry.name,
            checksum,
            size,
            date,
        });
    }
    // Trailing bytes inside the compressed stream are read (and must decode) too.
    io::copy(&mut tar.into_inner(), &mut io::sink()).map_err(|e| Error::from_io(e, member))?;
    Ok(())
}
