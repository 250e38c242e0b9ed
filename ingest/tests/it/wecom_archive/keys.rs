//! The RSA step: PKCS#1 and PKCS#8 keys, inline or from a file, one per `publickey_ver`; a
//! missing or wrong key is named, never silently turned into a message.

use base64::Engine;
use chatvault_ingest::wecom_archive::keys::{Keys, RandomKeyError};
use config::{PrivateKeyConfig, Secret};
use rsa::PrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey;
use sim::wecom_archive::{KEY_V1, KEY_V2, KEY_V3};

fn key(version: u32, pem: &str) -> PrivateKeyConfig {
    PrivateKeyConfig {
        version,
        pem: Secret::new(pem.to_string()),
    }
}

fn encrypt_for(pem: &str, random_key: &str) -> String {
    let pk = PrivateKey::from_pkcs1_pem(pem).unwrap().to_public_key();
    base64::engine::general_purpose::STANDARD.encode(pk.pkcs1v15_encrypt(random_key.as_bytes()).unwrap())
}

#[test]
fn pkcs1_inline_and_pkcs8_from_a_file_both_decrypt_their_version() {
    let dir = tempfile::tempdir().unwrap();
    let v2 = dir.path().join("v2.pem");
    std::fs::write(&v2, KEY_V2).unwrap();
    let keys = Keys::load(&[key(1, KEY_V1), key(2, v2.to_str().unwrap())]).unwrap();
    assert_eq!(keys.versions(), [1, 2]);
    let rk = "AbCdEfGh0123456789AbCdEfGh012345";
    assert_eq!(keys.random_key(1, &encrypt_for(KEY_V1, rk)).unwrap(), rk);
    let v2_public = {
        use rsa::pkcs8::DecodePrivateKey;
        PrivateKey::from_pkcs8_pem(KEY_V2).unwrap().to_public_key()
    };
    let ct = base64::engine::general_purpose::STANDARD.encode(v2_public.pkcs1v15_encrypt(rk.as_bytes()).unwrap());
    assert_eq!(keys.random_key(2, &ct).unwrap(), rk);
    // No key for version 3: named, with what to do.
    let err = keys.random_key(3, &encrypt_for(KEY_V3, rk)).unwrap_err();
    assert_eq!(err, RandomKeyError::NoKey(3));
    assert!(err.to_string().contains("rejects retry --platform wecom_archive"));
}

#[test]
fn a_wrong_key_never_yields_the_random_key() {
    // Version 1 configured with version 3's key: the padding check fails (or, rarely, passes on
    // garbage), so the mismatch must show as WrongKey here or as garbage DecryptData refuses.
    let keys = Keys::load(&[key(1, KEY_V3)]).unwrap();
    let rk = "AbCdEfGh0123456789AbCdEfGh012345";
    match keys.random_key(1, &encrypt_for(KEY_V1, rk)) {
        // Printable garbage would be refused by DecryptData (10006/10008).
        Ok(garbage) => assert_ne!(garbage, rk),
        // Garbage that is not a key string, or a ciphertext above the other key's modulus.
        Err(RandomKeyError::WrongKey(1) | RandomKeyError::Unreadable { version: 1, .. }) => {}
        Err(e) => panic!("unexpected {e}"),
    }
}

#[test]
fn a_ciphertext_of_the_wrong_size_is_named_unreadable_with_its_size() {
    let keys = Keys::load(&[key(1, KEY_V1)]).unwrap();
    let short = base64::engine::general_purpose::STANDARD.encode([7u8; 100]);
    match keys.random_key(1, &short) {
        Err(RandomKeyError::Unreadable { version: 1, reason }) => {
            assert_eq!(reason, "100 bytes, not a ciphertext of this 2048-bit key")
        }
        other => panic!("unexpected {other:?}"),
    }
    let err = keys.random_key(1, "%%%").unwrap_err();
    assert!(err.to_string().contains("not base64"), "{err}");
}

#[test]
fn bad_keys_are_named_by_field_without_their_content() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.pem");
    let err = Keys::load(&[key(1, KEY_V1), key(2, missing.to_str().unwrap())]).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("private_keys[1].pem: cannot read the key file"),
        "{err}"
    );
    let broken = "-----BEGIN RSA PRIVATE KEY-----\nTOPSECRETbutbroken\n-----END RSA PRIVATE KEY-----";
    let err = Keys::load(&[key(7, broken)]).unwrap_err().to_string();
    assert!(err.starts_with("private_keys[0].pem: not a valid PKCS#1"), "{err}");
    assert!(!err.contains("TOPSECRET"), "{err}");
    let enc = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nx\n-----END ENCRYPTED PRIVATE KEY-----";
    assert!(
        Keys::load(&[key(1, enc)])
            .unwrap_err()
            .to_string()
            .contains("password-protected")
    );
}

#[test]
fn a_page_of_keys_done_on_several_threads_is_each_item_done_alone_in_order() {
    let keys = Keys::load(&[key(1, KEY_V1)]).unwrap();
    let jobs: Vec<Option<(u32, String)>> = (0..150)
        .map(|i| match i % 5 {
            0 => None,
            1 => Some((3, encrypt_for(KEY_V3, "unknown-version"))),
            2 => Some((1, "not base64!".to_string())),
            _ => Some((1, encrypt_for(KEY_V1, &format!("RandomKey{i:05}")))),
        })
        .collect();
    let alone: Vec<_> = jobs
        .iter()
        .map(|j| j.as_ref().map(|(v, k)| keys.random_key(*v, k)))
        .collect();
    assert_eq!(keys.random_keys(&jobs), alone);
    assert_eq!(alone[3], Some(Ok("RandomKey00003".to_string())));
}
