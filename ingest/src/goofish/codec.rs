//! `/s/sync` pushes → [`Ingested`] items (protocols §3.6, §3.7). Pure: bytes in, events out.
//!
//! Each `syncPushPackage.data[]` item is decoded on its own, so one bad item becomes a
//! `rejects` row while the other items of the same push are archived. An item's `data` is
//! Base64 (standard or URL-safe) of either JSON (system and status items) or one or more
//! concatenated MessagePack values (chat items). The raw payload kept for an item is the
//! decoded bytes (`application/json` or `application/msgpack`); for an item that cannot be
//! decoded it is the item as received.

use bytes::Bytes;
use proto::{ChatEvent, Ingested, RawPayload, TimestampMs, batch::media};
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
    if let Some(events) = plain_messages(&bytes) {
        return Ingested::Payload {
            events,
            raw: RawPayload {
                received_at,
                media_type: media::MSGPACK.into(),
                bytes: bytes.into(),
            },
        };
    }
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

/// The events of an item whose MessagePack values are all plain chat messages, read in place
/// (`node.rs`); `None` for anything else (JSON, other items, bad bytes), which
/// [`decode_bytes`] then decodes with the meaning, and the errors, it always had.
fn plain_messages(bytes: &[u8]) -> Option<Vec<ChatEvent>> {
    if matches!(bytes.first(), None | Some(b'{') | Some(b'[')) {
        return None;
    }
    let mut rd = bytes;
    let mut events = Vec::with_capacity(1);
    while !rd.is_empty() {
        let v = rmpv::decode::read_value_ref_with_max_depth(&mut rd, MAX_MSGPACK_DEPTH).ok()?;
        events.push(message::plain_message(&v).ok()??);
    }
    Some(events)
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rmpv::Value as Mp;

    use super::*;

    /// The events the converted path gives: every value → JSON → `from_sync_item`.
    fn converted(bytes: &[u8]) -> Option<Vec<ChatEvent>> {
        let Ok(Decoded::Msgpack(values)) = decode_bytes(bytes) else {
            return None;
        };
        let mut events = Vec::new();
        for v in &values {
            events.append(&mut message::from_sync_item(v).ok()?);
        }
        Some(events)
    }

    fn encode(values: &[Mp]) -> Vec<u8> {
        let mut out = Vec::new();
        for v in values {
            rmpv::encode::write_value(&mut out, v).expect("writes to a Vec");
        }
        out
    }

    /// A key as a MessagePack writer may send it: an integer, its string, or (rarely) a float.
    fn key(n: i64) -> BoxedStrategy<Mp> {
        prop_oneof![
            20 => Just(Mp::from(n)),
            20 => Just(Mp::from(n.to_string())),
            1 => Just(Mp::F64(n as f64)),
            1 => Just(Mp::from(format!("0{n}"))),
        ]
        .boxed()
    }

    fn text() -> BoxedStrategy<Mp> {
        prop_oneof![
            3 => Just(Mp::from("2200123456789@goofish")),
            3 => Just(Mp::from("4263141580162.PNM")),
            3 => Just(Mp::from(1_733_000_000_123_i64)),
            3 => Just(Mp::from("1733000000123")),
            1 => Just(Mp::from("")),
            1 => Just(Mp::F64(1.5e12)),
            1 => Just(Mp::Binary(b"\xffbin".to_vec())),
            1 => Just(Mp::Nil),
        ]
        .boxed()
    }

    /// An entry `n → v` that is sometimes missing and sometimes given twice.
    fn entry(n: i64, v: BoxedStrategy<Mp>) -> BoxedStrategy<Vec<(Mp, Mp)>> {
        (key(n), v, 0..20u8, text())
            .prop_map(|(k, v, shape, other)| match shape {
                0 => Vec::new(),
                1 => vec![(k.clone(), other), (k, v)],
                2 => vec![(k.clone(), v), (k, other)],
                _ => vec![(k, v)],
            })
            .boxed()
    }

    fn ext() -> BoxedStrategy<Mp> {
        let field = |name: &'static str, present: u32| {
            prop_oneof![
                10 - present => Just(None),
                present => text().prop_map(move |v| Some((Mp::from(name), v))),
            ]
        };
        (
            field("reminderContent", 9),
            field("reminderTitle", 5),
            field("senderUserId", 5),
            field("recallFeature", 1),
            any::<bool>(),
        )
            .prop_map(|(a, b, c, d, as_json)| {
                let pairs: Vec<(Mp, Mp)> = [a, b, c, d].into_iter().flatten().collect();
                if as_json {
                    let json = to_json(Mp::Map(pairs));
                    Mp::from(json.to_string())
                } else {
                    Mp::Map(pairs)
                }
            })
            .boxed()
    }

    fn body() -> BoxedStrategy<Mp> {
        let inner = prop_oneof![
            Just(Mp::from(r#"{"contentType":1,"text":{"text":"可以小刀吗"}}"#)),
            Just(Mp::from("not json")),
            Just(Mp::from(1)),
        ]
        .boxed();
        let b64 = Just(Mp::from("eyJjb250ZW50VHlwZSI6MSwidGV4dCI6eyJ0ZXh0Ijoi5YyF6YKu5ZCXIn19")).boxed();
        (entry(5, inner), entry(1, b64), entry(1, text()))
            .prop_map(|(a, b, c)| {
                let three = Mp::Map(a.into_iter().chain(b).collect());
                Mp::Map(c.into_iter().chain([(Mp::from(3), three)]).collect())
            })
            .boxed()
    }

    fn item() -> BoxedStrategy<Mp> {
        let m = (
            entry(1, text()),
            entry(2, text()),
            entry(3, text()),
            entry(5, text()),
            entry(6, body()),
            entry(10, ext()),
        )
            .prop_map(|(a, b, c, d, e, f)| Mp::Map([a, b, c, d, e, f].concat()))
            .boxed();
        let push = prop_oneof![
            Just(Mp::from("false")),
            Just(Mp::from("true")),
            Just(Mp::Boolean(false))
        ]
        .prop_map(|v| Mp::Map(vec![(Mp::from("needPush"), v)]))
        .boxed();
        (entry(1, m), entry(3, push))
            .prop_map(|(a, b)| Mp::Map([a, b].concat()))
            .boxed()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// Whatever shape an item has, reading it in place gives the converted path's events,
        /// or leaves the item to that path.
        #[test]
        fn reading_in_place_means_what_the_conversion_means(values in prop::collection::vec(item(), 1..3)) {
            let bytes = encode(&values);
            if let Some(events) = plain_messages(&bytes) {
                prop_assert_eq!(Some(events), converted(&bytes));
            }
        }
    }

    /// Empty extension fields count as absent: the sender id then comes from `"1"."1"` and
    /// the message has no sender name. Both paths share this code, so the property above
    /// cannot see it; this pins it, with the extension as a map and as a JSON string.
    #[test]
    fn empty_extension_fields_fall_back() {
        let pairs = vec![
            (Mp::from("reminderContent"), Mp::from("包邮吗")),
            (Mp::from("reminderTitle"), Mp::from("")),
            (Mp::from("senderUserId"), Mp::from("")),
        ];
        for ext in [Mp::Map(pairs.clone()), Mp::from(to_json(Mp::Map(pairs)).to_string())] {
            let m = Mp::Map(vec![
                (Mp::from(1), Mp::from("2200999@goofish")),
                (Mp::from(2), Mp::from("55501@goofish")),
                (Mp::from(3), Mp::from("4263141580162.PNM")),
                (Mp::from(5), Mp::from(1_733_000_000_123_i64)),
                (Mp::from(10), ext),
            ]);
            let bytes = encode(&[Mp::Map(vec![(Mp::from(1), m)])]);
            for events in [
                plain_messages(&bytes).expect("read in place"),
                converted(&bytes).unwrap(),
            ] {
                let proto::EventBody::Message(msg) = &events[0].body else {
                    panic!("not a message: {events:?}");
                };
                assert_eq!((msg.sender_id.as_str(), msg.sender_name.as_deref()), ("2200999", None));
                assert_eq!(msg.text, "包邮吗");
            }
        }
    }

    #[test]
    fn a_chat_message_is_read_in_place() {
        let ext = Mp::Map(vec![
            (Mp::from("reminderContent"), Mp::from("包邮吗")),
            (Mp::from("reminderTitle"), Mp::from("买家")),
            (Mp::from("senderUserId"), Mp::from("2200123456789")),
        ]);
        let m = Mp::Map(vec![
            (Mp::from(2), Mp::from("55501@goofish")),
            (Mp::from(3), Mp::from("4263141580162.PNM")),
            (Mp::from(5), Mp::from(1_733_000_000_123_i64)),
            (Mp::from(10), ext),
        ]);
        let bytes = encode(&[Mp::Map(vec![(Mp::from(1), m)])]);
        let events = plain_messages(&bytes).expect("read in place");
        assert_eq!(Some(events.clone()), converted(&bytes));
        assert_eq!(events[0].msg_id.as_deref(), Some("4263141580162.PNM"));
        assert_eq!(events[0].chat_id, "55501");
    }
}
