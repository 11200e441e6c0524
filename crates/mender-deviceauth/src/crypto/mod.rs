//! Device public keys as upstream accepts them: a PEM `PUBLIC KEY` (SPKI) block holding RSA of
//! any size, ECDSA on P-224, P-256, P-384 or P-521, or Ed25519; refused keys get upstream's
//! error texts. Keys are stored in upstream's normalised PEM form, and `X-MEN-Signature` is
//! verified over the raw auth request body: RSA PKCS#1 v1.5 over SHA-256 (1024 bits and more,
//! as Go 1.24 and later), ECDSA over SHA-256 on every curve with signatures read as leniently
//! as Go's `encoding/asn1`, Ed25519 over the body.
//!
//! aws-lc-rs verifies everything but P-224, which RustCrypto's `p224` verifies.

mod asn1;
mod spki;

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, ParsedPublicKey, VerificationAlgorithm};
use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use p224::ecdsa::signature::hazmat::PrehashVerifier;
use serde::Serialize;

use self::spki::{Curve, PublicKey, SpkiError};

/// Go's `base64.StdEncoding`: padding required, non-zero trailing bits tolerated.
const GO_STD_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// Smallest RSA key that signatures verify with (Go's `rsa1024min`, on by default since 1.24).
pub const RSA_MIN_VERIFY_BITS: u32 = 1024;

/// The kind of a device key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA, any size.
    Rsa,
    /// ECDSA on P-224.
    EcdsaP224,
    /// ECDSA on P-256.
    EcdsaP256,
    /// ECDSA on P-384.
    EcdsaP384,
    /// ECDSA on P-521.
    EcdsaP521,
    /// Ed25519.
    Ed25519,
}

impl KeyKind {
    /// The family name shown in the management API (`pubkey_type`).
    pub fn family(self) -> &'static str {
        match self {
            KeyKind::Rsa => "rsa",
            KeyKind::EcdsaP224 | KeyKind::EcdsaP256 | KeyKind::EcdsaP384 | KeyKind::EcdsaP521 => {
                "ecdsa"
            }
            KeyKind::Ed25519 => "ed25519",
        }
    }
}

/// A key's type and size, as the management API shows them next to the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    /// `rsa`, `ecdsa` or `ed25519`.
    #[serde(rename = "pubkey_type", serialize_with = "family")]
    pub kind: KeyKind,
    /// Modulus bits (RSA), curve bits (224, 256, 384 or 521), or 256 (Ed25519).
    #[serde(rename = "pubkey_bits")]
    pub bits: u32,
}

fn family<S: serde::Serializer>(kind: &KeyKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(kind.family())
}

impl KeyInfo {
    /// The type and size of a stored (normalised) PEM key; `None` if it does not parse.
    pub fn of_pem(pem: &str) -> Option<KeyInfo> {
        parse_pem(pem).ok().map(|key| info(&key))
    }
}

/// Why a key was refused; the texts are upstream's.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// No PEM block, or not of type `PUBLIC KEY`.
    #[error("cannot decode public key")]
    Pem,
    /// The DER inside does not parse (Go's x509 or asn1 text).
    #[error("cannot decode public key: {0}")]
    Decode(String),
    /// A key type upstream parses but does not store (DSA, X25519).
    #[error("unrecognized public key type")]
    Unrecognized,
    /// Weaker than the configured minimum (mender-rs only).
    #[error("public key too weak: {0}")]
    TooWeak(String),
}

/// The weakest device keys accepted (`0`: no minimum, as upstream).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyPolicy {
    /// Smallest RSA modulus, in bits.
    pub min_rsa_bits: u32,
    /// Smallest ECDSA curve, in bits (224, 256, 384 or 521).
    pub min_ecdsa_bits: u32,
}

impl KeyPolicy {
    /// `KeyError::TooWeak` if `info` is below the minimum for its family.
    pub fn check(&self, info: KeyInfo) -> Result<(), KeyError> {
        let (name, min) = match info.kind {
            KeyKind::Rsa => ("RSA", self.min_rsa_bits),
            KeyKind::Ed25519 => return Ok(()),
            _ => ("ECDSA", self.min_ecdsa_bits),
        };
        if info.bits < min {
            return Err(KeyError::TooWeak(format!(
                "{name} key of {} bits, the server requires at least {min}",
                info.bits
            )));
        }
        Ok(())
    }
}

