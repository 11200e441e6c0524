//! The crate's error type: every way reading or writing an artifact can fail.

use std::io;

/// Why an artifact could not be parsed or written.
///
/// Messages are meant for API clients (deployments returns them in a 400 body), so they
/// name the offending artifact member but never echo file contents.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading the input (or writing the output) failed below the artifact format,
    /// e.g. the upload connection broke or the tee target could not be written.
    #[error("i/o error: {0}")]
    Io(#[source] io::Error),
    /// The input ended in the middle of the artifact.
    #[error("artifact is truncated")]
    Truncated,
    /// A tar stream (outer artifact, header or payload) is malformed.
    #[error("malformed tar stream in {context}: {message}")]
    Tar {
        /// Which tar stream: `artifact`, `header.tar.gz`, `data/0000.tar.gz`, ...
        context: String,
        /// What was wrong.
        message: String,
    },
    /// A compressed member could not be decompressed.
    #[error("corrupt compressed data in {file}: {message}")]
    Compression {
        /// The artifact member.
        file: String,
        /// The decoder's complaint.
        message: String,
    },
    /// A tar entry that could escape a directory or is not a plain file.
    #[error("unsafe tar entry {name:?}: {reason}")]
    UnsafeEntry {
        /// The entry name as found in the archive.
        name: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A required member (`version`, `manifest`, `header.tar*`, `header-info`) is absent.
    #[error("artifact is missing {0}")]
    Missing(String),
    /// A member that has no place at this position of the artifact.
    #[error("unexpected file in artifact: {0}")]
    UnexpectedFile(String),
    /// The `version` file names a format other than `mender`.
    #[error("unsupported artifact format {0:?}")]
    UnsupportedFormat(String),
    /// The artifact format version is not 2 or 3.
    #[error("unsupported artifact version {0}")]
    UnsupportedVersion(u64),
    /// A JSON header member did not parse.
    #[error("invalid JSON in {file}: {message}")]
    InvalidJson {
        /// The member, e.g. `header-info` or `headers/0000/type-info`.
        file: String,
        /// The parser's complaint.
        message: String,
    },
    /// A member exceeds the size this parser accepts for it.
    #[error("{file} is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The member.
        file: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// Payloads decompress to more than the parse limits allow for the artifact's size.
    #[error("{file} decompresses to more than {ratio} times the size of the artifact")]
    DecompressionBudget {
        /// The payload member.
        file: String,
        /// The configured ratio.
        ratio: u64,
    },
    /// Parsing took longer than the parse limits allow.
    #[error("parsing the artifact took longer than the limit of {seconds} seconds")]
    ParseTime {
        /// The limit.
        seconds: f64,
    },
    /// A line of the manifest is malformed or repeated.
    #[error("invalid manifest: {0}")]
    Manifest(String),
    /// A member whose checksum the manifest does not list.
    #[error("file {0} is not listed in the manifest")]
    NotInManifest(String),
    /// A member's SHA-256 differs from the manifest.
    #[error("checksum mismatch for {file}: manifest says {expected}, content is {actual}")]
    ChecksumMismatch {
        /// The member.
        file: String,
        /// Checksum from the manifest.
        expected: String,
        /// Checksum of the bytes read.
        actual: String,
    },
    /// Files listed in the manifest that the artifact does not contain.
    #[error("files listed in the manifest are missing from the artifact: {}", .0.join(", "))]
    MissingFiles(Vec<String>),
    /// The headers parse but describe an invalid artifact (empty name, no device types,
    /// conflicting provides, ...), or writer input is invalid.
    #[error("invalid artifact: {0}")]
    Invalid(String),
}

impl Error {
    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Error::Invalid(msg.into())
    }

    /// Carry this error through an `io::Read`/`io::Write` boundary; `from_io` unwraps it.
    pub(crate) fn into_io(self) -> io::Error {
        io::Error::other(Tagged(self))
    }

    /// Turn an I/O error that surfaced while reading `context` into a typed error.
    ///
    /// Errors this crate raised itself (tagged) come back unchanged; failures of the
    /// caller's input were tagged as [`Error::Io`] where they entered; anything else can
    /// only come from a decoder and therefore means corrupt compressed data.
    pub(crate) fn from_io(err: io::Error, context: &str) -> Self {
        if err.get_ref().is_some_and(|e| e.is::<Tagged>()) {
            if let Some(Ok(tagged)) = err.into_inner().map(|e| e.downcast::<Tagged>()) {
                return tagged.0;
            }
            return Error::Truncated;
        }
        if err.kind() == io::ErrorKind::UnexpectedEof {
            return Error::Truncated;
        }
        Error::Compression {
            file: context.to_string(),
            message: err.to_string(),
        }
    }
}

/// Wrapper that marks an `io::Error` as carrying one of our own errors.
#[derive(Debug)]
struct Tagged(Error);

impl std::fmt::Display for Tagged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Tagged {}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
