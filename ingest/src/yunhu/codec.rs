//! Server frames → canonical events. Pure: no I/O; the only state is the resume
//! [`Position`] (chat seqs and stream lengths), which the caller commits with the batch.
//!
//! Every binary frame is decoded first as `heartbeat_ack_info` (field 1 = `{seq, cmd}`,
//! wire-identical to `INFO`) to read the `cmd`, then as the message that `cmd` names.

use prost::Message as _;
use proto::yunhu::{
    DraftInput, EditMessage, FileSendMessage, HeartbeatAckInfo, LiveVideoUserHangUp, PushMessage, StreamMessage,
    edit_message, file_send_message, live_video_user_hang_up, push_message, stream_message,
};
use proto::{Attachment, ChatEvent, ChatType, ContentType, EventBody, NewMessage, TimestampMs};
use sha2::{Digest, Sha256};

use super::content::{Parts, edited_text, normalize};
use super::cursor::Position;

/// Why a frame could not be turned into events. Becomes the reason of a `rejects` row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// Not protobuf, or not the shape its `cmd` names.
    #[error("undecodable yunhu frame: {0}")]
    Undecodable(String),
    /// A `cmd` this connector does not know.
    #[error("unknown yunhu cmd `{0}`")]
    UnknownCmd(String),
    /// A required field is empty.
    #[error("yunhu `{cmd}` frame without {field}")]
    Missing {
        /// The frame's cmd.
        cmd: &'static str,
        /// The missing field.
        field: &'static str,
    },
}

/// A decoded server frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// Answer to our heartbeat.
    HeartbeatAck {
        /// Echo of the heartbeat's seq.
        seq: String,
    },
    /// A new message, or a recall (`delete_timestamp` set). Boxed: it is by far the
    /// largest variant.
    Push(Box<push_message::data::Msg>),
    /// New text for a message.
    Edit(edit_message::Msg),
    /// Text appended to a streamed message.
    Stream(stream_message::data::StreamMsg),
    /// 超级文件分享 (`file_send_message`): peer-to-peer signalling between devices, a file
    /// only when its `data` names one.
    FileSend(file_send_message::data::Sender),
    /// 接收笔记同步 (`draft_input`): this account's own unsent draft, synced from another of
    /// its devices (seed 004: `input: 草稿内容`). Not a message and not "typing".
    Draft {
        /// The chat.
        chat_id: String,
        /// Draft text.
        input: String,
    },
    /// "Someone invited me" (no details on the wire).
    InviteApply {
        /// Frame seq (tells two invitations apart).
        seq: String,
    },
    /// A live video participant hung up.
    HangUp {
        /// Frame seq.
        seq: String,
        /// The frame's message.
        msg: live_video_user_hang_up::data::UserHangUpMsg,
    },
    /// A bot board update (schema not public; the raw bytes are kept).
    BotBoard {
        /// Frame seq.
        seq: String,
    },
}

