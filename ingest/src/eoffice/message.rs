//! An e-office message object (PersonalMessage / GroupMessage) → canonical events.
//!
//! Fields per the e-office IM API: `message_id` (string or number), `reply_message_id`,
//! `message_content` (AES ciphertext), `text_message_content` (plaintext), `message_type`
//! (1 text, 2 image, 3 file), `sender`, `sender_name`, `send_time` (ms), `chat_object_id`
//! (direct chats), `room_id` / `group_name` / `members` / `at_list` (groups), `to`, `type`
//! (`user`, `personal_group`, `public_group`), `withdraw` (flag), `delete_user_id`.

use proto::{Attachment, ChatEvent, ChatType, ContentType, DeleteScope, EventBody, NewMessage, TimestampMs};
use serde_json::Value;

use super::crypto::ContentKey;

/// A message decoded into events, and whether its text came from the plaintext fallback
/// because `message_content` did not decrypt.
#[derive(Debug)]
pub struct DecodedMessage {
    /// `message`, then `withdraw` / `delete` when the object says it was withdrawn or deleted.
    pub events: Vec<ChatEvent>,
    /// The ciphertext failed to decrypt and `text_message_content` was used.
    pub aes_fallback: bool,
}

/// Text of a string or number field.
pub(crate) fn id_field(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A millisecond time from a number or numeric string; seconds are scaled.
pub(crate) fn time_field(v: &Value, key: &str) -> Option<TimestampMs> {
    let t = match v.get(key)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64))?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    // Ten-digit values are Unix seconds (PHP back ends send those).
    let t = if (1_000_000_000..100_000_000_000).contains(&t) {
        t * 1000
    } else {
        t
    };
    proto::time::plausible(t).then_some(t)
}

/// Ids of a list of users given as strings, numbers or `{user_id, user_name}` objects.
pub(crate) fn user_ids(v: Option<&Value>) -> Vec<(String, Option<String>)> {
    let Some(Value::Array(a)) = v else {
        return vec![];
    };
    a.iter()
        .filter_map(|u| match u {
            Value::String(s) if !s.is_empty() => Some((s.clone(), None)),
            Value::Number(n) => Some((n.to_string(), None)),
            Value::Object(_) => {
                let id = id_field(u, "user_id")
                    .or_else(|| id_field(u, "userId"))
                    .or_else(|| id_field(u, "id"))?;
                let name = u
                    .get("user_name")
                    .or_else(|| u.get("userName"))
                    .and_then(Value::as_str)
                    .map(str::to_string);
                Some((id, name))
            }
            _ => None,
        })
        .collect()
}

