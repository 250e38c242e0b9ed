//! Reading request bodies with a limit in the handler itself, so an oversized body still
//! leaves a `rejects` row with its first 64 KiB (a layer in front would drop it unseen).

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

/// How much of an oversized body is kept for the `rejects` row.
pub const REJECT_HEAD_BYTES: usize = 64 * 1024;

/// Why a body could not be read whole.
#[derive(Debug)]
pub enum BodyError {
    /// Longer than the limit; `head` holds its first [`REJECT_HEAD_BYTES`].
    TooLarge {
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
        let chunk = chunk.map_err(|e| BodyError::Io(e.to_string()))?;
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
}