/// Decodes one binary frame.
pub fn decode(bytes: &[u8]) -> Result<Frame, CodecError> {
    let head = HeartbeatAckInfo::decode(bytes).map_err(|e| CodecError::Undecodable(e.to_string()))?;
    let info = head.data.unwrap_or_default();
    let bad = |e: prost::DecodeError| CodecError::Undecodable(format!("{}: {e}", info.cmd));
    Ok(match info.cmd.as_str() {
        "heartbeat_ack" => Frame::HeartbeatAck { seq: info.id },
        "push_message" => {
            let m = PushMessage::decode(bytes).map_err(bad)?;
            let msg = present("push_message", m.data.and_then(|d| d.msg), "data.msg")?;
            require_ids("push_message", &msg.msg_id, &msg.chat_id)?;
            Frame::Push(Box::new(msg))
        }
        "edit_message" => {
            let m = EditMessage::decode(bytes).map_err(bad)?;
            let msg = present("edit_message", m.data.and_then(|d| d.msg), "data.msg")?;
            require_ids("edit_message", &msg.msg_id, &msg.chat_id)?;
            Frame::Edit(msg)
        }
        "stream_message" => {
            let m = StreamMessage::decode(bytes).map_err(bad)?;
            let msg = present("stream_message", m.data.and_then(|d| d.msg), "data.msg")?;
            require_ids("stream_message", &msg.msg_id, &msg.chat_id)?;
            Frame::Stream(msg)
        }
        "file_send_message" => {
            let m = FileSendMessage::decode(bytes).map_err(bad)?;
            let s = present("file_send_message", m.data.and_then(|d| d.sender), "data.sender")?;
            require("file_send_message", &s.send_user_id, "send_user_id")?;
            Frame::FileSend(s)
        }
        "draft_input" => {
            let m = DraftInput::decode(bytes).map_err(bad)?;
            let d = present("draft_input", m.data.and_then(|d| d.draft), "data.draft")?;
            require("draft_input", &d.chat_id, "chat_id")?;
            Frame::Draft {
                chat_id: d.chat_id,
                input: d.input,
            }
        }
        "invite_apply" => Frame::InviteApply { seq: info.id },
        "live_video_user_hang_up" => {
            let m = LiveVideoUserHangUp::decode(bytes).map_err(bad)?;
            Frame::HangUp {
                seq: info.id,
                msg: m.data.and_then(|d| d.msg).unwrap_or_default(),
            }
        }
        "bot_board_message" => Frame::BotBoard { seq: info.id },
        "" => return Err(CodecError::Undecodable("frame without cmd".into())),
        other => return Err(CodecError::UnknownCmd(other.chars().take(64).collect())),
    })
}

/// `part` of a `cmd` frame, which the frame must carry.
fn present<T>(cmd: &'static str, part: Option<T>, field: &'static str) -> Result<T, CodecError> {
    part.ok_or(CodecError::Missing { cmd, field })
}

/// The message and chat ids every message-level frame must name.
fn require_ids(cmd: &'static str, msg_id: &str, chat_id: &str) -> Result<(), CodecError> {
    require(cmd, msg_id, "msg_id")?;
    require(cmd, chat_id, "chat_id")
}

fn require(cmd: &'static str, v: &str, field: &'static str) -> Result<(), CodecError> {
    if v.is_empty() {
        Err(CodecError::Missing { cmd, field })
    } else {
        Ok(())
    }
}

/// A message as both the live push and the history API describe it.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    pub msg_id: String,
    pub chat_id: String,
    /// 1 user, 2 group, 3 bot.
    pub chat_type: u64,
    pub sender_id: String,
    pub sender_name: String,
    /// Sender kind (3 = bot: its replies may be streamed).
    pub sender_type: u64,
    pub content_type: u64,
    pub parts: Parts,
    /// Send time, ms.
    pub sent_at: u64,
    pub quote_msg_id: String,
    pub seq: u64,
    /// Recall time, ms (0 = not recalled).
    pub recalled_at: u64,
}

impl From<&push_message::data::Msg> for Incoming {
    fn from(m: &push_message::data::Msg) -> Self {
        let sender = m.sender.clone().unwrap_or_default();
        Incoming {
            msg_id: m.msg_id.clone(),
            chat_id: m.chat_id.clone(),
            chat_type: m.chat_type,
            sender_id: sender.chat_id,
            sender_name: sender.name,
            sender_type: sender.chat_type,
            content_type: m.content_type,
            parts: m.content.as_ref().map(Parts::from).unwrap_or_default(),
            sent_at: m.timestamp,
            quote_msg_id: m.quote_msg_id.clone(),
            seq: m.msg_seq,
            recalled_at: m.delete_timestamp,
        }
    }
}

fn chat_type(t: u64) -> ChatType {
    match t {
        2 => ChatType::Group,
        3 => ChatType::Bot,
        _ => ChatType::Direct,
    }
}

