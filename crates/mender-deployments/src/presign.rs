//! Signed, expiring download links served by deployments itself (the disk blob store cannot
//! presign). The scheme follows upstream's configuration links: the query carries
//! `x-men-expire` (RFC 3339, UTC) and `x-men-signature` = base64url-no-pad of
//! HMAC-SHA256(secret, `"GET\n" + path + "\nx-men-expire=" + expire + "\ntenant_id=" + tenant + "\n"`).

use std::path::Path;
use std::time::Duration;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use mender_core::{Secret, TenantId, Timestamp};

use crate::error::{Error, Result};

/// Query parameter with the expiry time.
pub const EXPIRE_PARAM: &str = "x-men-expire";
/// Query parameter with the signature.
pub const SIGNATURE_PARAM: &str = "x-men-signature";
/// Query parameter with the tenant (only when non-empty).
pub const TENANT_PARAM: &str = "tenant_id";

/// Signs and verifies download links with one HMAC key.
#[derive(Debug)]
pub struct Presigner {
    key: Secret<hmac::Key>,
}

fn message(path: &str, expire: &str, tenant: &str) -> String {
    format!("GET\n{path}\n{EXPIRE_PARAM}={expire}\n{TENANT_PARAM}={tenant}\n")
}

impl Presigner {
    /// A signer with this secret.
    pub fn new(secret: &[u8]) -> Self {
        Self {
            key: Secret::new(hmac::Key::new(hmac::HMAC_SHA256, secret)),
        }
    }

    /// The query string (without `?`) that makes `path` valid until `expire` (whole seconds).
    pub fn sign(&self, path: &str, expire: Timestamp, tenant: &TenantId) -> String {
        let exp = expire.trunc_secs().to_rfc3339();
        let tag = hmac::sign(
            self.key.expose(),
            message(path, &exp, tenant.as_str()).as_bytes(),
        );
        let sig = URL_SAFE_NO_PAD.encode(tag.as_ref());
        let enc = mender_core::paging::encode;
        let mut q = Vec::new();
        if !tenant.is_empty() {
            q.push(format!("{TENANT_PARAM}={}", enc(tenant.as_str())));
        }
        q.push(format!("{EXPIRE_PARAM}={}", enc(&exp)));
        q.push(format!("{SIGNATURE_PARAM}={sig}"));
        q.join("&")
    }

    /// Checks a request for `path` with these (decoded) query pairs; returns the tenant.
    /// Missing parameters are a 400, an expired link or a wrong signature a 403.
    pub fn verify(
        &self,
        path: &str,
        query: &[(String, String)],
        now: Timestamp,
    ) -> Result<TenantId> {
        let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let (Some(exp), Some(sig)) = (get(EXPIRE_PARAM), get(SIGNATURE_PARAM)) else {
            return Err(Error::BadRequest(format!(
                "missing {EXPIRE_PARAM} or {SIGNATURE_PARAM} query parameter"
            )));
        };
        let tenant = get(TENANT_PARAM).unwrap_or("");
        let expire = Timestamp::parse_rfc3339(exp)
            .map_err(|_| Error::BadRequest(format!("invalid {EXPIRE_PARAM} query parameter")))?;
        let sig = URL_SAFE_NO_PAD
            .decode(sig.trim_end_matches('='))
            .map_err(|_| Error::Forbidden("signature invalid".to_owned()))?;
        hmac::verify(
            self.key.expose(),
            message(path, exp, tenant).as_bytes(),
            &sig,
        )
        .map_err(|_| Error::Forbidden("signature invalid".to_owned()))?;
        if expire < now {
            return Err(Error::Forbidden("the link has expired".to_owned()));
        }
        Ok(TenantId::from(tenant))
    }
}

/// Decodes a configured base64 secret (standard or URL alphabet, padding optional).
pub fn decode_secret(s: &str) -> Option<Secret<Vec<u8>>> {
    let s = s.trim();
    [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
        .iter()
        .find_map(|e| e.decode(s).ok())
        .filter(|k| !k.is_empty())
        .map(Secret::new)
}

/// 32 random bytes for a new secret.
pub fn random_secret() -> std::io::Result<Secret<Vec<u8>>> {
    let mut key = vec![0u8; 32];
    aws_lc_rs::rand::fill(&mut key)
        .map_err(|_| std::io::Error::other("no randomness for the download-link secret"))?;
    Ok(Secret::new(key))
}

/// Where the generated secret is kept under the data directory.
pub fn secret_path(data_dir: &Path) -> std::path::PathBuf {
    data_dir
        .join("keys")
        .join("deployments")
        .join("presign.key")
}

/// The secret from the configuration, or the one kept at [`secret_path`] (created with 32
/// random bytes, mode 0600, on first start) so that links survive restarts. An existing file
/// is never replaced: when two processes start at once, the one that loses the race reads the
/// winner's secret.
pub fn load_or_create_secret(
    configured: Option<&Secret>,
    data_dir: &Path,
) -> std::io::Result<Secret<Vec<u8>>> {
    if let Some(s) = configured {
        return decode_secret(s.expose_str()).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "deployments presign_secret is not valid base64",
            )
        });
    }
    let path = secret_path(data_dir);
    if let Some(k) = read_secret(&path) {
        return Ok(k);
    }
    let key = random_secret()?;
    match mender_core::secret_file::write_new(&path, STANDARD.encode(key.expose()).as_bytes()) {
        Ok(()) => Ok(key),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_winner(&path),
        Err(e) => Err(e),
    }
}

