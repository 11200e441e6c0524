//! Key loading: generation on first start, key ids from file names, the primary key, and
//! verification of tokens signed by any loaded key.

use mender_core::Timestamp;
use mender_core::jwt::{SigningKey, decode_unverified};
use mender_useradm::Keys;
use serde_json::json;

use crate::common::test_pem;

#[test]
fn generates_private_pem_once_with_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::load_or_generate(dir.path()).unwrap();
    let path = dir.path().join("private.pem");
    assert!(path.is_file());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    assert_eq!(keys.primary_id(), 0);
    let token = keys
        .primary()
        .encode(Some(0), &json!({"sub": "a"}))
        .unwrap();
    let pem = std::fs::read_to_string(&path).unwrap();
    // A restart loads the same key instead of generating another.
    let again = Keys::load_or_generate(dir.path()).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), pem);
    assert_eq!(
        again.verifying().verify(&token, Timestamp::EPOCH).unwrap()["sub"],
        "a"
    );
    assert!(!format!("{again:?}").contains("PRIVATE"));
}

#[test]
fn key_ids_and_primary_selection() {
    let dir = tempfile::tempdir().unwrap();
    let other = SigningKey::generate_rsa().unwrap().1;
    std::fs::write(dir.path().join("private.id.3.pem"), test_pem()).unwrap();
    std::fs::write(dir.path().join("private.id.7.pem"), &other).unwrap();
    std::fs::write(dir.path().join("unrelated.pem"), "not a key").unwrap();
    // Without private.pem the highest id signs.
    let keys = Keys::load_or_generate(dir.path()).unwrap();
    assert_eq!(keys.primary_id(), 7);
    assert!(!dir.path().join("private.pem").exists());
    let old = SigningKey::from_pem(test_pem())
        .unwrap()
        .encode(Some(3), &json!({"sub": "old"}))
        .unwrap();
    assert_eq!(
        keys.verifying().verify(&old, Timestamp::EPOCH).unwrap()["sub"],
        "old"
    );

    // A configured key signs, under the id its name carries.
    let keys = Keys::from_config(dir.path(), Some(&dir.path().join("private.id.3.pem"))).unwrap();
    assert_eq!(keys.primary_id(), 3);
    let t = keys
        .primary()
        .encode(Some(keys.primary_id()), &json!({"sub": "x"}))
        .unwrap();
    assert_eq!(decode_unverified(&t).unwrap().header["kid"], json!(3));
    assert!(keys.verifying().verify(&t, Timestamp::EPOCH).is_ok());
    // A missing configured key is an error, not a silently generated one.
    assert!(Keys::from_config(dir.path(), Some(&dir.path().join("private.id.9.pem"))).is_err());
    // A broken key file is an error.
    std::fs::write(dir.path().join("private.pem"), "garbage").unwrap();
    assert!(Keys::load_or_generate(dir.path()).is_err());
}
