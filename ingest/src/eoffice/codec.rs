//! e-office IM events (name + arguments of a Socket.IO EVENT) → canonical events. Pure.
//!
//! Chat ids: `chat_object_id` for direct chats, `room_id` for groups. Offline batches
//! (`user offline info`, `group offline info`) decode message by message, so one bad message
//! becomes a reject of its own while the rest of the batch is archived.

use proto::{ChatEvent, DeleteScope, EventBody, Identity, TimestampMs};
use serde_json::Value;

use super::crypto::ContentKey;
use super::message::{self, id_field, time_field, user_ids};

/// Server events that carry nothing to archive beyond their raw form; kept as `other` events
/// under their own name, without counting them as unknown.
const PASSIVE: &[&str] = &[
    "hello",
    "export channel",
    "queue monitor",
    "import channel",
    "system message read sync",
    "eoffice.system-message-channel",
    "set message muted sync",
    "page communication",
    "quick build pull",
    "handle edit form pull",
    "handle autouser pull",
    "remove export item",
];

/// What one event decoded into.
#[derive(Debug, Default)]
pub struct Decoded {
    /// Canonical events.
    pub events: Vec<ChatEvent>,
    /// Parts that could not be decoded (offline batch members): raw JSON and reason.
    pub rejects: Vec<(String, String)>,
    /// Messages whose ciphertext did not decrypt and whose plaintext was used.
    pub aes_fallbacks: u32,
    /// The event name is not in the e-office catalogue.
    pub unknown: bool,
    /// `refresh page`: the account was logged in elsewhere; the detail to record.
    pub kicked: Option<String>,
}

/// Why a whole event could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{event}`: {why}")]
pub struct CodecError {
    /// Event name.
    pub event: String,
    /// What is wrong.
    pub why: String,
}

/// Decodes e-office events with the configured content key.
#[derive(Debug, Clone, Default)]
pub struct Codec {
    key: Option<ContentKey>,
}

impl Codec {
    /// A codec; `key` decrypts `message_content`.
    pub fn new(key: Option<ContentKey>) -> Self {
        Codec { key }
    }

