//! WeCom's callback crypto (the WXBizMsgCrypt scheme), both directions.
//!
//! - Key: `base64(EncodingAESKey + "=")`, 32 bytes; IV: the first 16 key bytes; AES-256-CBC
//!   without cipher-level padding, then WeCom's own PKCS#7 padding to a 32-byte block.
//! - Plaintext: `random(16) ‖ len(msg) as u32 big-endian ‖ msg ‖ receive id`.
//! - Signature: lowercase hex sha1 of the lexicographically sorted concatenation of token,
//!   timestamp, nonce and the encrypted text, compared in constant time.
//!
//! The receiver decrypts with it; the simulator encrypts with the same code, so both sides
//! are held to the official test vectors.

use aes::Aes256;
use base64::Engine;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

/// WeCom pads to 32-byte blocks although AES blocks are 16 bytes.
const PAD_BLOCK: usize = 32;
/// Length of the random prefix of every plaintext.
pub const RANDOM_LEN: usize = 16;

/// The 43-character EncodingAESKey is base64 without its final `=`; its last character
/// carries two bits beyond the 32 key bytes, which WeCom's own samples ignore (the official
/// test key ends in such a character), so decoding must accept them.
const KEY_ENGINE: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

/// Why a callback could not be verified or decrypted. Never contains key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The EncodingAESKey from the config is not 43 base64 characters decoding to 32 bytes.
    #[error("encoding_aes_key must be 43 base64 characters (32 key bytes)")]
    BadKey,
    /// `msg_signature` does not match.
    #[error("msg_signature does not match")]
    BadSignature,
    /// The encrypted text is not valid base64.
    #[error("encrypted text is not valid base64")]
    BadBase64,
    /// The ciphertext is empty or not a whole number of AES blocks.
    #[error("ciphertext length {0} is not a positive multiple of 16")]
    BadLength(usize),
    /// The plaintext layout (padding, length prefix) is inconsistent: wrong key or corruption.
    #[error("decrypted layout is inconsistent: {0}")]
    BadLayout(&'static str),
    /// The receive id in the plaintext is not the configured corp id.
    #[error("receive id `{found}` is not the configured corp id")]
    WrongReceiveId {
        /// The id found in the plaintext (public: WeCom puts the corp id here).
        found: String,
    },
}

/// Signs, verifies, encrypts and decrypts for one callback configuration.
#[derive(Clone)]
pub struct WecomCrypto {
    token: String,
    key: [u8; 32],
    receive_id: String,
}

impl std::fmt::Debug for WecomCrypto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WecomCrypto")
            .field("receive_id", &self.receive_id)
            .finish_non_exhaustive()
    }
}

impl WecomCrypto {
    /// From the callback's token, EncodingAESKey and expected receive id (the CorpID).
    pub fn new(token: &str, encoding_aes_key: &str, receive_id: &str) -> Result<Self, CryptoError> {
        if encoding_aes_key.len() != 43 {
            return Err(CryptoError::BadKey);
        }
        let bytes = KEY_ENGINE
            .decode(format!("{encoding_aes_key}="))
            .map_err(|_| CryptoError::BadKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::BadKey)?;
        Ok(WecomCrypto {
            token: token.to_string(),
            key,
            receive_id: receive_id.to_string(),
        })
    }

    /// The expected receive id.
    pub fn receive_id(&self) -> &str {
        &self.receive_id
    }

    /// `msg_signature` for a timestamp, nonce and encrypted text.
    pub fn signature(&self, timestamp: &str, nonce: &str, encrypted: &str) -> String {
        let mut parts = [self.token.as_str(), timestamp, nonce, encrypted];
        parts.sort_unstable();
        let mut h = Sha1::new();
        for p in parts {
            h.update(p.as_bytes());
        }
        hex::encode(h.finalize())
    }

    /// Checks `msg_signature` in constant time.
    pub fn verify(&self, signature: &str, timestamp: &str, nonce: &str, encrypted: &str) -> Result<(), CryptoError> {
        let expected = self.signature(timestamp, nonce, encrypted);
        // Hex is case-insensitive in meaning; WeCom sends lowercase, so compare as sent.
        if expected.as_bytes().ct_eq(signature.as_bytes()).into() {
            Ok(())
        } else {
            Err(CryptoError::BadSignature)
        }
    }

    /// Decrypts a base64 `Encrypt` / `echostr` value and checks the receive id.
    pub fn decrypt(&self, encrypted: &str) -> Result<Vec<u8>, CryptoError> {
        let (msg, receive_id) = self.decrypt_unchecked(encrypted)?;
        if receive_id != self.receive_id.as_bytes() {
            return Err(CryptoError::WrongReceiveId {
                found: String::from_utf8_lossy(&receive_id).into_owned(),
            });
        }
        Ok(msg)
    }

