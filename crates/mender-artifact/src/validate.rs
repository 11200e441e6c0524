//! Checks on untrusted names and strings: tar member safety and header value rules.

use crate::error::Error;
use crate::tar_reader::{EntryHeader, EntryKind};

/// Longest artifact name, device type, group or depends value accepted (as upstream's
/// `utils.ValidateString`).
pub(crate) const MAX_STRING: usize = 256;

/// Refuse member paths that are absolute, climb with `..`, or are otherwise odd.
pub(crate) fn check_member_path(name: &str) -> Result<(), Error> {
    let refuse = |reason| {
        Err(Error::UnsafeEntry {
            name: name.chars().take(200).collect(),
            reason,
        })
    };
    if name.is_empty() {
        return refuse("empty name");
    }
    if name.starts_with('/') {
        return refuse("absolute path");
    }
    if name.contains('\0') || name.contains('\\') {
        return refuse("forbidden character in name");
    }
    if name.split('/').any(|c| c == "..") {
        return refuse("path contains '..'");
    }
    Ok(())
}

/// A member must be a regular file (directories only where `allow_dir`) with a safe
/// name; links, devices and FIFOs are refused.
pub(crate) fn check_entry(entry: &EntryHeader, allow_dir: bool) -> Result<(), Error> {
    check_member_path(&entry.name)?;
    let reason = match entry.kind {
        EntryKind::File => return Ok(()),
        EntryKind::Directory if allow_dir => return Ok(()),
        EntryKind::Directory => "directory where a file is expected",
        EntryKind::Other(b'1') => "hard link",
        EntryKind::Other(b'2') => "symbolic link",
        EntryKind::Other(b'3' | b'4') => "device file",
        EntryKind::Other(b'6') => "FIFO",
        EntryKind::Other(_) => "unsupported member type",
    };
    Err(Error::UnsafeEntry {
        name: entry.name.chars().take(200).collect(),
        reason,
    })
}

/// Upstream's rule for names, device types, groups: at most 256 bytes, printable only.
pub(crate) fn check_string(what: &str, value: &str) -> Result<(), Error> {
    if value.len() > MAX_STRING {
        return Err(Error::invalid(format!(
            "{what} is longer than {MAX_STRING} bytes"
        )));
    }
    // Go's unicode.IsPrint: no control characters and no spacing other than ' '.
    if value
        .chars()
        .any(|c| c.is_control() || (c.is_whitespace() && c != ' '))
    {
        return Err(Error::invalid(format!(
            "{what} contains non-printable characters"
        )));
    }
    Ok(())
}

/// Payload file names as the Mender client accepts them: `^[\w\-.,]+$`.
pub(crate) fn is_valid_payload_file_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b','))
}
