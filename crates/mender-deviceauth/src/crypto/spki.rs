//! SubjectPublicKeyInfo: parsing as upstream's Go does (`x509.ParsePKIXPublicKey`, with its
//! error texts), and the re-encoding upstream stores (`x509.MarshalPKIXPublicKey`).

use super::asn1::{self, Reader};

/// rsaEncryption.
const RSA: &[u32] = &[1, 2, 840, 113_549, 1, 1, 1];
/// id-ecPublicKey.
const EC: &[u32] = &[1, 2, 840, 10045, 2, 1];
/// id-Ed25519.
const ED25519: &[u32] = &[1, 3, 101, 112];
/// id-X25519.
const X25519: &[u32] = &[1, 3, 101, 110];
/// id-dsa.
const DSA: &[u32] = &[1, 2, 840, 10040, 4, 1];

/// DER of the OIDs the re-encoding writes.
const RSA_DER: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
];
const EC_DER: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const ED25519_DER: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
/// ASN.1 NULL, the parameters of an RSA key.
const NULL: &[u8] = &[0x05, 0x00];

/// A NIST curve Go's x509 knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    /// secp224r1.
    P224,
    /// prime256v1.
    P256,
    /// secp384r1.
    P384,
    /// secp521r1.
    P521,
}

impl Curve {
    const ALL: [Curve; 4] = [Curve::P224, Curve::P256, Curve::P384, Curve::P521];

    fn oid(self) -> &'static [u32] {
        match self {
            Curve::P224 => &[1, 3, 132, 0, 33],
            Curve::P256 => &[1, 2, 840, 10045, 3, 1, 7],
            Curve::P384 => &[1, 3, 132, 0, 34],
            Curve::P521 => &[1, 3, 132, 0, 35],
        }
    }

    fn oid_der(self) -> &'static [u8] {
        match self {
            Curve::P224 => &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x21],
            Curve::P256 => &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
            Curve::P384 => &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22],
            Curve::P521 => &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23],
        }
    }

    /// Bits of the field (and of the group order): the curve's size.
    pub fn bits(self) -> u32 {
        match self {
            Curve::P224 => 224,
            Curve::P256 => 256,
            Curve::P384 => 384,
            Curve::P521 => 521,
        }
    }

    /// Bytes of one coordinate.
    pub fn field_len(self) -> usize {
        self.bits().div_ceil(8) as usize
    }

    /// The field prime, big-endian, `field_len` bytes.
    fn prime(self) -> Vec<u8> {
        let hex = match self {
            Curve::P224 => "ffffffffffffffffffffffffffffffff000000000000000000000001",
            Curve::P256 => "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff",
            Curve::P384 => {
                "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe\
                 ffffffff0000000000000000ffffffff"
            }
            Curve::P521 => {
                "01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\
                 ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            }
        };
        hex.as_bytes()
            .chunks(2)
            .map(|p| (nibble(p[0]) << 4) | nibble(p[1]))
            .collect()
    }

    /// Go's name in its point errors.
    fn name(self) -> &'static str {
        match self {
            Curve::P224 => "P224",
            Curve::P256 => "P256",
            Curve::P384 => "P384",
            Curve::P521 => "P521",
        }
    }

    /// Go's error for a coordinate not below the field prime. P-256 has an assembly
    /// implementation on the platforms upstream ships for (amd64, arm64), worded differently
    /// from the generated field code of the other curves.
    pub fn element_error(self) -> String {
        match self {
            Curve::P256 => "invalid P256 element encoding".into(),
            other => format!("invalid {}Element encoding", other.name()),
        }
    }

    /// Go's error for a point that is not on the curve.
    pub fn off_curve_error(self) -> String {
        format!("{} point not on curve", self.name())
    }
}

fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        _ => c - b'a' + 10,
    }
}

/// A parsed public key of a type upstream stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// RSA: modulus and public exponent as minimal two's complement INTEGER contents.
    Rsa {
        /// Modulus (positive).
        n: Vec<u8>,
        /// Public exponent (positive, at most 63 bits).
        e: i64,
    },
    /// ECDSA: the curve and the uncompressed point (`04 || X || Y`), coordinates reduced.
    Ec {
        /// Named curve.
        curve: Curve,
        /// Uncompressed point.
        point: Vec<u8>,
    },
    /// Ed25519: the 32-byte key.
    Ed25519(Vec<u8>),
}

