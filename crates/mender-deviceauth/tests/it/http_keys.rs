//! Device keys over HTTP, on both backends: every key type upstream accepts is admitted through
//! auth requests and through preauthorization, refused keys get upstream's texts on both paths,
//! keys under 1024 bits are stored but never authenticate, and the configured minimum key
//! strength refuses weak keys on both paths with one message.

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mender_db::testing::Backend;
use mender_deviceauth::DeviceauthConfig;
use mender_testkit::{AuthRequest, DeviceKey};
use serde_json::{Value, json};

use crate::common::{Env, der, pem_der, spki_pem};

mender_db::each_backend!(
    every_key_type_is_preauthorized_and_authenticates,
    auth_sets_show_key_type_and_size,
    refused_keys_get_upstream_texts_on_both_paths,
    rsa_under_1024_bits_is_stored_but_never_authenticates,
    key_policy_refuses_weak_keys_on_both_paths,
);

/// Every key type upstream accepts: name, key, `pubkey_type`, `pubkey_bits`.
fn accepted_keys() -> Vec<(&'static str, DeviceKey, &'static str, u64)> {
    vec![
        ("rsa1024", DeviceKey::rsa(1024), "rsa", 1024),
        ("rsa2048", DeviceKey::rsa(2048), "rsa", 2048),
        ("rsa3072", DeviceKey::rsa(3072), "rsa", 3072),
        ("p224", DeviceKey::ecdsa_p224(), "ecdsa", 224),
        ("p256", DeviceKey::ecdsa_p256(), "ecdsa", 256),
        ("p384", DeviceKey::ecdsa_p384(), "ecdsa", 384),
        ("p521", DeviceKey::ecdsa_p521(), "ecdsa", 521),
        ("ed25519", DeviceKey::ed25519(), "ed25519", 256),
    ]
}

