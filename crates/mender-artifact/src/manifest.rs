//! The `manifest` member: SHA-256 per artifact file, and which ones were seen.

use std::collections::BTreeMap;

use crate::error::Error;
use crate::validate::check_member_path;

/// Checksums from `manifest` (and `manifest-augment`), in file order, each marked once
/// its file has been verified so unverified leftovers can be reported at the end.
#[derive(Debug, Default)]
pub(crate) struct Manifest {
    /// name → (checksum, seen)
    sums: BTreeMap<String, (String, bool)>,
    /// Names in the order they appear, for a stable file order in the metadata.
    order: Vec<String>,
}

impl Manifest {
    /// Add the lines of one manifest file: `<64 hex>  <path>\n`.
    pub(crate) fn add_raw(&mut self, raw: &[u8]) -> Result<(), Error> {
        let text = std::str::from_utf8(raw)
            .map_err(|_| Error::Manifest("manifest is not UTF-8".into()))?;
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let (sum, name) = line
                .split_once("  ")
                .ok_or_else(|| Error::Manifest(format!("malformed line {:?}", truncate(line))))?;
            if sum.len() != 64 || !sum.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Error::Manifest(format!(
                    "malformed checksum for {:?}",
                    truncate(name)
                )));
            }
            check_member_path(name)?;
            if self.sums.contains_key(name) {
                return Err(Error::Manifest(format!(
                    "duplicate entry {:?}",
                    truncate(name)
                )));
            }
            self.sums
                .insert(name.to_string(), (sum.to_ascii_lowercase(), false));
            self.order.push(name.to_string());
        }
        Ok(())
    }

    /// The checksum listed for `name`, marking it as seen.
    pub(crate) fn take(&mut self, name: &str) -> Result<String, Error> {
        match self.sums.get_mut(name) {
            Some((sum, seen)) => {
                *seen = true;
                Ok(sum.clone())
            }
            None => Err(Error::NotInManifest(name.to_string())),
        }
    }

    /// Compare a computed checksum with the one listed for `name` (marking it seen).
    pub(crate) fn verify(&mut self, name: &str, actual: &str) -> Result<(), Error> {
        let expected = self.take(name)?;
        if expected != actual {
            return Err(Error::ChecksumMismatch {
                file: name.to_string(),
                expected,
                actual: actual.to_string(),
            });
        }
        Ok(())
    }

    /// Payload files (`data/NNNN/<name>`) in manifest order, as (index, file name).
    pub(crate) fn data_files(&self) -> Result<Vec<(usize, String)>, Error> {
        let mut out = Vec::new();
        for name in &self.order {
            let Some(rest) = name.strip_prefix("data/") else {
                continue;
            };
            let (index, file) = rest
                .split_once('/')
                .filter(|(i, f)| !f.contains('/') && !f.is_empty() && is_index(i))
                .ok_or_else(|| Error::Manifest(format!("malformed payload entry {name:?}")))?;
            out.push((parse_index(index), file.to_string()));
        }
        Ok(out)
    }

    /// Names listed but never verified.
    pub(crate) fn unseen(&self) -> Vec<String> {
        self.order
            .iter()
            .filter(|n| self.sums.get(*n).is_some_and(|(_, seen)| !seen))
            .cloned()
            .collect()
    }
}

/// Four ASCII digits, as in `data/0000`.
pub(crate) fn is_index(s: &str) -> bool {
    s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Caller checked `is_index`.
pub(crate) fn parse_index(s: &str) -> usize {
    s.bytes().fold(0, |acc, b| acc * 10 + usize::from(b - b'0'))
}

/// Keep error messages short when a hostile manifest has enormous lines.
fn truncate(s: &str) -> &str {
    match s.char_indices().nth(200) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
