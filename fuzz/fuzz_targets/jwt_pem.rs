//! Fuzz target: JWT and PEM parsing in `mender_core::jwt`: `decode_unverified` (what routing
//! reads from any bearer token), `KeySet::verify` (every authenticated request), `pem_decode`
//! (device keys and key files) and `SigningKey::from_pem` (the server's key files).
//!
//! Invariants: a verified token's claims are its decoded claims; no token without a valid
//! signature verifies (the fuzzer cannot forge one, so `Ok` only for the seed tokens the
//! corpus signs with the fixed key below, and only within their validity); a PEM block
//! survives `pem_encode` then `pem_decode` unchanged; a private key that parses signs tokens
//! its own public half verifies.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mender_core::Timestamp;
use mender_core::jwt::{KeySet, SigningKey, decode_unverified, pem_decode, pem_encode};

/// Test-only keys (generated for this target, never used anywhere else): Ed25519 as kid 0
/// (device tokens have no kid) and RSA 2048 as kid 1. `fuzz/corpus/jwt_pem` holds tokens
/// signed with them.
const ED25519_PEM: &str = "\
-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIKMF/EiVlF6uimgBU8LufYTvXomM9Lb9hvKc16AuyQTN
-----END PRIVATE KEY-----
";
const RSA_PEM: &str = "\
-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDA2HLIo/LehfzX
KgsStUGfZYsIPi9TT47cs5C4cSFEwHLNj0bbFRKGvqHIdNP751PVnCchf5MCydxJ
9b5vBrgvppGPek6pTzj8xFRRE+Xv3rKFUj427UcVBFUFktP+YsHU1xZa7jXEjFg4
e9dxMINVsupBWsUNp51eky1o+mBkqauENnkml8b6vL6TZCxxNRBLX3OubXAIe7U2
0Ohd/BvPO3mgC+2K9xRc/KCEO08qn6a8PJypHwKTGvgiZTzny4Lpso6ypLBq9dwO
vxO2rdbqTstBvRO7dOr00W3y8Pkcf7CqpOMez/4WasOxU/irRFZWOUoMIb97a5qF
bNa7WN8xAgMBAAECggEADZHNdd/PcagE9BDxyYW2keQ/xbs2ckrJVy9NciUHvcI6
8crwpe7UKGYWlTffSLzs0b2UpU9IRWx100B2/3H+GOBEIs/s5A3+iQ65jiDzz46g
ijAQz6WfmFN/Ng6wWxiQ4gymdoyHfQaRGJxiOwU6YJff0uxzrDPMp4B8tAPWL47/
i7Ar91X2j72gVvCL/A/7YxwP+mZj6tWcKmn6QvxPzm8UYhWsN6qqStjnhkSFdpGJ
3K0Tfb3k5U5pC53G+b/Iryx89Tr0dhASzslrnmn3FUeJBQp6BAeTDJGECwZPf2lF
SYug/9qBMkTtdEFMC/3lbv9A+9WwB93I55rCfd1M/wKBgQDilY/sE5X8Xl5o+nQG
PVb0SgeY+lKbDMxfUPU5ePkq9vdrPzM4AyMktttm8if7LA32yJgshhCjQeiNMTOj
rOMDXAv6fmkgLr0s5fe1vk6Iik+Ms9GS8/tyVUlZKPFmlIdnmqegdjeOXiL+zJep
XuHl4WPqv2+0KTbzozFp8+ysdwKBgQDZ4ZfGpCaTJEE9quAN9wbb6PKmBf6O23U2
iA9wjhnoOgDlJobPYYe38MjMlpjog/e5iyto2NdSu3XY1FYtQU468O1ElfDqP8zU
Mcl7WJKEdY6zvSl7CIDguwjr7dAGIB3+6CKlavmxbrfdsqYIOabkNS1OeV/PALjl
wj9ONkRDlwKBgDGWt/vbwXyNDq58+b2P2SL3vLfvOPr0DxphNnoQjr+nczjGiSge
D6fuWRAruTJQTvIOrrc31BZWy1VzSjDtGnXWxExbNBi2AfL8lXzyHG/njUdm51v5
B7PbFIVt338qzIORJlSI6tm+onwPPLX1rQzJijuLECBm0L77nUnp94c7AoGASQsz
SdnwQLYP1S+7C5N8Ti9LYdNyosv6AL0eh/prvwnrEOeYnF+zEzx65PO78X+EhkSc
2fqQPWExQe71sRhKtMHemXa3HKEk9yJ1zI9GF3gdzi4lgOS56B1sAURp0BPmWnXS
X6h8azqWE5H3zZweUjVtqfhQ4WH5mrVDaeIRgqMCgYEAqwNN7Pk3NgT8xII/iFtY
rig1UFQzPmCutNIjuTrLMSlhS3L8CWasdSJfQfX4E7GY9MPFSLvgUfZ7wQnnGHwQ
9Z0t1TKS+HqmV5PRu+kTdMbD3pi1pbu4GC8jXBmNksx+8uIL3wqtY1WHFdQkCuLS
hOgo5yCqffgde2vGpuF8vuw=
-----END PRIVATE KEY-----
";

/// The moment tokens are checked at (2023-11-14); seed tokens are valid then.
const NOW: i64 = 1_700_000_000;

fn keys() -> &'static KeySet {
    static KEYS: OnceLock<KeySet> = OnceLock::new();
    KEYS.get_or_init(|| {
        let ed = SigningKey::from_pem(ED25519_PEM).expect("fixed Ed25519 key");
        let rsa = SigningKey::from_pem(RSA_PEM).expect("fixed RSA key");
        let mut set = KeySet::single(ed.verifying_key());
        set.insert(1, rsa.verifying_key());
        set
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    // Tokens.
    let unverified = decode_unverified(text);
    if let Ok(u) = &unverified {
        assert!(u.header.is_object() && u.claims.is_object());
    }
    if let Ok(claims) = keys().verify(text, Timestamp::from_unix_secs(NOW)) {
        let u = unverified.as_ref().expect("a verified token decodes");
        assert_eq!(
            &claims, &u.claims,
            "verified claims differ from the decoded ones"
        );
        if let Some(exp) = claims.get("exp").and_then(serde_json::Value::as_f64) {
            assert!(exp as i64 > NOW, "an expired token verified");
        }
    }

    // PEM.
    if let Some((label, der)) = pem_decode(text) {
        let again = pem_encode(&label, &der);
        assert_eq!(
            pem_decode(&again),
            Some((label, der)),
            "PEM block changes in the encode/decode round trip"
        );
    }
    if let Ok(key) = SigningKey::from_pem(text) {
        let token = key
            .encode(None, &serde_json::json!({"sub": "fuzz"}))
            .expect("a parsed key signs");
        let own = KeySet::single(key.verifying_key());
        own.verify(&token, Timestamp::from_unix_secs(NOW))
            .expect("a key verifies its own token");
    }
});
