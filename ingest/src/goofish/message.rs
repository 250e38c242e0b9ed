//! Decoded sync items and history models → [`ChatEvent`]s (protocols §3.8, §3.10).
//!
//! Field layout of a decoded chat item (maps keyed `"1"`, `"2"`, …):
//! `"1"."2"` conversation id `<cid>@goofish`, `"1"."3"` message id (`….PNM`), `"1"."5"` create
//! time (ms), `"1"."6"` content, `"1"."10"` extension (`senderUserId`, `reminderTitle` = sender
//! name, `reminderContent` = text); `"3".needPush == "false"` marks a system message. Three of
//! four published clients read `"1"."2"` as the conversation id, so we do too.
//!
//! Recall (UNVERIFIED: no public source documents how an incoming recall is pushed): we
//! recognise a chat item whose extension carries `recallFeature` (the field the conversation
//! model uses for recalled last messages, with the operator fields `recallMessageByFeature`
//! sends: `operatorType`, `operatorUid`, `showRecallStatusSetting`). `"1"."3"` is then the
//! recalled message and `"1"."5"` the recall time.

use std::borrow::Cow;

use proto::{ChatEvent, ChatType, EventBody, NewMessage};
use serde_json::{Value, json};

use super::content::{self, as_i64};
use super::node::{Node, Unsure};

/// Suffix of Goofish user and conversation ids on the wire.
const SUFFIX: &str = "@goofish";

/// Events of one decoded msgpack item.
pub fn from_sync_item(v: &Value) -> Result<Vec<ChatEvent>, String> {
    match plain_message(v) {
        Ok(Some(e)) => return Ok(vec![e]),
        Err(Miss::Layout(reason)) => return Err(reason),
        // A JSON tree is never unsure of itself.
        Ok(None) | Err(Miss::Unsure) => {}
    }
    match v.get("1") {
        Some(m @ Value::Object(_)) => {
            let ext = m.get("10").map(ext_object).unwrap_or(Cow::Owned(Value::Null));
            if let Some(feature) = ext.get("recallFeature") {
                return withdraw(m, feature).map(|e| vec![e]);
            }
            Ok(vec![other("sync_item", chat_of(m.get("2")), v)])
        }
        Some(Value::String(_)) => Ok(vec![other("notice", chat_of(v.get("2")), v)]),
        Some(Value::Array(list))
            if list
                .first()
                .and_then(|f| f.get("1"))
                .and_then(Value::as_str)
                .is_some_and(|s| s.contains(SUFFIX)) =>
        {
            Ok(vec![other("typing", String::new(), v)])
        }
        _ => Ok(vec![other("sync_item", String::new(), v)]),
    }
}

/// Why [`plain_message`] gave no event.
#[derive(Debug)]
pub(crate) enum Miss {
    /// A chat message lacking a field it needs: the item is rejected with this reason.
    Layout(String),
    /// A borrowed MessagePack tree that only its JSON conversion can answer for.
    Unsure,
}

impl From<Unsure> for Miss {
    fn from(_: Unsure) -> Miss {
        Miss::Unsure
    }
}

/// The event of an item that is a plain chat message (`"1"` a map whose extension has
/// `reminderContent` and no `recallFeature`); `None` for any other item.
pub(crate) fn plain_message<N: Node>(root: &N) -> Result<Option<ChatEvent>, Miss> {
    let Some(m) = root.at("1")?.filter(|m| m.is_map()) else {
        return Ok(None);
    };
    let ext = match m.at("10")? {
        Some(e) if e.is_map() => Ext::Tree(e),
        Some(e) => Ext::Parsed(ext_object(&e.json()).into_owned()),
        None => Ext::Parsed(Value::Null),
    };
    if ext.has("recallFeature")? || !ext.has("reminderContent")? {
        return Ok(None);
    }
    push_message(root, m, &ext).map(Some)
}

/// Events of one Base64(JSON) item (system and status items: kept as `other`).
pub fn from_json_item(v: &Value) -> Vec<ChatEvent> {
    let cid = v
        .get("sessionInfo")
        .and_then(|s| s.get("cid").or_else(|| s.get("sessionId")))
        .or_else(|| v.get("cid"));
    vec![other("system", chat_of(cid), v)]
}

