//! The case bundle's layout: file names, the manifest, and one line of `events.jsonl` and of
//! `messages.jsonl`. The writer and the checker both use these types, so what one writes is
//! what the other reads.
//!
//! ```text
//! case.zip
//! ├── manifest.json      Manifest: version, who, when, from where, every file's sha256,
//! │                      every event's seq + hash, the chain head at creation
//! ├── messages.jsonl     one MessageLine per message: its current state as `show --json`
//! │                      gives it, its revisions and the seqs of its events
//! ├── events.jsonl       one EventLine per event, in seq order: the exact bytes the chain
//! │                      hashed, the hash before it and its own
//! └── attachments/<sha256>   the stored bytes of the messages' attachments
//! ```

use proto::MessageKey;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What `manifest.json` says it is.
pub const FORMAT: &str = "chatvault-case-bundle";
/// Version of the layout; a checker refuses versions it does not know.
pub const VERSION: u32 = 1;
/// The manifest's name in the bundle.
pub const MANIFEST: &str = "manifest.json";
/// Messages, one JSON object per line.
pub const MESSAGES: &str = "messages.jsonl";
/// Events, one JSON object per line, in seq order.
pub const EVENTS: &str = "events.jsonl";
/// Folder of attachment blobs, each named by the hex sha256 of its bytes.
pub const ATTACHMENTS: &str = "attachments/";

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`VERSION`] when written.
    pub version: u32,
    /// When the bundle was made, RFC 3339 UTC.
    pub created_at: String,
    /// The archive user who made it.
    pub created_by: String,
    /// Where the selection came from (a search with its query and filters, a conversation,
    /// messages picked in one), as the caller described it.
    pub origin: Value,
    /// Every other file of the bundle with its sha256 and size.
    pub files: Vec<FileEntry>,
    /// Every event of the bundle, in seq order, with its chain hash.
    pub events: Vec<Position>,
    /// The end of the archive's hash chain when the bundle was made.
    pub chain_head: Position,
    /// Number of messages in `messages.jsonl`.
    pub messages: u64,
    /// Attachments a message names but whose bytes are not in the bundle, and why.
    #[serde(default)]
    pub attachments_left_out: Vec<LeftOut>,
}

/// One file of the bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path inside the bundle.
    pub path: String,
    /// Hex sha256 of its bytes.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
}

/// A chain position: a seq and the hex sha256 the chain holds there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Log position.
    pub seq: u64,
    /// Hex sha256.
    pub hash: String,
}

/// An attachment whose bytes are not in the bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftOut {
    /// The message.
    pub message: MessageKey,
    /// Index in the message's attachment list.
    pub index: usize,
    /// Its sha256, when the message names one.
    pub sha256: Option<String>,
    /// Why (`metadata only`: the archive never held the bytes; `not in the blob store`).
    pub reason: String,
}

/// One line of `events.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventLine {
    /// Log position.
    pub seq: u64,
    /// Hex of the chain hash of the event at `seq - 1` (64 zeros for seq 1).
    pub prev_hash: String,
    /// Hex of this event's chain hash.
    pub hash: String,
    /// The canonical envelope exactly as the chain hashed it (JSON text; its UTF-8 bytes are
    /// the hashed bytes).
    pub payload: String,
    /// The raw payload it came from: its row in the archive's `raw` table …
    pub raw_id: u64,
    /// … its media type …
    pub raw_media_type: String,
    /// … and the hex sha256 of its bytes, which the chain hash covers. The raw bytes
    /// themselves stay in the archive: one platform payload can carry messages of other
    /// chats, which the bundle's reader may not be allowed to see.
    pub raw_sha256: String,
}

/// One line of `messages.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageLine {
    /// The message's identity.
    pub key: MessageKey,
    /// Its current state as `chatvault show --json` gives it (times as RFC 3339 UTC).
    pub record: Value,
    /// Every text it has had (empty when never edited), as `show --json` gives them.
    pub revisions: Value,
    /// The seqs of its events, in order (they are in `events.jsonl`).
    pub events: Vec<u64>,
}