impl PublicKey {
    /// The modulus size of an RSA key in bits (Go's `N.BitLen()`).
    pub fn rsa_bits(n: &[u8]) -> u32 {
        let start = n.iter().take_while(|b| **b == 0).count();
        match n.get(start) {
            None => 0,
            Some(first) => ((n.len() - start) as u32 - 1) * 8 + (8 - first.leading_zeros()),
        }
    }

    /// The SubjectPublicKeyInfo DER upstream stores (Go's `MarshalPKIXPublicKey`).
    pub fn to_der(&self) -> Vec<u8> {
        let (algorithm, key) = match self {
            PublicKey::Rsa { n, e } => {
                let e = e.to_be_bytes();
                let skip = e.iter().take_while(|b| **b == 0).count();
                let key = asn1::encode(
                    0x30,
                    &[asn1::encode_unsigned(n), asn1::encode_unsigned(&e[skip..])].concat(),
                );
                ([RSA_DER, NULL].concat(), key)
            }
            PublicKey::Ec { curve, point } => ([EC_DER, curve.oid_der()].concat(), point.clone()),
            PublicKey::Ed25519(key) => (ED25519_DER.to_vec(), key.clone()),
        };
        let bits = [&[0u8][..], &key].concat();
        asn1::encode(
            0x30,
            &[asn1::encode(0x30, &algorithm), asn1::encode(0x03, &bits)].concat(),
        )
    }
}

/// Why a key was refused: the text after `cannot decode public key: `, or a key type that
/// parses but that upstream does not store (DSA, X25519).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpkiError {
    /// The parse failed with this (Go) text.
    Parse(String),
    /// DSA or X25519.
    Unrecognized,
}

fn x509(msg: &str) -> SpkiError {
    SpkiError::Parse(format!("x509: {msg}"))
}

/// Parses a DER SubjectPublicKeyInfo as Go's `x509.ParsePKIXPublicKey` does.
pub fn parse(der: &[u8]) -> Result<PublicKey, SpkiError> {
    let (algorithm, params, key) = match outer(der) {
        Ok(parts) => parts,
        Err(_) if is_pkcs1(der) => {
            return Err(x509(
                "failed to parse public key (use ParsePKCS1PublicKey instead for this key format)",
            ));
        }
        Err(e) => return Err(e),
    };
    let data = key.right_align();
    match algorithm.as_slice() {
        RSA => rsa(params, &data),
        EC => ec(params, data),
        ED25519 => {
            if params.is_some() {
                return Err(x509("Ed25519 key encoded with illegal parameters"));
            }
            if data.len() != 32 {
                return Err(x509("wrong Ed25519 public key size"));
            }
            Ok(PublicKey::Ed25519(data))
        }
        X25519 => {
            if params.is_some() {
                return Err(x509("X25519 key encoded with illegal parameters"));
            }
            if data.len() != 32 {
                return Err(SpkiError::Parse("crypto/ecdh: invalid public key".into()));
            }
            Err(SpkiError::Unrecognized)
        }
        DSA => dsa(params, &data),
        _ => Err(x509("unknown public key algorithm")),
    }
}

/// The outer structure: algorithm OID arcs, raw parameters (absent, or the element's full
/// bytes) and the key bits.
type Outer<'a> = (Vec<u32>, Option<&'a [u8]>, asn1::BitString<'a>);

/// Reads the outer structure with `encoding/asn1`'s rules.
fn outer(der: &[u8]) -> Result<Outer<'_>, SpkiError> {
    let parse = |e: asn1::Asn1Error| SpkiError::Parse(e.0);
    let mut top = Reader::new(der);
    let mut info = top.sequence("publicKeyInfo").map_err(parse)?;
    let mut alg = info.sequence("AlgorithmIdentifier").map_err(parse)?;
    let oid = alg.object_identifier().map_err(parse)?;
    let params = alg.optional_any().map_err(parse)?.map(|e| e.full);
    let key = info.bit_string().map_err(parse)?;
    if !top.rest().is_empty() {
        return Err(x509("trailing data after ASN.1 of public-key"));
    }
    Ok((oid, params, key))
}

/// Whether `der` reads as Go's `pkcs1PublicKey` (SEQUENCE of a big INTEGER and an `int`).
fn is_pkcs1(der: &[u8]) -> bool {
    let mut top = Reader::new(der);
    let Ok(mut key) = top.sequence("pkcs1PublicKey") else {
        return false;
    };
    key.big_int().is_ok() && key.int64().is_ok()
}

