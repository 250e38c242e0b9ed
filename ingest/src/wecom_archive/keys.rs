//! The 会话存档 private keys, one per `publickey_ver`, and the RSA step of an item: base64
//! `encrypt_random_key` → RSA PKCS#1 v1.5 → the random key string that `DecryptData` takes.
//!
//! Every item carries its own RSA-encrypted random key, so this step runs once per archived
//! message and bounds the connector's rate. The PEM is read by `rsa` (PKCS#1 or PKCS#8, with
//! its precise parse errors); the decryption itself runs in AWS-LC (`aws-lc-rs`, already linked
//! for TLS), whose assembly RSA is several times faster than `rsa`'s portable arithmetic.
//!
//! A key that does not match the item either fails the padding check or yields bytes that are
//! not a printable key string; both are reported as the wrong key. Rare printable garbage
//! shows one step later, as `DecryptData`'s 10006/10008.

use std::collections::BTreeMap;

use aws_lc_rs::rsa::{Pkcs1PrivateDecryptingKey, PrivateDecryptingKey};
use base64::Engine;
use config::PrivateKeyConfig;
use rsa::PrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};

/// A key that could not be loaded; the message names the field, never the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("private_keys[{index}].pem: {reason}")]
pub struct KeyError {
    /// Position in `private_keys`.
    pub index: usize,
    /// What is wrong.
    pub reason: String,
}

/// Why an item's random key could not be recovered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RandomKeyError {
    /// No key configured for the item's version.
    #[error(
        "no private key for publickey_ver {0}: add it as [[wecom_archive.private_keys]] version = {0}, then run `chatvault rejects retry --platform wecom_archive`"
    )]
    NoKey(u32),
    /// Not base64, or not an RSA ciphertext for this key's size.
    #[error("encrypt_random_key of publickey_ver {version} cannot be decrypted: {reason}")]
    Unreadable {
        /// The item's version.
        version: u32,
        /// Why.
        reason: String,
    },
    /// The key decrypted to something that is not a key string: the configured key does not
    /// match the version's public key.
    #[error("the private key configured for publickey_ver {0} does not match the public key WeCom used")]
    WrongKey(u32),
}

/// The configured keys by version.
pub struct Keys {
    by_version: BTreeMap<u32, Pkcs1PrivateDecryptingKey>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("versions", &self.by_version.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Keys {
    /// Loads every configured key: a file path or an inline PEM, PKCS#1 or PKCS#8.
    pub fn load(cfg: &[PrivateKeyConfig]) -> Result<Keys, KeyError> {
        let mut by_version = BTreeMap::new();
        for (index, k) in cfg.iter().enumerate() {
            let pem = if k.is_inline() {
                k.pem.expose().to_string()
            } else {
                let path = k.pem.expose();
                std::fs::read_to_string(path).map_err(|e| KeyError {
                    index,
                    reason: format!("cannot read the key file `{path}`: {e}"),
                })?
            };
            let key = parse_pem(&pem).map_err(|reason| KeyError { index, reason })?;
            by_version.insert(k.version, key);
        }
        Ok(Keys { by_version })
    }

    /// The configured versions.
    pub fn versions(&self) -> Vec<u32> {
        self.by_version.keys().copied().collect()
    }

    /// The random key string of an item.
    pub fn random_key(&self, version: u32, encrypt_random_key: &str) -> Result<String, RandomKeyError> {
        let key = self.by_version.get(&version).ok_or(RandomKeyError::NoKey(version))?;
        let ct = base64::engine::general_purpose::STANDARD
            .decode(encrypt_random_key.trim())
            .map_err(|e| RandomKeyError::Unreadable {
                version,
                reason: format!("not base64 ({e})"),
            })?;
        if ct.len() != key.key_size_bytes() {
            return Err(RandomKeyError::Unreadable {
                version,
                reason: format!(
                    "{} bytes, not a ciphertext of this {}-bit key",
                    ct.len(),
                    key.key_size_bits()
                ),
            });
        }
        let mut out = vec![0u8; key.min_output_size()];
        let Ok(plain) = key.decrypt(&ct, &mut out) else {
            return Err(RandomKeyError::WrongKey(version));
        };
        let plain = plain.to_vec();
        // A random key is printable ASCII; bytes that passed the padding check by chance almost
        // never are, and the rare printable garbage fails in DecryptData.
        match String::from_utf8(plain) {
            Ok(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic()) => Ok(s),
            _ => Err(RandomKeyError::WrongKey(version)),
        }
    }
}

impl Keys {
    /// [`Keys::random_key`] of each job (`None` in, `None` out), on up to as many threads as
    /// the machine has cores: RSA-2048 decryption costs about a millisecond, so a page of
    /// 1000 items is worth spreading.
    pub fn random_keys(&self, jobs: &[Option<(u32, String)>]) -> Vec<Option<Result<String, RandomKeyError>>> {
        let run = |chunk: &[Option<(u32, String)>]| -> Vec<Option<Result<String, RandomKeyError>>> {
            chunk
                .iter()
                .map(|j| j.as_ref().map(|(v, k)| self.random_key(*v, k)))
                .collect()
        };
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        // Below a few dozen items a thread costs more than it saves.
        let per = jobs.len().div_ceil(threads).max(32);
        if per >= jobs.len() {
            return run(jobs);
        }
        std::thread::scope(|s| {
            let handles: Vec<_> = jobs.chunks(per).map(|c| s.spawn(move || run(c))).collect();
            handles
                .into_iter()
                .flat_map(|h| match h.join() {
                    Ok(v) => v,
                    // RSA does not panic on any input; were it to, the panic is the program's
                    // bug and must not pass as a missing key.
                    Err(p) => std::panic::resume_unwind(p),
                })
                .collect()
        })
    }
}

fn parse_pem(pem: &str) -> Result<Pkcs1PrivateDecryptingKey, String> {
    let pem = pem.trim();
    let key = if pem.starts_with("-----BEGIN RSA PRIVATE KEY-----") {
        PrivateKey::from_pkcs1_pem(pem).map_err(|e| format!("not a valid PKCS#1 RSA private key ({e})"))?
    } else if pem.starts_with("-----BEGIN PRIVATE KEY-----") {
        PrivateKey::from_pkcs8_pem(pem).map_err(|e| format!("not a valid PKCS#8 RSA private key ({e})"))?
    } else if pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        return Err("the key is password-protected; store it unencrypted with owner-only permissions".into());
    } else {
        return Err(
            "not a PEM private key (expected -----BEGIN RSA PRIVATE KEY----- or -----BEGIN PRIVATE KEY-----)".into(),
        );
    };
    let der = key
        .to_pkcs8_der()
        .map_err(|e| format!("the RSA key cannot be re-encoded ({e})"))?;
    let key = PrivateDecryptingKey::from_pkcs8(der.as_bytes())
        .map_err(|e| format!("the RSA key is not usable for decryption ({e}; sizes 2048 to 8192 bits are)"))?;
    Pkcs1PrivateDecryptingKey::new(key).map_err(|e| format!("the RSA key is not usable for decryption ({e})"))
}
