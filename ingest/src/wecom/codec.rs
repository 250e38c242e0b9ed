//! Pure decoding: the outer callback envelope, and the decrypted inner XML → [`ChatEvent`]s.
//!
//! Mapping (protocols.md §2.3–2.4):
//! - App messages (`text`, `image`, `voice`, `video`/`shortvideo`, `location`, `link`, and
//!   `file` should WeCom ever send it) → `message` in the chat `<AgentID>:<FromUserName>`
//!   (a member talking to the app, chat type `bot`), identified by `MsgId`.
//! - `change_contact` (members, departments, tags) and `change_external_contact` /
//!   `change_external_tag` → `contact_changed` named after the `ChangeType`.
//! - `change_external_chat` → `group_created`, `member_join` / `member_leave` (members from
//!   `MemChangeList` when WeCom sends it), `group_dissolved`; updates whose content the
//!   callback does not carry (`change_name`, `change_owner`, `change_notice`) → `other`
//!   named `change_external_chat.<UpdateDetail>` (the API lookup may turn a rename into a
//!   `group_renamed`, see `enrich`).
//! - Approval events and every other event or message type → `other` named after it, with
//!   every field in `detail`; the raw XML is kept by the store in any case.
//!
//! Events carry no `MsgId`, so their message id is derived (see [`derived_id`]).

use proto::{Attachment, ChatEvent, ChatType, ContentType, EventBody, Identity, NewMessage, TimestampMs};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::xml::{self, XmlError};

/// Why a payload could not be decoded (answered 400, kept as a reject).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not well-formed XML.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// The root element is not `<xml>`.
    #[error("root element is `<{0}>`, expected `<xml>`")]
    Root(String),
    /// A required field is missing or empty.
    #[error("missing field `{0}`")]
    Missing(&'static str),
    /// A field has the wrong shape.
    #[error("field `{field}`: {reason}")]
    Field {
        /// Which field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Not UTF-8.
    #[error("payload is not UTF-8")]
    Utf8,
}

/// The outer POST body: `<xml><ToUserName/><Encrypt/><AgentID/></xml>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The corp id WeCom addressed (checked again inside the ciphertext).
    pub to_user_name: Option<String>,
    /// Base64 ciphertext, the signed value.
    pub encrypt: String,
    /// The app.
    pub agent_id: Option<String>,
}

/// Reads the outer envelope.
pub fn parse_envelope(body: &[u8]) -> Result<Envelope, DecodeError> {
    let text = std::str::from_utf8(body).map_err(|_| DecodeError::Utf8)?;
    let fields = root_object(text)?;
    let get = |k: &str| fields.get(k).and_then(Value::as_str).map(str::to_string);
    let encrypt = get("Encrypt")
        .filter(|s| !s.is_empty())
        .ok_or(DecodeError::Missing("Encrypt"))?;
    Ok(Envelope {
        to_user_name: get("ToUserName"),
        encrypt,
        agent_id: get("AgentID"),
    })
}

/// The envelope's `Encrypt` only, read without building a tree (see [`xml::child_text`]):
/// what the receiver checks the signature of before anything else.
pub fn envelope_encrypt(body: &[u8]) -> Result<String, DecodeError> {
    let text = std::str::from_utf8(body).map_err(|_| DecodeError::Utf8)?;
    let (root, encrypt) = xml::child_text(text, "Encrypt")?;
    if root != "xml" {
        return Err(DecodeError::Root(root));
    }
    encrypt.filter(|s| !s.is_empty()).ok_or(DecodeError::Missing("Encrypt"))
}

fn root_object(text: &str) -> Result<serde_json::Map<String, Value>, DecodeError> {
    let (root, tree) = xml::parse(text)?;
    if root != "xml" {
        return Err(DecodeError::Root(root));
    }
    match tree {
        Value::Object(m) => Ok(m),
        // `<xml></xml>` or `<xml>text</xml>`: no fields at all.
        _ => Ok(serde_json::Map::new()),
    }
}

/// The fields of the inner XML the mapping reads; everything else stays in `detail`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Inner {
    #[serde(rename = "FromUserName")]
    from: String,
    #[serde(rename = "CreateTime")]
    create_time: String,
    #[serde(rename = "MsgType")]
    msg_type: String,
    #[serde(rename = "MsgId")]
    msg_id: String,
    #[serde(rename = "AgentID")]
    agent_id: String,
    #[serde(rename = "Content")]
    content: String,
    #[serde(rename = "PicUrl")]
    pic_url: String,
    #[serde(rename = "MediaId")]
    media_id: String,
    #[serde(rename = "Format")]
    format: String,
    #[serde(rename = "Location_X")]
    location_x: String,
    #[serde(rename = "Location_Y")]
    location_y: String,
    #[serde(rename = "Label")]
    label: String,
    #[serde(rename = "Title")]
    title: String,
    #[serde(rename = "Description")]
    description: String,
    #[serde(rename = "Url")]
    url: String,
    #[serde(rename = "FileName")]
    file_name: String,
    #[serde(rename = "Event")]
    event: String,
    #[serde(rename = "ChangeType")]
    change_type: String,
    #[serde(rename = "UpdateDetail")]
    update_detail: String,
    #[serde(rename = "UserID")]
    user_id: String,
    #[serde(rename = "ExternalUserID")]
    external_user_id: String,
    #[serde(rename = "ChatId")]
    chat_id: String,
    #[serde(rename = "Id")]
    id: String,
    #[serde(rename = "TagId")]
    tag_id: String,
    #[serde(rename = "MemChangeList")]
    mem_change_list: Value,
}

