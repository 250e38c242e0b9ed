//! `/s/sync` pushes → [`Ingested`] items (protocols §3.6, §3.7). Pure: bytes in, events out.
//!
//! Each `syncPushPackage.data[]` item is decoded on its own, so one bad item becomes a
//! `rejects` row while the other items of the same push are archived. An item's `data` is
//! Base64 (standard or URL-safe) of either JSON (system and status items) or one or more
//! concatenated MessagePack values (chat items). The raw payload kept for an item is the
//! decoded bytes (`application/json` or `application/msgpack`); for an item that cannot be
//! decoded it is the item as received.

use bytes::Bytes;
use proto::{Ingested, RawPayload, TimestampMs, batch::media};
use serde_json::Value;

use super::content::{as_i64, decode_b64};
use super::message;

/// Why a push or an item could not be decoded. Never contains credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The push body has no `syncPushPackage`.
    #[error("push body is not a sync package: {0}")]
    NotSync(String),
    /// `data` is not Base64.
    #[error("item data is not Base64: {0}")]
    Base64(String),
    /// The bytes are neither JSON nor a MessagePack map.
    #[error("item is neither JSON nor a MessagePack map: {0}")]
    Msgpack(String),
    /// The item decoded but lacks fields a message needs.
    #[error("item layout: {0}")]
    Layout(String),
}

/// The sync position a push reports (what the cursor advances to once it is committed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SyncPosition {
    /// `maxPts`.
    pub pts: i64,
    /// `maxHighPts`.
    pub high_pts: i64,
    /// `endSeq`.
    pub seq: i64,
}

/// A decoded push.
#[derive(Debug)]
pub struct DecodedPush {
    /// One entry per `data[]` item, in order.
    pub items: Vec<Ingested>,
    /// Where the push leaves the sync stream.
    pub position: SyncPosition,
    /// Items that decoded into message-level events.
    pub messages: usize,
}

/// Decodes a `/s/sync` push body.
pub fn decode_sync_push(body: &Value, received_at: TimestampMs) -> Result<DecodedPush, CodecError> {
    // Read in place: deserializing a typed struct from `&Value` would copy every item.
    let package = match body.get("syncPushPackage") {
        Some(p @ Value::Object(_)) => p,
        Some(_) => return Err(CodecError::NotSync("`syncPushPackage` is not an object".into())),
        None => return Err(CodecError::NotSync("missing field `syncPushPackage`".into())),
    };
    let data: &[Value] = match package.get("data") {
        None | Some(Value::Null) => &[],
        Some(Value::Array(items)) => items,
        Some(_) => return Err(CodecError::NotSync("`data` is not an array".into())),
    };
    let field = |k: &str| package.get(k).and_then(as_i64).unwrap_or(0);
    let position = SyncPosition {
        pts: field("maxPts"),
        high_pts: field("maxHighPts"),
        seq: field("endSeq"),
    };
    let mut messages = 0;
    let items = data
        .iter()
        .map(|item| {
            let ingested = decode_item(item, received_at);
            if let Ingested::Payload { events, .. } = &ingested
                && events.iter().any(|e| e.body.targets_message())
            {
                messages += 1;
            }
            ingested
        })
        .collect();
    Ok(DecodedPush {
        items,
        position,
        messages,
    })
}