/// The `message` event of a message as first sent. `text` overrides the content's text
/// (history gives the current text of an edited message; the original comes from its edit
/// records).
pub fn message_event(m: &Incoming, original: Option<(u64, &str)>) -> ChatEvent {
    let n = match original {
        Some((ct, text)) => normalize(
            ct,
            &Parts {
                text: text.to_string(),
                ..m.parts.clone()
            },
        ),
        None => normalize(m.content_type, &m.parts),
    };
    let body = NewMessage {
        chat_type: chat_type(m.chat_type),
        chat_name: None,
        external: false,
        sender_id: m.sender_id.clone(),
        sender_name: (!m.sender_name.is_empty()).then(|| m.sender_name.clone()),
        sent_at: m.sent_at as TimestampMs,
        content_type: n.content_type,
        text: n.text,
        attachments: n.attachments,
        text_format: n.text_format,
        source_text: n.source_text,
        reply_to: (!m.quote_msg_id.is_empty()).then(|| m.quote_msg_id.clone()),
        mentions: m.parts.mentions.clone(),
        recipients: Vec::new(),
    };
    ChatEvent {
        chat_id: m.chat_id.clone(),
        msg_id: Some(m.msg_id.clone()),
        occurred_at: Some(m.sent_at as TimestampMs),
        body: EventBody::Message(body),
    }
}

/// A recall (`withdraw`) at platform time `at`.
pub fn withdraw_event(chat_id: &str, msg_id: &str, at: u64) -> ChatEvent {
    ChatEvent {
        chat_id: chat_id.to_string(),
        msg_id: Some(msg_id.to_string()),
        occurred_at: Some(at as TimestampMs),
        body: EventBody::Withdraw {
            by: None,
            at: Some(at as TimestampMs),
        },
    }
}

/// An edit to `text` (Yunhu content type `content_type`) at platform time `edit_time`.
pub fn edit_event(chat_id: &str, msg_id: &str, content_type: u64, text: &str, edit_time: u64) -> ChatEvent {
    let n = edited_text(content_type, text);
    let at = (edit_time > 0).then_some(edit_time as TimestampMs);
    ChatEvent {
        chat_id: chat_id.to_string(),
        msg_id: Some(msg_id.to_string()),
        occurred_at: at,
        body: EventBody::Edit {
            text: n.text,
            content_type: Some(n.content_type),
            edited_at: at,
            text_format: (!n.text_format.is_plain()).then_some(n.text_format),
            source_text: n.source_text,
        },
    }
}

/// A stream chunk at byte `offset` of the message's content.
pub fn stream_event(chat_id: &str, msg_id: &str, chunk: &str, offset: u64) -> ChatEvent {
    ChatEvent::message(
        chat_id,
        msg_id,
        EventBody::StreamAppend {
            chunk: chunk.to_string(),
            offset,
        },
    )
}

/// What the operator chose to archive beyond messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Archive the account's own unsent drafts (`draft_input`) as `other`/`draft` events.
    /// Off by default: a draft is text its author has not sent to anyone (and may never send).
    pub archive_drafts: bool,
}

/// [`frame_events_with`] with the default [`Options`] (drafts are not archived).
pub fn frame_events(frame: &Frame, pos: &mut Position, received_at: TimestampMs) -> Vec<ChatEvent> {
    frame_events_with(frame, pos, received_at, Options::default())
}