    /// Decrypts without checking the receive id; returns `(msg, receive_id)`.
    pub fn decrypt_unchecked(&self, encrypted: &str) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
        let ct = STANDARD.decode(encrypted.trim()).map_err(|_| CryptoError::BadBase64)?;
        if ct.is_empty() || ct.len() % 16 != 0 {
            return Err(CryptoError::BadLength(ct.len()));
        }
        let dec = cbc::Decryptor::<Aes256>::new(&self.key.into(), &self.iv().into());
        let plain = dec
            .decrypt_padded_vec::<NoPadding>(&ct)
            .map_err(|_| CryptoError::BadLength(ct.len()))?;
        // Like the official samples, a last byte outside 1..=32 means "no padding".
        let pad = match plain.last() {
            Some(&n) if (1..=PAD_BLOCK as u8).contains(&n) => n as usize,
            _ => 0,
        };
        let body = plain.get(..plain.len().saturating_sub(pad)).unwrap_or_default();
        if body.len() < RANDOM_LEN + 4 {
            return Err(CryptoError::BadLayout("shorter than the random prefix and length"));
        }
        let len_bytes: [u8; 4] = body[RANDOM_LEN..RANDOM_LEN + 4]
            .try_into()
            .map_err(|_| CryptoError::BadLayout("length"))?;
        let msg_len = u32::from_be_bytes(len_bytes) as usize;
        let rest = &body[RANDOM_LEN + 4..];
        if msg_len > rest.len() {
            return Err(CryptoError::BadLayout("message length exceeds the plaintext"));
        }
        Ok((rest[..msg_len].to_vec(), rest[msg_len..].to_vec()))
    }

    /// Encrypts `msg` with a given 16-byte random prefix (the simulator and golden tests use
    /// fixed prefixes; WeCom uses random ones). Returns base64.
    pub fn encrypt_with_random(&self, msg: &[u8], random: &[u8; RANDOM_LEN]) -> String {
        self.encrypt_for(msg, random, self.receive_id.as_bytes())
    }

    /// Like [`WecomCrypto::encrypt_with_random`] with another receive id (fault injection).
    pub fn encrypt_for(&self, msg: &[u8], random: &[u8; RANDOM_LEN], receive_id: &[u8]) -> String {
        let mut plain = Vec::with_capacity(RANDOM_LEN + 4 + msg.len() + receive_id.len() + PAD_BLOCK);
        plain.extend_from_slice(random);
        plain.extend_from_slice(&(msg.len() as u32).to_be_bytes());
        plain.extend_from_slice(msg);
        plain.extend_from_slice(receive_id);
        let pad = PAD_BLOCK - plain.len() % PAD_BLOCK;
        plain.resize(plain.len() + pad, pad as u8);
        let enc = cbc::Encryptor::<Aes256>::new(&self.key.into(), &self.iv().into());
        STANDARD.encode(enc.encrypt_padded_vec::<NoPadding>(&plain))
    }

    fn iv(&self) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&self.key[..16]);
        iv
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_the_official_key() {
        let c = WecomCrypto::new(
            "QDG6eK",
            "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
            "wx5823bf96d3bd56c7",
        )
        .unwrap();
        assert_eq!(
            hex::encode(c.key),
            "8d69989bbaabe67328014c194631ad0719b3dca035b64023df292447aab60760"
        );
        assert_eq!(hex::encode(c.iv()), "8d69989bbaabe67328014c194631ad07");
    }

    #[test]
    fn refuses_a_short_key() {
        assert_eq!(WecomCrypto::new("t", "abc", "ww1").unwrap_err(), CryptoError::BadKey);
    }

    #[test]
    fn round_trips_and_pads_an_aligned_plaintext_with_a_full_block() {
        let c = WecomCrypto::new("t", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "ww12345678901").unwrap();
        // 16 + 4 + 12 + 13 = 45 → pad 19; try every length around a block boundary too.
        for n in 0..70 {
            let msg = vec![b'a'; n];
            let enc = c.encrypt_with_random(&msg, b"0123456789abcdef");
            assert_eq!(c.decrypt(&enc).unwrap(), msg);
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let c = WecomCrypto::new("t", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "ww1").unwrap();
        assert_eq!(c.decrypt("%%%"), Err(CryptoError::BadBase64));
        assert_eq!(c.decrypt("AAAA"), Err(CryptoError::BadLength(3)));
        assert!(c.decrypt(&STANDARD.encode([7u8; 32])).is_err());
    }
}