fn rsa(params: Option<&[u8]>, data: &[u8]) -> Result<PublicKey, SpkiError> {
    if params != Some(NULL) {
        return Err(x509("RSA key missing NULL parameters"));
    }
    let (seq, _) = asn1::strict(data, 0x30).ok_or_else(|| x509("invalid RSA public key"))?;
    let (n, rest) = asn1::strict_integer(seq).ok_or_else(|| x509("invalid RSA modulus"))?;
    let e = asn1::strict_integer(rest)
        .and_then(|(e, _)| asn1::signed(e))
        .ok_or_else(|| x509("invalid RSA public exponent"))?;
    if n[0] & 0x80 != 0 || n.iter().all(|b| *b == 0) {
        return Err(x509("RSA modulus is not a positive number"));
    }
    if e <= 0 {
        return Err(x509("RSA public exponent is not a positive number"));
    }
    Ok(PublicKey::Rsa { n: n.to_vec(), e })
}

fn ec(params: Option<&[u8]>, point: Vec<u8>) -> Result<PublicKey, SpkiError> {
    let arcs = params
        .and_then(|p| asn1::strict(p, 0x06))
        .and_then(|(oid, _)| asn1::object_identifier(oid).ok())
        .ok_or_else(|| x509("invalid ECDSA parameters"))?;
    let curve = Curve::ALL
        .into_iter()
        .find(|c| c.oid() == arcs.as_slice())
        .ok_or_else(|| x509("unsupported elliptic curve"))?;
    // Go's ecdsa.ParseUncompressedPublicKey, then its point decoding; the on-curve check is
    // the caller's, which holds the curve arithmetic.
    if point.first() != Some(&4) {
        return Err(SpkiError::Parse(
            "ecdsa: invalid uncompressed public key".into(),
        ));
    }
    let len = curve.field_len();
    if point.len() != 1 + 2 * len {
        return Err(SpkiError::Parse(format!(
            "invalid {} point encoding",
            curve.name()
        )));
    }
    let prime = curve.prime();
    if point[1..=len] >= prime[..] || point[1 + len..] >= prime[..] {
        return Err(SpkiError::Parse(curve.element_error()));
    }
    Ok(PublicKey::Ec { curve, point })
}

/// DSA keys parse in Go (and are then refused as an unrecognized type); their parse errors
/// come first.
fn dsa(params: Option<&[u8]>, data: &[u8]) -> Result<PublicKey, SpkiError> {
    let (y, _) = asn1::strict_integer(data).ok_or_else(|| x509("invalid DSA public key"))?;
    let pqg = params
        .and_then(|p| asn1::strict(p, 0x30))
        .and_then(|(seq, _)| {
            let (p, rest) = asn1::strict_integer(seq)?;
            let (q, rest) = asn1::strict_integer(rest)?;
            let (g, _) = asn1::strict_integer(rest)?;
            Some([p, q, g])
        })
        .ok_or_else(|| x509("invalid DSA parameters"))?;
    let positive = |v: &[u8]| v[0] & 0x80 == 0 && v.iter().any(|b| *b != 0);
    if !positive(y) || !pqg.iter().all(|v| positive(v)) {
        return Err(x509("zero or negative DSA parameter"));
    }
    Err(SpkiError::Unrecognized)
}

#[cfg(test)]
mod tests {
    use super::*;
    use asn1::encode;

    fn spki(alg: &[u8], key: &[u8]) -> Vec<u8> {
        let bits = [&[0u8][..], key].concat();
        encode(0x30, &[encode(0x30, alg), encode(0x03, &bits)].concat())
    }

    fn err(der: &[u8]) -> String {
        match parse(der) {
            Err(SpkiError::Parse(m)) => m,
            other => panic!("{other:?}"),
        }
    }

    fn rsa_key(n: &[u8], e: &[u8]) -> Vec<u8> {
        encode(0x30, &[encode(0x02, n), encode(0x02, e)].concat())
    }