    /// Decodes one event. `received_at` is the archive's receive time, used only where the
    /// platform gives no time of its own (presence).
    pub fn decode(&self, name: &str, args: &[Value], received_at: TimestampMs) -> Result<Decoded, CodecError> {
        let err = |why: &str| CodecError {
            event: name.to_string(),
            why: why.to_string(),
        };
        let first = args.first();
        let obj = || {
            first
                .filter(|v| v.is_object())
                .ok_or_else(|| err("argument is not an object"))
        };
        let mut out = Decoded::default();
        match name {
            "private message" | "group message" => {
                let d = message::decode(obj()?, name == "group message", self.key.as_ref(), received_at)
                    .map_err(|why| err(&why))?;
                out.aes_fallbacks += u32::from(d.aes_fallback);
                out.events = d.events;
            }
            "user offline info" | "group offline info" => {
                let list = offline_list(first).ok_or_else(|| err("argument is not a list of messages"))?;
                for m in list {
                    match message::decode(m, name == "group offline info", self.key.as_ref(), received_at) {
                        Ok(d) => {
                            out.aes_fallbacks += u32::from(d.aes_fallback);
                            out.events.extend(d.events);
                        }
                        Err(why) => out.rejects.push((m.to_string(), format!("`{name}` member: {why}"))),
                    }
                }
            }
            "message have read" => {
                let v = obj()?;
                let chat_id = id_field(v, "chat_id").ok_or_else(|| err("no chat_id"))?;
                let user_id = id_field(v, "user_id").ok_or_else(|| err("no user_id"))?;
                let at = time_field(v, "read_time");
                out.events
                    .push(chat_event(chat_id, at, EventBody::Read { user_id, at }));
            }
            // Seed 000: `withdraw msg` is {chat_id, message_id, type, toUserId, at_list} and
            // `delete msg` is {chat_id, message_id}: no withdrawer, deleter or time is named
            // (`toUserId` is the other party, not who acted), so none is guessed; the receive
            // time stands in and `audit` says "not recorded". Only `delete_user_id`, the field
            // the seed names for who deleted, is read. e-office deletion is per user (the
            // message structure keeps one `delete_user_id`), so `delete msg` removes the
            // message for one user — typically this account on another device — not for the
            // chat.
            "withdraw msg" | "delete msg" => {
                let v = obj()?;
                let chat_id = id_field(v, "chat_id").ok_or_else(|| err("no chat_id"))?;
                let msg_id = id_field(v, "message_id").ok_or_else(|| err("no message_id"))?;
                let body = if name == "withdraw msg" {
                    EventBody::Withdraw { by: None, at: None }
                } else {
                    EventBody::Delete {
                        by: id_field(v, "delete_user_id"),
                        at: None,
                        scope: DeleteScope::User,
                    }
                };
                out.events.push(ChatEvent {
                    chat_id,
                    msg_id: Some(msg_id),
                    occurred_at: None,
                    body,
                });
            }
            "user add group" | "group delete user" | "create group" => {
                let v = obj()?;
                let chat_id = id_field(v, "room_id").ok_or_else(|| err("no room_id"))?;
                let members: Vec<Identity> = user_ids(v.get("members"))
                    .into_iter()
                    .map(|(id, name)| Identity { id, name })
                    .collect();
                let body = match name {
                    "user add group" => EventBody::MemberJoin { members, at: None },
                    "group delete user" => EventBody::MemberLeave { members, at: None },
                    _ => EventBody::GroupCreated {
                        name: v.get("group_name").and_then(Value::as_str).map(str::to_string),
                        members,
                        at: None,
                    },
                };
                out.events.push(chat_event(chat_id, None, body));
            }
            "delete group" => {
                let chat_id = id_field(obj()?, "room_id").ok_or_else(|| err("no room_id"))?;
                out.events
                    .push(chat_event(chat_id, None, EventBody::GroupDissolved { at: None }));
            }
            "online user change" => {
                let v = obj()?;
                for (state, key) in [("online", "online"), ("offline", "offline")] {
                    let Some(side) = v.get(key) else { continue };
                    for (device, list) in [
                        ("web", "webUsers"),
                        ("mobile", "mobileUsers"),
                        ("client", "clientUsers"),
                    ] {
                        for (user_id, _) in user_ids(side.get(list)) {
                            out.events
                                .push(presence(user_id, format!("{state}:{device}"), received_at));
                        }
                    }
                }
            }
            "change work status" => {
                let v = obj()?;
                let user_id = id_field(v, "userId")
                    .or_else(|| id_field(v, "user_id"))
                    .ok_or_else(|| err("no userId"))?;
                let status = match v.get("workStatus").and_then(Value::as_i64) {
                    Some(0) => "offline".to_string(),
                    Some(1) => "online".to_string(),
                    Some(2) => "busy".to_string(),
                    Some(n) => format!("work_status_{n}"),
                    None => return Err(err("no workStatus")),
                };
                out.events.push(presence(user_id, status, received_at));
            }
            "sync chat list" => {
                for chat in chat_list(first) {
                    let id = ["room_id", "chat_id", "chat_object_id", "id"]
                        .iter()
                        .find_map(|k| id_field(chat, k));
                    let label = ["group_name", "chat_name", "name", "user_name"]
                        .iter()
                        .find_map(|k| chat.get(*k).and_then(Value::as_str).filter(|s| !s.is_empty()));
                    if let (Some(chat_id), Some(label)) = (id, label) {
                        let body = EventBody::GroupRenamed {
                            name: label.to_string(),
                            at: None,
                        };
                        out.events.push(chat_event(chat_id, None, body));
                    }
                }
                if out.events.is_empty() {
                    out.events.push(other(name, args));
                }
            }
            "refresh page" => {
                let detail = match first {
                    Some(Value::String(s)) => s.clone(),
                    Some(v) => v.get("message").and_then(Value::as_str).unwrap_or("").to_string(),
                    None => String::new(),
                };
                let detail: String = detail.chars().take(200).collect();
                out.kicked = Some(if detail.is_empty() {
                    "account logged in elsewhere (refresh page)".to_string()
                } else {
                    format!("account logged in elsewhere (refresh page): {detail}")
                });
            }
            _ => {
                out.unknown = !PASSIVE.contains(&name);
                out.events.push(other(name, args));
            }
        }
        Ok(out)
    }
}

