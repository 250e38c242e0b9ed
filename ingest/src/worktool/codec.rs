//! WorkTool callback bodies → [`ChatEvent`]s. Pure: no I/O (the blob store write and the
//! multipart reading happen in [`super::receiver`]).
//!
//! Both body encodings end up as one JSON object: JSON bodies as sent, form bodies as their
//! fields with string values, which the typed readers below accept too (`"2"` for `2`,
//! `"true"` for `true`), since WorkTool's own documentation shows both.

use base64::Engine;
use proto::{Attachment, ChatEvent, ChatType, ContentType, EventBody, NewMessage, TimestampMs};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Why a body was refused (answered 400, kept as a reject). Never contains the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not JSON / not a form.
    #[error("malformed {what} body: {detail}")]
    Malformed {
        /// `JSON`, `form` or `multipart`.
        what: &'static str,
        /// Parser message.
        detail: String,
    },
    /// Valid syntax, but not an object of fields.
    #[error("callback body is not an object")]
    NotAnObject,
    /// A field has a type WorkTool never sends.
    #[error("field `{field}` should be {expected}")]
    WrongType {
        /// Field name.
        field: &'static str,
        /// What was expected.
        expected: &'static str,
    },
    /// A message callback with neither a group nor a sender: there is no chat to file it in.
    #[error("message callback names no chat (empty `groupName` and `receivedName`)")]
    NoChat,
}

/// What a callback is.
#[derive(Debug, Clone, PartialEq)]
pub enum Callback {
    /// A chat message the robot saw (callback type 11).
    Message(WtMessage),
    /// The robot came online (callback type 5).
    RobotOnline,
    /// The robot went offline (callback type 6).
    RobotOffline,
    /// Anything else bound to the same URL (group QR code 0, command result 1, unknown).
    Other {
        /// Named subtype, e.g. `worktool_qr_code`.
        subtype: String,
    },
}

/// A message callback's fields, typed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WtMessage {
    /// Text without the @robot mention.
    pub spoken: String,
    /// Original text.
    pub raw_spoken: String,
    /// Sender name.
    pub received_name: String,
    /// Group name (groups).
    pub group_name: String,
    /// Group remark (groups).
    pub group_remark: String,
    /// 1 外部群, 2 外部联系人, 3 内部群, 4 内部联系人.
    pub room_type: Option<i64>,
    /// Whether the robot was @-mentioned.
    pub at_me: bool,
    /// Message type code.
    pub text_type: Option<i64>,
    /// Base64 image (PNG), textType 2 with the image switch on.
    pub file_base64: Option<String>,
}

/// Fields that only a message callback carries.
const MESSAGE_FIELDS: [&str; 5] = ["spoken", "rawSpoken", "receivedName", "textType", "roomType"];

/// Parses a JSON body into its field object.
pub fn parse_json(body: &[u8]) -> Result<Map<String, Value>, DecodeError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(DecodeError::NotAnObject),
        Err(e) => Err(DecodeError::Malformed {
            what: "JSON",
            detail: e.to_string(),
        }),
    }
}

/// Parses an `application/x-www-form-urlencoded` body.
pub fn parse_urlencoded(body: &[u8]) -> Result<Map<String, Value>, DecodeError> {
    if std::str::from_utf8(body).is_err() {
        return Err(DecodeError::Malformed {
            what: "form",
            detail: "not UTF-8".into(),
        });
    }
    let mut m = Map::new();
    for (k, v) in url::form_urlencoded::parse(body) {
        m.insert(k.into_owned(), Value::String(v.into_owned()));
    }
    if m.is_empty() && !body.iter().all(u8::is_ascii_whitespace) {
        return Err(DecodeError::Malformed {
            what: "form",
            detail: "no fields".into(),
        });
    }
    Ok(m)
}

/// Classifies a callback by its fields (no `event` in its URL): see [`classify_with`].
pub fn classify(fields: &Map<String, Value>) -> Result<Callback, DecodeError> {
    classify_with(fields, None)
}

