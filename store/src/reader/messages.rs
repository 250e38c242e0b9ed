//! Messages: current state (by identity, by time range for export), revisions, and the full
//! history of one message with its events and raw payloads (`show`).

use proto::{MessageKey, MessageRecord, Platform, TimestampMs};
use rusqlite::{OptionalExtension, params};

use super::StoreReader;
use super::rows::{EVENT_COLS, MessageRow, RECORD_COLS, RECORD_COLS_LEN, event_from_row, message_row, parse};
use crate::dedup::resolve;
use crate::types::{MessageHistory, RawRow, Revision};
use crate::{Result, StoreError};

/// Messages of one platform in `[from_ms, to_ms)`, in `sent_at` order. Ties are broken by `id`
/// (arrival order), which the `(platform, sent_at)` index carries as its rowid: no sort step,
/// and the rows it points to lie nearly in index order on disk.
const MESSAGES_IN_RANGE: &str =
    "FROM messages WHERE has_message = 1 AND platform = ?1 AND sent_at >= ?2 AND sent_at < ?3
     ORDER BY sent_at, id";

impl StoreReader {
    /// `(platform, sent_at)` of every message whose state changed after `after_seq`, streamed
    /// to `f` (export maps them to date partitions without loading them all).
    pub fn messages_touched_since(&self, after_seq: u64, f: &mut dyn FnMut(Platform, TimestampMs)) -> Result<()> {
        let mut st = self.conn.prepare_cached(
            "SELECT platform, sent_at FROM messages WHERE last_seq > ?1 AND has_message = 1 ORDER BY last_seq",
        )?;
        let mut rows = st.query([after_seq as i64])?;
        while let Some(r) = rows.next()? {
            f(parse(&r.get::<_, String>(0)?, "platform")?, r.get(1)?);
        }
        Ok(())
    }

    /// Messages of `platform` with `from_ms <= sent_at < to_ms`, in `sent_at` order, each
    /// borrowed for the duration of `f` (see [`MessageRow`]). `f`'s error stops the scan and is
    /// returned as is.
    pub fn visit_messages_in_range<E: From<StoreError>>(
        &self,
        platform: Platform,
        from_ms: TimestampMs,
        to_ms: TimestampMs,
        f: &mut dyn FnMut(&MessageRow<'_>) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        self.visit_rows(
            &format!("SELECT {RECORD_COLS} {MESSAGES_IN_RANGE}"),
            params![platform.as_str(), from_ms, to_ms],
            |r| f(&message_row(r).map_err(|e| E::from(StoreError::from(e)))?),
        )
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
        let chunk = chunk.max(1);
        let mut buf = Vec::with_capacity(chunk.min(65536));
        self.visit_messages_in_range(platform, from_ms, to_ms, &mut |row| {
            buf.push(row.to_record()?);
            if buf.len() >= chunk {
                f(std::mem::take(&mut buf))?;
            }
            Ok::<(), StoreError>(())
        })?;
        if !buf.is_empty() {
            f(buf)?;
        }
        Ok(())
    }

    /// The earliest `sent_at >= from_ms` of a message of `platform`, if any: one index probe,
    /// so a caller can step from day to day without reading the messages in between.
    pub fn first_message_time(&self, platform: Platform, from_ms: TimestampMs) -> Result<Option<TimestampMs>> {
        let mut st = self.conn.prepare_cached(
            "SELECT sent_at FROM messages WHERE has_message = 1 AND platform = ?1 AND sent_at >= ?2 ORDER BY sent_at LIMIT 1",
        )?;
        Ok(st
            .query_row(params![platform.as_str(), from_ms], |r| r.get(0))
            .optional()?)
    }

    /// Current state of the given messages (missing ones are skipped).
    pub fn messages_by_keys(&self, keys: &[MessageKey]) -> Result<Vec<MessageRecord>> {
        let scheme = self.scheme;
        let found = self.records_by_row_keys(keys.iter(), |conn, key| {
            let (row_key, exists) = resolve(conn, scheme, key)?;
            Ok(exists.map(|_| row_key))
        })?;
        Ok(found.into_iter().map(|(_, rec)| rec).collect())
    }

    /// Current state of the messages whose `messages` rows have these row keys (as
    /// [`StoreReader::message_changes_since`] gives them; missing ones and rows that hold only
    /// edits of an unseen message are skipped), in one read transaction, one index probe each,
    /// each borrowed for the duration of `f` (see [`MessageRow`]): the search indexer builds
    /// its documents from them without an owned copy of each record. Each comes with its
    /// row's arrival number (`messages.id`: rows are numbered as they are made, never
    /// renumbered while the archive is open, and never removed). `f` may read this store; its
    /// error stops the visit and is returned as is.
    pub fn visit_messages_by_row_keys<E: From<StoreError>>(
        &self,
        row_keys: &[i64],
        f: &mut dyn FnMut(u64, &MessageRow<'_>) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        self.visit_by_row_keys(row_keys.iter(), |_, k| Ok(Some(*k)), f)
    }

    /// The highest arrival number of a `messages` row (0 when there is none): every row made
    /// so far has one at most this.
    pub fn last_message_arrival(&self) -> Result<u64> {
        let id: i64 = self
            .conn
            .query_row("SELECT coalesce(max(id), 0) FROM messages", [], |r| r.get(0))?;
        Ok(id as u64)
    }

    /// The records (with arrival numbers) of the rows `row_key` finds for each item.
    fn records_by_row_keys<T>(
        &self,
        items: impl ExactSizeIterator<Item = T>,
        row_key: impl Fn(&rusqlite::Connection, T) -> Result<Option<i64>>,
    ) -> Result<Vec<(u64, MessageRecord)>> {
        let mut out = Vec::with_capacity(items.len());
        self.visit_by_row_keys(items, row_key, &mut |arrival, row: &MessageRow<'_>| {
            out.push((arrival, row.to_record()?));
            Ok::<_, StoreError>(())
        })?;
        Ok(out)
    }