async fn every_key_type_is_preauthorized_and_authenticates(backend: Backend) {
    let env = Env::new(backend).await;
    for (name, key, _, _) in accepted_keys() {
        let identity = json!({"mac": format!("pre:{name}")});
        let r = env.preauth(&identity, &key.public_pem()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{name}: {}", r.text());
        let device = env.device_with(&identity).await;
        assert_eq!(device["status"], "preauthorized", "{name}");
        assert_eq!(device["auth_sets"][0]["pubkey"], key.public_pem(), "{name}");

        // The first signed request is admitted and gets a token that the gateway accepts.
        let signed = AuthRequest::new(&identity).sign(&key);
        let r = env
            .auth_raw(signed.body, Some(&signed.signature), "application/json")
            .await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{name} {}: {}",
            env.backend(),
            r.text()
        );
        let who = env.verify(&r.text()).await.unwrap();
        assert_eq!(who.subject, device["id"].as_str().unwrap(), "{name}");
        assert_eq!(env.device_with(&identity).await["status"], "accepted");
    }
    // ECDSA signatures are read as Go reads them: bytes after the DER SEQUENCE are ignored.
    let key = DeviceKey::ecdsa_p256();
    let identity = json!({"mac": "lenient"});
    let (_, _) = env.admitted(&key, &identity).await;
    let body = AuthRequest::new(&identity).body(&key);
    let sig = STANDARD.encode([key.sign_raw(&body), vec![0, 0, 7]].concat());
    let r = env.auth_raw(body, Some(&sig), "application/json").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

async fn auth_sets_show_key_type_and_size(backend: Backend) {
    let env = Env::new(backend).await;
    for (name, key, kind, bits) in accepted_keys() {
        let identity = json!({"mac": format!("auth:{name}")});
        let r = env.auth(&key, &identity).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{name}: {}", r.text());
        let device = env.device_with(&identity).await;
        assert_eq!(device["status"], "pending", "{name}");
        let set = &device["auth_sets"][0];
        assert_eq!(set["pubkey_type"], kind, "{name}");
        assert_eq!(set["pubkey_bits"], bits, "{name}");
        // Upstream's fields come first, unchanged.
        let fields: Vec<&str> = set
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for f in ["id", "identity_data", "pubkey", "ts", "status"] {
            assert!(fields.contains(&f), "{name}: {f}");
        }
        env.accept(&device)
            .await
            .assert_status(StatusCode::NO_CONTENT);
        let r = env.auth(&key, &identity).await;
        assert_eq!(r.status, StatusCode::OK, "{name}: {}", r.text());
        // The single-device view shows the same.
        let id = device["id"].as_str().unwrap();
        let one = env
            .mgmt
            .get(&format!("{}/{id}", crate::common::DEVS))
            .send()
            .await
            .json();
        assert_eq!(one["auth_sets"][0]["pubkey_bits"], bits, "{name}");
    }
}

/// A refused key: name, PEM, the cause upstream reports after its prefix.
type Refused = (&'static str, String, String);

fn refused_keys() -> Vec<Refused> {
    let rsa = DeviceKey::rsa(2048);
    let rsa_der = pem_der(&rsa.public_pem());
    let p256 = pem_der(&DeviceKey::ecdsa_p256().public_pem());
    let point = &p256[p256.len() - 65..];
    let decode = |m: &str| format!("cannot decode public key: {m}");
    let ec_oid = der(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]);
    let p256_oid = der(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]);
    let secp256k1 = der(0x06, &[0x2b, 0x81, 0x04, 0x00, 0x0a]);
    let rsa_oid = der(
        0x06,
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01],
    );
    let pss_oid = der(
        0x06,
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a],
    );
    let pkcs1 = der(
        0x30,
        &[der(0x02, &[0x00, 0xc1, 0x01]), der(0x02, &[1, 0, 1])].concat(),
    );
    let mut compressed = vec![2 + (point[64] & 1)];
    compressed.extend_from_slice(&point[1..33]);
    vec![
        (
            "PKCS#1 label",
            rsa.public_pem().replace("PUBLIC KEY", "RSA PUBLIC KEY"),
            "cannot decode public key".into(),
        ),
        (
            "no PEM block",
            "not a key".into(),
            "cannot decode public key".into(),
        ),
        (
            "PKCS#1 body in PUBLIC KEY armour",
            mender_core::jwt::pem_encode("PUBLIC KEY", &pkcs1),
            decode(
                "x509: failed to parse public key (use ParsePKCS1PublicKey instead for this key format)",
            ),
        ),
        (
            "secp256k1",
            spki_pem(&[ec_oid.clone(), secp256k1].concat(), point),
            decode("x509: unsupported elliptic curve"),
        ),
        (
            "compressed point",
            spki_pem(&[ec_oid.clone(), p256_oid.clone()].concat(), &compressed),
            decode("ecdsa: invalid uncompressed public key"),
        ),
        (
            "point off the curve",
            spki_pem(&[ec_oid, p256_oid].concat(), &{
                let mut p = point.to_vec();
                p[64] ^= 1;
                p
            }),
            decode("P256 point not on curve"),
        ),
        (
            "Ed448",
            spki_pem(&der(0x06, &[0x2b, 0x65, 0x71]), &[9; 57]),
            decode("x509: unknown public key algorithm"),
        ),
        (
            "RSA-PSS OID",
            spki_pem(&pss_oid, &pkcs1),
            decode("x509: unknown public key algorithm"),
        ),
        (
            "RSA without NULL parameters",
            spki_pem(&rsa_oid, &pkcs1),
            decode("x509: RSA key missing NULL parameters"),
        ),
        (
            "Ed25519 of the wrong size",
            spki_pem(&der(0x06, &[0x2b, 0x65, 0x70]), &[9; 31]),
            decode("x509: wrong Ed25519 public key size"),
        ),
        (
            "trailing data",
            mender_core::jwt::pem_encode("PUBLIC KEY", &[rsa_der, vec![0]].concat()),
            decode("x509: trailing data after ASN.1 of public-key"),
        ),
        (
            "X25519",
            spki_pem(&der(0x06, &[0x2b, 0x65, 0x6e]), &[9; 32]),
            "unrecognized public key type".into(),
        ),
    ]
}

