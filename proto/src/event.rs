//! [`ChatEvent`]: one normalized thing that happened on a platform.

use serde::{Deserialize, Serialize};

use crate::TimestampMs;
use crate::model::{ContentType, DeleteScope, Identity, NewMessage, TextFormat};

string_enum! {
    /// The kind of an event, as stored in the log's `kind` column.
    EventKind {
        /// A new message.
        Message => "message",
        /// A message's text changed.
        Edit => "edit",
        /// Text appended to a streamed message (bot replies arriving in pieces).
        StreamAppend => "stream_append",
        /// The sender withdrew (recalled) a message.
        Withdraw => "withdraw",
        /// A message was deleted.
        Delete => "delete",
        /// A read receipt.
        Read => "read",
        /// Members joined a chat.
        MemberJoin => "member_join",
        /// Members left or were removed from a chat.
        MemberLeave => "member_leave",
        /// A group was created.
        GroupCreated => "group_created",
        /// A group was renamed.
        GroupRenamed => "group_renamed",
        /// A group was dissolved.
        GroupDissolved => "group_dissolved",
        /// A contact (employee, external customer, tag) changed.
        ContactChanged => "contact_changed",
        /// A user's online / work status.
        Presence => "presence",
        /// The archive's own connection to a platform changed (the source of `audit --gaps`).
        ConnectorState => "connector_state",
        /// Anything else, with a named subtype (e.g. `typing`).
        Other => "other",
        /// An attachment's bytes reached the blob store after the message was archived
        /// without them (a download retried later).
        AttachmentStored => "attachment_stored",
    }
}

string_enum! {
    /// State of a connector's connection to its platform.
    ConnectorStatus {
        /// Connected and archiving.
        Connected => "connected",
        /// Not connected (network error, server closed, shutting down).
        Disconnected => "disconnected",
        /// Credentials refused; needs an operator.
        AuthFailed => "auth_failed",
        /// Logged in elsewhere and kicked off by the platform.
        Kicked => "kicked",
        /// A WorkTool robot reported itself offline.
        RobotOffline => "robot_offline",
        /// A WorkTool robot reported itself online.
        RobotOnline => "robot_online",
        /// Live messages are archived, but history missed while the connector was away could
        /// not be fetched yet (the platform's history API failed); a gap until a catch-up
        /// succeeds.
        HistoryBehind => "history_behind",
        /// A WorkTool robot forwards only messages that @-mention it (`replyAll` 0 in
        /// `robotInfo/get`, seed 003 §3): every other message is missed; a gap until it is 1.
        MentionsOnly => "mentions_only",
        /// A WorkTool robot's message callback is switched off (`openCallback` 0 in
        /// `robotInfo/get`, seed 003 §3): no message arrives; a gap until it is on.
        CallbackOff => "callback_off",
    }
}

impl ConnectorStatus {
    /// Whether the connector is archiving in this state.
    pub fn is_up(self) -> bool {
        matches!(self, ConnectorStatus::Connected | ConnectorStatus::RobotOnline)
    }
}

/// One normalized event. Its identity is `(platform, account, chat_id, msg_id)`; platform and
/// account come from the [`crate::EventBatch`] that carries it.
///
/// The store deduplicates on identity + kind + sha256 of the serialized `body` (plus
/// `chat_id`/`msg_id`), so everything that distinguishes two real events must be in `body`
/// (platform edit times, stream offsets), and nothing that changes on redelivery may be
/// (receive times).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatEvent {
    /// Chat the event belongs to (empty for account-level events such as connector state).
    pub chat_id: String,
    /// Message the event is about; for chat-level events a derived stable id or `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg_id: Option<String>,
    /// When it happened per the platform; `None` = use the payload's receive time. Not part of
    /// the dedup hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<TimestampMs>,
    /// What happened.
    #[serde(flatten)]
    pub body: EventBody,
}

