//! The reviewer UI's reads: a chat's timeline around a time, and the re-check of one
//! message's events against the hash chain ("verify this message").

use proto::{MessageKey, MessageRecord, Platform, TimestampMs};
use rusqlite::params;
use serde::Serialize;

use super::StoreReader;
use super::rows::{EVENT_COLS, RECORD_COLS, all, event_from_row, record_from_row};
use crate::Result;
use crate::chain;

/// How one event of a message compares with the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventCheck {
    /// Its position.
    pub seq: u64,
    /// Hex of the stored hash.
    pub stored: String,
    /// Whether `sha256(hash of seq − 1 ‖ seq ‖ payload ‖ sha256(raw))` equals it.
    pub ok: bool,
}

/// The timeline's query: `?1` platform, `?2` account, `?3` chat id, `?4` the time, `?5` how
/// many; the messages sent before the time, newest first (`earlier`), or those sent at or
/// after it, oldest first. Both are answered from `messages_by_chat` (schema 5): a seek to the
/// chat and the time, then one index step per message returned.
pub(crate) fn timeline_sql(earlier: bool) -> String {
    let (cmp, order) = if earlier { ("<", "DESC") } else { (">=", "ASC") };
    format!(
        "SELECT {RECORD_COLS} FROM messages WHERE has_message = 1 AND platform = ?1 AND account = ?2
         AND chat_id = ?3 AND sent_at {cmp} ?4 ORDER BY sent_at {order}, id {order} LIMIT ?5"
    )
}

impl StoreReader {
    /// Up to `before` messages of the chat sent before `at` and up to `after` sent at or after
    /// it, in `sent_at` order, through the per-chat index ([`timeline_sql`]).
    pub fn chat_timeline(
        &self,
        platform: Platform,
        account: &str,
        chat_id: &str,
        at: TimestampMs,
        before: usize,
        after: usize,
    ) -> Result<Vec<MessageRecord>> {
        let side = |earlier: bool, limit: usize| -> Result<Vec<MessageRecord>> {
            all(
                &self.conn,
                &timeline_sql(earlier),
                params![platform.as_str(), account, chat_id, at, limit as i64],
                record_from_row,
            )
        };
        let mut out = side(true, before)?;
        out.reverse();
        out.extend(side(false, after)?);
        Ok(out)
    }

    /// Re-checks every event of `key` against the chain: each one's link from the stored hash
    /// of the event before it, over its payload and raw bytes as stored now.
    pub fn check_message(&self, key: &MessageKey) -> Result<Vec<EventCheck>> {
        let events = match self.message(key)? {
            Some(h) => h.events,
            None => return Ok(Vec::new()),
        };
        let mut out = Vec::with_capacity(events.len());
        for e in events {
            let prev = if e.seq <= 1 {
                chain::ZERO
            } else {
                let mut st = self
                    .conn
                    .prepare_cached(&format!("SELECT {EVENT_COLS} FROM events WHERE seq = ?1"))?;
                let mut rows = st.query([(e.seq - 1) as i64])?;
                let mut unpacker = self.unpacker.borrow_mut();
                match rows.next()? {
                    Some(r) => hex::decode(event_from_row(r, &self.conn, &mut unpacker)?.hash)
                        .ok()
                        .and_then(|h| chain::to32(&h))
                        .unwrap_or(chain::ZERO),
                    None => chain::ZERO,
                }
            };
            let raw = self.raw(e.raw_id)?.map(|r| r.bytes).unwrap_or_default();
            let want = chain::link(&prev, e.seq, &e.payload, &chain::sha(&raw));
            out.push(EventCheck {
                seq: e.seq,
                ok: hex::encode(want) == e.hash,
                stored: e.hash,
            });
        }
        Ok(out)
    }
}
