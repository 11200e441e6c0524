//! JSON Web Tokens signed with RS256 or EdDSA through aws-lc-rs, with upstream's header
//! conventions (a numeric `kid` on user tokens, none on device tokens).
//!
//! Verification accepts only the algorithm of the key it checks against, so `alg: none`
//! and algorithm-confusion tokens are refused before any signature work.

use std::collections::BTreeMap;
use std::path::Path;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, Ed25519KeyPair, KeyPair, RsaKeyPair, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::Value;

use crate::Timestamp;

/// Why a token was refused or a key could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    /// Not three base64url parts of JSON.
    #[error("malformed token")]
    Malformed,
    /// The header names an algorithm other than the key's (including `none`).
    #[error("unsupported token algorithm")]
    Algorithm,
    /// The `kid` names no key we hold.
    #[error("unknown token key id")]
    UnknownKey,
    /// The signature does not match.
    #[error("token signature is invalid")]
    Signature,
    /// `exp` is in the past.
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future.
    #[error("token is not valid yet")]
    NotYetValid,
    /// A key file could not be read or parsed.
    #[error("invalid key: {0}")]
    Key(String),
}

/// A private key that signs tokens.
pub enum SigningKey {
    /// RSA, signing RS256.
    Rsa(RsaKeyPair),
    /// Ed25519, signing EdDSA.
    Ed25519(Ed25519KeyPair),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.write_str(match self {
            SigningKey::Rsa(_) => "SigningKey::Rsa(..)",
            SigningKey::Ed25519(_) => "SigningKey::Ed25519(..)",
        })
    }
}

impl SigningKey {
    /// Parses a PEM private key: `RSA PRIVATE KEY` (PKCS#1) or `PRIVATE KEY` (PKCS#8, RSA or Ed25519).
    pub fn from_pem(pem: &str) -> Result<Self, JwtError> {
        let (label, der) = pem_decode(pem).ok_or_else(|| JwtError::Key("not a PEM file".into()))?;
        match label.as_str() {
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der)
                .map(SigningKey::Rsa)
                .map_err(|e| JwtError::Key(e.to_string())),
            "PRIVATE KEY" => {
                if let Ok(k) = RsaKeyPair::from_pkcs8(&der) {
                    return Ok(SigningKey::Rsa(k));
                }
                Ed25519KeyPair::from_pkcs8(&der)
                    .map(SigningKey::Ed25519)
                    .map_err(|e| JwtError::Key(e.to_string()))
            }
            other => Err(JwtError::Key(format!("unsupported PEM block {other:?}"))),
        }
    }

    /// Reads a PEM private key from a file.
    pub fn from_file(path: &Path) -> Result<Self, JwtError> {
        let pem = std::fs::read_to_string(path)
            .map_err(|e| JwtError::Key(format!("{}: {e}", path.display())))?;
        Self::from_pem(&pem).map_err(|e| JwtError::Key(format!("{}: {e}", path.display())))
    }

    /// Generates a new RSA 3072 key and returns it with its PKCS#8 PEM encoding.
    pub fn generate_rsa() -> Result<(Self, String), JwtError> {
        let key = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa3072)
            .map_err(|e| JwtError::Key(e.to_string()))?;
        let der = key.as_der().map_err(|e| JwtError::Key(e.to_string()))?;
        let pem = pem_encode("PRIVATE KEY", der.as_ref());
        Ok((Self::Rsa(key), pem))
    }

    /// The JWS `alg` this key signs with.
    pub fn alg(&self) -> &'static str {
        match self {
            SigningKey::Rsa(_) => "RS256",
            SigningKey::Ed25519(_) => "EdDSA",
        }
    }

    /// The public half, for verification.
    pub fn verifying_key(&self) -> VerifyingKey {
        match self {
            SigningKey::Rsa(k) => VerifyingKey::Rsa(k.public_key().as_ref().to_vec()),
            SigningKey::Ed25519(k) => VerifyingKey::Ed25519(k.public_key().as_ref().to_vec()),
        }
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, JwtError> {
        match self {
            SigningKey::Rsa(k) => {
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    msg,
                    &mut sig,
                )
                .map_err(|e| JwtError::Key(e.to_string()))?;
                Ok(sig)
            }
            SigningKey::Ed25519(k) => Ok(k.sign(msg).as_ref().to_vec()),
        }
    }

    /// Signs `claims` into a compact JWT; `kid` goes into the header as a JSON integer.
    pub fn encode(&self, kid: Option<i64>, claims: &impl Serialize) -> Result<String, JwtError> {
        let mut header = serde_json::Map::new();
        header.insert("alg".into(), Value::from(self.alg()));
        if let Some(kid) = kid {
            header.insert("kid".into(), Value::from(kid));
        }
        header.insert("typ".into(), Value::from("JWT"));
        let h =
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).map_err(|_| JwtError::Malformed)?);
        let c =
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).map_err(|_| JwtError::Malformed)?);
        let signing_input = format!("{h}.{c}");
        let sig = self.sign(signing_input.as_bytes())?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }
}