/// A decoded callback: its events, and what the optional API lookup could add.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// Normalized events (usually one).
    pub events: Vec<ChatEvent>,
    /// The inner `MsgType` (`text`, `event`…), for logs and metrics.
    pub msg_type: String,
}

/// Decodes decrypted inner XML.
pub fn decode(plain: &[u8]) -> Result<Decoded, DecodeError> {
    let text = std::str::from_utf8(plain).map_err(|_| DecodeError::Utf8)?;
    let fields = root_object(text)?;
    let tree = Value::Object(fields);
    let f: Inner = serde_json::from_value(tree.clone()).map_err(|e| DecodeError::Field {
        field: "xml",
        reason: e.to_string(),
    })?;
    if f.msg_type.is_empty() {
        return Err(DecodeError::Missing("MsgType"));
    }
    let at = create_time_ms(&f.create_time)?;
    let event = if f.msg_type == "event" {
        event(&f, &tree, at)
    } else {
        message(&f, &tree, at)
    };
    Ok(Decoded {
        events: vec![event],
        msg_type: f.msg_type,
    })
}

fn create_time_ms(s: &str) -> Result<TimestampMs, DecodeError> {
    if s.is_empty() {
        return Err(DecodeError::Missing("CreateTime"));
    }
    let secs: i64 = s.trim().parse().map_err(|_| DecodeError::Field {
        field: "CreateTime",
        reason: format!("`{s}` is not an integer"),
    })?;
    secs.checked_mul(1000).ok_or_else(|| DecodeError::Field {
        field: "CreateTime",
        reason: "out of range".into(),
    })
}

/// Stable id for a callback without `MsgId`: `ev_` + the first 128 bits (hex) of the sha256
/// of the fields that identify a WeCom event, in this order, joined by U+001F:
/// `FromUserName, CreateTime, MsgType, Event, ChangeType, UpdateDetail, UserID,
/// ExternalUserID, ChatId, Id, TagId`, then the canonical JSON of `MemChangeList` and of
/// `ApprovalInfo` (approval number and status). WeCom retries send the same payload, so a
/// retry gets the same id; two changes of the same object in the same second differ in at
/// least one of these fields.
pub fn derived_id(tree: &Value) -> String {
    const KEYS: [&str; 11] = [
        "FromUserName",
        "CreateTime",
        "MsgType",
        "Event",
        "ChangeType",
        "UpdateDetail",
        "UserID",
        "ExternalUserID",
        "ChatId",
        "Id",
        "TagId",
    ];
    let mut h = Sha256::new();
    for k in KEYS {
        h.update(tree.get(k).and_then(Value::as_str).unwrap_or("").as_bytes());
        h.update([0x1f]);
    }
    for k in ["MemChangeList", "ApprovalInfo"] {
        if let Some(v) = tree.get(k) {
            // serde_json's map is ordered by key, so this serialization is canonical.
            h.update(v.to_string().as_bytes());
        }
        h.update([0x1f]);
    }
    format!("ev_{}", hex::encode(&h.finalize()[..16]))
}