/// Turns a decoded frame into events, advancing `pos`. `received_at` is used only where the
/// platform sends no time at all (file shares).
pub fn frame_events_with(frame: &Frame, pos: &mut Position, received_at: TimestampMs, opts: Options) -> Vec<ChatEvent> {
    match frame {
        Frame::HeartbeatAck { .. } => Vec::new(),
        Frame::Push(msg) => {
            let m = Incoming::from(msg.as_ref());
            pos.advance(&m.chat_id, m.chat_type, m.seq);
            if m.recalled_at > 0 {
                return vec![withdraw_event(&m.chat_id, &m.msg_id, m.recalled_at)];
            }
            if m.sender_type == 3 {
                pos.open_stream(&m.msg_id, &m.chat_id, m.chat_type, m.parts.text.len() as u64);
            }
            vec![message_event(&m, None)]
        }
        Frame::Edit(e) => {
            let text = e.content.as_ref().map(|c| c.text.as_str()).unwrap_or("");
            vec![edit_event(&e.chat_id, &e.msg_id, e.content_type, text, e.edit_time)]
        }
        Frame::Stream(s) => {
            if s.content.is_empty() {
                return Vec::new();
            }
            // Seed 004's example gives `chatId` = the sender (发送者ID) in a direct chat: in a
            // group that is the bot, not the group holding the message. A chunk belongs to
            // the chat of the message it extends, which its `push_message` named; a chunk of
            // a message not seen is kept as an `other` event (its text arrives with the
            // message from history) rather than attached to a chat that may not hold it.
            let Some(chat_id) = pos
                .streams
                .iter()
                .find(|p| p.msg_id == s.msg_id)
                .map(|p| p.chat_id.clone())
            else {
                return vec![ChatEvent {
                    chat_id: String::new(),
                    msg_id: None,
                    occurred_at: None,
                    body: EventBody::Other {
                        subtype: "stream_chunk_unknown_message".into(),
                        detail: serde_json::json!({
                            "msg_id": s.msg_id, "chat_id": s.chat_id, "recv_id": s.recv_id, "content": s.content,
                        }),
                    },
                }];
            };
            let (offset, _known) = pos.append_stream(&s.msg_id, &chat_id, s.content.len() as u64);
            vec![stream_event(&chat_id, &s.msg_id, &s.content, offset)]
        }
        Frame::FileSend(s) => vec![file_send_event(s, received_at)],
        Frame::Draft { chat_id, input } if opts.archive_drafts => vec![ChatEvent {
            chat_id: chat_id.clone(),
            msg_id: None,
            occurred_at: None,
            body: EventBody::Other {
                subtype: "draft".into(),
                detail: serde_json::json!({ "input": input }),
            },
        }],
        // No event: the store then keeps neither an event nor the frame's raw bytes.
        Frame::Draft { .. } => Vec::new(),
        Frame::InviteApply { seq } => {
            vec![other("invite_apply", serde_json::json!({ "seq": seq }))]
        }
        Frame::HangUp { seq, msg } => vec![other(
            "live_video_user_hang_up",
            serde_json::json!({ "seq": seq, "msg_id": msg.msg_id, "cmd": msg.cmd }),
        )],
        Frame::BotBoard { seq } => vec![other("bot_board_message", serde_json::json!({ "seq": seq }))],
    }
}

fn other(subtype: &str, detail: serde_json::Value) -> ChatEvent {
    ChatEvent {
        chat_id: String::new(),
        msg_id: None,
        occurred_at: None,
        body: EventBody::Other {
            subtype: subtype.into(),
            detail,
        },
    }
}

