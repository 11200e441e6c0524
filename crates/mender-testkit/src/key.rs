//! Device key pairs (RSA, ECDSA P-256/P-384/P-521, Ed25519) that sign auth requests the way
//! mender-client does: RSA PKCS#1 v1.5 and ECDSA over SHA-256 of the body, Ed25519 over the body.

use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// A device's private key.
pub enum DeviceKey {
    /// RSA of some size.
    Rsa(RsaKeyPair),
    /// ECDSA P-256 signing SHA-256.
    EcdsaP256(EcdsaKeyPair),
    /// ECDSA P-384; signs SHA-256 digests (see [`DeviceKey::sign`]).
    EcdsaP384(EcdsaKeyPair),
    /// ECDSA P-521 signing SHA-256.
    EcdsaP521(EcdsaKeyPair),
    /// Ed25519.
    Ed25519(Ed25519KeyPair),
}

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Key material is never printed.
        f.write_str(match self {
            DeviceKey::Rsa(_) => "DeviceKey::Rsa(..)",
            DeviceKey::EcdsaP256(_) => "DeviceKey::EcdsaP256(..)",
            DeviceKey::EcdsaP384(_) => "DeviceKey::EcdsaP384(..)",
            DeviceKey::EcdsaP521(_) => "DeviceKey::EcdsaP521(..)",
            DeviceKey::Ed25519(_) => "DeviceKey::Ed25519(..)",
        })
    }
}

impl DeviceKey {
    /// A new RSA key of `bits` (2048, 3072, 4096 or 8192).
    ///
    /// # Panics
    /// On another size or a key generation failure (this is test support).
    pub fn rsa(bits: usize) -> Self {
        let size = match bits {
            2048 => KeySize::Rsa2048,
            3072 => KeySize::Rsa3072,
            4096 => KeySize::Rsa4096,
            8192 => KeySize::Rsa8192,
            other => panic!("unsupported RSA size {other}"),
        };
        DeviceKey::Rsa(RsaKeyPair::generate(size).expect("RSA key generation"))
    }

    /// A new ECDSA P-256 key.
    pub fn ecdsa_p256() -> Self {
        DeviceKey::EcdsaP256(ec(&signature::ECDSA_P256_SHA256_ASN1_SIGNING))
    }

    /// A new ECDSA P-384 key.
    pub fn ecdsa_p384() -> Self {
        DeviceKey::EcdsaP384(ec(&signature::ECDSA_P384_SHA384_ASN1_SIGNING))
    }

    /// A new ECDSA P-521 key.
    pub fn ecdsa_p521() -> Self {
        DeviceKey::EcdsaP521(ec(&signature::ECDSA_P521_SHA256_ASN1_SIGNING))
    }

    /// A new Ed25519 key.
    pub fn ed25519() -> Self {
        DeviceKey::Ed25519(Ed25519KeyPair::generate().expect("Ed25519 key generation"))
    }

    /// The public key as PEM `PUBLIC KEY` (SPKI), 64-character lines, trailing newline.
    pub fn public_pem(&self) -> String {
        let der = match self {
            DeviceKey::Rsa(k) => k.public_key().as_der().expect("RSA SPKI").as_ref().to_vec(),
            DeviceKey::EcdsaP256(k) | DeviceKey::EcdsaP384(k) | DeviceKey::EcdsaP521(k) => {
                k.public_key().as_der().expect("EC SPKI").as_ref().to_vec()
            }
            DeviceKey::Ed25519(k) => k
                .public_key()
                .as_der()
                .expect("Ed25519 SPKI")
                .as_ref()
                .to_vec(),
        };
        pem("PUBLIC KEY", &der)
    }

    /// Signs `body` and returns the standard (padded) base64 signature for `X-MEN-Signature`.
    pub fn sign(&self, body: &[u8]) -> String {
        STANDARD.encode(self.sign_raw(body))
    }

    /// Signs `body` and returns the raw signature bytes.
    pub fn sign_raw(&self, body: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match self {
            DeviceKey::Rsa(k) => {
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(&signature::RSA_PKCS1_SHA256, &rng, body, &mut sig)
                    .expect("RSA sign");
                sig
            }
            DeviceKey::EcdsaP256(k) | DeviceKey::EcdsaP521(k) => {
                k.sign(&rng, body).expect("ECDSA sign").as_ref().to_vec()
            }
            DeviceKey::EcdsaP384(k) => {
                // Mender signs SHA-256 on every curve, and aws-lc-rs has no P-384/SHA-256
                // signer. ECDSA reads the digest as an integer, so a SHA-256 digest
                // left-padded with zeros to SHA-384's length is the same number.
                let sha256 = digest::digest(&digest::SHA256, body);
                let mut padded = vec![0u8; 16];
                padded.extend_from_slice(sha256.as_ref());
                let d = Digest::import_less_safe(&padded, &digest::SHA384).expect("digest length");
                k.sign_digest(&d).expect("ECDSA sign").as_ref().to_vec()
            }
            DeviceKey::Ed25519(k) => k.sign(body).as_ref().to_vec(),
        }
    }
}

fn ec(alg: &'static signature::EcdsaSigningAlgorithm) -> EcdsaKeyPair {
    EcdsaKeyPair::generate(alg).expect("EC key generation")
}

fn pem(label: &str, der: &[u8]) -> String {
    mender_core::jwt::pem_encode(label, der)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{ParsedPublicKey, VerificationAlgorithm};

    fn verifies(key: &DeviceKey, alg: &'static dyn VerificationAlgorithm) {
        let pem = key.public_pem();
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = STANDARD.decode(b64).unwrap();
        let parsed = ParsedPublicKey::new(alg, der).unwrap();
        let body = b"hello\n";
        assert!(
            parsed.verify_sig(body, &key.sign_raw(body)).is_ok(),
            "{key:?}"
        );
        assert!(
            parsed.verify_sig(b"hellO\n", &key.sign_raw(body)).is_err(),
            "{key:?}"
        );
    }

    #[test]
    fn signatures_verify_with_mender_algorithms() {
        verifies(
            &DeviceKey::rsa(2048),
            &signature::RSA_PKCS1_2048_8192_SHA256,
        );
        verifies(&DeviceKey::ecdsa_p256(), &signature::ECDSA_P256_SHA256_ASN1);
        verifies(&DeviceKey::ecdsa_p384(), &signature::ECDSA_P384_SHA256_ASN1);
        verifies(&DeviceKey::ecdsa_p521(), &signature::ECDSA_P521_SHA256_ASN1);
        verifies(&DeviceKey::ed25519(), &signature::ED25519);
        let pem = DeviceKey::ed25519().public_pem();
        assert!(
            pem.starts_with("-----BEGIN PUBLIC KEY-----\n")
                && pem.ends_with("-----END PUBLIC KEY-----\n")
        );
    }
}