    #[test]
    fn rsa_keys_of_any_size_and_their_errors() {
        let alg = [RSA_DER, NULL].concat();
        let mut n = vec![0x00, 0xc5];
        n.extend(std::iter::repeat_n(0x11, 63));
        let key = parse(&spki(&alg, &rsa_key(&n, &[1, 0, 1]))).unwrap();
        assert_eq!(
            key,
            PublicKey::Rsa {
                n: n.clone(),
                e: 65537
            }
        );
        let PublicKey::Rsa { n: got, .. } = &key else {
            panic!()
        };
        assert_eq!(PublicKey::rsa_bits(got), 512);
        assert_eq!(key.to_der(), spki(&alg, &rsa_key(&n, &[1, 0, 1])));
        // A tiny key still parses: Go has no size check here.
        assert!(parse(&spki(&alg, &rsa_key(&[0x0b], &[3]))).is_ok());
        let cases: [(Vec<u8>, &str); 7] = [
            (
                spki(RSA_DER, &rsa_key(&n, &[3])),
                "x509: RSA key missing NULL parameters",
            ),
            (
                spki(&alg, &encode(0x02, &[1])),
                "x509: invalid RSA public key",
            ),
            (
                spki(&alg, &rsa_key(&[0, 1], &[3])),
                "x509: invalid RSA modulus",
            ),
            (
                spki(&alg, &encode(0x30, &encode(0x02, &n))),
                "x509: invalid RSA public exponent",
            ),
            (
                spki(&alg, &rsa_key(&[0x80], &[3])),
                "x509: RSA modulus is not a positive number",
            ),
            (
                spki(&alg, &rsa_key(&n, &[0])),
                "x509: RSA public exponent is not a positive number",
            ),
            (
                [spki(&alg, &rsa_key(&n, &[3])), vec![0]].concat(),
                "x509: trailing data after ASN.1 of public-key",
            ),
        ];
        for (der, want) in cases {
            assert_eq!(err(&der), want);
        }
        // A PKCS#1 body in PUBLIC KEY armour.
        assert_eq!(
            err(&rsa_key(&n, &[1, 0, 1])),
            "x509: failed to parse public key (use ParsePKCS1PublicKey instead for this key format)"
        );
    }

    #[test]
    fn ec_keys_and_their_errors() {
        let curve_alg = |c: Curve| [EC_DER, c.oid_der()].concat();
        for c in Curve::ALL {
            let len = c.field_len();
            let mut point = vec![4];
            point.extend(std::iter::repeat_n(0x01, 2 * len));
            let key = parse(&spki(&curve_alg(c), &point)).unwrap();
            assert_eq!(key.to_der(), spki(&curve_alg(c), &point));
            let mut big = point.clone();
            big[1..=len].copy_from_slice(&c.prime());
            assert_eq!(err(&spki(&curve_alg(c), &big)), c.element_error());
            assert_eq!(
                err(&spki(&curve_alg(c), &point[..point.len() - 1])),
                format!("invalid {} point encoding", c.name())
            );
            let mut compressed = vec![2];
            compressed.extend_from_slice(&point[1..=len]);
            assert_eq!(
                err(&spki(&curve_alg(c), &compressed)),
                "ecdsa: invalid uncompressed public key"
            );
        }
        let secp256k1 = [EC_DER, &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a]].concat();
        assert_eq!(
            err(&spki(&secp256k1, &[4, 1, 1])),
            "x509: unsupported elliptic curve"
        );
        assert_eq!(
            err(&spki(EC_DER, &[4, 1, 1])),
            "x509: invalid ECDSA parameters"
        );
    }

    #[test]
    fn other_algorithms() {
        assert!(matches!(
            parse(&spki(ED25519_DER, &[7; 32])),
            Ok(PublicKey::Ed25519(_))
        ));
        assert_eq!(
            err(&spki(ED25519_DER, &[7; 31])),
            "x509: wrong Ed25519 public key size"
        );
        assert_eq!(
            err(&spki(&[ED25519_DER, NULL].concat(), &[7; 32])),
            "x509: Ed25519 key encoded with illegal parameters"
        );
        let x25519 = [0x06, 0x03, 0x2b, 0x65, 0x6e];
        assert_eq!(
            parse(&spki(&x25519, &[7; 32])),
            Err(SpkiError::Unrecognized)
        );
        let ed448 = [0x06, 0x03, 0x2b, 0x65, 0x71];
        assert_eq!(
            err(&spki(&ed448, &[7; 57])),
            "x509: unknown public key algorithm"
        );
        let dsa_oid = [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01];
        let pqg = encode(
            0x30,
            &[encode(0x02, &[23]), encode(0x02, &[11]), encode(0x02, &[4])].concat(),
        );
        assert_eq!(
            parse(&spki(&[&dsa_oid[..], &pqg].concat(), &encode(0x02, &[9]))),
            Err(SpkiError::Unrecognized)
        );
        assert_eq!(
            err(&spki(&dsa_oid, &encode(0x02, &[9]))),
            "x509: invalid DSA parameters"
        );
        assert_eq!(err(b"junk"), err(b"junk"));
        assert!(err(b"junk").starts_with("asn1: structure error: tags don't match (16 vs "));
    }
}
