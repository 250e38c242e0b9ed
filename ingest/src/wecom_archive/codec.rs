//! Pure decoding: a decrypted 会话存档 message (protocols.md §2.5) → [`ChatEvent`]s.
//!
//! - `action = send` → a `message` in its chat: `roomid` → the group `roomid`; no `roomid` →
//!   a direct chat whose id is the two participants sorted (`a|b`), so both directions land
//!   in one chat. Participants whose ids look like WeCom external ids (`wo…`, `wm…`) make the
//!   chat external.
//! - `action = recall` (`msgtype = revoke`) → a `withdraw` of `revoke.pre_msgid` by `from` at
//!   `msgtime`, in the same chat as the original.
//! - `action = switch` (a user switched enterprise) → an `other` event `switch`, not a message.
//! - Every message type of §2.5 gets a content type and a readable text for search; a type
//!   not known here becomes content type `other` with a summary (the raw JSON is kept by the
//!   store either way).

use proto::{Attachment, ChatEvent, ChatType, ContentType, EventBody, NewMessage, TextFormat};
use serde_json::Value;

/// Why a decrypted message could not be turned into events.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not JSON, or not an object.
    #[error("message is not a JSON object: {0}")]
    Json(String),
    /// A required field is missing.
    #[error("missing field `{0}`")]
    Missing(&'static str),
}

/// Decodes one decrypted message.
pub fn decode(plain: &[u8]) -> Result<Vec<ChatEvent>, DecodeError> {
    let v: Value = serde_json::from_slice(plain).map_err(|e| DecodeError::Json(e.to_string()))?;
    if !v.is_object() {
        return Err(DecodeError::Json("not an object".into()));
    }
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("");
    let msgid = s("msgid");
    if msgid.is_empty() {
        return Err(DecodeError::Missing("msgid"));
    }
    let action = s("action");
    if action == "switch" {
        return Ok(vec![ChatEvent {
            chat_id: String::new(),
            msg_id: Some(msgid.to_string()),
            occurred_at: v.get("time").and_then(Value::as_i64),
            body: EventBody::Other {
                subtype: "switch".into(),
                detail: v.clone(),
            },
        }]);
    }
    let from = s("from");
    if from.is_empty() {
        return Err(DecodeError::Missing("from"));
    }
    let tolist: Vec<String> = v
        .get("tolist")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let msgtime = v
        .get("msgtime")
        .and_then(Value::as_i64)
        .ok_or(DecodeError::Missing("msgtime"))?;
    let roomid = s("roomid");
    let (chat_id, chat_type) = chat_of(roomid, from, &tolist);
    let msgtype = s("msgtype");

    if action == "recall" || msgtype == "revoke" {
        let pre = v
            .pointer("/revoke/pre_msgid")
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty())
            .ok_or(DecodeError::Missing("revoke.pre_msgid"))?;
        let mut e = ChatEvent::message(
            chat_id,
            pre,
            EventBody::Withdraw {
                by: Some(from.to_string()),
                at: Some(msgtime),
            },
        );
        e.occurred_at = Some(msgtime);
        return Ok(vec![e]);
    }

    let body = v.get(msgtype).or_else(|| v.get("info")).cloned().unwrap_or(Value::Null);
    let (content_type, text, attachments) = content(msgtype, &body);
    let external = is_external(from) || tolist.iter().any(|t| is_external(t));
    let mut e = ChatEvent::message(
        chat_id,
        msgid,
        EventBody::Message(NewMessage {
            chat_type,
            chat_name: None,
            external,
            sender_id: from.to_string(),
            sender_name: None,
            sent_at: msgtime,
            content_type,
            // 会话存档 markdown is kept as sent beside the text (protocols.md §2.5).
            text_format: if msgtype == "markdown" {
                TextFormat::Markdown
            } else {
                TextFormat::Plain
            },
            source_text: (msgtype == "markdown").then(|| text.clone()),
            text,
            attachments,
            reply_to: None,
            mentions: vec![],
            recipients: tolist,
        }),
    );
    e.occurred_at = Some(msgtime);
    Ok(vec![e])
}

