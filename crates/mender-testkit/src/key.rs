//! Device key pairs (RSA, ECDSA P-224/P-256/P-384/P-521, Ed25519) that sign auth requests the
//! way mender-client does: RSA PKCS#1 v1.5 and ECDSA over SHA-256 of the body, Ed25519 over the
//! body.
//!
//! aws-lc-rs generates and signs with RSA keys of 2048 bits and more only, and has no P-224.
//! Fleets that move from upstream bring such keys, so the kit has them too: RSA-1024 and
//! RSA-512 are fixed test keys signed with a plain modular exponentiation (crypto-bigint,
//! which `p224` brings along), P-224 keys come from RustCrypto's `p224`.

use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use p224::ecdsa::signature::hazmat::PrehashSigner;
use p224::elliptic_curve::bigint::modular::{FixedMontyForm, FixedMontyParams};
use p224::elliptic_curve::bigint::{Odd, U1024};

/// A device's private key.
pub enum DeviceKey {
    /// RSA of some size.
    Rsa(RsaKeyPair),
    /// One of the fixed RSA test keys under 2048 bits (see [`DeviceKey::rsa`]).
    RsaFixed(&'static FixedRsaKey),
    /// ECDSA P-224 signing SHA-256 (the digest is truncated to 224 bits, as ECDSA does).
    EcdsaP224(p224::ecdsa::SigningKey),
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
            DeviceKey::RsaFixed(k) => k.name,
            DeviceKey::EcdsaP224(_) => "DeviceKey::EcdsaP224(..)",
            DeviceKey::EcdsaP256(_) => "DeviceKey::EcdsaP256(..)",
            DeviceKey::EcdsaP384(_) => "DeviceKey::EcdsaP384(..)",
            DeviceKey::EcdsaP521(_) => "DeviceKey::EcdsaP521(..)",
            DeviceKey::Ed25519(_) => "DeviceKey::Ed25519(..)",
        })
    }
}

impl DeviceKey {
    /// An RSA key of `bits`: a new key of 2048, 3072, 4096 or 8192 bits, or the fixed test
    /// key of 1024 or 512 bits (the same key on every call: give each device its own identity).
    ///
    /// # Panics
    /// On another size or a key generation failure (this is test support).
    pub fn rsa(bits: usize) -> Self {
        let size = match bits {
            512 => return DeviceKey::RsaFixed(&RSA_512),
            1024 => return DeviceKey::RsaFixed(&RSA_1024),
            2048 => KeySize::Rsa2048,
            3072 => KeySize::Rsa3072,
            4096 => KeySize::Rsa4096,
            8192 => KeySize::Rsa8192,
            other => panic!("unsupported RSA size {other}"),
        };
        DeviceKey::Rsa(RsaKeyPair::generate(size).expect("RSA key generation"))
    }

    /// A new ECDSA P-224 key.
    ///
    /// # Panics
    /// If the system random generator fails (this is test support).
    pub fn ecdsa_p224() -> Self {
        loop {
            let mut secret = [0u8; 28];
            aws_lc_rs::rand::fill(&mut secret).expect("random bytes");
            // A value of zero or at least the group order is refused: draw again.
            if let Ok(k) = p224::ecdsa::SigningKey::from_slice(&secret) {
                return DeviceKey::EcdsaP224(k);
            }
        }
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
            DeviceKey::RsaFixed(k) => k.spki(),
            DeviceKey::EcdsaP224(k) => {
                let point = k.verifying_key().to_sec1_point(false);
                spki(&[OID_EC_PUBLIC_KEY, OID_P224].concat(), point.as_bytes())
            }
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
            DeviceKey::RsaFixed(k) => k.sign(body),
            DeviceKey::EcdsaP224(k) => {
                let sha256 = digest::digest(&digest::SHA256, body);
                let sig: p224::ecdsa::Signature =
                    k.sign_prehash(sha256.as_ref()).expect("ECDSA sign");
                sig.to_der().as_bytes().to_vec()
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

/// A fixed RSA test key (public exponent 65537), for sizes aws-lc-rs cannot generate.
pub struct FixedRsaKey {
    name: &'static str,
    /// Modulus, big-endian hex.
    n: &'static str,
    /// Private exponent, big-endian hex.
    d: &'static str,
}

/// The 1024-bit test key.
static RSA_1024: FixedRsaKey = FixedRsaKey {
    name: "DeviceKey::RsaFixed(1024)",
    n: "d6d9eb498c26bdf251baada8c4143fe2a82cca4fa0c5686c3831f0002dffd79bed1d59b30cf5c844823e7120e27959dda64fd6b157e0c7cc32a061552160dc0dae87c8ca6b0577aefb063dc0a9199c3124c16687b0b742c6ca7fe0ded4f14dcc955908e4ab93ee2711ff6ba24bf8a4ab20abd0e05a577f3e313618560654f94d",
    d: "5c5eb4599a77cd9230b121983d34b782aaeb16cfc53f19f5ecf30b4c087ac627b379bae6cfdb9b8e58b09fd2938bb8a722a990940e4405a234e1def6cab2e9e7eddec4734097239a39a7c9b2596423c62550f851fd0f3d7da9e92653ed66670f36aa39744529693ed02fcc5cec15bc3c5d0a490352db7b5a8574481d295645c1",
};

/// The 512-bit test key: upstream stores such keys, but no signature made with them verifies.
static RSA_512: FixedRsaKey = FixedRsaKey {
    name: "DeviceKey::RsaFixed(512)",
    n: "d12e95139a28d643b5b37ee86c7e41b64bd664adf9c5b2acea68c27d8f3bcb9bbca336f262bd770d953f3df341eccea548bb8224855bbc9a5983894125e024c5",
    d: "c4209fe7d427abd5aa5c9485c98b8b832791e9adf13d3aacc3cfdb632c53cd2f12edcbdfb3080a95816bb2069a2e755d9e071fc30d4478e095a6989c03381035",
};

/// DER of `DigestInfo { sha256, NULL }` with the 32-byte digest's OCTET STRING header.
const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

impl FixedRsaKey {
    fn modulus(&self) -> Vec<u8> {
        from_hex(self.n)
    }

    fn spki(&self) -> Vec<u8> {
        let mut n = self.modulus();
        if n[0] & 0x80 != 0 {
            n.insert(0, 0);
        }
        let key = der(0x30, &[der(0x02, &n), der(0x02, &[1, 0, 1])].concat());
        spki(&[OID_RSA_ENCRYPTION, &[0x05, 0x00]].concat(), &key)
    }

    /// PKCS#1 v1.5 over SHA-256: the encoded digest raised to `d` modulo `n`.
    fn sign(&self, body: &[u8]) -> Vec<u8> {
        let n = self.modulus();
        let k = n.len();
        let mut em = vec![0x00, 0x01];
        em.resize(k - SHA256_DIGEST_INFO.len() - 32 - 1, 0xff);
        em.push(0x00);
        em.extend_from_slice(&SHA256_DIGEST_INFO);
        em.extend_from_slice(digest::digest(&digest::SHA256, body).as_ref());
        let wide = |b: &[u8]| {
            let mut out = vec![0u8; 128 - b.len()];
            out.extend_from_slice(b);
            U1024::from_be_slice(&out)
        };
        let modulus = Odd::new(wide(&n)).into_option().expect("odd modulus");
        let params = FixedMontyParams::new_vartime(modulus);
        let s = FixedMontyForm::new(&wide(&em), &params)
            .pow(&wide(&from_hex(self.d)))
            .retrieve()
            .to_be_bytes();
        s.as_ref()[128 - k..].to_vec()
    }
}

/// rsaEncryption.
const OID_RSA_ENCRYPTION: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
];
/// id-ecPublicKey.
const OID_EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// secp224r1.
const OID_P224: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x21];

/// A DER element with a short or long length (for tests that build keys by hand).
pub fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(content);
    out
}

