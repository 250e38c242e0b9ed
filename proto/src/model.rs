//! Platforms, enums and the message as the archive knows it.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::TimestampMs;

/// The configured connector `name` (e.g. `oa`, `shop`). Part of every message's identity, so
/// two accounts that see the same group message each keep their own copy.
pub type AccountId = String;

/// A name that is not one of an enum's values.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown {what} `{value}` (valid: {choices})")]
pub struct UnknownValue {
    /// Which enum.
    pub what: &'static str,
    /// What was given.
    pub value: String,
    /// The valid names.
    pub choices: String,
}

string_enum! {
    /// A chat platform chatvault archives.
    Platform {
        /// 泛微 e-office IM (Socket.IO).
        Eoffice => "eoffice",
        /// 企业微信 WeCom (callbacks).
        Wecom => "wecom",
        /// 闲鱼 Goofish IM (LWP WebSocket).
        Goofish => "goofish",
        /// WorkTool robot on WeCom (callbacks).
        Worktool => "worktool",
        /// 云湖 Yunhu (WebSocket + protobuf).
        Yunhu => "yunhu",
        /// 企业微信 会话存档 (the Finance SDK, in a worker process).
        WecomArchive => "wecom_archive",
    }
}

string_enum! {
    /// What kind of conversation a chat is.
    ChatType {
        /// One-to-one.
        Direct => "direct",
        /// A group of people.
        Group => "group",
        /// A broadcast channel.
        Channel => "channel",
        /// A conversation with a bot.
        Bot => "bot",
    }
}

string_enum! {
    /// What a message contains. `text` is always the searchable plain text.
    ContentType {
        /// Plain text.
        Text => "text",
        /// Markdown (plain text extracted for search).
        Markdown => "markdown",
        /// HTML (plain text extracted for search).
        Html => "html",
        /// An image.
        Image => "image",
        /// A file.
        File => "file",
        /// A voice message.
        Voice => "voice",
        /// A video.
        Video => "video",
        /// A link card.
        Link => "link",
        /// A location.
        Location => "location",
        /// A card (contact, item, form…).
        Card => "card",
        /// A sticker / emoticon.
        Sticker => "sticker",
        /// A mini program.
        MiniProgram => "mini_program",
        /// A merged chat record.
        Merged => "merged",
        /// A system notice.
        System => "system",
        /// Anything else.
        Other => "other",
    }
}

string_enum! {
    /// Lifecycle state of a message.
    MessageState {
        /// As sent (possibly edited).
        Active => "active",
        /// Withdrawn / recalled by its sender.
        Withdrawn => "withdrawn",
        /// Deleted.
        Deleted => "deleted",
    }
}

string_enum! {
    /// How the sender wrote a message's text. `text` is always plain; for markup the original
    /// is kept beside it in `source_text`.
    #[derive(Default)]
    TextFormat {
        /// Plain text: `text` is what was sent, `source_text` is empty.
        #[default]
        Plain => "plain",
        /// Markdown: `source_text` holds it exactly as sent.
        Markdown => "markdown",
        /// HTML: `source_text` holds it exactly as sent.
        Html => "html",
    }
}

impl TextFormat {
    /// Plain text (the default, left out of stored JSON so events stored before the field
    /// existed keep their bytes and dedup keys).
    pub fn is_plain(&self) -> bool {
        *self == TextFormat::Plain
    }
}

string_enum! {
    /// Whom a deletion removed a message for.
    #[derive(Default)]
    DeleteScope {
        /// The message is gone for everyone in the chat.
        #[default]
        Everyone => "everyone",
        /// Only one user removed it from their own view (e-office `delete_user_id`); the others
        /// still see it, so the message stays in its state.
        User => "user",
    }
}

impl DeleteScope {
    /// Deleted for everyone (the default, left out of stored JSON like [`TextFormat::Plain`]).
    pub fn is_everyone(&self) -> bool {
        *self == DeleteScope::Everyone
    }
}

/// One user's removal of a message from their own view ([`DeleteScope::User`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserDeletion {
    /// Who removed it, when the platform names them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// When (platform time, else the archive's receive time).
    pub at: TimestampMs,
}