/// One entry of `userMessageModels` from `/r/MessageManager/listUserMessages`.
pub fn from_history(model: &Value) -> Result<ChatEvent, String> {
    let msg = model.get("message").ok_or("history entry without message")?;
    let ext = msg.get("extension").map(ext_object).unwrap_or(Cow::Owned(Value::Null));
    let chat_id = bare(msg.get("cid")).ok_or("history message without cid")?;
    let msg_id = id_string(msg.get("messageId")).ok_or("history message without messageId")?;
    let sent_at = msg
        .get("createAt")
        .and_then(as_i64)
        .ok_or("history message without createAt")?;
    let sender_id = ext_str(&ext, "senderUserId")
        .map(str::to_string)
        .or_else(|| bare(msg.get("sender").and_then(|s| s.get("uid"))))
        .unwrap_or_default();
    let system = is_false(ext.get("needPush")) || is_false(model.get("userExtension").and_then(|u| u.get("needPush")));
    let summary = ext_str(&ext, "reminderContent");
    let content = msg.get("content").cloned().unwrap_or(Value::Null);
    let c = content::interpret(&content, summary);
    let mut e = message_event(chat_id, msg_id, sender_id, sender_name(&ext), sent_at, c, system);
    if let EventBody::Message(m) = &mut e.body {
        m.chat_type = chat_type(msg.get("conversationType"));
    }
    Ok(e)
}

/// The chat type a `conversationType` names. 1 is the single chat every published client
/// sends (seed `002`, protocols.md §3.10). 2 = group is an INFERENCE: Goofish IM runs on
/// DingTalk's IMPaaS (the `/reg` UA, §3.3), whose conversations use 1 单聊 / 2 群聊; no Goofish
/// source names the value. Anything else stays a direct chat.
pub fn chat_type(v: Option<&Value>) -> ChatType {
    match v.and_then(as_i64) {
        Some(2) => ChatType::Group,
        _ => ChatType::Direct,
    }
}

/// A chat item's extension (`"1"."10"`): a map read in place, or the JSON some variants send
/// as a string, parsed. Read in place, a message converts only the fields it uses, not every
/// field of the extension.
enum Ext<'a, N> {
    Tree(&'a N),
    Parsed(Value),
}

impl<N: Node> Ext<'_, N> {
    fn has(&self, key: &str) -> Result<bool, Unsure> {
        Ok(match self {
            Ext::Tree(n) => n.at(key)?.is_some(),
            Ext::Parsed(v) => v.get(key).is_some(),
        })
    }

    /// The non-empty string at `key` ([`ext_str`]).
    fn text(&self, key: &str) -> Result<Option<String>, Unsure> {
        Ok(match self {
            Ext::Tree(n) => match n.at(key)?.map(Node::json) {
                Some(Value::String(s)) if !s.is_empty() => Some(s),
                _ => None,
            },
            Ext::Parsed(v) => ext_str(v, key).map(str::to_string),
        })
    }

    /// The sender's name ([`SENDER_NAME_KEYS`]).
    fn sender_name(&self) -> Result<Option<String>, Unsure> {
        for key in SENDER_NAME_KEYS {
            if let Some(name) = self.text(key)? {
                return Ok(Some(name));
            }
        }
        Ok(None)
    }
}

fn push_message<N: Node>(root: &N, m: &N, ext: &Ext<'_, N>) -> Result<ChatEvent, Miss> {
    let layout = |reason: &str| Miss::Layout(reason.into());
    let leaf = |key: &str| -> Result<Option<Value>, Miss> { Ok(m.at(key)?.map(Node::json)) };
    let chat_id = bare(leaf("2")?.as_ref()).ok_or_else(|| layout("chat item without conversation id (\"1\".\"2\")"))?;
    let msg_id = id_string(leaf("3")?.as_ref()).ok_or_else(|| layout("chat item without message id (\"1\".\"3\")"))?;
    let sent_at = leaf("5")?
        .as_ref()
        .and_then(as_i64)
        .ok_or_else(|| layout("chat item without create time (\"1\".\"5\")"))?;
    let sender_id = match ext.text("senderUserId")? {
        Some(s) => s,
        None => bare(leaf("1")?.as_ref()).unwrap_or_default(),
    };
    let summary = ext.text("reminderContent")?;
    let c = content::interpret(&inner_content(m.at("6")?)?, summary.as_deref());
    let sender_name = ext.sender_name()?;
    let needs_push = match root.at("3")? {
        Some(p) => p.at("needPush")?.map(Node::json),
        None => None,
    };
    let system = is_false(needs_push.as_ref());
    Ok(message_event(
        chat_id,
        msg_id,
        sender_id,
        sender_name,
        sent_at,
        c,
        system,
    ))
}