/// Decodes one message object. `group_hint` is the event's own claim (`group message`,
/// `group offline info`) used when the object has no `type`. `received_at` stands in for a
/// missing `send_time`.
pub fn decode(
    v: &Value,
    group_hint: bool,
    key: Option<&ContentKey>,
    received_at: TimestampMs,
) -> Result<DecodedMessage, String> {
    if !v.is_object() {
        return Err("message is not an object".into());
    }
    let msg_id = id_field(v, "message_id").ok_or("message without message_id")?;
    let sender = id_field(v, "sender").ok_or("message without sender")?;
    let group = match v.get("type").and_then(Value::as_str) {
        Some("user") => false,
        Some("personal_group" | "public_group" | "group") => true,
        _ => group_hint || v.get("room_id").is_some(),
    };
    let chat_id = if group {
        id_field(v, "room_id").or_else(|| id_field(v, "chat_object_id"))
    } else {
        id_field(v, "chat_object_id").or_else(|| {
            // The e-office client names a direct chat by the two user ids, sorted, joined by `_`.
            let to = id_field(v, "to")?;
            let mut pair = [sender.clone(), to];
            pair.sort();
            Some(pair.join("_"))
        })
    }
    .ok_or("message without chat_object_id / room_id")?;

    let (text, aes_fallback) = text(v, key)?;
    let content_type = match v.get("message_type").and_then(Value::as_i64) {
        Some(1) | None => ContentType::Text,
        Some(2) => ContentType::Image,
        Some(3) => ContentType::File,
        Some(_) => ContentType::Other,
    };
    // The seed names only the type numbers (1 text, 2 image, 3 file) and says
    // `text_message_content` is the message's 原文; it never says an image or file message's
    // text is its file name or where the bytes are. So the text stays the text, and an
    // attachment is recorded only for what the frame plainly carries: a URL.
    let attachments = match content_type {
        ContentType::Image | ContentType::File if text.starts_with("http://") || text.starts_with("https://") => {
            vec![Attachment {
                url: Some(text.clone()),
                ..Attachment::default()
            }]
        }
        _ => vec![],
    };
    let sent_at = time_field(v, "send_time").unwrap_or(received_at);
    let mut recipients: Vec<String> = user_ids(v.get("members")).into_iter().map(|(id, _)| id).collect();
    if let Some(to) = id_field(v, "to")
        && !recipients.contains(&to)
    {
        recipients.push(to);
    }
    let message = NewMessage {
        chat_type: if group { ChatType::Group } else { ChatType::Direct },
        chat_name: group
            .then(|| v.get("group_name").and_then(Value::as_str).map(str::to_string))
            .flatten(),
        external: false,
        sender_id: sender.clone(),
        sender_name: v.get("sender_name").and_then(Value::as_str).map(str::to_string),
        sent_at,
        content_type,
        text,
        attachments,
        reply_to: id_field(v, "reply_message_id"),
        mentions: user_ids(v.get("at_list")).into_iter().map(|(id, _)| id).collect(),
        recipients,
        text_format: proto::TextFormat::Plain,
        source_text: None,
    };
    let mut events = vec![ChatEvent {
        chat_id: chat_id.clone(),
        msg_id: Some(msg_id.clone()),
        occurred_at: Some(sent_at),
        body: EventBody::Message(message),
    }];
    // `withdraw` is a flag: the seed's message structures name no withdrawer and no time, so
    // neither is guessed (the archive's receive time stands in; `audit` says "not recorded").
    if v.get("withdraw").and_then(Value::as_i64).unwrap_or(0) != 0 {
        events.push(ChatEvent::message(
            &chat_id,
            &msg_id,
            EventBody::Withdraw { by: None, at: None },
        ));
    }
    // `delete_user_id?: string; // 删除消息的用户ID` (seed 000, PersonalMessage): one user's id,
    // so one user removed the message from their own view; nothing in the seed removes it for
    // the chat, so the message stays in its state and the deletion is recorded for that user.
    if let Some(by) = id_field(v, "delete_user_id") {
        events.push(ChatEvent::message(
            &chat_id,
            &msg_id,
            EventBody::Delete {
                by: Some(by),
                at: None,
                scope: DeleteScope::User,
            },
        ));
    }
    Ok(DecodedMessage { events, aes_fallback })
}