/// A person or bot as the platform names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Identity {
    /// Platform user id (or the name when the platform gives no id).
    pub id: String,
    /// Display name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// An attachment's metadata; the bytes, when reachable, are in the blob store under `sha256`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Attachment {
    /// File name or title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// MIME type, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime: Option<String>,
    /// Size in bytes, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Where the platform serves it (may expire).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Hex sha256 of the bytes; set when the bytes are in the blob store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// Identity of a message: `(platform, account, chat_id, msg_id)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MessageKey {
    /// Platform.
    pub platform: Platform,
    /// Configured connector name.
    pub account: AccountId,
    /// Chat (conversation, group, room) id.
    pub chat_id: String,
    /// Message id (platform's, or derived where the platform gives none).
    pub msg_id: String,
}

impl fmt::Display for MessageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}/{}", self.platform, self.account, self.chat_id, self.msg_id)
    }
}

/// The content of a `message` event: a message as first seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMessage {
    /// Chat kind.
    pub chat_type: ChatType,
    /// Chat display name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_name: Option<String>,
    /// Whether the chat includes people outside the company.
    #[serde(default)]
    pub external: bool,
    /// Sender id.
    pub sender_id: String,
    /// Sender display name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_name: Option<String>,
    /// When it was sent (platform time; receive time where the platform sends none).
    pub sent_at: TimestampMs,
    /// Content kind.
    pub content_type: ContentType,
    /// Plain text for search; for non-text the file name, title or a short description.
    pub text: String,
    /// How the sender wrote it (plain unless the platform says markdown or HTML).
    #[serde(default, skip_serializing_if = "TextFormat::is_plain")]
    pub text_format: TextFormat,
    /// The markup exactly as sent, for `markdown` and `html`; `None` for plain text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_text: Option<String>,
    /// Attachments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    /// Id of the message this one replies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// Mentioned user ids (or names).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
    /// Recipients, where the platform lists them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<String>,
}

impl NewMessage {
    /// A plain text from `sender_id` in a group chat, sent at `sent_at`, with nothing else
    /// known (no names, attachments, reply, mentions or recipients); a caller that knows more
    /// says so with struct update syntax.
    pub fn plain(sender_id: impl Into<String>, sent_at: TimestampMs, text: impl Into<String>) -> NewMessage {
        NewMessage {
            chat_type: ChatType::Group,
            chat_name: None,
            external: false,
            sender_id: sender_id.into(),
            sender_name: None,
            sent_at,
            content_type: ContentType::Text,
            text: text.into(),
            text_format: TextFormat::Plain,
            source_text: None,
            attachments: vec![],
            reply_to: None,
            mentions: vec![],
            recipients: vec![],
        }
    }
}

/// A message's current state: the fold of every event of its identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRecord {
    /// Identity.
    #[serde(flatten)]
    pub key: MessageKey,
    /// Chat kind.
    pub chat_type: ChatType,
    /// Chat display name (latest known).
    pub chat_name: Option<String>,
    /// External chat flag.
    pub external: bool,
    /// Sender id.
    pub sender_id: String,
    /// Sender name.
    pub sender_name: Option<String>,
    /// Sent time (UTC ms).
    pub sent_at: TimestampMs,
    /// When the archive first received it (UTC ms).
    pub received_at: TimestampMs,
    /// Content kind (of the current revision).
    pub content_type: ContentType,
    /// Current text.
    pub text: String,
    /// How the current text was written.
    #[serde(default)]
    pub text_format: TextFormat,
    /// The current markup exactly as sent (`None` for plain text).
    #[serde(default)]
    pub source_text: Option<String>,
    /// Attachments.
    pub attachments: Vec<Attachment>,
    /// Replied-to message id.
    pub reply_to: Option<String>,
    /// Mentions.
    pub mentions: Vec<String>,
    /// Recipients.
    pub recipients: Vec<String>,
    /// Lifecycle state.
    pub state: MessageState,
    /// Number of edits and stream appends applied (0 = as first seen).
    pub revision: u32,
    /// Time of the latest edit.
    pub edited_at: Option<TimestampMs>,
    /// Time of the withdrawal.
    pub withdrawn_at: Option<TimestampMs>,
    /// Who withdrew it.
    pub withdrawn_by: Option<String>,
    /// Time of the deletion.
    pub deleted_at: Option<TimestampMs>,
    /// Who deleted it.
    pub deleted_by: Option<String>,
    /// Users who removed it from their own view only (it stays visible to everyone else).
    #[serde(default)]
    pub deleted_for: Vec<UserDeletion>,
    /// Sequence number of the latest event applied to it.
    pub last_seq: u64,
}
