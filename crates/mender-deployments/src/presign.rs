//! Signed, expiring download links served by deployments itself (the disk blob store cannot
//! presign). The scheme follows upstream's configuration links: the query carries
//! `x-men-expire` (RFC 3339, UTC) and `x-men-signature` = base64url-no-pad of
//! HMAC-SHA256(secret, `"GET\n" + path + "\nx-men-expire=" + expire + "\ntenant_id=" + tenant + "\n"`).

use std::path::Path;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{Error, Result};

/// Query parameter with the expiry time.
pub const EXPIRE_PARAM: &str = "x-men-expire";
/// Query parameter with the signature.
pub const SIGNATURE_PARAM: &str = "x-men-signature";
/// Query parameter with the tenant (only when non-empty).
pub const TENANT_PARAM: &str = "tenant_id";

/// Signs and verifies download links with one HMAC key.
pub struct Presigner {
    key: hmac::Key,
}

// The key never reaches logs.
impl std::fmt::Debug for Presigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Presigner(<redacted>)")
    }
}

fn message(path: &str, expire: &str, tenant: &str) -> String {
    format!("GET\n{path}\n{EXPIRE_PARAM}={expire}\n{TENANT_PARAM}={tenant}\n")
}

fn format_expire(t: OffsetDateTime) -> String {
    let t = t
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_default()
}

impl Presigner {
    /// A signer with this secret.
    pub fn new(secret: &[u8]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    /// The query string (without `?`) that makes `path` valid until `expire`.
    pub fn sign(&self, path: &str, expire: OffsetDateTime, tenant: &str) -> String {
        let exp = format_expire(expire);
        let tag = hmac::sign(&self.key, message(path, &exp, tenant).as_bytes());
        let sig = URL_SAFE_NO_PAD.encode(tag.as_ref());
        let enc = mender_core::paging::encode;
        let mut q = Vec::new();
        if !tenant.is_empty() {
            q.push(format!("{TENANT_PARAM}={}", enc(tenant)));
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
        now: OffsetDateTime,
    ) -> Result<String> {
        let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let (Some(exp), Some(sig)) = (get(EXPIRE_PARAM), get(SIGNATURE_PARAM)) else {
            return Err(Error::BadRequest(format!(
                "missing {EXPIRE_PARAM} or {SIGNATURE_PARAM} query parameter"
            )));
        };
        let tenant = get(TENANT_PARAM).unwrap_or("");
        let expire = OffsetDateTime::parse(exp, &Rfc3339)
            .map_err(|_| Error::BadRequest(format!("invalid {EXPIRE_PARAM} query parameter")))?;
        let sig = URL_SAFE_NO_PAD
            .decode(sig.trim_end_matches('='))
            .map_err(|_| Error::Forbidden("signature invalid".to_owned()))?;
        hmac::verify(&self.key, message(path, exp, tenant).as_bytes(), &sig)
            .map_err(|_| Error::Forbidden("signature invalid".to_owned()))?;
        if expire < now {
            return Err(Error::Forbidden("the link has expired".to_owned()));
        }
        Ok(tenant.to_owned())
    }
}

/// Decodes a configured base64 secret (standard or URL alphabet, padding optional).
pub fn decode_secret(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
        .iter()
        .find_map(|e| e.decode(s).ok())
        .filter(|k| !k.is_empty())
}

/// The secret from the configuration, or the one kept at
/// `<data_dir>/keys/deployments/presign.key` (created with 32 random bytes, mode 0600, on first
/// start) so that links survive restarts.
pub fn load_or_create_secret(
    configured: Option<&str>,
    data_dir: &Path,
) -> std::io::Result<Vec<u8>> {
    if let Some(s) = configured {
        return decode_secret(s).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "deployments presign_secret is not valid base64",
            )
        });
    }
    let path = data_dir
        .join("keys")
        .join("deployments")
        .join("presign.key");
    if let Some(k) = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| decode_secret(&t))
    {
        return Ok(k);
    }
    let mut key = vec![0u8; 32];
    aws_lc_rs::rand::fill(&mut key).map_err(|_| std::io::Error::other("no randomness"))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    write_private(&path, STANDARD.encode(&key).as_bytes())?;
    Ok(key)
}

#[cfg(unix)]
fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    std::fs::rename(tmp, path)
}

#[cfg(not(unix))]
fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, data)
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

    #[test]
    fn sign_verify_expire_tamper() {
        let p = Presigner::new(b"secret");
        let now = OffsetDateTime::now_utc();
        let q = p.sign("/a/b", now + time::Duration::minutes(5), "");
        assert_eq!(p.verify("/a/b", &pairs(&q), now).unwrap(), "");
        assert!(matches!(
            p.verify("/a/c", &pairs(&q), now),
            Err(Error::Forbidden(_))
        ));
        assert!(matches!(
            p.verify("/a/b", &pairs(&q), now + time::Duration::minutes(10)),
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
        let q = p.sign("/a/b", now + time::Duration::minutes(5), "t1");
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
    fn secret_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create_secret(None, dir.path()).unwrap();
        let b = load_or_create_secret(None, dir.path()).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 32);
        assert_eq!(
            load_or_create_secret(Some("aW5zZWN1cmUgc2VjcmV0"), dir.path()).unwrap(),
            b"insecure secret"
        );
        assert!(load_or_create_secret(Some("!!!"), dir.path()).is_err());
    }
}
