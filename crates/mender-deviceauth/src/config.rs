//! deviceauth configuration and its token signing key.

use std::path::{Path, PathBuf};

use mender_core::jwt::{JwtError, SigningKey};
use serde::{Deserialize, Serialize};

use crate::crypto::KeyPolicy;

/// deviceauth settings (upstream keys of the same names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeviceauthConfig {
    /// `iss` of device tokens.
    pub jwt_issuer: String,
    /// Device token lifetime in seconds.
    pub jwt_exp_timeout: u64,
    /// Default limit of accepted devices (0 = unlimited); a limit set through the
    /// internal API overrides it.
    pub max_devices: u64,
    /// PEM private key signing device tokens (RSA or Ed25519); when unset, `private.pem`
    /// in the service's key directory is used, generated on first start.
    pub private_key: Option<PathBuf>,
    /// Smallest RSA device key accepted, in bits (0 = any size, as upstream). Auth requests
    /// and preauthorizations with a smaller key are refused with 400.
    pub min_rsa_key_bits: u32,
    /// Smallest ECDSA device key accepted, in curve bits: 224, 256, 384 or 521 (0 = any
    /// curve, as upstream). Ed25519 keys are always accepted.
    pub min_ecdsa_key_bits: u32,
    /// Auth requests one client address (IPv6: one /64) may send at once.
    pub auth_requests_burst: u32,
    /// Auth requests per minute one client address may send once the burst is spent; beyond
    /// it 429 with `Retry-After` (0 = no limit).
    pub auth_requests_per_minute: u32,
    /// Client addresses the auth request limit remembers at most (memory bound).
    pub auth_requests_tracked_addresses: usize,
    /// Largest identity (`id_data` of auth requests, `identity_data` of preauthorizations) in
    /// bytes of canonical JSON; larger ones are refused with 400.
    pub max_id_data_bytes: usize,
    /// Pending auth sets a device keeps: a new key for a known identity beyond it replaces
    /// the oldest pending one (accepted, preauthorized and rejected ones are never replaced).
    pub max_pending_auth_sets_per_device: u64,
    /// Pending devices at most: over it an auth request from a new identity is refused with
    /// 403 and nothing is stored; known devices go on as before (0 = no limit).
    pub max_pending_devices: u64,
}

impl DeviceauthConfig {
    /// Checks the settings; the error says what to fix.
    pub fn validate(&self) -> Result<(), String> {
        if self.auth_requests_per_minute > 0 {
            if self.auth_requests_burst == 0 {
                return Err("deviceauth.auth_requests_burst must be at least 1 while \
                     auth_requests_per_minute is set (0 there switches the limit off)"
                    .into());
            }
            if self.auth_requests_tracked_addresses < 2 {
                return Err(
                    "deviceauth.auth_requests_tracked_addresses must be at least 2 \
                     while auth_requests_per_minute is set"
                        .into(),
                );
            }
        }
        if self.max_id_data_bytes < 64 {
            return Err("deviceauth.max_id_data_bytes must be at least 64".into());
        }
        if self.max_pending_auth_sets_per_device == 0 {
            return Err("deviceauth.max_pending_auth_sets_per_device must be at least 1".into());
        }
        Ok(())
    }

    /// The device key policy these settings give.
    pub fn key_policy(&self) -> KeyPolicy {
        KeyPolicy {
            min_rsa_bits: self.min_rsa_key_bits,
            min_ecdsa_bits: self.min_ecdsa_key_bits,
        }
    }
}

impl Default for DeviceauthConfig {
    fn default() -> Self {
        Self {
            jwt_issuer: "Mender".into(),
            jwt_exp_timeout: 7 * 24 * 3600,
            max_devices: 0,
            private_key: None,
            min_rsa_key_bits: 0,
            min_ecdsa_key_bits: 0,
            auth_requests_burst: 100,
            auth_requests_per_minute: 600,
            auth_requests_tracked_addresses: 100_000,
            max_id_data_bytes: 4096,
            max_pending_auth_sets_per_device: 3,
            max_pending_devices: 10_000,
        }
    }
}

/// File name of the generated key in the key directory.
pub const KEY_FILE: &str = "private.pem";

/// The signing key: `config.private_key` if set, else [`load_or_generate`] in `dir`.
pub fn load_signing_key(config: &DeviceauthConfig, dir: &Path) -> Result<SigningKey, JwtError> {
    match &config.private_key {
        Some(path) => SigningKey::from_file(path),
        None => load_or_generate(dir),
    }
}

/// Reads `dir/private.pem`, or generates an RSA 3072 key there (mode 0600) if it is missing.
pub fn load_or_generate(dir: &Path) -> Result<SigningKey, JwtError> {
    let path = dir.join(KEY_FILE);
    if path.exists() {
        return SigningKey::from_file(&path);
    }
    let (key, pem) = SigningKey::generate_rsa()?;
    match mender_core::secret_file::write_new(&path, pem.as_bytes()) {
        Ok(()) => {
            tracing::info!(path = %path.display(), "generated a new deviceauth signing key");
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => SigningKey::from_file(&path),
        Err(e) => Err(JwtError::Key(format!("{}: {e}", path.display()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_then_loads() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_generate(dir.path()).unwrap();
        let b = load_or_generate(dir.path()).unwrap();
        assert_eq!(a.verifying_key(), b.verifying_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let cfg: DeviceauthConfig = serde_json::from_str(r#"{"max_devices": 3}"#).unwrap();
        assert_eq!(cfg.jwt_issuer, "Mender");
        assert_eq!(cfg.max_devices, 3);
        assert_eq!(cfg.key_policy(), KeyPolicy::default());
        let cfg: DeviceauthConfig =
            serde_json::from_str(r#"{"min_rsa_key_bits": 2048, "min_ecdsa_key_bits": 256}"#)
                .unwrap();
        assert_eq!(
            cfg.key_policy(),
            KeyPolicy {
                min_rsa_bits: 2048,
                min_ecdsa_bits: 256
            }
        );
        assert!(serde_json::from_str::<DeviceauthConfig>(r#"{"nope": 1}"#).is_err());
    }

    #[test]
    fn validate_explains_what_to_fix() {
        assert_eq!(DeviceauthConfig::default().validate(), Ok(()));
        let bad = |edit: fn(&mut DeviceauthConfig)| {
            let mut c = DeviceauthConfig::default();
            edit(&mut c);
            c.validate().unwrap_err()
        };
        assert!(bad(|c| c.auth_requests_burst = 0).contains("auth_requests_burst"));
        assert!(
            bad(|c| c.auth_requests_tracked_addresses = 1)
                .contains("auth_requests_tracked_addresses")
        );
        assert!(bad(|c| c.max_id_data_bytes = 10).contains("max_id_data_bytes"));
        assert!(
            bad(|c| c.max_pending_auth_sets_per_device = 0)
                .contains("max_pending_auth_sets_per_device")
        );
        let off = DeviceauthConfig {
            auth_requests_per_minute: 0,
            auth_requests_burst: 0,
            ..Default::default()
        };
        assert_eq!(off.validate(), Ok(()));
    }
}