async fn refused_keys_get_upstream_texts_on_both_paths(backend: Backend) {
    let env = Env::new(backend).await;
    let signer = DeviceKey::ed25519();
    let before = env.snapshot().await;
    for (name, pem, cause) in refused_keys() {
        let identity = json!({"mac": name});
        let signed = AuthRequest::new(&identity)
            .pubkey(pem.clone())
            .sign(&signer);
        let r = env
            .auth_raw(signed.body, Some(&signed.signature), "application/json")
            .await;
        assert_eq!(
            r.assert_error(StatusCode::BAD_REQUEST),
            format!("invalid auth request: {cause}"),
            "{name} on {}",
            env.backend()
        );
        let r = env.preauth(&identity, &pem).await;
        assert_eq!(
            r.assert_error(StatusCode::BAD_REQUEST),
            format!("failed to decode preauth request: {cause}"),
            "{name}"
        );
        assert_eq!(env.snapshot().await, before, "{name} wrote something");
    }
    assert_eq!(env.wf().await.count(), 0);
}

async fn rsa_under_1024_bits_is_stored_but_never_authenticates(backend: Backend) {
    let env = Env::new(backend).await;
    let key = DeviceKey::rsa(512);
    // A correctly signed request: the key parses, the signature never verifies (Go >= 1.24).
    let before = env.snapshot().await;
    let r = env.auth(&key, &json!({"mac": "tiny"})).await;
    assert_eq!(
        r.assert_error(StatusCode::UNAUTHORIZED),
        "signature verification failed"
    );
    assert_eq!(env.snapshot().await, before);
    // Preauthorization stores it, and shows how small it is.
    let identity = json!({"mac": "tiny-pre"});
    env.preauth(&identity, &key.public_pem())
        .await
        .assert_status(StatusCode::CREATED);
    let device = env.device_with(&identity).await;
    assert_eq!(device["auth_sets"][0]["pubkey_bits"], 512);
    assert_eq!(device["auth_sets"][0]["pubkey_type"], "rsa");
    let r = env.auth(&key, &identity).await;
    assert_eq!(
        r.assert_error(StatusCode::UNAUTHORIZED),
        "signature verification failed"
    );
    assert_eq!(env.device_with(&identity).await["status"], "preauthorized");
    assert_eq!(env.token_rows().await, 0);
}

async fn key_policy_refuses_weak_keys_on_both_paths(backend: Backend) {
    let config = DeviceauthConfig {
        min_rsa_key_bits: 2048,
        min_ecdsa_key_bits: 256,
        ..Default::default()
    };
    let env = Env::with_config(backend, config).await;
    let weak: [(&str, DeviceKey, &str); 3] = [
        (
            "rsa512",
            DeviceKey::rsa(512),
            "RSA key of 512 bits, the server requires at least 2048",
        ),
        (
            "rsa1024",
            DeviceKey::rsa(1024),
            "RSA key of 1024 bits, the server requires at least 2048",
        ),
        (
            "p224",
            DeviceKey::ecdsa_p224(),
            "ECDSA key of 224 bits, the server requires at least 256",
        ),
    ];
    let before = env.snapshot().await;
    for (name, key, why) in weak {
        let identity = json!({"mac": name});
        let r = env.auth(&key, &identity).await;
        assert_eq!(
            r.assert_error(StatusCode::BAD_REQUEST),
            format!("invalid auth request: public key too weak: {why}"),
            "{name} on {}",
            env.backend()
        );
        let r = env.preauth(&identity, &key.public_pem()).await;
        assert_eq!(
            r.assert_error(StatusCode::BAD_REQUEST),
            format!("failed to decode preauth request: public key too weak: {why}"),
            "{name}"
        );
        assert_eq!(env.snapshot().await, before, "{name} wrote something");
    }
    // Keys at or above the minimum work on both paths.
    for (name, key) in [
        ("rsa2048", DeviceKey::rsa(2048)),
        ("p256", DeviceKey::ecdsa_p256()),
        ("p521", DeviceKey::ecdsa_p521()),
        ("ed25519", DeviceKey::ed25519()),
    ] {
        let (_, token) = env.admitted(&key, &json!({"mac": name})).await;
        assert!(env.verify(&token).await.is_ok(), "{name}");
        let identity = json!({"mac": format!("{name}-pre")});
        let r = env.preauth(&identity, &key.public_pem()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{name}: {}", r.text());
    }
    let devices: Vec<Value> = env.devices().await;
    assert_eq!(devices.len(), 8);
}