/// What the callback URL's `event` parameter says, if anything.
///
/// WorkTool binds each callback type to a URL of its own (`robotInfo/callBack/bind`, body
/// `{"type": N, "callBackUrl": …}`, 5 = 机器人上线回调, 6 = 机器人下线回调; protocols.md §4.1,
/// WorkTool API docs api-43942595), but no public source shows the body of the online /
/// offline callbacks; the same docs say those two may point at a WeCom group-robot webhook
/// (支持企微内部机器人webhook地址), i.e. the body is whatever such a webhook accepts
/// (`{"msgtype":"text","text":{"content":…}}`). So the URL tells them apart, not the body:
/// the operator binds type 5 to `…?key=K&event=online` and type 6 to `…&event=offline`.
pub fn robot_event(event: Option<&str>) -> Option<Callback> {
    match event?.trim() {
        "online" | "robot_online" | "5" => Some(Callback::RobotOnline),
        "offline" | "robot_offline" | "6" => Some(Callback::RobotOffline),
        _ => None,
    }
}

/// Classifies a callback by its URL's `event` ([`robot_event`]) and its fields. Message
/// callbacks are recognised by their fields (seed 003 §1). Other bodies are not publicly
/// documented: they are kept whole as `other`, named by a numeric `type` when they carry one
/// (0 QR code, 1 command result, the bind API's numbers) or `worktool_notice` for a WeCom
/// webhook message (`msgtype`); a `type` 5 or 6 body does **not** change the robot state,
/// since no source says WorkTool sends that shape (the receiver logs how to bind them).
pub fn classify_with(fields: &Map<String, Value>, event: Option<&str>) -> Result<Callback, DecodeError> {
    if let Some(c) = robot_event(event) {
        return Ok(c);
    }
    if MESSAGE_FIELDS.iter().any(|f| fields.contains_key(*f)) {
        return message(fields).map(Callback::Message);
    }
    let kind = int_field(fields, "type")?.or(int_field(fields, "callBackType")?);
    Ok(match kind {
        Some(0) => Callback::Other {
            subtype: "worktool_qr_code".into(),
        },
        Some(1) => Callback::Other {
            subtype: "worktool_command_result".into(),
        },
        Some(n) => Callback::Other {
            subtype: format!("worktool_callback_{n}"),
        },
        None if fields.contains_key("msgtype") => Callback::Other {
            subtype: "worktool_notice".into(),
        },
        None => Callback::Other {
            subtype: "worktool_callback".into(),
        },
    })
}

fn message(f: &Map<String, Value>) -> Result<WtMessage, DecodeError> {
    let m = WtMessage {
        spoken: str_field(f, "spoken")?,
        raw_spoken: str_field(f, "rawSpoken")?,
        received_name: str_field(f, "receivedName")?,
        group_name: str_field(f, "groupName")?,
        group_remark: str_field(f, "groupRemark")?,
        room_type: int_field(f, "roomType")?,
        at_me: bool_field(f, "atMe")?,
        text_type: int_field(f, "textType")?,
        file_base64: Some(str_field(f, "fileBase64")?).filter(|s| !s.is_empty()),
    };
    if m.group_name.is_empty() && m.group_remark.is_empty() && m.received_name.is_empty() {
        return Err(DecodeError::NoChat);
    }
    Ok(m)
}

fn str_field(f: &Map<String, Value>, field: &'static str) -> Result<String, DecodeError> {
    match f.get(field) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(_) => Err(DecodeError::WrongType {
            field,
            expected: "a string",
        }),
    }
}

fn int_field(f: &Map<String, Value>, field: &'static str) -> Result<Option<i64>, DecodeError> {
    let wrong = DecodeError::WrongType {
        field,
        expected: "an integer",
    };
    match f.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or(wrong),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| wrong),
        Some(_) => Err(wrong),
    }
}

fn bool_field(f: &Map<String, Value>, field: &'static str) -> Result<bool, DecodeError> {
    match f.get(field) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) => match s.trim() {
            "true" | "True" | "TRUE" | "1" => Ok(true),
            "false" | "False" | "FALSE" | "0" | "" => Ok(false),
            _ => Err(DecodeError::WrongType {
                field,
                expected: "a boolean",
            }),
        },
        Some(Value::Number(n)) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => Ok(n.as_i64() == Some(1)),
        Some(_) => Err(DecodeError::WrongType {
            field,
            expected: "a boolean",
        }),
    }
}

/// Decodes `fileBase64` (standard alphabet, padding optional, whitespace and a `data:` prefix
/// tolerated).
pub fn decode_file(b64: &str) -> Result<Vec<u8>, String> {
    let s = b64.split_once("base64,").map_or(b64, |(_, rest)| rest);
    let clean: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(clean.trim_end_matches('='))
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(clean.trim_end_matches('=')))
        .map_err(|e| format!("invalid base64 in `fileBase64`: {e}"))
}