/// The inner content object of body `"1"."6"`: the JSON string at `"3"."5"`, else the Base64
/// JSON at `"3"."1"`, else just the body's content type (`"1"`).
fn inner_content<N: Node>(body: Option<&N>) -> Result<Value, Miss> {
    let c = match body {
        Some(b) => b.at("3")?,
        None => None,
    };
    if let Some(c) = c {
        let parsed = |key: &str, parse: fn(&str) -> Option<Value>| -> Result<Option<Value>, Miss> {
            Ok(c.at(key)?
                .map(Node::json)
                .as_ref()
                .and_then(Value::as_str)
                .and_then(parse))
        };
        if let Some(v) = parsed("5", |s| serde_json::from_str::<Value>(s).ok())? {
            return Ok(v);
        }
        if let Some(v) = parsed("1", content::decode_b64_json)? {
            return Ok(v);
        }
    }
    let content_type = match body {
        Some(b) => b.at("1")?.map(Node::json),
        None => None,
    };
    Ok(json!({ "contentType": content_type.unwrap_or(Value::Null) }))
}

fn withdraw(m: &Value, feature: &Value) -> Result<ChatEvent, String> {
    let chat_id = bare(m.get("2")).ok_or("recall without conversation id")?;
    let msg_id = id_string(m.get("3")).ok_or("recall without message id")?;
    let at = m.get("5").and_then(as_i64);
    let feature = match feature {
        Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
        other => other.clone(),
    };
    let by = bare(feature.get("operatorUid"));
    let mut e = ChatEvent::message(chat_id, msg_id, EventBody::Withdraw { by, at });
    e.occurred_at = at;
    Ok(e)
}

fn message_event(
    chat_id: String,
    msg_id: String,
    sender_id: String,
    sender_name: Option<String>,
    sent_at: i64,
    c: content::Content,
    system: bool,
) -> ChatEvent {
    let content_type = if system {
        proto::ContentType::System
    } else {
        c.content_type
    };
    let body = EventBody::Message(NewMessage {
        chat_type: ChatType::Direct,
        chat_name: None,
        // Goofish chats are with buyers and sellers outside the company.
        external: true,
        sender_id,
        sender_name,
        sent_at,
        content_type,
        text: c.text,
        attachments: c.attachments,
        reply_to: None,
        mentions: Vec::new(),
        recipients: Vec::new(),
        text_format: proto::TextFormat::Plain,
        source_text: None,
    });
    let mut e = ChatEvent::message(chat_id, msg_id, body);
    e.occurred_at = Some(sent_at);
    e
}

fn other(subtype: &str, chat_id: String, detail: &Value) -> ChatEvent {
    ChatEvent {
        chat_id,
        msg_id: None,
        occurred_at: None,
        body: EventBody::Other {
            subtype: subtype.into(),
            detail: detail.clone(),
        },
    }
}

/// The extension map; some variants send it as a JSON string.
fn ext_object(v: &Value) -> Cow<'_, Value> {
    match v {
        Value::String(s) => Cow::Owned(serde_json::from_str(s).unwrap_or(Value::Null)),
        other => Cow::Borrowed(other),
    }
}

fn ext_str<'a>(ext: &'a Value, key: &str) -> Option<&'a str> {
    ext.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// Where an extension names the sender: the first of these that is a non-empty string.
const SENDER_NAME_KEYS: [&str; 2] = ["reminderTitle", "senderNick"];

fn sender_name(ext: &Value) -> Option<String> {
    SENDER_NAME_KEYS
        .iter()
        .find_map(|key| ext_str(ext, key))
        .map(str::to_string)
}

fn is_false(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::String(s)) if s == "false") || matches!(v, Some(Value::Bool(false)))
}

/// An id without its `@goofish` suffix.
fn bare(v: Option<&Value>) -> Option<String> {
    let s = id_string(v)?;
    Some(s.strip_suffix(SUFFIX).unwrap_or(&s).to_string())
}

fn chat_of(v: Option<&Value>) -> String {
    bare(v).unwrap_or_default()
}

fn id_string(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
