//! What the simulated Yunhu server knows: chats, messages with per-chat `msg_seq`, edit
//! records, recalls, and the wire forms of each (push frames and history rows).

use std::collections::{BTreeMap, HashMap};

use prost::Message as _;
use proto::yunhu::{
    ChatType, EditMessage, Info, MsgContent, PushMessage, StreamMessage, edit_message, list_msg_response, push_message,
    stream_message,
};

/// Content of a simulated message.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimContent {
    /// Text (markdown / html source for those types).
    pub text: String,
    /// Image URL.
    pub image_url: String,
    /// File name.
    pub file_name: String,
    /// File URL.
    pub file_url: String,
    /// File size in bytes.
    pub file_size: u64,
    /// Mentioned user ids.
    pub mentioned: Vec<String>,
    /// Voice URL.
    pub audio_url: String,
    /// Voice length, s.
    pub audio_time: u64,
    /// Sticker URL.
    pub sticker_url: String,
}

/// A new message.
#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    /// Message id.
    pub msg_id: String,
    /// Chat id.
    pub chat_id: String,
    /// 1 user, 2 group, 3 bot.
    pub chat_type: u64,
    /// Sender id.
    pub sender_id: String,
    /// Sender name.
    pub sender_name: String,
    /// 1 user, 3 bot.
    pub sender_type: u64,
    /// Yunhu content type (1 text, 2 image, 3 markdown, 4 file, 7 sticker, 8 html, 11 audio…).
    pub content_type: u64,
    /// Content.
    pub content: SimContent,
    /// Send time (ms).
    pub at: u64,
    /// Quoted message id.
    pub quote_msg_id: String,
}

/// An edit record: the content before the edit at `at`.
#[derive(Debug, Clone, PartialEq)]
pub struct EditRec {
    /// Record id.
    pub id: u64,
    /// Content type before.
    pub content_type: u64,
    /// Text before.
    pub old_text: String,
    /// Edit time (ms).
    pub at: u64,
}

/// A message as the server stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// As posted, with the current text and type.
    pub post: Post,
    /// Per-chat sequence number.
    pub seq: u64,
    /// Recall time (0 = not recalled).
    pub recall_time: u64,
    /// Latest edit time (0 = never edited).
    pub edit_time: u64,
    /// Edit records, oldest first.
    pub edits: Vec<EditRec>,
}

/// Everything the server stores.
#[derive(Debug, Default)]
pub struct World {
    /// chat id → messages in seq order.
    pub chats: BTreeMap<String, Vec<Stored>>,
    /// msg id → (chat id, index in the chat).
    index: HashMap<String, (String, usize)>,
    next_edit_id: u64,
    /// chat id → the name the conversation list gives (the chat id when not set).
    pub names: HashMap<String, String>,
    /// File name → bytes served at `<api>/files/<name>` (attachment downloads).
    pub files: HashMap<String, Vec<u8>>,
}

impl World {
    /// Stores a new message (next seq of its chat) and returns it.
    pub fn post(&mut self, p: Post) -> Stored {
        let msgs = self.chats.entry(p.chat_id.clone()).or_default();
        let seq = msgs.last().map_or(0, |m| m.seq) + 1;
        self.index.insert(p.msg_id.clone(), (p.chat_id.clone(), msgs.len()));
        let stored = Stored {
            post: p,
            seq,
            recall_time: 0,
            edit_time: 0,
            edits: Vec::new(),
        };
        msgs.push(stored.clone());
        stored
    }

    /// A stored message by id.
    pub fn find_mut(&mut self, msg_id: &str) -> Option<&mut Stored> {
        let (chat, i) = self.index.get(msg_id)?;
        self.chats.get_mut(chat)?.get_mut(*i)
    }

    /// A stored message by id.
    pub fn find(&self, msg_id: &str) -> Option<&Stored> {
        let (chat, i) = self.index.get(msg_id)?;
        self.chats.get(chat)?.get(*i)
    }

    /// Edits a message (keeping an edit record); `None` if unknown.
    pub fn edit(&mut self, msg_id: &str, content_type: u64, text: &str, at: u64) -> Option<Stored> {
        self.next_edit_id += 1;
        let id = self.next_edit_id;
        let m = self.find_mut(msg_id)?;
        m.edits.push(EditRec {
            id,
            content_type: m.post.content_type,
            old_text: m.post.content.text.clone(),
            at,
        });
        m.post.content.text = text.to_string();
        m.post.content_type = content_type;
        m.edit_time = at;
        Some(m.clone())
    }

    /// Appends streamed text.
    pub fn stream(&mut self, msg_id: &str, chunk: &str) -> Option<Stored> {
        let m = self.find_mut(msg_id)?;
        m.post.content.text.push_str(chunk);
        Some(m.clone())
    }

    /// Recalls a message.
    pub fn recall(&mut self, msg_id: &str, at: u64) -> Option<Stored> {
        let m = self.find_mut(msg_id)?;
        m.recall_time = at;
        Some(m.clone())
    }
}

/// The frame head every pushed frame starts with.
pub(crate) fn info(seq: u64, cmd: &str) -> Option<Info> {
    Some(Info {
        seq: format!("sim-{seq}"),
        cmd: cmd.into(),
    })
}

fn push_content(c: &SimContent) -> push_message::data::msg::Content {
    push_message::data::msg::Content {
        text: c.text.clone(),
        image_url: c.image_url.clone(),
        file_name: c.file_name.clone(),
        file_url: c.file_url.clone(),
        file_size: c.file_size,
        mentioned_id: c.mentioned.clone(),
        audio_url: c.audio_url.clone(),
        audio_time: c.audio_time,
        sticker_url: c.sticker_url.clone(),
        ..Default::default()
    }
}