/// Chat kind and the internal/external flag from `roomType`; without one, a group name means
/// a group.
pub fn chat_kind(m: &WtMessage) -> (ChatType, bool) {
    match m.room_type {
        Some(1) => (ChatType::Group, true),
        Some(2) => (ChatType::Direct, true),
        Some(3) => (ChatType::Group, false),
        Some(4) => (ChatType::Direct, false),
        _ if !m.group_name.is_empty() || !m.group_remark.is_empty() => (ChatType::Group, false),
        _ => (ChatType::Direct, false),
    }
}

/// `textType` → content type.
pub fn content_type(text_type: Option<i64>) -> ContentType {
    match text_type {
        Some(1) | Some(15) => ContentType::Text,
        Some(2) => ContentType::Image,
        Some(3) => ContentType::Voice,
        Some(5) => ContentType::Video,
        Some(7) => ContentType::MiniProgram,
        Some(8) => ContentType::Link,
        Some(9) => ContentType::File,
        Some(13) => ContentType::Merged,
        // 0 = unknown per the platform; absent means a plain text robot reply setup.
        None => ContentType::Text,
        Some(_) => ContentType::Other,
    }
}

fn placeholder(ct: ContentType) -> &'static str {
    match ct {
        ContentType::Image => "[图片]",
        ContentType::Voice => "[语音]",
        ContentType::Video => "[视频]",
        ContentType::MiniProgram => "[小程序]",
        ContentType::Link => "[链接]",
        ContentType::File => "[文件]",
        ContentType::Merged => "[合并记录]",
        _ => "",
    }
}

/// The chat id: the group name for groups, `dm:<contact>` for direct chats (the robot's own
/// chat with that contact; the account already scopes it to the robot, the prefix keeps a
/// person apart from a group with the same name). WorkTool sends names only (seed 003 §1: no
/// group or user ids), so a group renamed continues under a new chat id; its remark, shown as
/// the chat name, stays the same across the rename when the robot's owner set one.
pub fn chat_id(m: &WtMessage) -> String {
    match chat_kind(m).0 {
        ChatType::Group if !m.group_name.is_empty() => m.group_name.clone(),
        ChatType::Group if !m.group_remark.is_empty() => m.group_remark.clone(),
        _ => format!("dm:{}", m.received_name),
    }
}