/// A 超级文件分享 frame. Seed 004 shows `send_type: "candidate"`, device ids and `data: "{}"`:
/// the shape of peer-to-peer connection set-up (ICE candidates), not of a file. So it is an
/// `other`/`file_send_signal` event with its fields (the raw frame is kept with it), unless
/// `data` names a file (a name and a URL or size): then it is a file message from the sharer.
/// Yunhu gives it no id and no time: the id is derived from every field (so the same share is
/// recognised), the time is the receive time.
fn file_send_event(s: &file_send_message::data::Sender, received_at: TimestampMs) -> ChatEvent {
    let data: serde_json::Value = serde_json::from_str(&s.data).unwrap_or(serde_json::Value::Null);
    let pick = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| data.get(*k).and_then(|v| v.as_str()).map(str::to_string))
    };
    let name = pick(&["fileName", "file_name", "name"]);
    let url = pick(&["fileUrl", "file_url", "url"]);
    let size = ["fileSize", "file_size", "size"]
        .iter()
        .find_map(|k| data.get(*k).and_then(|v| v.as_u64()));
    let Some(name) = name.filter(|_| url.is_some() || size.is_some()) else {
        return ChatEvent {
            chat_id: s.send_user_id.clone(),
            msg_id: None,
            occurred_at: None,
            body: EventBody::Other {
                subtype: "file_send_signal".into(),
                detail: serde_json::json!({
                    "send_user_id": s.send_user_id, "user_id": s.user_id, "temp_code": s.temp_code,
                    "send_type": s.send_type, "send_device_id": s.send_device_id,
                    "data": if data.is_null() { serde_json::Value::String(s.data.clone()) } else { data.clone() },
                }),
            },
        };
    };
    let mut h = Sha256::new();
    for part in [
        &s.send_user_id,
        &s.user_id,
        &s.temp_code.to_string(),
        &s.send_type,
        &s.data,
        &s.send_device_id,
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let msg_id = format!("file_send:{}", &hex::encode(h.finalize())[..24]);
    let name = Some(name);
    let body = NewMessage {
        chat_type: ChatType::Direct,
        chat_name: None,
        external: false,
        sender_id: s.send_user_id.clone(),
        sender_name: None,
        sent_at: received_at,
        content_type: ContentType::File,
        text: name.clone().unwrap_or_default(),
        attachments: vec![Attachment {
            name,
            mime: None,
            size,
            url,
            sha256: None,
        }],
        reply_to: None,
        mentions: Vec::new(),
        recipients: if s.user_id.is_empty() {
            Vec::new()
        } else {
            vec![s.user_id.clone()]
        },
        text_format: proto::TextFormat::Plain,
        source_text: None,
    };
    ChatEvent {
        chat_id: s.send_user_id.clone(),
        msg_id: Some(msg_id),
        occurred_at: None,
        body: EventBody::Message(body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::yunhu::Info;

    fn push(msg: push_message::data::Msg) -> Vec<u8> {
        PushMessage {
            info: Some(Info {
                seq: "s1".into(),
                cmd: "push_message".into(),
            }),
            data: Some(push_message::Data {
                any: "type.googleapis.com/proto.PushMessage".into(),
                msg: Some(msg),
            }),
        }
        .encode_to_vec()
    }

    #[test]
    fn garbage_and_unknown_cmds_are_errors_not_panics() {
        assert!(matches!(decode(b"\xff\xff\xff"), Err(CodecError::Undecodable(_))));
        let unknown = proto::yunhu::InfoOnly {
            info: Some(Info {
                seq: "1".into(),
                cmd: "mystery".into(),
            }),
        };
        assert_eq!(
            decode(&unknown.encode_to_vec()),
            Err(CodecError::UnknownCmd("mystery".into()))
        );
        let empty = push(push_message::data::Msg::default());
        assert_eq!(
            decode(&empty),
            Err(CodecError::Missing {
                cmd: "push_message",
                field: "msg_id"
            })
        );
    }

    #[test]
    fn bot_push_then_chunks_get_byte_offsets() {
        let mut pos = Position::default();
        // A direct chat with the bot: the push's text is 6 bytes, so the first chunk starts there.
        let f = bot_push("b1", 3, "bot");
        assert_eq!(frame_events(&f, &mut pos, 0).len(), 1);
        assert_eq!(pos.seq("b1"), 3);
        let chunk = Frame::Stream(stream_message::data::StreamMsg {
            msg_id: "s1".into(),
            chat_id: "b1".into(),
            content: "世界".into(),
            ..Default::default()
        });
        for offset in [6, 12] {
            let ev = frame_events(&chunk, &mut pos, 0);
            assert_eq!(
                ev[0].body,
                EventBody::StreamAppend {
                    chunk: "世界".into(),
                    offset
                }
            );
        }
    }

    fn bot_push(chat_id: &str, chat_type: u64, bot: &str) -> Frame {
        decode(&push(push_message::data::Msg {
            msg_id: "s1".into(),
            chat_id: chat_id.into(),
            chat_type,
            sender: Some(push_message::data::msg::Sender {
                chat_id: bot.into(),
                chat_type: 3,
                ..Default::default()
            }),
            content: Some(push_message::data::msg::Content {
                text: "正在".into(),
                ..Default::default()
            }),
            content_type: 1,
            timestamp: 1_767_000_000_000,
            msg_seq: 3,
            ..Default::default()
        }))
        .unwrap()
    }

    #[test]
    fn a_stream_in_a_group_extends_the_message_in_the_group() {
        let mut pos = Position::default();
        let start = frame_events(&bot_push("g42", 2, "bot9"), &mut pos, 0);
        assert_eq!(start[0].chat_id, "g42");
        // Seed 004: the stream frame's chatId is the sender (发送者ID), here the bot.
        let chunk = |msg_id: &str, content: &str| {
            Frame::Stream(stream_message::data::StreamMsg {
                msg_id: msg_id.into(),
                recv_id: "g42".into(),
                chat_id: "bot9".into(),
                content: content.into(),
            })
        };
        let ev = frame_events(&chunk("s1", "生成"), &mut pos, 0);
        assert_eq!(
            (ev[0].chat_id.as_str(), ev[0].msg_id.as_deref(), &ev[0].body),
            (
                "g42",
                Some("s1"),
                &EventBody::StreamAppend {
                    chunk: "生成".into(),
                    offset: 6
                }
            ),
            "the chunk lands on the group's message, not on a chat named after the bot"
        );
        // A chunk of a message never seen names no chat that surely holds it.
        let ev = frame_events(&chunk("unseen", "尾巴"), &mut pos, 0);
        assert!(
            matches!(&ev[0].body, EventBody::Other { subtype, .. } if subtype == "stream_chunk_unknown_message"),
            "{ev:?}"
        );
        assert_eq!(ev[0].msg_id, None);
    }

    #[test]
    fn drafts_are_labelled_and_archived_only_when_asked() {
        let draft = Frame::Draft {
            chat_id: "8826687".into(),
            input: "测试草稿同步".into(),
        };
        assert!(frame_events(&draft, &mut Position::default(), 0).is_empty());
        let ev = frame_events_with(&draft, &mut Position::default(), 0, Options { archive_drafts: true });
        assert!(
            matches!(&ev[0].body, EventBody::Other { subtype, detail } if subtype == "draft" && detail["input"] == "测试草稿同步"),
            "{ev:?}"
        );
    }

    #[test]
    fn a_seed_shaped_file_send_is_signalling_not_a_file() {
        // Seed 004's example: send_type "candidate", device ids, data "{}".
        let signal = file_send_message::data::Sender {
            send_user_id: "123".into(),
            user_id: "456".into(),
            temp_code: 1,
            send_type: "candidate".into(),
            data: "{}".into(),
            send_device_id: "123123123123".into(),
        };
        let ev = frame_events(&Frame::FileSend(signal.clone()), &mut Position::default(), 7);
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].msg_id, None, "no message is made up");
        let EventBody::Other { subtype, detail } = &ev[0].body else {
            panic!("{ev:?}")
        };
        assert_eq!(
            (subtype.as_str(), detail["send_type"].as_str()),
            ("file_send_signal", Some("candidate"))
        );
        // With real file metadata it is a file from the sharer.
        let file = file_send_message::data::Sender {
            data: r#"{"fileName":"a.pdf","fileSize":9}"#.into(),
            ..signal
        };
        let ev = frame_events(&Frame::FileSend(file), &mut Position::default(), 7);
        let EventBody::Message(m) = &ev[0].body else {
            panic!("{ev:?}")
        };
        assert_eq!((m.content_type, m.text.as_str()), (ContentType::File, "a.pdf"));
    }
}
