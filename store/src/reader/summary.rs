//! Summaries: chats, connector cursors, rejects, and the counts of `stats`.

use proto::{Cursor, EventBody, Platform};
use rusqlite::{Connection, OptionalExtension, params};

use super::StoreReader;
use super::rows::{all, parse};
use crate::types::*;
use crate::{Result, StoreError};

/// Its `WHERE` is the one of the partial index `messages_by_time`, so SQLite counts that
/// index's entries instead of reading the wide rows (a test checks the plan).
pub(crate) const MESSAGE_COUNT_SQL: &str = "SELECT count(*) FROM messages WHERE has_message = 1";

impl StoreReader {
    /// Every known chat with its latest name.
    pub fn chats(&self) -> Result<Vec<ChatRow>> {
        all(
            &self.conn,
            "SELECT platform, account, chat_id, name, chat_type, messages FROM chats ORDER BY platform, account, chat_id",
            [],
            |r| {
                Ok(ChatRow {
                    platform: parse(&r.get::<_, String>(0)?, "platform")?,
                    account: r.get(1)?,
                    chat_id: r.get(2)?,
                    name: r.get(3)?,
                    chat_type: r.get(4)?,
                    messages: r.get::<_, i64>(5)? as u64,
                })
            },
        )
    }

    /// A connector's committed cursor.
    pub fn cursor(&self, platform: Platform, account: &str) -> Result<Option<Cursor>> {
        let s: Option<String> = self
            .conn
            .prepare_cached("SELECT cursor FROM cursors WHERE platform = ?1 AND account = ?2")?
            .query_row(params![platform.as_str(), account], |r| r.get(0))
            .optional()?;
        s.map(|s| serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(format!("cursor does not decode: {e}"))))
            .transpose()
    }

    /// Rejected payloads, newest first.
    pub fn rejects(&self, limit: usize) -> Result<Vec<RejectRow>> {
        all(
            &self.conn,
            "SELECT id, platform, account, received_at, reason, bytes FROM rejects ORDER BY id DESC LIMIT ?1",
            [limit as i64],
            |r| {
                Ok(RejectRow {
                    id: r.get::<_, i64>(0)? as u64,
                    platform: r.get(1)?,
                    account: r.get(2)?,
                    received_at: r.get(3)?,
                    reason: r.get(4)?,
                    bytes: r.get(5)?,
                })
            },
        )
    }

    /// Messages the archive holds: identities whose message event has arrived (an edit or a
    /// withdrawal of a message not seen yet does not count). One pass over a narrow index, so
    /// it stays cheap on a large archive, unlike [`StoreReader::stats`], which reads every row
    /// twice.
    pub fn message_count(&self) -> Result<u64> {
        let n: i64 = self
            .conn
            .prepare_cached(MESSAGE_COUNT_SQL)?
            .query_row([], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// Counts for `stats`.
    pub fn stats(&self) -> Result<Stats> {
        let conn = &self.conn;
        let one = |sql: &str| -> Result<u64> { Ok(conn.query_row(sql, [], |r| r.get::<_, i64>(0))? as u64) };
        let mut stats = Stats {
            events: one("SELECT coalesce(max(seq), 0) FROM events")?,
            messages: self.message_count()?,
            raw_payloads: one("SELECT count(*) FROM raw")?,
            rejects: one("SELECT count(*) FROM rejects")?,
            by_platform: counts(
                conn,
                "SELECT platform, count(*) FROM messages WHERE has_message = 1 GROUP BY platform ORDER BY platform",
            )?,
            by_chat_type: counts(
                conn,
                "SELECT chat_type, count(*) FROM messages WHERE has_message = 1 GROUP BY chat_type ORDER BY chat_type",
            )?,
            by_state: counts(
                conn,
                "SELECT state, count(*) FROM messages WHERE has_message = 1 GROUP BY state ORDER BY state",
            )?,
            by_kind: counts(conn, "SELECT kind, count(*) FROM events GROUP BY kind ORDER BY kind")?,
            ..Default::default()
        };
        stats.rejects_by_connector = all(
            conn,
            "SELECT platform, account, count(*), (SELECT reason FROM rejects r2 WHERE r2.platform = r.platform AND r2.account = r.account ORDER BY id DESC LIMIT 1)
             FROM rejects r GROUP BY platform, account ORDER BY platform, account",
            [],
            |r| {
                Ok(RejectSummary {
                    platform: r.get(0)?,
                    account: r.get(1)?,
                    count: r.get::<_, i64>(2)? as u64,
                    last_reason: r.get(3)?,
                })
            },
        )?;
        stats.connectors = self.connectors()?;
        stats.head = Some(self.head()?);
        Ok(stats)
    }

    /// Per connector: events, last receive time, last state, cursor (`stats`, the reviewer
    /// UI's status page).
    pub fn connectors(&self) -> Result<Vec<ConnectorSummary>> {
        let conn = &self.conn;
        let mut out = Vec::new();
        // The log has few accounts, so one grouped scan of the (platform, account) pairs plus
        // point queries is enough.
        let pairs = all(
            conn,
            "SELECT platform, account, count(*), max(received_at) FROM events GROUP BY platform, account ORDER BY platform, account",
            [],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                ))
            },
        )?;
        for (platform, account, events, last) in pairs {
            let state: Option<(i64, Vec<u8>, Option<i64>)> = conn
                .prepare_cached(
                    "SELECT seq, payload, zdict FROM events WHERE platform = ?1 AND account = ?2 AND kind = 'connector_state' ORDER BY seq DESC LIMIT 1",
                )?
                .query_row(params![platform, account], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            let (state, state_since) = match state.and_then(|(seq, p, z)| self.envelope(seq, p, z).ok()) {
                Some(Envelope {
                    event:
                        proto::ChatEvent {
                            body: EventBody::ConnectorState { status, at, .. },
                            ..
                        },
                    ..
                }) => (Some(status.to_string()), Some(at)),
                _ => (None, None),
            };
            let cursor: Option<String> = conn
                .prepare_cached("SELECT cursor FROM cursors WHERE platform = ?1 AND account = ?2")?
                .query_row(params![platform, account], |r| r.get(0))
                .optional()?;
            out.push(ConnectorSummary {
                platform,
                account,
                events: events as u64,
                last_event_at: last,
                state,
                state_since,
                cursor: cursor.and_then(|c| serde_json::from_str(&c).ok()),
            });
        }
        Ok(out)
    }
}

fn counts(conn: &Connection, sql: &str) -> Result<Vec<(String, u64)>> {
    all(conn, sql, [], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
    })
}