    /// Visits the row (with its arrival number) `row_key` finds for each item, in one read
    /// transaction: otherwise each lookup opens and closes its own, which was most of the
    /// search indexer's catch-up time.
    fn visit_by_row_keys<T, E: From<StoreError>>(
        &self,
        items: impl Iterator<Item = T>,
        row_key: impl Fn(&rusqlite::Connection, T) -> Result<Option<i64>>,
        f: &mut dyn FnMut(u64, &MessageRow<'_>) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let sql = |e: rusqlite::Error| E::from(StoreError::from(e));
        self.snapshot(|me| {
            let conn = &me.conn;
            let mut st = conn
                .prepare_cached(&format!(
                    "SELECT {RECORD_COLS}, id FROM messages WHERE mkey = ?1 AND has_message = 1"
                ))
                .map_err(sql)?;
            for item in items {
                let Some(k) = row_key(conn, item)? else { continue };
                let mut rows = st.query([k]).map_err(sql)?;
                if let Some(r) = rows.next().map_err(sql)? {
                    let arrival = r.get::<_, i64>(RECORD_COLS_LEN).map_err(sql)? as u64;
                    f(arrival, &message_row(r).map_err(sql)?)?;
                }
            }
            Ok(())
        })
    }

    /// Every text a message has had (empty if never edited: its text is the record's).
    pub fn revisions(&self, key: &MessageKey) -> Result<Vec<Revision>> {
        let (row_key, exists) = resolve(&self.conn, self.scheme, key)?;
        if exists.is_none() {
            return Ok(Vec::new());
        }
        self.revisions_of(row_key)
    }

    /// The revisions of the message whose row key is `row_key`.
    pub(crate) fn revisions_of(&self, row_key: i64) -> Result<Vec<Revision>> {
        super::rows::revisions_of(&self.conn, row_key)
    }

    /// Messages matching `platform`/`chat_id`/`msg_id` in any account (for `show`).
    pub fn find_keys(
        &self,
        platform: Platform,
        chat_id: &str,
        msg_id: &str,
        account: Option<&str>,
    ) -> Result<Vec<MessageKey>> {
        let mut st = self.conn.prepare_cached(
            "SELECT DISTINCT account FROM events WHERE platform = ?1 AND chat_id = ?2 AND msg_id = ?3 AND (?4 IS NULL OR account = ?4)",
        )?;
        let rows = st.query_map(params![platform.as_str(), chat_id, msg_id, account], |r| {
            r.get::<_, String>(0)
        })?;
        let mut out = Vec::new();
        for a in rows {
            out.push(MessageKey {
                platform,
                account: a?,
                chat_id: chat_id.into(),
                msg_id: msg_id.into(),
            });
        }
        Ok(out)
    }

    /// One message with its full event history and raw payloads (`show`).
    pub fn message(&self, key: &MessageKey) -> Result<Option<MessageHistory>> {
        let mut events = Vec::new();
        {
            let mut st = self.conn.prepare_cached(&format!(
                "SELECT {EVENT_COLS} FROM events WHERE platform = ?1 AND account = ?2 AND chat_id = ?3 AND msg_id = ?4 ORDER BY seq"
            ))?;
            let mut rows = st.query(params![key.platform.as_str(), key.account, key.chat_id, key.msg_id])?;
            let mut unpacker = self.unpacker.borrow_mut();
            while let Some(r) = rows.next()? {
                events.push(event_from_row(r, &self.conn, &mut unpacker)?);
            }
        }
        if events.is_empty() {
            return Ok(None);
        }
        let record = self.messages_by_keys(std::slice::from_ref(key))?.pop();
        let revisions = self.revisions(key)?;
        let mut raws = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for e in &events {
            if seen.insert(e.raw_id)
                && let Some(raw) = self.raw(e.raw_id)?
            {
                raws.push(raw);
            }
        }
        Ok(Some(MessageHistory {
            record,
            revisions,
            events,
            raws,
        }))
    }

    /// Raw payload row `id`, its bytes as received.
    pub fn raw(&self, id: u64) -> Result<Option<RawRow>> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT id, platform, account, received_at, media_type, bytes, zdict FROM raw WHERE id = ?1",
            )?
            .query_row([id as i64], |r| {
                Ok((
                    RawRow {
                        id: r.get::<_, i64>(0)? as u64,
                        platform: parse(&r.get::<_, String>(1)?, "platform")?,
                        account: r.get(2)?,
                        received_at: r.get(3)?,
                        media_type: r.get(4)?,
                        bytes: r.get(5)?,
                    },
                    r.get::<_, Option<i64>>(6)?,
                ))
            })
            .optional()?;
        let Some((mut raw, zdict)) = row else {
            return Ok(None);
        };
        raw.bytes = self
            .unpacker
            .borrow_mut()
            .unpack(&self.conn, std::mem::take(&mut raw.bytes), zdict, &|| {
                format!("raw payload {id}")
            })?;
        Ok(Some(raw))
    }
}