/// The content as the history API returns it.
pub fn history_content(c: &SimContent) -> MsgContent {
    MsgContent {
        text: c.text.clone(),
        image_url: c.image_url.clone(),
        file_name: c.file_name.clone(),
        file_url: c.file_url.clone(),
        file_size: c.file_size as i64,
        mentioned_id: c.mentioned.clone(),
        audio_url: c.audio_url.clone(),
        audio_time: c.audio_time as i64,
        image: c.sticker_url.clone(),
        ..Default::default()
    }
}

/// `push_message` for a new message (`content` = what it had when posted), or a recall.
pub fn push_frame(frame_seq: u64, m: &Stored, content: &SimContent, recall: bool) -> Vec<u8> {
    let p = &m.post;
    let msg = push_message::data::Msg {
        msg_id: p.msg_id.clone(),
        sender: Some(push_message::data::msg::Sender {
            chat_id: p.sender_id.clone(),
            chat_type: p.sender_type,
            name: p.sender_name.clone(),
            avatar_url: format!("https://chat-img.example/{}.png", p.sender_id),
            ..Default::default()
        }),
        recv_id: p.chat_id.clone(),
        chat_id: p.chat_id.clone(),
        chat_type: p.chat_type,
        content: Some(push_content(content)),
        content_type: p.content_type,
        timestamp: p.at,
        cmd: None,
        delete_timestamp: if recall { m.recall_time } else { 0 },
        quote_msg_id: p.quote_msg_id.clone(),
        msg_seq: m.seq,
    };
    PushMessage {
        info: info(frame_seq, "push_message"),
        data: Some(push_message::Data {
            any: "type.googleapis.com/proto.PushMessage".into(),
            msg: Some(msg),
        }),
    }
    .encode_to_vec()
}

/// `edit_message` for the message's current content.
pub fn edit_frame(frame_seq: u64, m: &Stored) -> Vec<u8> {
    let p = &m.post;
    EditMessage {
        info: info(frame_seq, "edit_message"),
        data: Some(edit_message::Data {
            any: "type.googleapis.com/proto.PushMessage".into(),
            msg: Some(edit_message::Msg {
                msg_id: p.msg_id.clone(),
                recv_id: p.chat_id.clone(),
                chat_id: p.chat_id.clone(),
                content: Some(edit_message::msg::Content {
                    text: p.content.text.clone(),
                    ..Default::default()
                }),
                content_type: p.content_type,
                quote_msg_id: p.quote_msg_id.clone(),
                edit_time: m.edit_time,
            }),
        }),
    }
    .encode_to_vec()
}

/// `stream_message` with one chunk. Seed 004's example gives `chatId` = 发送者ID and `recvId`
/// = 接受者ID: in a direct chat with a bot that is the chat's own id, in a group it is the
/// bot, not the group (the connector must attach the chunk to the group's message anyway).
pub fn stream_frame(frame_seq: u64, m: &Stored, chunk: &str) -> Vec<u8> {
    let (recv_id, chat_id) = if m.post.chat_type == 2 {
        (super::script::USER_ID.to_string(), m.post.sender_id.clone())
    } else {
        (m.post.chat_id.clone(), m.post.chat_id.clone())
    };
    StreamMessage {
        info: info(frame_seq, "stream_message"),
        data: Some(stream_message::Data {
            any: "type.googleapis.com/proto.StreamMessage".into(),
            msg: Some(stream_message::data::StreamMsg {
                msg_id: m.post.msg_id.clone(),
                recv_id,
                chat_id,
                content: chunk.into(),
            }),
        }),
    }
    .encode_to_vec()
}

/// The history row of a stored message.
pub fn history_row(m: &Stored, me: &str) -> list_msg_response::MsgData {
    let p = &m.post;
    list_msg_response::MsgData {
        msg_id: p.msg_id.clone(),
        sender: Some(list_msg_response::msg_data::Sender {
            chat_id: p.sender_id.clone(),
            chat_type: chat_type_enum(p.sender_type) as i32,
            name: p.sender_name.clone(),
            avatar_url: format!("https://chat-img.example/{}.png", p.sender_id),
            ..Default::default()
        }),
        direction: if p.sender_id == me {
            "right".into()
        } else {
            "left".into()
        },
        content_type: p.content_type as i32,
        msg_content: Some(history_content(&p.content)),
        send_time: p.at,
        cmd: None,
        recall_time: m.recall_time,
        quote_msg_id: p.quote_msg_id.clone(),
        msg_seq: m.seq,
        edit_time: m.edit_time,
    }
}

/// Yunhu's chat type number as the enum.
pub fn chat_type_enum(t: u64) -> ChatType {
    match t {
        1 => ChatType::User,
        2 => ChatType::Group,
        3 => ChatType::Bot,
        _ => ChatType::Unknown1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yunhu::script::post;

    #[test]
    fn seqs_are_per_chat_and_edits_keep_the_old_text() {
        let mut w = World::default();
        assert_eq!(w.post(post("a", ("g1", 2), ("u", "张三"), 1, "一", 0)).seq, 1);
        assert_eq!(w.post(post("b", ("g2", 2), ("u", "张三"), 1, "二", 1)).seq, 1);
        assert_eq!(w.post(post("c", ("g1", 2), ("u", "张三"), 1, "三", 2)).seq, 2);
        let m = w.edit("a", 3, "**一改**", 99).unwrap();
        assert_eq!(
            (m.edit_time, m.edits[0].old_text.as_str(), m.edits[0].content_type),
            (99, "一", 1)
        );
        let row = history_row(w.find("a").unwrap(), "me");
        assert_eq!((row.msg_seq, row.edit_time, row.content_type), (1, 99, 3));
        assert!(w.edit("missing", 1, "x", 1).is_none());
    }
}