/// A public key that verifies tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyingKey {
    /// RSA public key (PKCS#1 DER).
    Rsa(Vec<u8>),
    /// Ed25519 public key (32 bytes).
    Ed25519(Vec<u8>),
}

impl VerifyingKey {
    fn alg(&self) -> &'static str {
        match self {
            VerifyingKey::Rsa(_) => "RS256",
            VerifyingKey::Ed25519(_) => "EdDSA",
        }
    }

    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        match self {
            VerifyingKey::Rsa(der) => {
                UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, der)
                    .verify(msg, sig)
                    .is_ok()
            }
            VerifyingKey::Ed25519(raw) => UnparsedPublicKey::new(&signature::ED25519, raw)
                .verify(msg, sig)
                .is_ok(),
        }
    }
}

/// The parts of a token that can be read without checking it.
#[derive(Debug, Clone)]
pub struct Unverified {
    /// The decoded header.
    pub header: Value,
    /// The decoded claims.
    pub claims: Value,
}

/// Splits and decodes a token without checking its signature (what upstream services do
/// behind the gateway). Only use the result for routing decisions, never to grant access.
pub fn decode_unverified(token: &str) -> Result<Unverified, JwtError> {
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let header = decode_part(h)?;
    let claims = decode_part(c)?;
    if !header.is_object() || !claims.is_object() {
        return Err(JwtError::Malformed);
    }
    Ok(Unverified { header, claims })
}

fn decode_part(part: &str) -> Result<Value, JwtError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| JwtError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)
}

/// A set of verifying keys indexed by `kid`; tokens without `kid` use key 0.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: BTreeMap<i64, VerifyingKey>,
}

impl KeySet {
    /// A set holding one key under id 0.
    pub fn single(key: VerifyingKey) -> Self {
        let mut s = Self::default();
        s.insert(0, key);
        s
    }

    /// Adds a key.
    pub fn insert(&mut self, kid: i64, key: VerifyingKey) {
        self.keys.insert(kid, key);
    }

    /// Checks the signature, the algorithm, `exp` and `nbf` (at `now`, without leeway), and
    /// returns the claims.
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<Value, JwtError> {
        let now = now.unix_secs();
        let unverified = decode_unverified(token)?;
        let kid = match unverified.header.get("kid") {
            None | Some(Value::Null) => 0,
            Some(Value::Number(n)) => n.as_i64().ok_or(JwtError::UnknownKey)?,
            Some(Value::String(s)) => s.parse().map_err(|_| JwtError::UnknownKey)?,
            Some(_) => return Err(JwtError::Malformed),
        };
        let key = self.keys.get(&kid).ok_or(JwtError::UnknownKey)?;
        let alg = unverified
            .header
            .get("alg")
            .and_then(Value::as_str)
            .unwrap_or("");
        if alg != key.alg() {
            return Err(JwtError::Algorithm);
        }
        let (signing_input, sig) = token.rsplit_once('.').ok_or(JwtError::Malformed)?;
        let sig = URL_SAFE_NO_PAD
            .decode(sig)
            .map_err(|_| JwtError::Malformed)?;
        if !key.verify(signing_input.as_bytes(), &sig) {
            return Err(JwtError::Signature);
        }
        let claims = unverified.claims;
        if let Some(exp) = numeric_date(&claims, "exp")?
            && exp <= now
        {
            return Err(JwtError::Expired);
        }
        if let Some(nbf) = numeric_date(&claims, "nbf")?
            && nbf > now
        {
            return Err(JwtError::NotYetValid);
        }
        Ok(claims)
    }
}

/// A NumericDate claim in whole seconds: `None` when absent or `null`, an error when not a number.
fn numeric_date(claims: &Value, name: &str) -> Result<Option<i64>, JwtError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            // Saturating float-to-int: a date beyond i64 is simply very far away.
            .map(|f| Some(f as i64))
            .ok_or(JwtError::Malformed),
    }
}

/// Decodes the first PEM block: its label and DER bytes. `None` for anything that is not a
/// well-formed PEM block (including ones whose begin and end labels differ).
pub fn pem_decode(text: &str) -> Option<(String, Vec<u8>)> {
    let block = pem::parse(text).ok()?;
    Some((block.tag().to_owned(), block.into_contents()))
}