/// An event about a chat (or, with an empty id, the account) rather than one message.
fn chat_event(chat_id: String, occurred_at: Option<TimestampMs>, body: EventBody) -> ChatEvent {
    ChatEvent {
        chat_id,
        msg_id: None,
        occurred_at,
        body,
    }
}

fn presence(user_id: String, status: String, at: TimestampMs) -> ChatEvent {
    chat_event(String::new(), Some(at), EventBody::Presence { user_id, status, at })
}

fn other(name: &str, args: &[Value]) -> ChatEvent {
    let subtype = name.replace([' ', '.', '-'], "_");
    ChatEvent {
        chat_id: String::new(),
        msg_id: None,
        occurred_at: None,
        body: EventBody::Other {
            subtype,
            detail: Value::Array(args.to_vec()),
        },
    }
}

/// Offline feeds are a list of messages; a map of chat → list is accepted too.
fn offline_list(v: Option<&Value>) -> Option<Vec<&Value>> {
    match v? {
        Value::Array(a) => Some(a.iter().collect()),
        Value::Object(o) if o.values().all(Value::is_array) => {
            Some(o.values().filter_map(Value::as_array).flatten().collect())
        }
        _ => None,
    }
}

/// The chat list: an array, or an object holding one under `list` / `data`.
fn chat_list(v: Option<&Value>) -> Vec<&Value> {
    match v {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(Value::Object(o)) => ["list", "data", "chats"]
            .iter()
            .find_map(|k| o.get(*k).and_then(Value::as_array))
            .map(|a| a.iter().collect())
            .unwrap_or_default(),
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::EventKind;
    use serde_json::json;

    const RX: TimestampMs = 1_790_000_000_000;

    fn kinds(d: &Decoded) -> Vec<EventKind> {
        d.events.iter().map(ChatEvent::kind).collect()
    }

    #[test]
    fn offline_batch_keeps_good_members_and_rejects_bad_ones() {
        let msgs = json!([
            {"message_id": "1", "sender": "a", "chat_object_id": "a_b", "text_message_content": "好的", "send_time": 1789000000000u64},
            {"sender": "a"},
            {"message_id": "3", "sender": "b", "chat_object_id": "a_b", "text_message_content": "收到", "send_time": 1789000000001u64}
        ]);
        let d = Codec::default().decode("user offline info", &[msgs], RX).unwrap();
        assert_eq!(d.events.len(), 2);
        assert_eq!(d.rejects.len(), 1);
        assert!(d.rejects[0].1.contains("message_id"), "{:?}", d.rejects);
        assert!(Codec::default().decode("user offline info", &[json!("x")], RX).is_err());
    }

    #[test]
    fn maps_the_catalogue() {
        let c = Codec::default();
        let d = c
            .decode(
                "message have read",
                &[json!({"type": "user", "chat_id": "a_b", "read_time": 1789000000000u64, "user_id": "b"})],
                RX,
            )
            .unwrap();
        assert_eq!(kinds(&d), [EventKind::Read]);
        let d = c
            .decode(
                "withdraw msg",
                &[json!({"chat_id": "r1", "message_id": 9, "type": "group", "toUserId": "x", "at_list": []})],
                RX,
            )
            .unwrap();
        assert_eq!(
            (kinds(&d), d.events[0].msg_id.as_deref()),
            (vec![EventKind::Withdraw], Some("9"))
        );
        assert_eq!(
            d.events[0].body,
            EventBody::Withdraw { by: None, at: None },
            "toUserId is the other party, not the withdrawer"
        );
        let d = c
            .decode("delete msg", &[json!({"chat_id": "r1", "message_id": "9"})], RX)
            .unwrap();
        assert_eq!(kinds(&d), [EventKind::Delete]);
        assert_eq!(
            d.events[0].body,
            EventBody::Delete {
                by: None,
                at: None,
                scope: DeleteScope::User
            },
            "e-office deletes for one user; the frame does not say whom"
        );
        let d = c
            .decode("user add group", &[json!({"room_id": "r1", "members": ["c", "d"]})], RX)
            .unwrap();
        let EventBody::MemberJoin { members, .. } = &d.events[0].body else {
            panic!()
        };
        assert_eq!(members.len(), 2);
        let d = c
            .decode("group delete user", &[json!({"room_id": "r1", "members": ["c"]})], RX)
            .unwrap();
        assert_eq!(kinds(&d), [EventKind::MemberLeave]);
        let d = c.decode("delete group", &[json!({"room_id": "r1"})], RX).unwrap();
        assert_eq!(kinds(&d), [EventKind::GroupDissolved]);
        let d = c
            .decode("change work status", &[json!({"userId": "a", "workStatus": 2})], RX)
            .unwrap();
        let EventBody::Presence { status, .. } = &d.events[0].body else {
            panic!()
        };
        assert_eq!(status, "busy");
        let d = c
            .decode("online user change", &[json!({"online": {"webUsers": ["a"], "mobileUsers": [], "clientUsers": ["b"]}, "offline": {"webUsers": ["c"]}})], RX)
            .unwrap();
        let statuses: Vec<_> = d
            .events
            .iter()
            .map(|e| match &e.body {
                EventBody::Presence { user_id, status, .. } => format!("{user_id}={status}"),
                _ => String::new(),
            })
            .collect();
        assert_eq!(statuses, ["a=online:web", "b=online:client", "c=offline:web"]);
        let d = c
            .decode(
                "sync chat list",
                &[json!([{"room_id": "r1", "group_name": "报销群"}, {"chat_object_id": "a_b"}])],
                RX,
            )
            .unwrap();
        let EventBody::GroupRenamed { name, .. } = &d.events[0].body else {
            panic!()
        };
        assert_eq!((d.events.len(), name.as_str()), (1, "报销群"));
    }

    #[test]
    fn kicked_and_unknown_events_are_flagged() {
        let c = Codec::default();
        let d = c.decode("refresh page", &[], RX).unwrap();
        assert!(d.kicked.unwrap().contains("logged in elsewhere"));
        assert!(d.events.is_empty());
        let d = c.decode("brand new thing", &[json!({"a": 1})], RX).unwrap();
        assert!(d.unknown);
        let EventBody::Other { subtype, detail } = &d.events[0].body else {
            panic!()
        };
        assert_eq!((subtype.as_str(), detail), ("brand_new_thing", &json!([{"a": 1}])));
        let d = c.decode("queue monitor", &[json!(1)], RX).unwrap();
        assert!(!d.unknown);
    }

    #[test]
    fn wrong_shapes_are_errors_not_panics() {
        let c = Codec::default();
        for (name, args) in [
            ("private message", vec![]),
            ("private message", vec![json!("text")]),
            ("group message", vec![json!(null)]),
            ("message have read", vec![json!({"chat_id": "x"})]),
            ("withdraw msg", vec![json!({"chat_id": "x"})]),
            ("delete group", vec![json!([])]),
            ("change work status", vec![json!({"userId": "a"})]),
        ] {
            assert!(c.decode(name, &args, RX).is_err(), "{name} {args:?}");
        }
    }
}
