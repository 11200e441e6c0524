//! Deployments configuration (upstream `storage.*` and `presign.*` keys).

use mender_core::Secret;
use serde::{Deserialize, Serialize, Serializer};

/// Configuration of the deployments service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeploymentsConfig {
    /// Largest artifact accepted by an upload, in bytes (upstream `storage.max_image_size`, 10 GiB).
    pub max_image_size: u64,
    /// Largest raw file accepted by `artifacts/generate`, in bytes (256 MiB).
    pub max_generate_data_size: u64,
    /// Lifetime of the management download links, in seconds (upstream 900).
    pub download_expire_seconds: u64,
    /// Lifetime of the links handed to devices by `next`, in seconds (upstream 24 h).
    pub device_download_expire_seconds: u64,
    /// Base64 HMAC secret for signed download links; when unset one is generated and kept at
    /// `<data_dir>/keys/deployments/presign.key` by [`crate::presign::load_or_create_secret`].
    #[serde(serialize_with = "serialize_optional_secret")]
    pub presign_secret: Option<Secret>,
    /// Host (and optional port) put into signed links; empty means the request's
    /// `X-Forwarded-Host` or `Host` header.
    pub url_hostname: String,
    /// Scheme of signed links.
    pub url_scheme: String,
    /// An upload's payloads may decompress to at most this many times the bytes uploaded so
    /// far (plus `decompression_allowance`); more is a 400 (decompression bombs).
    pub max_decompression_ratio: u64,
    /// Decompressed payload bytes every upload may produce whatever the ratio.
    pub decompression_allowance: u64,
    /// Longest time, in seconds, the parser may work on one upload (time waiting for the
    /// client's bytes does not count); longer is a 400.
    pub max_parse_seconds: u64,
    /// A reserved artifact id older than this many seconds belongs to an upload or deletion
    /// that never finished (the process stopped); the start-up sweep frees it and removes
    /// its file.
    pub abandoned_upload_seconds: u64,
}

impl Default for DeploymentsConfig {
    fn default() -> Self {
        Self {
            max_image_size: 10 * 1024 * 1024 * 1024,
            max_generate_data_size: 256 * 1024 * 1024,
            download_expire_seconds: 900,
            device_download_expire_seconds: 24 * 3600,
            presign_secret: None,
            url_hostname: String::new(),
            url_scheme: "https".to_owned(),
            max_decompression_ratio: 1000,
            decompression_allowance: 1 << 30,
            max_parse_seconds: 30 * 60,
            abandoned_upload_seconds: 24 * 3600,
        }
    }
}

impl DeploymentsConfig {
    /// Checks the settings at start; the error says which key to fix.
    pub fn validate(&self) -> Result<(), String> {
        mender_core::settings::require_positive(
            "deployments",
            &[
                ("max_decompression_ratio", self.max_decompression_ratio),
                ("max_parse_seconds", self.max_parse_seconds),
                ("abandoned_upload_seconds", self.abandoned_upload_seconds),
            ],
        )
    }

    /// The artifact parser's limits for an upload.
    pub fn parse_limits(&self) -> mender_artifact::ParseLimits {
        mender_artifact::ParseLimits {
            max_decompression_ratio: self.max_decompression_ratio,
            decompression_allowance: self.decompression_allowance,
            max_parse_time: Some(std::time::Duration::from_secs(self.max_parse_seconds)),
        }
    }
}

/// Writes a secret's value, for documents that must carry it (the configuration as read,
/// which `mender-server config check` masks before printing; stored storage settings).
/// `Secret` itself deliberately does not serialise.
pub(crate) fn serialize_secret<S: Serializer>(s: &Secret, out: S) -> Result<S::Ok, S::Error> {
    out.serialize_str(s.expose_str())
}

/// [`serialize_secret`] for an optional secret.
pub(crate) fn serialize_optional_secret<S: Serializer>(
    s: &Option<Secret>,
    out: S,
) -> Result<S::Ok, S::Error> {
    s.as_ref().map(Secret::expose_str).serialize(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_stays_out_of_debug_output() {
        let c: DeploymentsConfig =
            serde_json::from_str(r#"{"presign_secret": "c2VjcmV0LWtleQ=="}"#).unwrap();
        assert_eq!(
            c.presign_secret.as_ref().map(Secret::expose_str),
            Some("c2VjcmV0LWtleQ==")
        );
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("c2VjcmV0"), "{dbg}");
        assert!(dbg.contains("presign_secret: Some([redacted])"), "{dbg}");
        // Written back unchanged for the configuration file.
        let back = serde_json::to_value(&c).unwrap();
        assert_eq!(back["presign_secret"], "c2VjcmV0LWtleQ==");
    }
}
