//! Rows and reports the store hands out.

use proto::{ChatEvent, ConnectorStatus, EventKind, MessageKey, MessageRecord, Platform, TimestampMs};
use serde::Serialize;

use crate::StoreError;

/// One row of the event log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredEvent {
    /// Position in the log (1-based, gapless).
    pub seq: u64,
    /// Platform.
    pub platform: Platform,
    /// Account (connector name).
    pub account: String,
    /// Chat id.
    pub chat_id: String,
    /// Message id, for message-level events.
    pub msg_id: Option<String>,
    /// Kind.
    pub kind: EventKind,
    /// When it happened (platform time, else receive time).
    pub occurred_at: TimestampMs,
    /// When the archive received the payload.
    pub received_at: TimestampMs,
    /// The normalized event as stored (JSON of [`ChatEvent`]).
    #[serde(skip)]
    pub payload: Vec<u8>,
    /// The raw payload row it came from.
    pub raw_id: u64,
    /// Hex of the chain hash.
    pub hash: String,
}

impl StoredEvent {
    /// Decodes the stored payload.
    pub fn event(&self) -> Result<ChatEvent, StoreError> {
        Ok(self.envelope()?.event)
    }

    /// Decodes the whole stored envelope.
    pub fn envelope(&self) -> Result<Envelope, StoreError> {
        serde_json::from_slice(&self.payload)
            .map_err(|e| StoreError::Corrupt(format!("event seq {} does not decode: {e}", self.seq)))
    }

    /// The message identity, for message-level events.
    pub fn message_key(&self) -> Option<MessageKey> {
        self.msg_id.as_ref().map(|m| MessageKey {
            platform: self.platform,
            account: self.account.clone(),
            chat_id: self.chat_id.clone(),
            msg_id: m.clone(),
        })
    }
}

/// What [`crate::StoreReader::message_changes_since`] read of the log: enough for a follower
/// that re-reads each changed message whole (the search indexer), without the events' payloads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageChanges {
    /// Events read (0: none after the position asked for).
    pub read: usize,
    /// The seq of the last event read (the position asked for, when none was).
    pub last_seq: u64,
    /// The kind and `messages` row key of every event read that targets a message, in log
    /// order (row keys: see `keys.rs`; [`crate::StoreReader::visit_messages_by_row_keys`] reads them).
    pub targets: Vec<(EventKind, i64)>,
}

/// A raw payload row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RawRow {
    /// Row id.
    pub id: u64,
    /// Platform.
    pub platform: Platform,
    /// Account.
    pub account: String,
    /// Receive time.
    pub received_at: TimestampMs,
    /// Media type.
    pub media_type: String,
    /// The bytes as received.
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

/// One text a message has had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Revision {
    /// 0 = as first seen.
    pub revision: u32,
    /// The text.
    pub text: String,
    /// When it became the text (sent time for 0, edit time after).
    pub at: TimestampMs,
    /// The event that produced it.
    pub seq: u64,
}

/// A message with everything the archive knows about it (`chatvault show`).
#[derive(Debug, Clone, Serialize)]
pub struct MessageHistory {
    /// Current state (`None` while only edits/withdrawals of a not-yet-seen message exist).
    pub record: Option<MessageRecord>,
    /// Every text it has had.
    pub revisions: Vec<Revision>,
    /// Its events in log order.
    pub events: Vec<StoredEvent>,
    /// The raw payloads of those events.
    pub raws: Vec<RawRow>,
}

/// Which changed messages `audit` lists. All `false` = any change.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Withdrawn messages.
    pub withdrawn: bool,
    /// Edited messages (revision > 0).
    pub edited: bool,
    /// Deleted messages.
    pub deleted: bool,
    /// Sent at or after.
    pub since: Option<TimestampMs>,
    /// Sent before.
    pub until: Option<TimestampMs>,
    /// Only this platform.
    pub platform: Option<Platform>,
    /// Only these chats, as (platform, account, chat id); `None` = every chat.
    pub chats: Option<Vec<(Platform, String, String)>>,
}

/// One changed message in an audit.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    /// Current state (who withdrew/deleted it and when are in the record).
    pub record: MessageRecord,
    /// The text as first seen.
    pub original_text: String,
    /// Every revision with its time.
    pub revisions: Vec<Revision>,
}

