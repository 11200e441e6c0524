//! Mender artifact format: a streaming parser and a writer.
//!
//! [`parse`] reads a version 2 or 3 artifact from any [`std::io::Read`] in one pass
//! with bounded memory, verifies every checksum listed in the manifest and returns the
//! [`ArtifactMeta`] that deployments stores. [`write_artifact`] and
//! [`write_single_file_artifact`] produce version 3 artifacts that the real
//! `mender-artifact` tool and Mender client accept.

mod budget;
mod compression;
mod error;
mod headers;
mod io;
mod manifest;
mod model;
mod parser;
mod tar_reader;
mod validate;
mod writer;

pub use budget::ParseLimits;
pub use compression::Compression;
pub use error::{Error, Result};
pub use io::{CountingReader, TeeReader};
pub use model::{ArtifactInfo, ArtifactMeta, TypeInfo, Update, UpdateFile};
pub use parser::{
    MAX_HEADER_COMPRESSED, MAX_HEADER_DECOMPRESSED, MAX_JSON, MAX_MANIFEST, MAX_SIGNATURE,
    ParsedArtifact, parse, parse_artifact, parse_artifact_with_limits, parse_with_limits,
};
pub use writer::{
    ArtifactSpec, Payload, PayloadFile, ReadSeek, SingleFileArtifact, write_artifact,
    write_single_file_artifact,
};
