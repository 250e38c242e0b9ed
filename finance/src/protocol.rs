//! Frames between the parent and the worker: a 4-byte big-endian length, then that many bytes
//! of JSON. One request, one reply, in turn. JSON because every payload but media chunks is
//! already JSON text; media chunks travel base64 (≤ 512 KiB each). Hand-written framing: it is
//! eight lines, and a codec crate would bring an async runtime into the worker.

use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

/// Largest frame accepted (a GetChatData answer of 1000 items, or one media chunk, is far
/// below; a garbage length must not make the reader allocate gigabytes).
pub const MAX_FRAME: usize = 256 * 1024 * 1024;

/// Parent → worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Load the library and resolve the 17 symbols.
    Load {
        /// Path of the shared object.
        path: String,
    },
    /// `NewSdk` + `Init`.
    Init {
        /// Corp id.
        corp_id: String,
        /// 会话存档 secret.
        secret: String,
    },
    /// `GetChatData`.
    ChatData {
        /// Items after this seq.
        seq: u64,
        /// At most this many (≤ 1000).
        limit: u32,
        /// Proxy URL or empty.
        proxy: String,
        /// Proxy credentials or empty.
        passwd: String,
        /// Seconds.
        timeout: i32,
    },
    /// `DecryptData`.
    Decrypt {
        /// The RSA-decrypted random key.
        key: String,
        /// `encrypt_chat_msg`.
        msg: String,
    },
    /// `DecryptData` for each item of a page, in order: one round trip instead of one per
    /// item (a page is up to 1000 items).
    DecryptMany {
        /// `(random key, encrypt_chat_msg)` pairs.
        items: Vec<(String, String)>,
    },
    /// One `GetMediaData` call.
    Media {
        /// Index from the previous chunk (empty at first).
        index: String,
        /// `sdkfileid`.
        file_id: String,
        /// Proxy URL or empty.
        proxy: String,
        /// Proxy credentials or empty.
        passwd: String,
        /// Seconds.
        timeout: i32,
    },
}

/// Worker → parent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    /// The library is loaded; these symbols resolved.
    Loaded {
        /// Names of the resolved symbols.
        symbols: Vec<String>,
    },
    /// Init returned 0.
    Ready,
    /// GetChatData's JSON.
    ChatData {
        /// The slice's content.
        json: String,
    },
    /// DecryptData's plaintext.
    Decrypted {
        /// The slice's content.
        json: String,
    },
    /// The answers to [`Request::DecryptMany`], one per item, in order.
    DecryptedMany {
        /// Each item's plaintext or why not.
        results: Vec<Decrypted>,
    },
    /// One media chunk.
    Media {
        /// Index to pass next.
        index: String,
        /// The chunk, base64.
        data: String,
        /// Whether this was the last chunk.
        finished: bool,
    },
    /// The SDK returned a non-zero code.
    SdkError {
        /// The code.
        code: i32,
    },
    /// Something outside the SDK failed (no library loaded, symbol missing, bad request).
    Failed {
        /// Why.
        message: String,
    },
}

/// One item's answer within [`Reply::DecryptedMany`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decrypted {
    /// The message JSON.
    Json(String),
    /// `DecryptData` returned this non-zero code.
    SdkError(i32),
    /// Something outside the SDK failed for this item (an answer that is not UTF-8).
    Failed(String),
}

/// Writes one frame.
pub fn write_frame<T: Serialize>(w: &mut impl Write, msg: &T) -> io::Result<()> {
    let body = serde_json::to_vec(msg).map_err(io::Error::other)?;
    let len = u32::try_from(body.len()).map_err(|_| io::Error::other("frame too large"))?;
    w.write_all(&len.to_be_bytes())?;
    w.write_all(&body)?;
    w.flush()
}

/// Reads one frame; `Ok(None)` at a clean end of stream.
pub fn read_frame<T: for<'de> Deserialize<'de>>(r: &mut impl Read) -> io::Result<Option<T>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let body = read_body(r, u32::from_be_bytes(len) as usize)?;
    serde_json::from_slice(&body).map(Some).map_err(io::Error::other)
}

fn read_body(r: &mut impl Read, len: usize) -> io::Result<Vec<u8>> {
    if len > MAX_FRAME {
        return Err(io::Error::other(format!("frame of {len} bytes exceeds the limit")));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    Ok(body)
}

/// The async reading side used by the parent.
pub async fn read_frame_async<T: for<'de> Deserialize<'de>>(
    r: &mut (impl tokio::io::AsyncRead + Unpin),
) -> io::Result<Option<T>> {
    use tokio::io::AsyncReadExt;
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::other(format!("frame of {len} bytes exceeds the limit")));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).await?;
    serde_json::from_slice(&body).map(Some).map_err(io::Error::other)
}

/// The async writing side used by the parent.
pub async fn write_frame_async<T: Serialize>(w: &mut (impl tokio::io::AsyncWrite + Unpin), msg: &T) -> io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let body = serde_json::to_vec(msg).map_err(io::Error::other)?;
    let len = u32::try_from(body.len()).map_err(|_| io::Error::other("frame too large"))?;
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&body);
    w.write_all(&frame).await?;
    w.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_end_cleanly() {
        let mut buf = Vec::new();
        let req = Request::Decrypt {
            key: "k".into(),
            msg: "m".into(),
        };
        write_frame(&mut buf, &req).unwrap();
        let mut r = &buf[..];
        assert_eq!(read_frame::<Request>(&mut r).unwrap(), Some(req));
        assert_eq!(read_frame::<Request>(&mut r).unwrap(), None);
    }

    #[test]
    fn oversized_length_is_refused_without_allocating() {
        let bytes = u32::MAX.to_be_bytes();
        let err = read_frame::<Request>(&mut &bytes[..]).unwrap_err();
        assert!(err.to_string().contains("exceeds"));
    }
}
