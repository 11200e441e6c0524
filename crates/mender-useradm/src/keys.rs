//! The token signing keys: `private.pem` (key id 0) and `private.id.N.pem` (key id N) from a
//! directory, generated on first start, and the key set that verifies tokens by `kid`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use mender_core::jwt::{KeySet, SigningKey};

/// The default key file name (key id 0).
pub const DEFAULT_KEY_FILE: &str = "private.pem";

/// Signing keys by id, the one that signs new tokens, and their public halves.
pub struct Keys {
    signing: BTreeMap<i64, SigningKey>,
    primary: i64,
    verifying: KeySet,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Ids only: the private keys print as `..` by themselves, and the public halves
        // would be kilobytes of numbers in a log line.
        f.debug_struct("Keys")
            .field("ids", &self.signing.keys().collect::<Vec<_>>())
            .field("primary", &self.primary)
            .finish()
    }
}

/// The key id a key file name carries: 0 for `private.pem` and names not following
/// `private.id.N.pem`, N otherwise (upstream's `private\.id\.([0-9]*)\.pem`).
pub fn key_id_from_file_name(name: &str) -> Option<i64> {
    if name == DEFAULT_KEY_FILE {
        return Some(0);
    }
    let digits = name.strip_prefix("private.id.")?.strip_suffix(".pem")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

impl Keys {
    /// A key set from keys already in memory; `primary` must be one of them.
    pub fn from_keys(keys: Vec<(i64, SigningKey)>, primary: i64) -> Result<Self> {
        let mut signing = BTreeMap::new();
        let mut verifying = KeySet::default();
        for (kid, key) in keys {
            verifying.insert(kid, key.verifying_key());
            signing.insert(kid, key);
        }
        if !signing.contains_key(&primary) {
            bail!("no signing key with id {primary}");
        }
        Ok(Self {
            signing,
            primary,
            verifying,
        })
    }

    /// Loads every key file of `dir`; when there is none, generates `private.pem`
    /// (RSA 3072, mode 0600). New tokens are signed with `private.pem`, else the highest id.
    pub fn load_or_generate(dir: &Path) -> Result<Self> {
        let mut keys = load_dir(dir)?;
        if keys.is_empty() {
            let path = dir.join(DEFAULT_KEY_FILE);
            keys.insert(0, generate(&path)?);
            tracing::info!(path = %path.display(), "generated a new user token signing key");
        }
        let primary = if keys.contains_key(&0) {
            0
        } else {
            *keys.keys().next_back().unwrap_or(&0)
        };
        Self::from_keys(keys.into_iter().collect(), primary)
    }

    /// Keys for a configuration: with `private_key` set, the keys of its directory plus that
    /// file, which signs new tokens under the id its name carries; otherwise
    /// [`Keys::load_or_generate`] on `dir`.
    pub fn from_config(dir: &Path, private_key: Option<&Path>) -> Result<Self> {
        let Some(path) = private_key else {
            return Self::load_or_generate(dir);
        };
        let key_dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(dir);
        let mut keys = if key_dir.is_dir() {
            load_dir(key_dir)?
        } else {
            BTreeMap::new()
        };
        let kid = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(key_id_from_file_name)
            .unwrap_or(0);
        let key =
            SigningKey::from_file(path).with_context(|| format!("loading {}", path.display()))?;
        keys.insert(kid, key);
        Self::from_keys(keys.into_iter().collect(), kid)
    }

    /// The id of the key that signs new tokens.
    pub fn primary_id(&self) -> i64 {
        self.primary
    }

    /// The key that signs new tokens.
    pub fn primary(&self) -> &SigningKey {
        &self.signing[&self.primary]
    }

    /// Every loaded key's public half, by id.
    pub fn verifying(&self) -> &KeySet {
        &self.verifying
    }
}

fn load_dir(dir: &Path) -> Result<BTreeMap<i64, SigningKey>> {
    let mut keys = BTreeMap::new();
    if !dir.exists() {
        return Ok(keys);
    }
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("reading key directory {}", dir.display()))?;
    let mut files: Vec<(i64, PathBuf)> = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        if let Some(kid) = name.to_str().and_then(key_id_from_file_name) {
            files.push((kid, entry.path()));
        }
    }
    for (kid, path) in files {
        let key =
            SigningKey::from_file(&path).with_context(|| format!("loading {}", path.display()))?;
        tracing::info!(kid, path = %path.display(), "loaded user token key");
        keys.insert(kid, key);
    }
    Ok(keys)
}

fn generate(path: &Path) -> Result<SigningKey> {
    let (key, pem) = SigningKey::generate_rsa().context("generating an RSA key")?;
    mender_core::secret_file::write_new(path, pem.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_from_names() {
        assert_eq!(key_id_from_file_name("private.pem"), Some(0));
        assert_eq!(key_id_from_file_name("private.id.12.pem"), Some(12));
        assert_eq!(key_id_from_file_name("private.id..pem"), None);
        assert_eq!(key_id_from_file_name("private.id.x.pem"), None);
        assert_eq!(key_id_from_file_name("other.pem"), None);
    }
}