/// A period in which a connector was not archiving.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gap {
    /// Platform.
    pub platform: Platform,
    /// Connector name.
    pub account: String,
    /// The state that started the gap.
    pub status: ConnectorStatus,
    /// Why.
    pub detail: Option<String>,
    /// Start.
    pub from: TimestampMs,
    /// End (`None` = still down, or the archive stopped while down).
    pub to: Option<TimestampMs>,
}

/// The end of the hash chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainHead {
    /// Last seq (0 = empty log).
    pub seq: u64,
    /// Hex sha256 (64 zeros for an empty log).
    pub hash: String,
}

/// A known chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatRow {
    /// Platform.
    pub platform: Platform,
    /// Account.
    pub account: String,
    /// Chat id.
    pub chat_id: String,
    /// Latest name.
    pub name: Option<String>,
    /// Kind, when known.
    pub chat_type: Option<String>,
    /// Messages archived.
    pub messages: u64,
}

/// Counts for `stats`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// Events in the log.
    pub events: u64,
    /// Messages (current state rows with a message event).
    pub messages: u64,
    /// Raw payloads.
    pub raw_payloads: u64,
    /// Rejected payloads.
    pub rejects: u64,
    /// Messages per platform.
    pub by_platform: Vec<(String, u64)>,
    /// Messages per chat type.
    pub by_chat_type: Vec<(String, u64)>,
    /// Messages per state.
    pub by_state: Vec<(String, u64)>,
    /// Events per kind.
    pub by_kind: Vec<(String, u64)>,
    /// Rejects per platform/account with the latest reason.
    pub rejects_by_connector: Vec<RejectSummary>,
    /// Per connector: cursor, last event time, last state.
    pub connectors: Vec<ConnectorSummary>,
    /// Chain head.
    pub head: Option<ChainHead>,
}

/// Rejects of one connector.
#[derive(Debug, Clone, Serialize)]
pub struct RejectSummary {
    /// Platform.
    pub platform: String,
    /// Account.
    pub account: String,
    /// Count.
    pub count: u64,
    /// Latest reason.
    pub last_reason: String,
}

/// One connector as the log knows it.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectorSummary {
    /// Platform.
    pub platform: String,
    /// Account.
    pub account: String,
    /// Events from it.
    pub events: u64,
    /// Latest event receive time.
    pub last_event_at: Option<TimestampMs>,
    /// Latest recorded connector state.
    pub state: Option<String>,
    /// Since when.
    pub state_since: Option<TimestampMs>,
    /// Committed cursor (JSON).
    pub cursor: Option<serde_json::Value>,
}

/// A rejected payload.
#[derive(Debug, Clone, Serialize)]
pub struct RejectRow {
    /// Row id.
    pub id: u64,
    /// Platform.
    pub platform: String,
    /// Account.
    pub account: String,
    /// Receive time.
    pub received_at: TimestampMs,
    /// Why.
    pub reason: String,
    /// The bytes (possibly truncated).
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

/// Result of `verify`.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// Events checked.
    pub events: u64,
    /// Messages re-folded.
    pub messages: u64,
    /// Recomputed head.
    pub head: ChainHead,
    /// First seq whose stored hash (or raw link) does not match, if any.
    pub first_bad_seq: Option<u64>,
    /// Projection rows (`messages`, `revisions`, `chats`, `members`) that differ from a fresh
    /// fold (up to 20 listed).
    pub projection_mismatches: Vec<String>,
    /// `dedup` entries that stand for no event, cursors ahead of the log (up to 20 listed).
    pub bookkeeping_mismatches: Vec<String>,
    /// Chain positions checked (`--expect-head`, anchors).
    pub positions_checked: u64,
    /// Chain positions the log no longer passes through (removed or rewritten events), and
    /// unreadable lines of the anchors file.
    pub position_failures: Vec<String>,
    /// Everything matched.
    pub ok: bool,
}

/// The stored form of an event (the `payload` column and the hashed bytes): the event with
/// everything that places it, so every column of the log row is derivable from it.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, Serialize)]
pub struct Envelope {
    /// Model version.
    pub v: u32,
    /// Platform.
    pub platform: Platform,
    /// Account.
    pub account: String,
    /// Receive time of the raw payload.
    pub received_at: TimestampMs,
    /// The event.
    pub event: ChatEvent,
}