/// The chat of a message: the room, or the sorted pair of a one-to-one chat.
pub fn chat_of(roomid: &str, from: &str, tolist: &[String]) -> (String, ChatType) {
    if !roomid.is_empty() {
        return (roomid.to_string(), ChatType::Group);
    }
    let mut who: Vec<&str> = std::iter::once(from).chain(tolist.iter().map(String::as_str)).collect();
    who.sort_unstable();
    who.dedup();
    (who.join("|"), ChatType::Direct)
}

/// WeCom external contact ids start with `wo` or `wm` and are long (32 characters in
/// practice); employee ids are set by the company and rarely look like that.
pub fn is_external(id: &str) -> bool {
    (id.starts_with("wo") || id.starts_with("wm")) && id.len() >= 20
}

fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn num_of(v: &Value, k: &str) -> Option<u64> {
    v.get(k)
        .and_then(|x| x.as_u64().or_else(|| x.as_str().and_then(|s| s.parse().ok())))
}

/// The sdkfileid of a media message (image, voice, video, file, emotion …), if any.
pub fn media_ref(body: &Value) -> Option<(&str, &str, Option<u64>)> {
    let id = body.get("sdkfileid").and_then(Value::as_str)?;
    Some((
        id,
        str_of(body, "md5sum"),
        num_of(body, "filesize").or_else(|| num_of(body, "imagesize")),
    ))
}

fn media_attachment(body: &Value, name: Option<String>, mime: Option<&str>) -> Vec<Attachment> {
    match media_ref(body) {
        Some((_, _, size)) => vec![Attachment {
            name,
            mime: mime.map(str::to_string),
            size,
            url: None,
            sha256: None,
        }],
        None => vec![],
    }
}

