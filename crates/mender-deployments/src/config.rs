//! Deployments configuration (upstream `storage.*` and `presign.*` keys).

use serde::{Deserialize, Serialize};

/// Configuration of the deployments service.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    pub presign_secret: Option<String>,
    /// Host (and optional port) put into signed links; empty means the request's
    /// `X-Forwarded-Host` or `Host` header.
    pub url_hostname: String,
    /// Scheme of signed links.
    pub url_scheme: String,
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
        }
    }
}

// The secret never reaches logs.
impl std::fmt::Debug for DeploymentsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeploymentsConfig")
            .field("max_image_size", &self.max_image_size)
            .field("max_generate_data_size", &self.max_generate_data_size)
            .field("download_expire_seconds", &self.download_expire_seconds)
            .field(
                "device_download_expire_seconds",
                &self.device_download_expire_seconds,
            )
            .field(
                "presign_secret",
                &self.presign_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("url_hostname", &self.url_hostname)
            .field("url_scheme", &self.url_scheme)
            .finish()
    }
}