/// What happened, by kind. Serialized with a `kind` tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventBody {
    /// A new message.
    Message(NewMessage),
    /// New text for a message; a new revision.
    Edit {
        /// The text after the edit.
        text: String,
        /// Content type after the edit, if it changed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content_type: Option<ContentType>,
        /// Platform edit time (orders edits; distinguishes an edit back to an earlier text).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        edited_at: Option<TimestampMs>,
        /// How the new text is written; `None` = plain.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text_format: Option<TextFormat>,
        /// The new markup exactly as sent, for markdown and HTML.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source_text: Option<String>,
    },
    /// A chunk appended to a streamed message; current text = message text + chunks by offset.
    StreamAppend {
        /// The appended text.
        chunk: String,
        /// Position of the chunk in the stream (sequence number or offset); orders chunks and
        /// keeps two identical chunks distinct.
        offset: u64,
    },
    /// The sender withdrew the message.
    Withdraw {
        /// Who withdrew it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
        /// Platform time of the withdrawal.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<TimestampMs>,
    },
    /// The message was deleted.
    Delete {
        /// Who deleted it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
        /// Platform time of the deletion.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<TimestampMs>,
        /// For everyone (the default) or only for `by`'s own view.
        #[serde(default, skip_serializing_if = "DeleteScope::is_everyone")]
        scope: DeleteScope,
    },
    /// Someone read the chat / message.
    Read {
        /// Reader.
        user_id: String,
        /// Platform read time.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<TimestampMs>,
    },
    /// Members joined.
    MemberJoin {
        /// Who joined.
        members: Vec<Identity>,
        /// Platform time, when given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<TimestampMs>,
    },
    /// Members left or were removed.
    MemberLeave {
        /// Who left.
        members: Vec<Identity>,
        /// Platform time, when given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<TimestampMs>,
    },
    /// A group was created.
    GroupCreated {
        /// Its name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// Initial members.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        members: Vec<Identity>,
        /// Platform time, when given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<TimestampMs>,
    },
    /// A group was renamed.
    GroupRenamed {
        /// New name.
        name: String,
        /// Platform time, when given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<TimestampMs>,
    },
    /// A group was dissolved.
    GroupDissolved {
        /// Platform time, when given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<TimestampMs>,
    },
    /// A contact changed.
    ContactChanged {
        /// The platform's change type (e.g. `add_external_contact`).
        change: String,
        /// Whom it concerns.
        user_id: String,
        /// Remaining platform fields.
        #[serde(default)]
        detail: serde_json::Value,
    },
    /// A user's status.
    Presence {
        /// Whose.
        user_id: String,
        /// Platform status (e.g. `online`, `busy`).
        status: String,
        /// When it was seen.
        at: TimestampMs,
    },
    /// The archive's connection to the platform changed.
    ConnectorState {
        /// New state.
        status: ConnectorStatus,
        /// Why (no secrets).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
        /// When (archive clock).
        at: TimestampMs,
    },
    /// The bytes of one of the message's attachments are now in the blob store: its first
    /// download failed and a later one succeeded. The `message` event stays as first
    /// recorded (the log is append-only); the fold sets the attachment's `sha256` from this.
    AttachmentStored {
        /// Position of the attachment in the message's `attachments`.
        index: u32,
        /// Hex sha256 of the stored bytes.
        sha256: String,
        /// Bytes downloaded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        size: Option<u64>,
    },
    /// Anything else.
    Other {
        /// Named subtype (e.g. `typing`, `sys_approval_change`).
        subtype: String,
        /// Remaining platform fields.
        #[serde(default)]
        detail: serde_json::Value,
    },
}

impl EventBody {
    /// The kind tag.
    pub fn kind(&self) -> EventKind {
        match self {
            EventBody::Message(_) => EventKind::Message,
            EventBody::Edit { .. } => EventKind::Edit,
            EventBody::StreamAppend { .. } => EventKind::StreamAppend,
            EventBody::Withdraw { .. } => EventKind::Withdraw,
            EventBody::Delete { .. } => EventKind::Delete,
            EventBody::Read { .. } => EventKind::Read,
            EventBody::MemberJoin { .. } => EventKind::MemberJoin,
            EventBody::MemberLeave { .. } => EventKind::MemberLeave,
            EventBody::GroupCreated { .. } => EventKind::GroupCreated,
            EventBody::GroupRenamed { .. } => EventKind::GroupRenamed,
            EventBody::GroupDissolved { .. } => EventKind::GroupDissolved,
            EventBody::ContactChanged { .. } => EventKind::ContactChanged,
            EventBody::Presence { .. } => EventKind::Presence,
            EventBody::ConnectorState { .. } => EventKind::ConnectorState,
            EventBody::Other { .. } => EventKind::Other,
            EventBody::AttachmentStored { .. } => EventKind::AttachmentStored,
        }
    }

    /// Whether the event targets a message (and so takes part in the message fold).
    pub fn targets_message(&self) -> bool {
        matches!(
            self.kind(),
            EventKind::Message
                | EventKind::Edit
                | EventKind::StreamAppend
                | EventKind::Withdraw
                | EventKind::Delete
                | EventKind::AttachmentStored
        )
    }
}

impl ChatEvent {
    /// A message-level event.
    pub fn message(chat_id: impl Into<String>, msg_id: impl Into<String>, body: EventBody) -> Self {
        ChatEvent {
            chat_id: chat_id.into(),
            msg_id: Some(msg_id.into()),
            occurred_at: None,
            body,
        }
    }

    /// The kind tag.
    pub fn kind(&self) -> EventKind {
        self.body.kind()
    }

    /// Checks the model's rules (ids present where needed, plausible timestamps). A violation
    /// becomes a `rejects` row, never a panic.
    pub fn validate(&self) -> Result<(), String> {
        if self.body.targets_message() {
            match &self.msg_id {
                Some(id) if !id.is_empty() => {}
                _ => return Err(format!("{} event without a message id", self.kind())),
            }
            if self.chat_id.is_empty() {
                return Err(format!("{} event without a chat id", self.kind()));
            }
        }
        if let Some(ts) = self.occurred_at
            && !crate::time::plausible(ts)
        {
            return Err(format!("implausible occurred_at {ts}"));
        }
        if let EventBody::Message(m) = &self.body
            && !crate::time::plausible(m.sent_at)
        {
            return Err(format!("implausible sent_at {}", m.sent_at));
        }
        Ok(())
    }
}
