//! Device public keys: PEM `PUBLIC KEY` (SPKI) parsing, normalisation, and verification of
//! `X-MEN-Signature` over the raw auth request body (RSA PKCS#1 v1.5, ECDSA with SHA-256 on
//! every curve, Ed25519), all through aws-lc-rs.

use aws_lc_rs::signature::{self, ParsedPublicKey, VerificationAlgorithm};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The key algorithms devices may use, tried in this order when parsing.
static ALGORITHMS: [(&dyn VerificationAlgorithm, KeyKind); 5] = [
    (&signature::RSA_PKCS1_2048_8192_SHA256, KeyKind::Rsa),
    (&signature::ECDSA_P256_SHA256_ASN1, KeyKind::EcdsaP256),
    (&signature::ECDSA_P384_SHA256_ASN1, KeyKind::EcdsaP384),
    (&signature::ECDSA_P521_SHA256_ASN1, KeyKind::EcdsaP521),
    (&signature::ED25519, KeyKind::Ed25519),
];

/// The kind of a device key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA, 2048 to 8192 bits.
    Rsa,
    /// ECDSA on P-256.
    EcdsaP256,
    /// ECDSA on P-384.
    EcdsaP384,
    /// ECDSA on P-521.
    EcdsaP521,
    /// Ed25519.
    Ed25519,
}

/// Why a key or signature was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// Not a PEM `PUBLIC KEY` block.
    #[error("cannot decode public key")]
    Pem,
    /// A key type or size we do not accept.
    #[error("unsupported public key type")]
    Unsupported,
}

/// A parsed device public key.
pub struct DeviceKey {
    kind: KeyKind,
    key: ParsedPublicKey,
    der: Vec<u8>,
}

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceKey")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl DeviceKey {
    /// Parses a PEM block of type exactly `PUBLIC KEY` holding an RSA, ECDSA or Ed25519 key.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let (label, der) = mender_core::jwt::pem_decode(pem).ok_or(KeyError::Pem)?;
        if label != "PUBLIC KEY" {
            return Err(KeyError::Pem);
        }
        for (alg, kind) in ALGORITHMS.iter() {
            if let Ok(key) = ParsedPublicKey::new(*alg, &der) {
                return Ok(DeviceKey {
                    kind: *kind,
                    key,
                    der,
                });
            }
        }
        Err(KeyError::Unsupported)
    }

    /// The key's kind.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The normalised PEM: the SPKI re-encoded with 64-character lines and a trailing newline,
    /// so that differently wrapped copies of one key compare equal.
    pub fn normalized_pem(&self) -> String {
        mender_core::jwt::pem_encode("PUBLIC KEY", &self.der)
    }

    /// Checks a base64 `X-MEN-Signature` over the exact request body.
    pub fn verify(&self, signature_b64: &str, body: &[u8]) -> bool {
        let Ok(sig) = STANDARD.decode(signature_b64.trim()) else {
            return false;
        };
        self.key.verify_sig(body, &sig).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mender_testkit::DeviceKey as TestKey;

    #[test]
    fn every_key_kind_verifies_its_signature() {
        let keys = [
            (TestKey::rsa(2048), KeyKind::Rsa),
            (TestKey::ecdsa_p256(), KeyKind::EcdsaP256),
            (TestKey::ecdsa_p384(), KeyKind::EcdsaP384),
            (TestKey::ecdsa_p521(), KeyKind::EcdsaP521),
            (TestKey::ed25519(), KeyKind::Ed25519),
        ];
        for (k, kind) in keys {
            let pem = k.public_pem();
            let key = DeviceKey::from_pem(&pem).unwrap();
            assert_eq!(key.kind(), kind);
            assert_eq!(key.normalized_pem(), pem);
            let body = b"{\"id_data\":\"{}\"}\n";
            let sig = k.sign(body);
            assert!(key.verify(&sig, body), "{kind:?}");
            assert!(!key.verify(&sig, b"{\"id_data\":\"{ }\"}\n"), "{kind:?}");
            assert!(!key.verify("not base64!", body));
        }
    }

    #[test]
    fn normalises_and_refuses_bad_pem() {
        let k = TestKey::ed25519();
        let pem = k.public_pem();
        // Re-wrapped base64 and CRLF line ends normalise to the same PEM.
        let one_line: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let odd = format!("-----BEGIN PUBLIC KEY-----\r\n{one_line}\r\n-----END PUBLIC KEY-----");
        assert_eq!(DeviceKey::from_pem(&odd).unwrap().normalized_pem(), pem);
        assert_eq!(DeviceKey::from_pem("garbage").unwrap_err(), KeyError::Pem);
        let wrong_label = pem.replace("PUBLIC KEY", "RSA PUBLIC KEY");
        assert_eq!(
            DeviceKey::from_pem(&wrong_label).unwrap_err(),
            KeyError::Pem
        );
        // Layouts devices send in practice parse; a block whose labels differ does not.
        let (head, tail) = one_line.split_at(10);
        let layouts = [
            ("text around the block", format!("junk\n{pem}junk\n"), true),
            (
                "on one line",
                format!("-----BEGIN PUBLIC KEY-----{one_line}-----END PUBLIC KEY-----"),
                true,
            ),
            (
                "spaces in the base64",
                format!("-----BEGIN PUBLIC KEY-----\n {head} {tail} \n-----END PUBLIC KEY-----\n"),
                true,
            ),
            (
                "indented",
                pem.lines().map(|l| format!("  {l}\n")).collect(),
                true,
            ),
            (
                "labels differ",
                pem.replace("END PUBLIC KEY", "END RSA PUBLIC KEY"),
                false,
            ),
            ("escaped newlines", pem.replace('\n', "\\n"), false),
        ];
        for (name, text, parses) in layouts {
            match DeviceKey::from_pem(&text) {
                Ok(key) => {
                    assert!(parses, "{name} parsed");
                    assert_eq!(key.normalized_pem(), pem, "{name}");
                }
                Err(e) => {
                    assert!(!parses, "{name}: {e}");
                    assert_eq!(e, KeyError::Pem, "{name}");
                }
            }
        }
        let junk = mender_core::jwt::pem_encode("PUBLIC KEY", b"not a key");
        assert_eq!(
            DeviceKey::from_pem(&junk).unwrap_err(),
            KeyError::Unsupported
        );
    }
}