/// Encodes DER bytes as PEM with 64-character lines, `\n` line ends and a trailing newline.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new(label, der),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secs(s: i64) -> Timestamp {
        Timestamp::from_unix_secs(s)
    }

    fn rsa() -> SigningKey {
        SigningKey::generate_rsa().unwrap().0
    }

    /// The key set of `key` alone, without a key id.
    fn only(key: &SigningKey) -> KeySet {
        KeySet::single(key.verifying_key())
    }

    #[test]
    fn roundtrip_with_numeric_kid() {
        let key = rsa();
        let token = key
            .encode(Some(3), &json!({"sub": "u", "exp": 2_000_000_000}))
            .unwrap();
        let u = decode_unverified(&token).unwrap();
        assert_eq!(u.header["kid"], json!(3));
        assert_eq!(u.header["alg"], json!("RS256"));
        let mut set = KeySet::default();
        set.insert(3, key.verifying_key());
        assert_eq!(set.verify(&token, secs(1_000)).unwrap()["sub"], "u");
        assert_eq!(
            only(&key).verify(&token, secs(1_000)),
            Err(JwtError::UnknownKey)
        );
    }

    #[test]
    fn refuses_expired_forged_and_none() {
        let key = rsa();
        let other = rsa();
        let set = only(&key);
        let t = key.encode(None, &json!({"exp": 100})).unwrap();
        assert_eq!(set.verify(&t, secs(100)), Err(JwtError::Expired));
        assert!(set.verify(&t, secs(99)).is_ok());
        let forged = other.encode(None, &json!({"sub": "x"})).unwrap();
        assert_eq!(set.verify(&forged, secs(0)), Err(JwtError::Signature));
        let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let c = URL_SAFE_NO_PAD.encode(br#"{"sub":"x"}"#);
        assert_eq!(
            set.verify(&format!("{h}.{c}."), secs(0)),
            Err(JwtError::Algorithm)
        );
        // Swapping the claims of a valid token breaks the signature.
        let good = key.encode(None, &json!({"sub": "a"})).unwrap();
        let parts: Vec<&str> = good.split('.').collect();
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(br#"{"sub":"b"}"#),
            parts[2]
        );
        assert_eq!(set.verify(&tampered, secs(0)), Err(JwtError::Signature));
        assert_eq!(set.verify("a.b", secs(0)), Err(JwtError::Malformed));
        assert_eq!(set.verify("", secs(0)), Err(JwtError::Malformed));
    }

    #[test]
    fn pem_roundtrip_and_ed25519() {
        let (_, pem) = SigningKey::generate_rsa().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        let key = SigningKey::from_pem(&pem).unwrap();
        assert_eq!(key.alg(), "RS256");
        let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let ed = SigningKey::from_pem(&pem_encode("PRIVATE KEY", doc.as_ref())).unwrap();
        assert_eq!(ed.alg(), "EdDSA");
        let t = ed.encode(None, &json!({"sub": "d"})).unwrap();
        assert_eq!(only(&ed).verify(&t, secs(0)).unwrap()["sub"], "d");
        // An RS256 key set refuses an EdDSA token outright.
        assert_eq!(only(&key).verify(&t, secs(0)), Err(JwtError::Algorithm));
    }

    #[test]
    fn not_before_is_checked() {
        let key = rsa();
        let set = only(&key);
        let t = key.encode(None, &json!({"sub": "a", "nbf": 500})).unwrap();
        assert_eq!(set.verify(&t, secs(499)), Err(JwtError::NotYetValid));
        assert!(set.verify(&t, secs(500)).is_ok());
        let bad = key
            .encode(None, &json!({"sub": "a", "nbf": "soon"}))
            .unwrap();
        assert_eq!(set.verify(&bad, secs(0)), Err(JwtError::Malformed));
    }

    #[test]
    fn hostile_pem_is_refused_not_a_panic() {
        for text in [
            "-----BEGIN -----END -----",
            "-----BEGIN X-----",
            "-----BEGIN X-----\n!!!\n-----END X-----",
            "-----BEGIN X-----\nAAAA\n-----END Y-----",
            "",
            "-----END X----------BEGIN X-----",
        ] {
            assert_eq!(pem_decode(text), None, "{text:?}");
        }
        let enc = pem_encode("PUBLIC KEY", &[1, 2, 3]);
        assert_eq!(
            enc,
            "-----BEGIN PUBLIC KEY-----\nAQID\n-----END PUBLIC KEY-----\n"
        );
        assert_eq!(
            pem_decode(&format!("junk\n{enc}")),
            Some(("PUBLIC KEY".into(), vec![1, 2, 3]))
        );
    }
}
