//! The hash chain: `hash = sha256(prev_hash ‖ seq as 8 bytes BE ‖ payload ‖ sha256(raw bytes))`,
//! over the uncompressed stored bytes (the canonical envelope and the raw payload as received),
//! never a re-serialization and never their compressed form.

use sha2::{Digest, Sha256};

/// Hash of an empty chain.
pub const ZERO: [u8; 32] = [0; 32];

/// `sha256(prev ‖ seq as 8 bytes big-endian ‖ payload ‖ sha256(raw bytes))` (design §5).
pub fn link(prev: &[u8; 32], seq: u64, payload: &[u8], raw_sha: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(seq.to_be_bytes());
    h.update(payload);
    h.update(raw_sha);
    h.finalize().into()
}

/// sha256 of bytes.
pub fn sha(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// sha256 of the JSON serialisation of `value`, streamed into the hasher (no buffer).
pub fn sha_json<T: serde::Serialize>(value: &T) -> serde_json::Result<[u8; 32]> {
    struct Hashing(Sha256);
    impl std::io::Write for Hashing {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.update(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut h = Hashing(Sha256::new());
    serde_json::to_writer(&mut h, value)?;
    Ok(h.0.finalize().into())
}

/// Converts a stored BLOB to a 32-byte hash.
pub fn to32(v: &[u8]) -> Option<[u8; 32]> {
    v.try_into().ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn streamed_json_hash_equals_the_hash_of_the_bytes() {
        let v = serde_json::json!({"chat_id": "群1", "text": "农业局的报告\n\"已经\"提交"});
        assert_eq!(
            super::sha_json(&v).unwrap(),
            super::sha(&serde_json::to_vec(&v).unwrap())
        );
    }
}
