//! e-office `message_content` AES-CBC (crypto-js compatible): keys from arbitrary strings,
//! decryption of arbitrary Base64 text and of arbitrary ciphertext bytes, and the round trip.

#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ingest::eoffice::crypto::ContentKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let keys = [
        ContentKey::new("0123456789abcdef", "fedcba9876543210").expect("aes-128 key"),
        ContentKey::new("0123456789abcdef01234567", "fedcba9876543210").expect("aes-192 key"),
        ContentKey::new("0123456789abcdef0123456789abcdef", "fedcba9876543210").expect("aes-256 key"),
    ];
    let key = &keys[mode as usize % 3];
    match mode / 3 % 4 {
        // Arbitrary text as the Base64 field.
        0 => {
            if let Ok(s) = std::str::from_utf8(rest) {
                let _ = key.decrypt(s);
            }
        }
        // Arbitrary ciphertext bytes: exercises the padding check, not the Base64 one.
        1 => {
            let _ = key.decrypt(&STANDARD.encode(rest));
        }
        // Key and IV from arbitrary text, split at the first NUL.
        2 => {
            if let Ok(s) = std::str::from_utf8(rest) {
                let (k, iv) = s.split_once('\0').unwrap_or((s, ""));
                if let Ok(key) = ContentKey::new(k, iv) {
                    let _ = key.decrypt("AAAAAAAAAAAAAAAAAAAAAA==");
                }
            }
        }
        // Whatever is encrypted decrypts to itself.
        _ => {
            if let Ok(s) = std::str::from_utf8(rest) {
                assert_eq!(key.decrypt(&key.encrypt(s)).as_deref(), Ok(s));
            }
        }
    }
});