fn message(f: &Inner, tree: &Value, at: TimestampMs) -> ChatEvent {
    let media = |mime: Option<String>, url: Option<String>| Attachment {
        // WeCom gives no file name; the MediaId is the handle that fetches the bytes (3 days).
        name: Some(f.media_id.clone()).filter(|s| !s.is_empty()),
        mime,
        url: url.filter(|s| !s.is_empty()),
        ..Attachment::default()
    };
    let (content_type, text, attachments) = match f.msg_type.as_str() {
        "text" => (ContentType::Text, f.content.clone(), vec![]),
        "image" => (
            ContentType::Image,
            "[图片]".to_string(),
            vec![media(None, Some(f.pic_url.clone()))],
        ),
        "voice" => {
            let mime = (!f.format.is_empty()).then(|| format!("audio/{}", f.format.to_ascii_lowercase()));
            (ContentType::Voice, "[语音]".to_string(), vec![media(mime, None)])
        }
        "video" | "shortvideo" => (ContentType::Video, "[视频]".to_string(), vec![media(None, None)]),
        "file" => {
            let name = if f.file_name.is_empty() {
                "[文件]".to_string()
            } else {
                f.file_name.clone()
            };
            (ContentType::File, name, vec![media(None, None)])
        }
        "location" => {
            let text = if f.label.is_empty() {
                format!("{},{}", f.location_x, f.location_y)
            } else {
                f.label.clone()
            };
            (ContentType::Location, text, vec![])
        }
        "link" => {
            let text = [f.title.as_str(), f.description.as_str()]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join("\n");
            let card = Attachment {
                name: Some(f.title.clone()).filter(|s| !s.is_empty()),
                url: Some(f.url.clone()).filter(|s| !s.is_empty()),
                ..Attachment::default()
            };
            (ContentType::Link, text, vec![card])
        }
        other => {
            // Unknown message types keep their chat and MsgId so a later version can map them.
            let mut ev = other_event(format!("msgtype.{other}"), tree, at, app_chat_id(&f.agent_id, &f.from));
            if !f.msg_id.is_empty() {
                ev.msg_id = Some(f.msg_id.clone());
            }
            return ev;
        }
    };
    let msg_id = if f.msg_id.is_empty() {
        derived_id(tree)
    } else {
        f.msg_id.clone()
    };
    let body = EventBody::Message(NewMessage {
        chat_type: ChatType::Bot,
        chat_name: None,
        external: false,
        sender_id: f.from.clone(),
        sender_name: None,
        sent_at: at,
        content_type,
        text,
        attachments,
        reply_to: None,
        mentions: vec![],
        recipients: vec![],
        text_format: proto::TextFormat::Plain,
        source_text: None,
    });
    ChatEvent {
        chat_id: app_chat_id(&f.agent_id, &f.from),
        msg_id: Some(msg_id),
        occurred_at: Some(at),
        body,
    }
}

/// The chat of a member writing to an app.
pub fn app_chat_id(agent_id: &str, user_id: &str) -> String {
    format!("{agent_id}:{user_id}")
}

fn event(f: &Inner, tree: &Value, at: TimestampMs) -> ChatEvent {
    let contact = |change: String, who: &str| ChatEvent {
        chat_id: String::new(),
        msg_id: Some(derived_id(tree)),
        occurred_at: Some(at),
        body: EventBody::ContactChanged {
            change,
            user_id: who.to_string(),
            detail: tree.clone(),
        },
    };
    match f.event.as_str() {
        "change_contact" => {
            let who = [&f.user_id, &f.id, &f.tag_id]
                .into_iter()
                .find(|s| !s.is_empty())
                .cloned()
                .unwrap_or_default();
            contact(f.change_type.clone(), &who)
        }
        "change_external_contact" => {
            let who = if f.external_user_id.is_empty() {
                &f.user_id
            } else {
                &f.external_user_id
            };
            contact(f.change_type.clone(), who)
        }
        "change_external_tag" => contact(format!("external_tag_{}", f.change_type), &f.id),
        "change_external_chat" => external_chat(f, tree, at),
        "" => other_event("event.unnamed".into(), tree, at, String::new()),
        name => other_event(name.to_string(), tree, at, String::new()),
    }
}

fn external_chat(f: &Inner, tree: &Value, at: TimestampMs) -> ChatEvent {
    let members = || member_list(&f.mem_change_list);
    let body = match (f.change_type.as_str(), f.update_detail.as_str()) {
        ("create", _) => EventBody::GroupCreated {
            name: None,
            members: vec![],
            at: Some(at),
        },
        ("dismiss", _) => EventBody::GroupDissolved { at: Some(at) },
        ("update", "add_member") => EventBody::MemberJoin {
            members: members(),
            at: Some(at),
        },
        ("update", "del_member") => EventBody::MemberLeave {
            members: members(),
            at: Some(at),
        },
        ("update", detail) => {
            return other_event(format!("change_external_chat.{detail}"), tree, at, f.chat_id.clone());
        }
        (change, _) => {
            return other_event(format!("change_external_chat.{change}"), tree, at, f.chat_id.clone());
        }
    };
    ChatEvent {
        chat_id: f.chat_id.clone(),
        msg_id: Some(derived_id(tree)),
        occurred_at: Some(at),
        body,
    }
}

/// `<MemChangeList><Item>id</Item>…</MemChangeList>` → identities (absent in older callbacks).
fn member_list(v: &Value) -> Vec<Identity> {
    let items = match v.get("Item") {
        Some(Value::Array(a)) => a.clone(),
        Some(one) => vec![one.clone()],
        None => vec![],
    };
    items
        .iter()
        .filter_map(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(|id| Identity {
            id: id.to_string(),
            name: None,
        })
        .collect()
}

fn other_event(subtype: String, tree: &Value, at: TimestampMs, chat_id: String) -> ChatEvent {
    ChatEvent {
        chat_id,
        msg_id: Some(derived_id(tree)),
        occurred_at: Some(at),
        body: EventBody::Other {
            subtype,
            detail: tree.clone(),
        },
    }
}