/// SubjectPublicKeyInfo from the algorithm identifier's contents and the key bits.
fn spki(algorithm: &[u8], key: &[u8]) -> Vec<u8> {
    let bits = [&[0u8][..], key].concat();
    der(0x30, &[der(0x30, algorithm), der(0x03, &bits)].concat())
}

/// A `PUBLIC KEY` PEM of a SubjectPublicKeyInfo from its algorithm identifier's contents and
/// its key bits.
pub fn spki_pem(algorithm: &[u8], key: &[u8]) -> String {
    pem("PUBLIC KEY", &spki(algorithm, key))
}

fn from_hex(s: &str) -> Vec<u8> {
    s.as_bytes()
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).expect("hex"), 16).expect("hex"))
        .collect()
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
        verifies(
            &DeviceKey::rsa(1024),
            &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
        );
        let pem = DeviceKey::ed25519().public_pem();
        assert!(
            pem.starts_with("-----BEGIN PUBLIC KEY-----\n")
                && pem.ends_with("-----END PUBLIC KEY-----\n")
        );
    }

    #[test]
    fn p224_signs_the_sha256_digest() {
        use p224::ecdsa::signature::hazmat::PrehashVerifier;
        let key = DeviceKey::ecdsa_p224();
        let pem = key.public_pem();
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = STANDARD.decode(b64).unwrap();
        // SPKI header of a P-224 key, then the 57-byte uncompressed point.
        assert_eq!(der.len(), 80);
        assert_eq!(
            &der[..23],
            &[
                0x30, 0x4e, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
                0x05, 0x2b, 0x81, 0x04, 0x00, 0x21, 0x03, 0x3a, 0x00
            ]
        );
        let vk = p224::ecdsa::VerifyingKey::from_sec1_bytes(&der[23..]).unwrap();
        let body = b"hello\n";
        let sig = p224::ecdsa::Signature::from_der(&key.sign_raw(body)).unwrap();
        let sha = digest::digest(&digest::SHA256, body);
        assert!(vk.verify_prehash(sha.as_ref(), &sig).is_ok());
        let other = digest::digest(&digest::SHA256, b"hellO\n");
        assert!(vk.verify_prehash(other.as_ref(), &sig).is_err());
    }

    #[test]
    fn rsa_512_signature_is_valid_pkcs1() {
        // Checked by hand (s^e mod n), since no library verifies with a 512-bit key.
        let key = DeviceKey::rsa(512);
        let body = b"hello\n";
        let sig = key.sign_raw(body);
        assert_eq!(sig.len(), 64);
        let wide = |b: &[u8]| {
            let mut out = vec![0u8; 128 - b.len()];
            out.extend_from_slice(b);
            U1024::from_be_slice(&out)
        };
        let n = RSA_512.modulus();
        let params = FixedMontyParams::new_vartime(Odd::new(wide(&n)).unwrap());
        let e = wide(&[1, 0, 1]);
        let em = FixedMontyForm::new(&wide(&sig), &params)
            .pow(&e)
            .retrieve()
            .to_be_bytes();
        let em = &em.as_ref()[64..];
        assert_eq!(&em[..2], &[0, 1]);
        assert_eq!(&em[64 - 51..64 - 32], &SHA256_DIGEST_INFO);
        assert_eq!(
            &em[64 - 32..],
            digest::digest(&digest::SHA256, body).as_ref()
        );
        assert!(key.public_pem().starts_with("-----BEGIN PUBLIC KEY-----\n"));
    }
}
