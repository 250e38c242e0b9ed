//! [`StoreReader`]: the read side (search, export, CLI). Opens its own read-only connection;
//! many readers work beside the one writer (WAL).

use std::path::Path;

use proto::{Cursor, MessageKey, MessageRecord, Platform, TimestampMs};

use crate::Result;
use crate::types::*;

/// A read-only view of the archive.
pub struct StoreReader {
    pub(crate) conn: rusqlite::Connection,
}

impl StoreReader {
    /// Opens the archive in `data_dir` read-only. Fails with [`crate::StoreError::NotFound`] if
    /// there is none, [`crate::StoreError::Foreign`] if the file is not a chatvault database.
    pub fn open(data_dir: &Path) -> Result<Self> {
        crate::store::open_reader(data_dir)
    }

    /// Events with `seq > after_seq`, in order, at most `limit`.
    pub fn events_since(&self, after_seq: u64, limit: usize) -> Result<Vec<StoredEvent>> {
        crate::queries::q_events_since(&self.conn, after_seq, limit)
    }

    /// `(platform, sent_at)` of every message whose state changed after `after_seq`, streamed
    /// to `f` (export maps them to date partitions without loading them all).
    pub fn messages_touched_since(&self, after_seq: u64, f: &mut dyn FnMut(Platform, TimestampMs)) -> Result<()> {
        crate::queries::q_touched(&self.conn, after_seq, f)
    }

    /// Messages of `platform` with `from_ms <= sent_at < to_ms`, ordered by `sent_at`, handed
    /// to `f` in chunks of at most `chunk` (bounded memory).
    pub fn messages_in_range(
        &self,
        platform: Platform,
        from_ms: TimestampMs,
        to_ms: TimestampMs,
        chunk: usize,
        f: &mut dyn FnMut(Vec<MessageRecord>) -> Result<()>,
    ) -> Result<()> {
        crate::queries::q_messages_in_range(&self.conn, platform, from_ms, to_ms, chunk, f)
    }

    /// Current state of the given messages (missing ones are skipped).
    pub fn messages_by_keys(&self, keys: &[MessageKey]) -> Result<Vec<MessageRecord>> {
        crate::queries::q_messages_by_keys(&self.conn, keys)
    }

    /// Every text a message has had (empty if never edited: its text is the record's).
    pub fn revisions(&self, key: &MessageKey) -> Result<Vec<Revision>> {
        crate::queries::q_revisions(&self.conn, key)
    }

    /// Messages matching `platform`/`chat_id`/`msg_id` in any account (for `show`).
    pub fn find_keys(
        &self,
        platform: Platform,
        chat_id: &str,
        msg_id: &str,
        account: Option<&str>,
    ) -> Result<Vec<MessageKey>> {
        crate::queries::q_find_keys(&self.conn, platform, chat_id, msg_id, account)
    }

    /// One message with its full event history and raw payloads (`show`).
    pub fn message(&self, key: &MessageKey) -> Result<Option<MessageHistory>> {
        crate::queries::q_message(&self.conn, key)
    }

    /// Changed messages matching `filter`, oldest first, streamed to `f`.
    pub fn audit(&self, filter: &AuditFilter, f: &mut dyn FnMut(AuditEntry) -> Result<()>) -> Result<()> {
        crate::queries::q_audit(&self.conn, filter, f)
    }

    /// Periods connectors were not archiving, from `connector_state` events.
    pub fn gaps(
        &self,
        since: Option<TimestampMs>,
        until: Option<TimestampMs>,
        platform: Option<Platform>,
    ) -> Result<Vec<Gap>> {
        crate::queries::q_gaps(&self.conn, since, until, platform)
    }

    /// Every known chat with its latest name.
    pub fn chats(&self) -> Result<Vec<ChatRow>> {
        crate::queries::q_chats(&self.conn)
    }

    /// A connector's committed cursor.
    pub fn cursor(&self, platform: Platform, account: &str) -> Result<Option<Cursor>> {
        crate::queries::q_cursor(&self.conn, platform, account)
    }

    /// Rejected payloads, newest first.
    pub fn rejects(&self, limit: usize) -> Result<Vec<RejectRow>> {
        crate::queries::q_rejects(&self.conn, limit)
    }

    /// The end of the hash chain.
    pub fn head(&self) -> Result<ChainHead> {
        crate::queries::q_head(&self.conn)
    }

    /// Counts for `stats`.
    pub fn stats(&self) -> Result<Stats> {
        crate::queries::q_stats(&self.conn)
    }

    /// Recomputes the hash chain and re-folds every message; `progress` gets the seq reached.
    pub fn verify(&self, progress: &mut dyn FnMut(u64)) -> Result<VerifyReport> {
        crate::verify::verify(&self.conn, progress)
    }
}