fn read_secret(path: &Path) -> Option<Secret<Vec<u8>>> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| decode_secret(&t))
}

/// The secret another process is writing: its file exists (possibly still empty), so wait
/// briefly for its content rather than replacing it.
fn read_winner(path: &Path) -> std::io::Result<Secret<Vec<u8>>> {
    for _ in 0..50 {
        if let Some(k) = read_secret(path) {
            return Ok(k);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!(
            "{} holds no valid download-link secret; remove it to generate a new one",
            path.display()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &str) -> Vec<(String, String)> {
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.replace("%3A", ":")))
            .collect()
    }

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn sign_verify_expire_tamper() {
        let p = Presigner::new(b"secret");
        let now = mender_core::Clock::now(&mender_core::clock::SystemClock);
        let none = TenantId::default();
        let q = p.sign("/a/b", now + 5 * MINUTE, &none);
        assert_eq!(p.verify("/a/b", &pairs(&q), now).unwrap(), none);
        assert!(matches!(
            p.verify("/a/c", &pairs(&q), now),
            Err(Error::Forbidden(_))
        ));
        assert!(matches!(
            p.verify("/a/b", &pairs(&q), now + 10 * MINUTE),
            Err(Error::Forbidden(_))
        ));
        assert!(matches!(
            p.verify("/a/b", &[], now),
            Err(Error::BadRequest(_))
        ));
        let other = Presigner::new(b"other");
        assert!(matches!(
            other.verify("/a/b", &pairs(&q), now),
            Err(Error::Forbidden(_))
        ));
        let q = p.sign("/a/b", now + 5 * MINUTE, &TenantId::from("t1"));
        assert_eq!(p.verify("/a/b", &pairs(&q), now).unwrap(), "t1");
        let forged: Vec<_> = pairs(&q)
            .into_iter()
            .map(|(k, v)| {
                if k == TENANT_PARAM {
                    (k, "t2".into())
                } else {
                    (k, v)
                }
            })
            .collect();
        assert!(matches!(
            p.verify("/a/b", &forged, now),
            Err(Error::Forbidden(_))
        ));
    }

    #[test]
    fn signed_expiry_is_whole_seconds_in_utc() {
        let p = Presigner::new(b"secret");
        let t = Timestamp::from_unix_micros(1_700_000_000_654_321);
        let q = p.sign("/a", t, &TenantId::default());
        assert!(
            q.starts_with("x-men-expire=2023-11-14T22%3A13%3A20Z&x-men-signature="),
            "{q}"
        );
    }

    #[test]
    fn secret_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create_secret(None, dir.path()).unwrap();
        let b = load_or_create_secret(None, dir.path()).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.expose().len(), 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(secret_path(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(
            load_or_create_secret(Some(&"aW5zZWN1cmUgc2VjcmV0".into()), dir.path())
                .unwrap()
                .expose(),
            b"insecure secret"
        );
        assert!(load_or_create_secret(Some(&"!!!".into()), dir.path()).is_err());
    }

    #[test]
    fn an_existing_secret_file_is_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = secret_path(dir.path());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        // Unreadable as a secret (a crash, or another process still writing it): refused,
        // and left as it is for the operator.
        for content in ["", "not base64!"] {
            std::fs::write(&path, content).unwrap();
            let e = load_or_create_secret(None, dir.path()).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{content:?}");
            assert_eq!(std::fs::read_to_string(&path).unwrap(), content);
        }
        // A process that loses the race to create the file takes the winner's secret once
        // the winner has written it.
        std::fs::write(&path, "").unwrap();
        let winner = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            std::fs::write(&path, STANDARD.encode(b"the winner's secret")).unwrap();
        });
        let got = load_or_create_secret(None, dir.path()).unwrap();
        winner.join().unwrap();
        assert_eq!(got.expose(), b"the winner's secret");
    }
}
