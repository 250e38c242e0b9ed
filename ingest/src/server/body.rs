//! Reading request bodies with a limit in the handler itself, so an oversized body still
//! leaves a `rejects` row with its first 64 KiB (a layer in front would drop it unseen), and
//! summarising a refused body cheaply: its first 64 KiB, its size and its sha256, never the
//! whole of it.
use axum::body::Body;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

/// How much of an oversized or refused body is kept for the `rejects` row.
pub const REJECT_HEAD_BYTES: usize = 64 * 1024;

/// Why a body could not be read whole.
#[derive(Debug)]
pub enum BodyError {
    /// Longer than the limit; `head` holds its first [`REJECT_HEAD_BYTES`].
    TooLarge {
        /// The first bytes.
        head: Bytes,
    },
    /// The client did not send the body before the server's body deadline
    /// ([`super::deadline`]); `head` holds what arrived, up to [`REJECT_HEAD_BYTES`].
    TimedOut {
        /// The first bytes.
        head: Bytes,
    },
    /// The client went away mid-body.
    Io(String),
}

/// Reads `body` up to `max` bytes.
pub async fn read_limited(body: Body, max: usize) -> Result<Bytes, BodyError> {
    let mut stream = body.into_data_stream();
    let mut buf = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) if super::deadline::is_timeout(&e) => {
                buf.truncate(REJECT_HEAD_BYTES);
                return Err(BodyError::TimedOut { head: buf.freeze() });
            }
            Err(e) => return Err(BodyError::Io(e.to_string())),
        };
        if buf.len() + chunk.len() > max {
            let mut head = buf;
            let room = REJECT_HEAD_BYTES.saturating_sub(head.len());
            head.extend_from_slice(&chunk[..chunk.len().min(room)]);
            head.truncate(REJECT_HEAD_BYTES);
            return Err(BodyError::TooLarge { head: head.freeze() });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// What a `rejects` row keeps of a refused body: the first [`REJECT_HEAD_BYTES`], the size and
/// the sha256 of the whole (so an operator can match it against a sender's copy) — memory and
/// disk stay bounded whatever the client sent.
#[derive(Debug, Clone)]
pub struct RefusedBody {
    /// The first bytes.
    pub head: Bytes,
    /// Bytes received in all.
    pub size: u64,
    /// sha256 (hex) of every byte received, when the body was received whole.
    pub sha256: Option<String>,
    /// Why the body was not received whole (too large, too slow, client gone).
    pub incomplete: Option<&'static str>,
}

impl RefusedBody {
    /// A summary of bytes already in memory.
    pub fn of(bytes: &Bytes) -> Self {
        RefusedBody {
            head: bytes.slice(..bytes.len().min(REJECT_HEAD_BYTES)),
            size: bytes.len() as u64,
            sha256: Some(hex::encode(Sha256::digest(bytes))),
            incomplete: None,
        }
    }

    /// Reads `body` through, keeping only the head and hashing the rest, up to `max` bytes
    /// (beyond that the rest is not read: the connection is closed instead).
    pub async fn read(body: Body, max: u64) -> Self {
        let mut stream = body.into_data_stream();
        let mut head = BytesMut::new();
        let mut hash = Sha256::new();
        let mut size = 0u64;
        let mut incomplete = None;
        while let Some(chunk) = stream.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    incomplete = Some(if super::deadline::is_timeout(&e) {
                        "not received within the body deadline"
                    } else {
                        "connection closed mid-body"
                    });
                    break;
                }
            };
            let room = REJECT_HEAD_BYTES.saturating_sub(head.len());
            head.extend_from_slice(&chunk[..chunk.len().min(room)]);
            hash.update(&chunk);
            size += chunk.len() as u64;
            if size > max {
                incomplete = Some("larger than the body limit");
                break;
            }
        }
        RefusedBody {
            head: head.freeze(),
            size,
            sha256: incomplete.is_none().then(|| hex::encode(hash.finalize())),
            incomplete,
        }
    }

    /// The size and hash, for the reject's reason.
    pub fn describe(&self) -> String {
        let kept = self.head.len();
        match (&self.sha256, self.incomplete) {
            (Some(sha), _) => format!("body {} bytes, sha256 {sha}, first {kept} kept", self.size),
            (None, Some(why)) => format!("body {why} after {} bytes, first {kept} kept", self.size),
            (None, None) => format!("body {} bytes, first {kept} kept", self.size),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keeps_the_head_of_an_oversized_body() {
        let big = vec![b'x'; 200 * 1024];
        match read_limited(Body::from(big), 100 * 1024).await {
            Err(BodyError::TooLarge { head }) => assert_eq!(head.len(), REJECT_HEAD_BYTES),
            other => panic!("expected TooLarge, got {other:?}"),
        }
        let ok = read_limited(Body::from("hello"), 10).await.unwrap();
        assert_eq!(&ok[..], b"hello");
    }

    #[tokio::test]
    async fn a_refused_body_keeps_its_head_size_and_hash_only() {
        let big: Vec<u8> = (0..300 * 1024u32).map(|i| (i % 251) as u8).collect();
        let r = RefusedBody::read(Body::from(big.clone()), 1 << 20).await;
        assert_eq!(r.head.len(), REJECT_HEAD_BYTES);
        assert_eq!(r.size, big.len() as u64);
        assert_eq!(r.sha256.as_deref(), Some(hex::encode(Sha256::digest(&big)).as_str()));
        assert!(
            r.describe().contains(&format!("{} bytes", big.len())),
            "{}",
            r.describe()
        );
        let cut = RefusedBody::read(Body::from(big), 100 * 1024).await;
        assert!(cut.sha256.is_none());
        assert_eq!(cut.incomplete, Some("larger than the body limit"));
    }
}