/// Content fingerprint of a message: what two deliveries of the same message share. Hex, 12
/// characters.
pub fn fingerprint(m: &WtMessage) -> String {
    let mut h = Sha256::new();
    for part in [
        chat_id(m).as_str(),
        &m.received_name,
        &m.text_type.unwrap_or(-1).to_string(),
        &m.raw_spoken,
        &m.spoken,
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    if let Some(f) = &m.file_base64 {
        h.update(Sha256::digest(f.as_bytes()));
    }
    hex::encode(&h.finalize()[..6])
}

/// The derived message id: `<received_at ms>-<arrival>-<fingerprint>` (see the module docs).
pub fn message_id(received_at: TimestampMs, arrival: u64, fingerprint: &str) -> String {
    format!("{received_at}-{arrival}-{fingerprint}")
}

/// `@name` mentions in the original text (WeCom ends a mention with U+2005 or a space).
pub fn mentions(raw: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in raw.match_indices('@') {
        let rest = &raw[i + 1..];
        let name: String = rest
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '\u{2005}' && *c != '@')
            .collect();
        if !name.is_empty() && !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// Per-request values the message event needs besides the body.
#[derive(Debug, Clone)]
pub struct MessageCx<'a> {
    /// When the archive received the request (also `sent_at`: WorkTool sends no time).
    pub received_at: TimestampMs,
    /// Arrival number of the request at this connector (since start).
    pub arrival: u64,
    /// The robot's identity for `atMe` (its robot id, else the connector name).
    pub robot: &'a str,
}

/// The `message` event of a message callback; `attachment` is the stored `fileBase64`.
pub fn message_event(m: &WtMessage, cx: &MessageCx<'_>, attachment: Option<Attachment>) -> ChatEvent {
    let (chat_type, external) = chat_kind(m);
    let ct = content_type(m.text_type);
    let text = if !m.raw_spoken.is_empty() {
        m.raw_spoken.clone()
    } else if !m.spoken.is_empty() {
        m.spoken.clone()
    } else {
        placeholder(ct).to_string()
    };
    let mut mentions = mentions(&m.raw_spoken);
    if m.at_me && !mentions.iter().any(|x| x == cx.robot) {
        mentions.push(cx.robot.to_string());
    }
    // The robot account's own remark for the group (seed 003 §1 `groupRemark`, "QA所在群备注名")
    // is what its owner calls the group; others cannot change it. It is shown as the chat's
    // name when set; the chat id stays the group name (see [`chat_id`]).
    let chat_name = match chat_type {
        ChatType::Group if !m.group_remark.is_empty() => Some(m.group_remark.clone()),
        ChatType::Group => Some(m.group_name.clone()).filter(|s| !s.is_empty()),
        _ => Some(m.received_name.clone()).filter(|s| !s.is_empty()),
    };
    let msg = NewMessage {
        chat_type,
        chat_name,
        external,
        sender_id: m.received_name.clone(),
        sender_name: Some(m.received_name.clone()).filter(|s| !s.is_empty()),
        sent_at: cx.received_at,
        content_type: ct,
        text,
        attachments: attachment.into_iter().collect(),
        reply_to: None,
        mentions,
        recipients: vec![],
        text_format: proto::TextFormat::Plain,
        source_text: None,
    };
    let id = message_id(cx.received_at, cx.arrival, &fingerprint(m));
    let mut ev = ChatEvent::message(chat_id(m), id, EventBody::Message(msg));
    ev.occurred_at = Some(cx.received_at);
    ev
}

/// The `other` event of a robot online / offline callback: its body whole, and the receive
/// time. WorkTool never retries, so two identical notices are two state changes (the robot
/// went online twice), and the time keeps them two events.
pub fn robot_state_event(online: bool, fields: &Map<String, Value>, received_at: TimestampMs) -> ChatEvent {
    let subtype = if online {
        "worktool_robot_online"
    } else {
        "worktool_robot_offline"
    };
    ChatEvent {
        chat_id: String::new(),
        msg_id: None,
        occurred_at: Some(received_at),
        body: EventBody::Other {
            subtype: subtype.to_string(),
            detail: serde_json::json!({ "received_at": received_at, "body": Value::Object(fields.clone()) }),
        },
    }
}

/// The `other` event of a callback that is neither a message nor a robot state change.
pub fn other_event(subtype: &str, fields: &Map<String, Value>) -> ChatEvent {
    ChatEvent {
        chat_id: String::new(),
        msg_id: None,
        occurred_at: None,
        body: EventBody::Other {
            subtype: subtype.to_string(),
            detail: Value::Object(fields.clone()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn maps_the_documented_demo_message() {
        let f = obj(
            json!({"spoken":"您好,欢迎使用WorkTool~","rawSpoken":"@小明 您好,欢迎使用WorkTool~",
            "receivedName":"WorkTool","groupName":"WorkTool","groupRemark":"WorkTool","roomType":1,
            "atMe":"true","textType":1}),
        );
        let Callback::Message(m) = classify(&f).unwrap() else {
            panic!("not a message")
        };
        let ev = message_event(
            &m,
            &MessageCx {
                received_at: 1_760_000_000_000,
                arrival: 7,
                robot: "robot-1",
            },
            None,
        );
        assert_eq!(ev.chat_id, "WorkTool");
        assert!(ev.msg_id.as_deref().unwrap().starts_with("1760000000000-7-"));
        let EventBody::Message(n) = ev.body else { panic!() };
        assert_eq!((n.chat_type, n.external), (ChatType::Group, true));
        assert_eq!(n.text, "@小明 您好,欢迎使用WorkTool~");
        assert_eq!(n.mentions, ["小明", "robot-1"]);
        assert_eq!(n.sender_id, "WorkTool");
        assert_eq!(n.sent_at, 1_760_000_000_000);
        assert_eq!(n.content_type, ContentType::Text);
    }

    #[test]
    fn room_types_and_text_types() {
        let kinds: Vec<_> = (1..=4)
            .map(|r| {
                chat_kind(&WtMessage {
                    room_type: Some(r),
                    received_name: "张三".into(),
                    ..Default::default()
                })
            })
            .collect();
        assert_eq!(
            kinds,
            [
                (ChatType::Group, true),
                (ChatType::Direct, true),
                (ChatType::Group, false),
                (ChatType::Direct, false)
            ]
        );
        let types: Vec<_> = [0, 1, 2, 3, 5, 7, 8, 9, 13, 15]
            .iter()
            .map(|t| content_type(Some(*t)))
            .collect();
        use ContentType::*;
        assert_eq!(
            types,
            [Other, Text, Image, Voice, Video, MiniProgram, Link, File, Merged, Text]
        );
        let dm = WtMessage {
            room_type: Some(4),
            received_name: "张三".into(),
            group_name: "".into(),
            ..Default::default()
        };
        assert_eq!(chat_id(&dm), "dm:张三");
    }

    #[test]
    fn wrong_types_are_errors_and_strings_are_accepted() {
        assert_eq!(
            classify(&obj(json!({"spoken":"x","receivedName":"a","roomType":"外部群"}))),
            Err(DecodeError::WrongType {
                field: "roomType",
                expected: "an integer"
            })
        );
        assert!(matches!(
            classify(&obj(json!({"spoken":["x"],"receivedName":"a"}))),
            Err(DecodeError::WrongType { field: "spoken", .. })
        ));
        assert!(classify(&obj(json!({"spoken":"x","receivedName":"a","atMe":"maybe"}))).is_err());
        let Callback::Message(m) = classify(&obj(
            json!({"spoken":"x","receivedName":"a","roomType":"3","textType":"2","atMe":false}),
        ))
        .unwrap() else {
            panic!()
        };
        assert_eq!((m.room_type, m.text_type, m.at_me), (Some(3), Some(2), false));
        assert_eq!(classify(&obj(json!({"spoken":"x"}))), Err(DecodeError::NoChat));
        assert_eq!(parse_json(b"[1]"), Err(DecodeError::NotAnObject));
        assert!(matches!(
            parse_json(b"{\"spoken\":"),
            Err(DecodeError::Malformed { .. })
        ));
    }

    #[test]
    fn other_callback_types() {
        // The robot state comes from the URL's `event`, whatever the body.
        let notice = obj(json!({"msgtype":"text","text":{"content":"机器人已上线"}}));
        assert_eq!(classify_with(&notice, Some("online")).unwrap(), Callback::RobotOnline);
        assert_eq!(
            classify_with(&obj(json!({})), Some("offline")).unwrap(),
            Callback::RobotOffline
        );
        assert_eq!(
            classify(&notice).unwrap(),
            Callback::Other {
                subtype: "worktool_notice".into()
            }
        );
        // An undocumented `type` 5 body is kept, not read as a state change.
        assert_eq!(
            classify(&obj(json!({"type":5,"robotId":"r"}))).unwrap(),
            Callback::Other {
                subtype: "worktool_callback_5".into()
            }
        );
        assert_eq!(
            classify(&obj(json!({"type":0,"groupQrCode":"..."}))).unwrap(),
            Callback::Other {
                subtype: "worktool_qr_code".into()
            }
        );
        assert_eq!(
            classify(&obj(json!({"type":1,"messageId":"m"}))).unwrap(),
            Callback::Other {
                subtype: "worktool_command_result".into()
            }
        );
    }

    #[test]
    fn form_fields_and_base64() {
        let f = parse_urlencoded("spoken=%E5%A5%BD%E7%9A%84&receivedName=%E5%BC%A0%E4%B8%89&roomType=4".as_bytes())
            .unwrap();
        assert_eq!(f["spoken"], "好的");
        assert!(parse_urlencoded(b"\xff\xfe").is_err());
        assert_eq!(decode_file("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode_file("data:image/png;base64,aGVs\nbG8").unwrap(), b"hello");
        assert!(decode_file("***not base64***").is_err());
    }

    #[test]
    fn identical_messages_share_a_fingerprint_but_not_an_id() {
        let m = WtMessage {
            spoken: "好的".into(),
            received_name: "张三".into(),
            group_name: "报销群".into(),
            ..Default::default()
        };
        let a = message_event(
            &m,
            &MessageCx {
                received_at: 1_760_000_000_000,
                arrival: 1,
                robot: "r",
            },
            None,
        );
        let b = message_event(
            &m,
            &MessageCx {
                received_at: 1_760_000_000_000,
                arrival: 2,
                robot: "r",
            },
            None,
        );
        assert_ne!(a.msg_id, b.msg_id);
        assert_eq!(a.msg_id.as_deref().unwrap()[16..], b.msg_id.as_deref().unwrap()[16..]);
    }
}