fn join(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Content type, searchable text and attachments of a message body.
fn content(msgtype: &str, b: &Value) -> (ContentType, String, Vec<Attachment>) {
    use ContentType as C;
    let s = |k: &str| str_of(b, k);
    match msgtype {
        "text" => (C::Text, s("content").to_string(), vec![]),
        "markdown" => (C::Markdown, s("content").to_string(), vec![]),
        "image" => (C::Image, "[图片]".into(), media_attachment(b, None, Some("image/jpeg"))),
        "voice" => {
            let secs = num_of(b, "play_length").unwrap_or(0);
            (
                C::Voice,
                format!("[语音 {secs}秒]"),
                media_attachment(b, None, Some("audio/amr")),
            )
        }
        "video" => {
            let secs = num_of(b, "play_length").unwrap_or(0);
            (
                C::Video,
                format!("[视频 {secs}秒]"),
                media_attachment(b, None, Some("video/mp4")),
            )
        }
        "file" => {
            let name = s("filename").to_string();
            (C::File, name.clone(), media_attachment(b, Some(name), None))
        }
        "emotion" => {
            let mime = if num_of(b, "type") == Some(1) {
                "image/gif"
            } else {
                "image/png"
            };
            (C::Sticker, "[表情]".into(), media_attachment(b, None, Some(mime)))
        }
        "card" => (
            C::Card,
            format!("[名片] {}", join(&[s("userid"), s("corpname")])),
            vec![],
        ),
        "location" => (
            C::Location,
            format!("[位置] {}", join(&[s("title"), s("address")])),
            vec![],
        ),
        "link" => {
            let url = s("link_url").to_string();
            let att = (!url.is_empty())
                .then(|| Attachment {
                    name: Some(s("title").to_string()),
                    url: Some(url),
                    ..Default::default()
                })
                .into_iter()
                .collect();
            (C::Link, join(&[s("title"), s("description")]), att)
        }
        "weapp" => (
            C::MiniProgram,
            format!("[小程序] {}", join(&[s("displayname"), s("title"), s("description")])),
            vec![],
        ),
        "chatrecord" => (C::Merged, chatrecord_text(b), vec![]),
        "todo" => (C::Card, format!("[待办] {}", join(&[s("title"), s("content")])), vec![]),
        "vote" => {
            let items: Vec<&str> = b
                .get("voteitem")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let title = s("votetitle");
            (
                C::Card,
                format!("[投票] {}", join(&[title, &items.join(" / ")])),
                vec![],
            )
        }
        "collect" => {
            let details: Vec<String> = b
                .get("details")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(|d| str_of(d, "ques").to_string()).collect())
                .unwrap_or_default();
            (
                C::Card,
                format!("[填表] {}", join(&[s("title"), &details.join(" / ")])),
                vec![],
            )
        }
        "redpacket" | "external_redpacket" => {
            let amount = num_of(b, "totalamount").unwrap_or(0);
            (
                C::Card,
                format!("[红包] {} {}.{:02}元", s("wish"), amount / 100, amount % 100),
                vec![],
            )
        }
        "meeting" => (
            C::Card,
            format!("[会议] {}", join(&[s("topic"), s("address"), s("remarks")])),
            vec![],
        ),
        "docmsg" => (
            C::Link,
            format!("[在线文档] {}", s("title")),
            vec![Attachment {
                name: Some(s("title").to_string()),
                url: Some(s("link_url").to_string()).filter(|u| !u.is_empty()),
                ..Default::default()
            }],
        ),
        "news" => {
            let items: Vec<String> = b
                .get("item")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|i| join(&[str_of(i, "title"), str_of(i, "description")]))
                        .collect()
                })
                .unwrap_or_default();
            (C::Link, format!("[图文] {}", items.join(" / ")), vec![])
        }
        "calendar" => (
            C::Card,
            format!("[日程] {}", join(&[s("title"), s("place"), s("remarks")])),
            vec![],
        ),
        "mixed" => {
            let parts: Vec<String> = b
                .get("item")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(mixed_part).collect())
                .unwrap_or_default();
            (C::Text, parts.join(" "), vec![])
        }
        "meeting_voice_call" => (C::System, "[音频存档] 会议语音通话".into(), vec![]),
        "voip_doc_share" => {
            let name = s("filename").to_string();
            (
                C::File,
                format!("[共享文档] {name}"),
                media_attachment(b, Some(name.clone()), None),
            )
        }
        "sphfeed" => (
            C::Link,
            format!("[视频号] {}", join(&[s("sph_name"), s("feed_desc")])),
            vec![],
        ),
        "voiptext" => {
            let secs = num_of(b, "callduration").unwrap_or(0);
            (C::System, format!("[音视频通话] {secs}秒"), vec![])
        }
        "qydiskfile" => {
            let name = s("filename").to_string();
            (C::File, format!("[微盘文件] {name}"), vec![])
        }
        "agree" => (C::System, "[同意存档]".into(), vec![]),
        "disagree" => (C::System, "[不同意存档]".into(), vec![]),
        other => (C::Other, join(&[&format!("[{other}]"), &summary(b)]), vec![]),
    }
}

/// `mixed.item[]` parts carry their own JSON string in `content`.
fn mixed_part(part: &Value) -> String {
    let ty = str_of(part, "type");
    let inner: Value = part
        .get("content")
        .and_then(Value::as_str)
        .and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or(Value::Null);
    match ty {
        "text" | "markdown" => str_of(&inner, "content").to_string(),
        _ => content(ty, &inner).1,
    }
}

/// A chat record's title and the text of each forwarded item (`ChatRecordText` and so on,
/// each with its JSON in `content`).
fn chatrecord_text(b: &Value) -> String {
    let mut parts = vec![str_of(b, "title").to_string()];
    if let Some(items) = b.get("item").and_then(Value::as_array) {
        for i in items {
            let ty = str_of(i, "type").trim_start_matches("ChatRecord").to_lowercase();
            let inner: Value = i
                .get("content")
                .and_then(Value::as_str)
                .and_then(|c| serde_json::from_str(c).ok())
                .unwrap_or(Value::Null);
            let ty = if ty == "text" { "text".to_string() } else { ty };
            parts.push(content(&ty, &inner).1);
        }
    }
    join(&parts.iter().map(String::as_str).collect::<Vec<_>>())
}

/// The string values of an unknown body, in order, at most 200 characters: enough to read
/// what it was (the whole JSON is kept as the raw payload).
fn summary(b: &Value) -> String {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) if !s.trim().is_empty() => out.push(s.trim().to_string()),
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Object(o) => o.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut parts = Vec::new();
    walk(b, &mut parts);
    parts.join(" ").chars().take(200).collect()
}