/// How signatures are checked for one key.
enum Verifier {
    /// aws-lc-rs; `None` when it refuses the key (RSA under 1024 or over 8192 bits, a bad
    /// exponent, an invalid Ed25519 point), so that no signature verifies.
    Aws(Option<ParsedPublicKey>),
    /// RustCrypto's P-224.
    P224(Box<p224::ecdsa::VerifyingKey>),
}

/// A parsed device public key.
pub struct DeviceKey {
    info: KeyInfo,
    der: Vec<u8>,
    verifier: Verifier,
}

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceKey")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// The PEM block's DER, then the SPKI parsed as Go's `x509.ParsePKIXPublicKey` does.
fn parse_pem(pem: &str) -> Result<PublicKey, KeyError> {
    let (label, der) = mender_core::jwt::pem_decode(pem).ok_or(KeyError::Pem)?;
    if label != "PUBLIC KEY" {
        return Err(KeyError::Pem);
    }
    spki::parse(&der).map_err(|e| match e {
        SpkiError::Parse(m) => KeyError::Decode(m),
        SpkiError::Unrecognized => KeyError::Unrecognized,
    })
}

fn kind_of(curve: Curve) -> KeyKind {
    match curve {
        Curve::P224 => KeyKind::EcdsaP224,
        Curve::P256 => KeyKind::EcdsaP256,
        Curve::P384 => KeyKind::EcdsaP384,
        Curve::P521 => KeyKind::EcdsaP521,
    }
}

fn info(key: &PublicKey) -> KeyInfo {
    match key {
        PublicKey::Rsa { n, .. } => KeyInfo {
            kind: KeyKind::Rsa,
            bits: PublicKey::rsa_bits(n),
        },
        PublicKey::Ec { curve, .. } => KeyInfo {
            kind: kind_of(*curve),
            bits: curve.bits(),
        },
        PublicKey::Ed25519(_) => KeyInfo {
            kind: KeyKind::Ed25519,
            bits: 256,
        },
    }
}

impl DeviceKey {
    /// Parses a PEM `PUBLIC KEY` block as upstream does (leading text skipped, trailing data
    /// ignored) holding an RSA, ECDSA (P-224/256/384/521) or Ed25519 key.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let key = parse_pem(pem)?;
        let info = info(&key);
        let der = key.to_der();
        let verifier = match &key {
            PublicKey::Rsa { n, e } => {
                // Go refuses these at verification: under 1024 bits, an even modulus, or an
                // exponent that is even, below 2 or above 2^31-1.
                let usable = info.bits >= RSA_MIN_VERIFY_BITS
                    && n.last().is_some_and(|b| b & 1 == 1)
                    && *e >= 3
                    && e & 1 == 1
                    && *e <= i64::from(i32::MAX);
                let alg = &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY;
                Verifier::Aws(
                    usable
                        .then(|| ParsedPublicKey::new(alg, &der).ok())
                        .flatten(),
                )
            }
            PublicKey::Ec {
                curve: Curve::P224,
                point,
            } => Verifier::P224(Box::new(
                p224::ecdsa::VerifyingKey::from_sec1_bytes(point)
                    .map_err(|_| KeyError::Decode(Curve::P224.off_curve_error()))?,
            )),
            PublicKey::Ec { curve, .. } => {
                let alg: &'static dyn VerificationAlgorithm = match curve {
                    Curve::P256 => &signature::ECDSA_P256_SHA256_ASN1,
                    Curve::P384 => &signature::ECDSA_P384_SHA256_ASN1,
                    _ => &signature::ECDSA_P521_SHA256_ASN1,
                };
                let parsed = ParsedPublicKey::new(alg, &der)
                    .map_err(|_| KeyError::Decode(curve.off_curve_error()))?;
                Verifier::Aws(Some(parsed))
            }
            PublicKey::Ed25519(_) => {
                Verifier::Aws(ParsedPublicKey::new(&signature::ED25519, &der).ok())
            }
        };
        Ok(DeviceKey {
            info,
            der,
            verifier,
        })
    }

    /// The key's kind.
    pub fn kind(&self) -> KeyKind {
        self.info.kind
    }

    /// The key's type and size.
    pub fn info(&self) -> KeyInfo {
        self.info
    }

    /// The normalised PEM upstream stores: the SPKI re-encoded (Go's `MarshalPKIXPublicKey`)
    /// with 64-character lines and a trailing newline, so that differently wrapped or encoded
    /// copies of one key compare equal.
    pub fn normalized_pem(&self) -> String {
        mender_core::jwt::pem_encode("PUBLIC KEY", &self.der)
    }

    /// Checks a base64 `X-MEN-Signature` over the exact request body.
    pub fn verify(&self, signature_b64: &str, body: &[u8]) -> bool {
        // Go's decoder skips line breaks and nothing else.
        let cleaned: String = signature_b64
            .chars()
            .filter(|c| *c != '\r' && *c != '\n')
            .collect();
        let Ok(sig) = GO_STD_BASE64.decode(cleaned) else {
            return false;
        };
        match &self.verifier {
            Verifier::Aws(None) => false,
            Verifier::Aws(Some(key)) => match self.info.kind {
                KeyKind::Rsa | KeyKind::Ed25519 => key.verify_sig(body, &sig).is_ok(),
                _ => ecdsa_der(&sig).is_some_and(|der| key.verify_sig(body, &der).is_ok()),
            },
            Verifier::P224(key) => {
                let Some((r, s)) = ecdsa_scalars(&sig, 28) else {
                    return false;
                };
                let (Ok(r), Ok(s)) = (
                    p224::FieldBytes::try_from(r.as_slice()),
                    p224::FieldBytes::try_from(s.as_slice()),
                ) else {
                    return false;
                };
                let Ok(sig) = p224::ecdsa::Signature::from_scalars(r, s) else {
                    return false;
                };
                // The SHA-256 digest is truncated to the leftmost 224 bits, as Go does.
                let digest = digest::digest(&digest::SHA256, body);
                key.verify_prehash(digest.as_ref(), &sig).is_ok()
            }
        }
    }
}