/// The message text: decrypted `message_content` when a key is configured, else (or when it
/// does not decrypt) `text_message_content`.
fn text(v: &Value, key: Option<&ContentKey>) -> Result<(String, bool), String> {
    let plain = v.get("text_message_content").and_then(Value::as_str);
    let cipher = v
        .get("message_content")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    match (key, cipher) {
        (Some(k), Some(c)) => match k.decrypt(c) {
            Ok(t) => Ok((t, false)),
            Err(e) => match plain {
                Some(p) => Ok((p.to_string(), true)),
                None => Err(format!("{e} and no text_message_content")),
            },
        },
        (None, Some(_)) => match plain {
            Some(p) => Ok((p.to_string(), false)),
            None => Err(
                "message_content is encrypted, no aes_key is configured and there is no text_message_content".into(),
            ),
        },
        (_, None) => match plain {
            Some(p) => Ok((p.to_string(), false)),
            None => Err("message has neither message_content nor text_message_content".into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RX: TimestampMs = 1_790_000_000_000;

    fn key() -> ContentKey {
        ContentKey::new("0123456789abcdef", "fedcba9876543210").unwrap()
    }

    #[test]
    fn direct_message_uses_chat_object_id_and_decrypts() {
        let k = key();
        let v = json!({
            "message_id": 1789000000123u64, "message_content": k.encrypt("合同已盖章"),
            "text_message_content": "合同已盖章", "message_type": 1, "sender": "zhangsan",
            "sender_name": "张三", "send_time": 1789000000123u64, "chat_object_id": "lisi_zhangsan",
            "withdraw": 0, "type": "user", "to": "lisi", "reply_message_id": "m0"
        });
        let d = decode(&v, false, Some(&k), RX).unwrap();
        assert!(!d.aes_fallback);
        assert_eq!(d.events.len(), 1);
        let e = &d.events[0];
        assert_eq!(
            (e.chat_id.as_str(), e.msg_id.as_deref()),
            ("lisi_zhangsan", Some("1789000000123"))
        );
        let EventBody::Message(m) = &e.body else { panic!() };
        assert_eq!(
            (m.chat_type, m.text.as_str(), m.sent_at),
            (ChatType::Direct, "合同已盖章", 1789000000123)
        );
        assert_eq!(
            (m.reply_to.as_deref(), m.recipients.clone()),
            (Some("m0"), vec!["lisi".to_string()])
        );
        assert_eq!(m.sender_name.as_deref(), Some("张三"));
    }

    #[test]
    fn group_message_uses_room_id_mentions_and_name() {
        let v = json!({
            "message_id": "g1", "text_message_content": "@李四 会议纪要请查收", "message_type": 1,
            "sender": "wangwu", "send_time": 1789000000000u64, "type": "public_group", "room_id": "room42",
            "group_name": "农业局项目组", "members": ["lisi", "wangwu"],
            "at_list": [{"user_id": "lisi", "user_name": "李四"}]
        });
        let d = decode(&v, false, None, RX).unwrap();
        let e = &d.events[0];
        assert_eq!(e.chat_id, "room42");
        let EventBody::Message(m) = &e.body else { panic!() };
        assert_eq!(
            (m.chat_type, m.chat_name.as_deref()),
            (ChatType::Group, Some("农业局项目组"))
        );
        assert_eq!(m.mentions, vec!["lisi".to_string()]);
    }

    #[test]
    fn bad_ciphertext_falls_back_to_plaintext_and_says_so() {
        let v = json!({"message_id": "1", "sender": "a", "chat_object_id": "a_b", "send_time": 1789000000000u64,
            "message_content": "%%%", "text_message_content": "报销"});
        let d = decode(&v, false, Some(&key()), RX).unwrap();
        assert!(d.aes_fallback);
        let EventBody::Message(m) = &d.events[0].body else {
            panic!()
        };
        assert_eq!(m.text, "报销");
    }

    #[test]
    fn unusable_content_is_an_error() {
        let v = json!({"message_id": "1", "sender": "a", "chat_object_id": "a_b", "message_content": "%%%"});
        assert!(decode(&v, false, Some(&key()), RX).unwrap_err().contains("not base64"));
        assert!(decode(&v, false, None, RX).unwrap_err().contains("no aes_key"));
        assert!(
            decode(&json!({"sender": "a"}), false, None, RX)
                .unwrap_err()
                .contains("message_id")
        );
        assert!(decode(&json!([1]), false, None, RX).is_err());
    }

    #[test]
    fn withdrawn_and_deleted_flags_become_events() {
        let v = json!({"message_id": 5, "sender": "a", "to": "b", "text_message_content": "x",
            "send_time": "1789000000", "withdraw": 1, "delete_user_id": "b", "message_type": 3});
        let d = decode(&v, false, None, RX).unwrap();
        assert_eq!(d.events[0].chat_id, "a_b");
        assert_eq!(d.events[0].occurred_at, Some(1_789_000_000_000));
        let kinds: Vec<_> = d.events.iter().map(|e| e.kind().to_string()).collect();
        assert_eq!(kinds, ["message", "withdraw", "delete"]);
        assert_eq!(
            d.events[1].body,
            EventBody::Withdraw { by: None, at: None },
            "the seed names no withdrawer or time: none is made up"
        );
        assert_eq!(
            d.events[2].body,
            EventBody::Delete {
                by: Some("b".into()),
                at: None,
                scope: DeleteScope::User
            },
            "delete_user_id removes the message for that user, not for the chat"
        );
    }

    #[test]
    fn a_file_message_keeps_its_text_and_no_invented_file_name() {
        let v = json!({"message_id": 6, "sender": "a", "to": "b", "text_message_content": "采购合同v3.pdf",
            "send_time": 1789000000000u64, "message_type": 3});
        let EventBody::Message(m) = &decode(&v, false, None, RX).unwrap().events[0].body else {
            panic!()
        };
        assert_eq!((m.content_type, m.text.as_str()), (ContentType::File, "采购合同v3.pdf"));
        assert!(m.attachments.is_empty(), "{:?}", m.attachments);
        let v = json!({"message_id": 7, "sender": "a", "to": "b", "text_message_content": "https://oa/f/7",
            "send_time": 1789000000000u64, "message_type": 2});
        let EventBody::Message(m) = &decode(&v, false, None, RX).unwrap().events[0].body else {
            panic!()
        };
        assert_eq!(
            m.attachments,
            [Attachment {
                url: Some("https://oa/f/7".into()),
                ..Attachment::default()
            }]
        );
    }
}