/// Decodes one `data[]` item into a payload or a reject.
pub fn decode_item(item: &Value, received_at: TimestampMs) -> Ingested {
    let reject = |reason: CodecError, raw: RawPayload| Ingested::Rejected {
        raw,
        reason: reason.to_string(),
    };
    let as_received = || RawPayload {
        received_at,
        media_type: media::JSON.into(),
        bytes: Bytes::from(serde_json::to_vec(item).unwrap_or_default()),
    };
    let Some(data) = item.get("data").and_then(Value::as_str) else {
        return reject(CodecError::Layout("item without a data string".into()), as_received());
    };
    let bytes = match decode_b64(data) {
        Ok(b) if !b.is_empty() => b,
        Ok(_) => return reject(CodecError::Base64("empty".into()), as_received()),
        Err(e) => return reject(CodecError::Base64(e.to_string()), as_received()),
    };
    match decode_bytes(&bytes) {
        Ok(Decoded::Json(v)) => Ingested::Payload {
            events: message::from_json_item(&v),
            raw: RawPayload {
                received_at,
                media_type: media::JSON.into(),
                bytes: bytes.into(),
            },
        },
        Ok(Decoded::Msgpack(values)) => {
            let raw = RawPayload {
                received_at,
                media_type: media::MSGPACK.into(),
                bytes: bytes.into(),
            };
            let mut events = Vec::new();
            for v in &values {
                match message::from_sync_item(v) {
                    Ok(mut e) => events.append(&mut e),
                    Err(reason) => return reject(CodecError::Layout(reason), raw),
                }
            }
            Ingested::Payload { raw, events }
        }
        Err(e) => reject(
            e,
            RawPayload {
                received_at,
                media_type: media::OCTETS.into(),
                bytes: bytes.into(),
            },
        ),
    }
}

/// What an item's bytes hold.
#[derive(Debug, PartialEq)]
pub enum Decoded {
    /// A JSON document (system / status item).
    Json(Value),
    /// One or more MessagePack maps (chat items), converted to JSON values with string keys.
    Msgpack(Vec<Value>),
}

/// Deepest MessagePack nesting decoded: 128 container levels, as serde_json allows for JSON
/// items (rmpv counts two steps per container). rmpv's default (512 levels) lets a corrupt
/// item recurse through the decoder deep enough to overflow a tokio worker's stack and abort
/// the process.
const MAX_MSGPACK_DEPTH: usize = 2 * 128 + 2;

/// JSON first (as the published clients do), then every concatenated MessagePack value; each
/// must be a map, so random bytes that happen to parse as small integers are refused.
pub fn decode_bytes(bytes: &[u8]) -> Result<Decoded, CodecError> {
    if matches!(bytes.first(), Some(b'{') | Some(b'['))
        && let Ok(v) = serde_json::from_slice::<Value>(bytes)
    {
        return Ok(Decoded::Json(v));
    }
    let mut rd = bytes;
    let mut values = Vec::new();
    while !rd.is_empty() {
        let v = rmpv::decode::read_value_with_max_depth(&mut rd, MAX_MSGPACK_DEPTH)
            .map_err(|e| CodecError::Msgpack(e.to_string()))?;
        if !v.is_map() {
            return Err(CodecError::Msgpack(format!(
                "top-level value {} is not a map",
                values.len()
            )));
        }
        values.push(to_json(v));
    }
    Ok(Decoded::Msgpack(values))
}

/// MessagePack → JSON: keys become strings (`1` → `"1"`), binary becomes Base64.
pub fn to_json(v: rmpv::Value) -> Value {
    use base64::Engine as _;
    match v {
        rmpv::Value::Nil => Value::Null,
        rmpv::Value::Boolean(b) => Value::Bool(b),
        rmpv::Value::Integer(i) => match (i.as_i64(), i.as_u64()) {
            (Some(n), _) => Value::from(n),
            (None, Some(n)) => Value::from(n),
            _ => Value::Null,
        },
        rmpv::Value::F32(f) => serde_json::Number::from_f64(f as f64)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        rmpv::Value::F64(f) => serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        rmpv::Value::String(s) => Value::String(s.into_str().unwrap_or_default()),
        rmpv::Value::Binary(b) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
        rmpv::Value::Array(a) => Value::Array(a.into_iter().map(to_json).collect()),
        rmpv::Value::Map(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        rmpv::Value::String(s) => s.into_str().unwrap_or_default(),
                        other => other.to_string(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        rmpv::Value::Ext(_, b) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
    }
}
