//! The seam between ingest and store.
//!
//! A connector decodes what its platform sent into an [`EventBatch`] and sends it on a bounded
//! channel. The store writer appends the batch (raw payloads, events, rejects, cursor) in one
//! transaction and only then fires the batch's [`CommitNotice`]; the connector acknowledges the
//! platform only after the notice says the batch is committed.

use std::borrow::Cow;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use crate::{AccountId, ChatEvent, Cursor, Platform, TimestampMs};

/// Media types of raw payloads.
pub mod media {
    /// JSON text.
    pub const JSON: &str = "application/json";
    /// XML text.
    pub const XML: &str = "application/xml";
    /// Protobuf bytes.
    pub const PROTOBUF: &str = "application/x-protobuf";
    /// MessagePack bytes.
    pub const MSGPACK: &str = "application/msgpack";
    /// Form-encoded body.
    pub const FORM: &str = "application/x-www-form-urlencoded";
    /// Text (e.g. a Socket.IO frame).
    pub const TEXT: &str = "text/plain";
    /// Anything else.
    pub const OCTETS: &str = "application/octet-stream";
}

/// A platform payload as received (after transport decryption), kept byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawPayload {
    /// When the archive received it (UTC ms).
    pub received_at: TimestampMs,
    /// What the bytes are (see [`media`]).
    pub media_type: Cow<'static, str>,
    /// The bytes.
    pub bytes: Bytes,
}

impl RawPayload {
    /// A payload received now.
    pub fn now(media_type: &'static str, bytes: impl Into<Bytes>) -> Self {
        RawPayload {
            received_at: crate::time::now_ms(),
            media_type: Cow::Borrowed(media_type),
            bytes: bytes.into(),
        }
    }
}

/// One payload of a batch: decoded into events, or rejected with a reason.
#[derive(Debug, Clone, PartialEq)]
pub enum Ingested {
    /// A decoded payload: its raw bytes and the events normalized from it (0..n).
    Payload {
        /// The payload as received.
        raw: RawPayload,
        /// Events normalized from it.
        events: Vec<ChatEvent>,
    },
    /// A payload that could not be decoded or failed a check: kept, never dropped.
    Rejected {
        /// The payload as received (truncated to 64 KiB for oversized bodies).
        raw: RawPayload,
        /// Why it was refused (no secrets).
        reason: String,
    },
}

/// What the store did with a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitInfo {
    /// Events appended to the log (new, not duplicates).
    pub appended: u64,
    /// Events recognised as already recorded.
    pub duplicates: u64,
    /// Payloads recorded in `rejects` (including events that failed validation).
    pub rejected: u64,
    /// Highest `seq` in the log after the commit.
    pub head_seq: u64,
}

/// Why a batch was not committed. The connector must not acknowledge the platform.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("store did not commit the batch: {message}")]
pub struct CommitError {
    /// Human-readable reason (no secrets).
    pub message: String,
}

/// The sending half of a batch's commit notice.
pub type CommitNotice = oneshot::Sender<Result<CommitInfo, CommitError>>;

/// A batch of ingested payloads from one connector, with its resume position.
#[derive(Debug)]
pub struct EventBatch {
    /// The connector's configured `name`.
    pub account: AccountId,
    /// Its platform.
    pub platform: Platform,
    /// Payloads in arrival order.
    pub items: Vec<Ingested>,
    /// Connector position *after* this batch (opaque JSON); committed with the events.
    pub cursor: Option<Cursor>,
    /// Fired after the transaction holding the batch commits (or fails).
    pub committed: CommitNotice,
}

impl EventBatch {
    /// A batch and the receiver of its commit notice.
    pub fn new(
        platform: Platform,
        account: impl Into<AccountId>,
        items: Vec<Ingested>,
        cursor: Option<Cursor>,
    ) -> (Self, oneshot::Receiver<Result<CommitInfo, CommitError>>) {
        let (tx, rx) = oneshot::channel();
        (
            EventBatch {
                account: account.into(),
                platform,
                items,
                cursor,
                committed: tx,
            },
            rx,
        )
    }

    /// Number of events carried (excluding rejects).
    pub fn event_count(&self) -> usize {
        self.items
            .iter()
            .map(|i| match i {
                Ingested::Payload { events, .. } => events.len(),
                Ingested::Rejected { .. } => 0,
            })
            .sum()
    }
}
