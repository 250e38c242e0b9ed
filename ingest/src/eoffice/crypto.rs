//! `message_content` encryption, compatible with crypto-js as the e-office client uses it:
//! AES-CBC with PKCS#7 padding, key and IV parsed as Latin-1 strings (one byte per character;
//! the key length picks AES-128/192/256), ciphertext as plain Base64 (no `Salted__` header,
//! since an explicit key means no passphrase salt).

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockCipherDecrypt, BlockCipherEncrypt, BlockModeDecrypt, BlockModeEncrypt, KeyInit, KeyIvInit};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Why a key cannot be used or a ciphertext not decrypted. Never contains key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The key or IV has a character above U+00FF (not Latin-1).
    #[error("aes {0} is not a Latin-1 string")]
    NotLatin1(&'static str),
    /// Key length is not 16, 24 or 32 bytes.
    #[error("aes key must be 16, 24 or 32 Latin-1 characters, got {0}")]
    KeyLength(usize),
    /// IV length is not 16 bytes.
    #[error("aes iv must be 16 Latin-1 characters, got {0}")]
    IvLength(usize),
    /// Not Base64.
    #[error("message_content is not base64")]
    Base64,
    /// Wrong key, wrong IV's padding, truncated or not a multiple of the block size.
    #[error("message_content does not decrypt (bad padding or length)")]
    Decrypt,
    /// Decrypted bytes are not UTF-8 (typically a wrong key whose padding happened to fit).
    #[error("decrypted message_content is not UTF-8")]
    Utf8,
}

/// A configured AES key and IV.
#[derive(Clone)]
pub struct ContentKey {
    key: Vec<u8>,
    iv: [u8; 16],
}

impl std::fmt::Debug for ContentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ContentKey(aes-{}, ***)", self.key.len() * 8)
    }
}

fn latin1(s: &str, what: &'static str) -> Result<Vec<u8>, CryptoError> {
    s.chars()
        .map(|c| u8::try_from(u32::from(c)).map_err(|_| CryptoError::NotLatin1(what)))
        .collect()
}

impl ContentKey {
    /// From the Latin-1 strings of the config.
    pub fn new(key: &str, iv: &str) -> Result<ContentKey, CryptoError> {
        let key = latin1(key, "key")?;
        if !matches!(key.len(), 16 | 24 | 32) {
            return Err(CryptoError::KeyLength(key.len()));
        }
        let iv_bytes = latin1(iv, "iv")?;
        let iv: [u8; 16] = iv_bytes
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::IvLength(iv_bytes.len()))?;
        Ok(ContentKey { key, iv })
    }

    /// Decrypts a Base64 ciphertext to text.
    pub fn decrypt(&self, b64: &str) -> Result<String, CryptoError> {
        let ct = STANDARD.decode(b64.trim()).map_err(|_| CryptoError::Base64)?;
        let pt = match self.key.len() {
            16 => dec::<aes::Aes128>(&self.key, &self.iv, &ct),
            24 => dec::<aes::Aes192>(&self.key, &self.iv, &ct),
            _ => dec::<aes::Aes256>(&self.key, &self.iv, &ct),
        }?;
        String::from_utf8(pt).map_err(|_| CryptoError::Utf8)
    }

    /// Encrypts text to Base64 (the simulator and tests play the e-office client with it).
    pub fn encrypt(&self, text: &str) -> String {
        let ct = match self.key.len() {
            16 => enc::<aes::Aes128>(&self.key, &self.iv, text.as_bytes()),
            24 => enc::<aes::Aes192>(&self.key, &self.iv, text.as_bytes()),
            _ => enc::<aes::Aes256>(&self.key, &self.iv, text.as_bytes()),
        };
        STANDARD.encode(ct)
    }
}

fn dec<C>(key: &[u8], iv: &[u8; 16], ct: &[u8]) -> Result<Vec<u8>, CryptoError>
where
    C: BlockCipherDecrypt + KeyInit,
{
    let d = cbc::Decryptor::<C>::new_from_slices(key, iv).map_err(|_| CryptoError::KeyLength(key.len()))?;
    d.decrypt_padded_vec::<Pkcs7>(ct).map_err(|_| CryptoError::Decrypt)
}

fn enc<C>(key: &[u8], iv: &[u8; 16], pt: &[u8]) -> Vec<u8>
where
    C: BlockCipherEncrypt + KeyInit,
{
    // The key length was checked in `ContentKey::new`.
    match cbc::Encryptor::<C>::new_from_slices(key, iv) {
        Ok(e) => e.encrypt_padded_vec::<Pkcs7>(pt),
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vector from an independent implementation:
    // `printf hello | openssl enc -aes-128-cbc -K 30313233343536373839616263646566 -iv 66656463626139383736353433323130 -a`.
    const KEY16: &str = "0123456789abcdef";
    const IV: &str = "fedcba9876543210";

    #[test]
    fn matches_openssl_for_aes_128() {
        let k = ContentKey::new(KEY16, IV).unwrap();
        assert_eq!(k.encrypt("hello"), "e+3OsGVfOJQQaXifNkYgkQ==");
        assert_eq!(k.decrypt("e+3OsGVfOJQQaXifNkYgkQ==").unwrap(), "hello");
    }

    #[test]
    fn round_trips_every_key_size_and_chinese() {
        for key in [KEY16, "0123456789abcdef01234567", "0123456789abcdef0123456789abcdef"] {
            let k = ContentKey::new(key, IV).unwrap();
            let ct = k.encrypt("报销单已提交，请审批 ✓");
            assert_eq!(k.decrypt(&ct).unwrap(), "报销单已提交，请审批 ✓");
        }
    }

    #[test]
    fn latin1_characters_above_ascii_are_single_bytes() {
        let k = ContentKey::new("ÿ123456789abcdef", IV).unwrap();
        assert_eq!(k.key[0], 0xff);
        assert_eq!(
            ContentKey::new("中123456789abcdef", IV).unwrap_err(),
            CryptoError::NotLatin1("key")
        );
    }

    #[test]
    fn refuses_bad_keys_and_ciphertexts() {
        assert_eq!(ContentKey::new("short", IV).unwrap_err(), CryptoError::KeyLength(5));
        assert_eq!(ContentKey::new(KEY16, "iv").unwrap_err(), CryptoError::IvLength(2));
        let k = ContentKey::new(KEY16, IV).unwrap();
        assert_eq!(k.decrypt("not base64!!"), Err(CryptoError::Base64));
        assert_eq!(k.decrypt("aGVsbG8="), Err(CryptoError::Decrypt));
        let other = ContentKey::new("fedcba9876543210", KEY16).unwrap();
        assert!(other.decrypt(&k.encrypt("some longer text to decrypt")).is_err());
    }

    #[test]
    fn debug_hides_the_key() {
        let k = ContentKey::new(KEY16, IV).unwrap();
        let s = format!("{k:?}");
        assert!(!s.contains(KEY16) && s.contains("aes-128"), "{s}");
    }
}