/// Reads an ECDSA signature as upstream does (`encoding/asn1` into two big integers: the outer
/// SEQUENCE, two minimal INTEGERs, anything after them ignored) and returns `r` and `s` as
/// positive magnitudes without leading zeros; `None` if either is not positive.
fn ecdsa_parts(sig: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut seq = asn1::Reader::new(sig).sequence("").ok()?;
    let r = seq.big_int().ok()?;
    let s = seq.big_int().ok()?;
    Some((positive(r)?, positive(s)?))
}

/// The magnitude of a positive two's complement integer without leading zeros.
fn positive(v: &[u8]) -> Option<&[u8]> {
    if v.first().is_none_or(|b| b & 0x80 != 0) {
        return None;
    }
    let start = v.iter().take_while(|b| **b == 0).count();
    (start < v.len()).then(|| &v[start..])
}

/// The signature re-encoded as strict DER for aws-lc-rs.
fn ecdsa_der(sig: &[u8]) -> Option<Vec<u8>> {
    let (r, s) = ecdsa_parts(sig)?;
    Some(asn1::encode(
        0x30,
        &[asn1::encode_unsigned(r), asn1::encode_unsigned(s)].concat(),
    ))
}

/// `r` and `s` left-padded to `len` bytes; `None` if longer (then they exceed the order).
fn ecdsa_scalars(sig: &[u8], len: usize) -> Option<(Vec<u8>, Vec<u8>)> {
    let (r, s) = ecdsa_parts(sig)?;
    let pad = |v: &[u8]| {
        (v.len() <= len).then(|| {
            let mut out = vec![0; len - v.len()];
            out.extend_from_slice(v);
            out
        })
    };
    Some((pad(r)?, pad(s)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use mender_testkit::DeviceKey as TestKey;

    fn all_keys() -> Vec<(TestKey, KeyKind, u32)> {
        vec![
            (TestKey::rsa(1024), KeyKind::Rsa, 1024),
            (TestKey::rsa(2048), KeyKind::Rsa, 2048),
            (TestKey::ecdsa_p224(), KeyKind::EcdsaP224, 224),
            (TestKey::ecdsa_p256(), KeyKind::EcdsaP256, 256),
            (TestKey::ecdsa_p384(), KeyKind::EcdsaP384, 384),
            (TestKey::ecdsa_p521(), KeyKind::EcdsaP521, 521),
            (TestKey::ed25519(), KeyKind::Ed25519, 256),
        ]
    }

    #[test]
    fn every_key_kind_verifies_its_signature() {
        for (k, kind, bits) in all_keys() {
            let pem = k.public_pem();
            let key = DeviceKey::from_pem(&pem).unwrap();
            assert_eq!(key.kind(), kind);
            assert_eq!(key.info().bits, bits, "{kind:?}");
            assert_eq!(KeyInfo::of_pem(&pem), Some(key.info()));
            assert_eq!(key.normalized_pem(), pem);
            let body = b"{\"id_data\":\"{}\"}\n";
            let sig = k.sign(body);
            assert!(key.verify(&sig, body), "{kind:?}");
            assert!(!key.verify(&sig, b"{\"id_data\":\"{ }\"}\n"), "{kind:?}");
            assert!(!key.verify("not base64!", body));
            // Line breaks inside the base64 are skipped, as Go's decoder does.
            let (a, b) = sig.split_at(8);
            assert!(key.verify(&format!("{a}\r\n{b}"), body), "{kind:?}");
        }
    }

    #[test]
    fn rsa_under_1024_bits_is_stored_but_never_verifies() {
        let k = TestKey::rsa(512);
        let key = DeviceKey::from_pem(&k.public_pem()).unwrap();
        assert_eq!(key.info().bits, 512);
        let body = b"{}";
        assert!(!key.verify(&k.sign(body), body));
    }

    #[test]
    fn ecdsa_signatures_are_read_like_go() {
        let body = b"{\"id_data\":\"{}\"}";
        for k in [
            TestKey::ecdsa_p224(),
            TestKey::ecdsa_p256(),
            TestKey::ecdsa_p521(),
        ] {
            let key = DeviceKey::from_pem(&k.public_pem()).unwrap();
            let der = k.sign_raw(body);
            let b64 = |v: &[u8]| STANDARD.encode(v);
            assert!(key.verify(&b64(&der), body));
            // Bytes after the SEQUENCE are ignored.
            assert!(key.verify(&b64(&[der.clone(), vec![0, 1, 2]].concat()), body));
            // So is an extra element inside it.
            let (r, s) = ecdsa_parts(&der).unwrap();
            let with_extra = asn1::encode(
                0x30,
                &[
                    asn1::encode_unsigned(r),
                    asn1::encode_unsigned(s),
                    asn1::encode(0x05, &[]),
                ]
                .concat(),
            );
            assert!(key.verify(&b64(&with_extra), body));
            // A non-minimal INTEGER is refused, and so is raw r||s.
            let mut padded_r = vec![0, 0];
            padded_r.extend_from_slice(r);
            let non_minimal = asn1::encode(
                0x30,
                &[asn1::encode(0x02, &padded_r), asn1::encode_unsigned(s)].concat(),
            );
            assert!(!key.verify(&b64(&non_minimal), body));
            let raw = [r, s].concat();
            assert!(!key.verify(&b64(&raw), body));
            // Negative or zero scalars never verify.
            let zero = asn1::encode(
                0x30,
                &[asn1::encode(0x02, &[0]), asn1::encode_unsigned(s)].concat(),
            );
            assert!(!key.verify(&b64(&zero), body));
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
        let err = DeviceKey::from_pem(&junk).unwrap_err().to_string();
        assert!(
            err.starts_with("cannot decode public key: asn1: structure error: tags don't match"),
            "{err}"
        );
    }

    #[test]
    fn off_curve_points_are_refused_with_go_texts() {
        for (k, name) in [
            (TestKey::ecdsa_p224(), "P224"),
            (TestKey::ecdsa_p256(), "P256"),
            (TestKey::ecdsa_p384(), "P384"),
        ] {
            let pem = k.public_pem();
            let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
            let mut der = STANDARD.decode(b64).unwrap();
            let last = der.len() - 1;
            der[last] ^= 1;
            let bad = mender_core::jwt::pem_encode("PUBLIC KEY", &der);
            assert_eq!(
                DeviceKey::from_pem(&bad).unwrap_err().to_string(),
                format!("cannot decode public key: {name} point not on curve")
            );
        }
    }

    #[test]
    fn policy_refuses_weak_keys_only() {
        let policy = KeyPolicy {
            min_rsa_bits: 2048,
            min_ecdsa_bits: 256,
        };
        for (k, kind, bits) in all_keys() {
            let info = DeviceKey::from_pem(&k.public_pem()).unwrap().info();
            let weak = matches!((kind, bits), (KeyKind::Rsa, 1024) | (KeyKind::EcdsaP224, _));
            assert_eq!(policy.check(info).is_err(), weak, "{kind:?} {bits}");
        }
        let info = KeyInfo {
            kind: KeyKind::Rsa,
            bits: 1024,
        };
        assert_eq!(
            policy.check(info).unwrap_err().to_string(),
            "public key too weak: RSA key of 1024 bits, the server requires at least 2048"
        );
        assert!(KeyPolicy::default().check(info).is_ok());
        assert_eq!(
            serde_json::to_value(info).unwrap(),
            serde_json::json!({"pubkey_type": "rsa", "pubkey_bits": 1024})
        );
    }
}
