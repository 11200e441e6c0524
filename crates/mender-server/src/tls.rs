//! TLS for the public port: the operator's certificate, or a self-signed one generated on
//! first start and kept in the data directory.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// The certificate and key files in use.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
    /// True when we generated the certificate ourselves.
    pub self_signed: bool,
}

/// Uses the configured certificate, or generates (once) a self-signed one in `<data_dir>/tls/`
/// valid for `localhost`, `127.0.0.1`, `::1` and `hostname`.
pub fn ensure(
    cert: Option<&Path>,
    key: Option<&Path>,
    data_dir: &Path,
    hostname: &str,
) -> anyhow::Result<TlsFiles> {
    if let (Some(cert), Some(key)) = (cert, key) {
        for f in [cert, key] {
            std::fs::metadata(f)
                .with_context(|| format!("cannot read TLS file {}", f.display()))?;
        }
        return Ok(TlsFiles {
            cert: cert.to_owned(),
            key: key.to_owned(),
            self_signed: false,
        });
    }
    let dir = data_dir.join("tls");
    let cert = dir.join("server.crt");
    let key = dir.join("server.key");
    if cert.exists() && key.exists() {
        return Ok(TlsFiles {
            cert,
            key,
            self_signed: true,
        });
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if !hostname.is_empty() && !names.iter().any(|n| n == hostname) {
        names.push(hostname.to_owned());
    }
    let mut params =
        rcgen::CertificateParams::new(names).context("invalid host name for the certificate")?;
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        if hostname.is_empty() {
            "localhost"
        } else {
            hostname
        },
    );
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "mender-rs");
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(3650);
    let key_pair = rcgen::KeyPair::generate().context("cannot generate a TLS key")?;
    let certificate = params
        .self_signed(&key_pair)
        .context("cannot sign the TLS certificate")?;
    write_private(&key, key_pair.serialize_pem().as_bytes())?;
    std::fs::write(&cert, certificate.pem())
        .with_context(|| format!("cannot write {}", cert.display()))?;
    Ok(TlsFiles {
        cert,
        key,
        self_signed: true,
    })
}

/// The rustls server configuration for `files` (aws-lc-rs, ALPN `h2` then `http/1.1`).
pub fn server_config(files: &TlsFiles) -> anyhow::Result<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .with_context(|| format!("cannot read the TLS certificate {}", files.cert.display()))?;
    anyhow::ensure!(
        !certs.is_empty(),
        "the TLS certificate file {} holds no certificate",
        files.cert.display()
    );
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .with_context(|| format!("cannot read the TLS key {}", files.key.display()))?;
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .with_context(|| {
            format!(
                "the TLS key {} does not fit the certificate {}",
                files.key.display(),
                files.cert.display()
            )
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Writes a file readable only by its owner.
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_and_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let a = ensure(None, None, dir.path(), "ota.example.com").unwrap();
        assert!(a.self_signed);
        let pem = std::fs::read_to_string(&a.cert).unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&a.key).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let b = ensure(None, None, dir.path(), "other").unwrap();
        assert_eq!(
            std::fs::read_to_string(&b.cert).unwrap(),
            pem,
            "an existing certificate is kept"
        );
        assert!(
            ensure(
                Some(Path::new("/nonexistent.crt")),
                Some(Path::new("/x.key")),
                dir.path(),
                ""
            )
            .is_err()
        );
    }
}
