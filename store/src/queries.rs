//! The read queries behind [`crate::StoreReader`].

use std::borrow::Cow;
use std::collections::BTreeMap;

use proto::{Attachment, Cursor, EventBody, MessageKey, MessageRecord, Platform, TimestampMs};
use rusqlite::types::{FromSqlError, ValueRef};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::reader::{EventRow, MessageRow};
use crate::types::*;
use crate::{Result, StoreError};

pub(crate) const RECORD_COLS: &str = "platform, account, chat_id, msg_id, chat_type, chat_name, external, sender_id, \
     sender_name, sent_at, received_at, content_type, text, attachments, reply_to, mentions, recipients, state, revision, \
     edited_at, withdrawn_at, withdrawn_by, deleted_at, deleted_by, last_seq";

fn parse<T: std::str::FromStr>(s: &str, what: &str) -> rusqlite::Result<T> {
    s.parse().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, format!("bad {what} `{s}`").into())
    })
}

fn json_vec<'a, T: serde::Deserialize<'a>>(s: Option<&'a str>) -> rusqlite::Result<Vec<T>> {
    match s {
        None => Ok(Vec::new()),
        Some(s) => serde_json::from_str(s)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))),
    }
}

/// A list item of `mentions`/`recipients`, borrowed from the stored JSON unless it has escapes.
#[derive(serde::Deserialize)]
struct ListText<'a>(#[serde(borrow)] Cow<'a, str>);

fn conversion(i: usize, v: ValueRef<'_>, e: FromSqlError) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(i, v.data_type(), Box::new(e))
}

fn text<'r>(r: &'r Row<'_>, i: usize) -> rusqlite::Result<&'r str> {
    let v = r.get_ref(i)?;
    v.as_str().map_err(|e| conversion(i, v, e))
}

fn opt_text<'r>(r: &'r Row<'_>, i: usize) -> rusqlite::Result<Option<&'r str>> {
    let v = r.get_ref(i)?;
    v.as_str_or_null().map_err(|e| conversion(i, v, e))
}

fn int(r: &Row<'_>, i: usize) -> rusqlite::Result<i64> {
    let v = r.get_ref(i)?;
    v.as_i64().map_err(|e| conversion(i, v, e))
}

fn opt_int(r: &Row<'_>, i: usize) -> rusqlite::Result<Option<i64>> {
    let v = r.get_ref(i)?;
    v.as_i64_or_null().map_err(|e| conversion(i, v, e))
}

/// Borrows a row selected with [`RECORD_COLS`] (starting at column 0).
fn message_row<'r>(r: &'r Row<'_>) -> rusqlite::Result<MessageRow<'r>> {
    Ok(MessageRow {
        platform: parse(text(r, 0)?, "platform")?,
        account: text(r, 1)?,
        chat_id: text(r, 2)?,
        msg_id: text(r, 3)?,
        chat_type: parse(text(r, 4)?, "chat type")?,
        chat_name: opt_text(r, 5)?,
        external: int(r, 6)? != 0,
        sender_id: text(r, 7)?,
        sender_name: opt_text(r, 8)?,
        sent_at: int(r, 9)?,
        received_at: int(r, 10)?,
        content_type: parse(text(r, 11)?, "content type")?,
        text: text(r, 12)?,
        attachments_json: opt_text(r, 13)?,
        reply_to: opt_text(r, 14)?,
        mentions_json: opt_text(r, 15)?,
        recipients_json: opt_text(r, 16)?,
        state: parse(text(r, 17)?, "state")?,
        revision: {
            let v = int(r, 18)?;
            u32::try_from(v).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(18, v))?
        },
        edited_at: opt_int(r, 19)?,
        withdrawn_at: opt_int(r, 20)?,
        withdrawn_by: opt_text(r, 21)?,
        deleted_at: opt_int(r, 22)?,
        deleted_by: opt_text(r, 23)?,
        last_seq: int(r, 24)? as u64,
    })
}

impl<'a> MessageRow<'a> {
    /// The attachments (decoded from their stored JSON; no allocation when there are none).
    pub fn attachments(&self) -> Result<Vec<Attachment>> {
        Ok(json_vec(self.attachments_json)?)
    }

    /// Users mentioned, borrowed where the stored text allows.
    pub fn mentions(&self) -> Result<Vec<Cow<'a, str>>> {
        Ok(json_vec::<ListText>(self.mentions_json)?
            .into_iter()
            .map(|t| t.0)
            .collect())
    }

    /// Explicit recipients, borrowed where the stored text allows.
    pub fn recipients(&self) -> Result<Vec<Cow<'a, str>>> {
        Ok(json_vec::<ListText>(self.recipients_json)?
            .into_iter()
            .map(|t| t.0)
            .collect())
    }

    /// An owned copy.
    pub fn to_record(self) -> Result<MessageRecord> {
        Ok(self.record()?)
    }

    fn record(&self) -> rusqlite::Result<MessageRecord> {
        let list = |s: Option<&str>| -> rusqlite::Result<Vec<String>> {
            Ok(json_vec::<ListText>(s)?.into_iter().map(|t| t.0.into_owned()).collect())
        };
        Ok(MessageRecord {
            key: MessageKey {
                platform: self.platform,
                account: self.account.to_owned(),
                chat_id: self.chat_id.to_owned(),
                msg_id: self.msg_id.to_owned(),
            },
            chat_type: self.chat_type,
            chat_name: self.chat_name.map(str::to_owned),
            external: self.external,
            sender_id: self.sender_id.to_owned(),
            sender_name: self.sender_name.map(str::to_owned),
            sent_at: self.sent_at,
            received_at: self.received_at,
            content_type: self.content_type,
            text: self.text.to_owned(),
            attachments: json_vec(self.attachments_json)?,
            reply_to: self.reply_to.map(str::to_owned),
            mentions: list(self.mentions_json)?,
            recipients: list(self.recipients_json)?,
            state: self.state,
            revision: self.revision,
            edited_at: self.edited_at,
            withdrawn_at: self.withdrawn_at,
            withdrawn_by: self.withdrawn_by.map(str::to_owned),
            deleted_at: self.deleted_at,
            deleted_by: self.deleted_by.map(str::to_owned),
            last_seq: self.last_seq,
        })
    }
}

/// Maps a row selected with [`RECORD_COLS`] (starting at column 0).
pub(crate) fn record_from_row(r: &Row<'_>) -> rusqlite::Result<MessageRecord> {
    message_row(r)?.record()
}

const EVENT_COLS: &str =
    "seq, platform, account, chat_id, msg_id, kind, occurred_at, received_at, payload, raw_id, hash";

fn event_from_row(r: &Row<'_>) -> rusqlite::Result<StoredEvent> {
    Ok(StoredEvent {
        seq: r.get::<_, i64>(0)? as u64,
        platform: parse(&r.get::<_, String>(1)?, "platform")?,
        account: r.get(2)?,
        chat_id: r.get(3)?,
        msg_id: r.get(4)?,
        kind: parse(&r.get::<_, String>(5)?, "kind")?,
        occurred_at: r.get(6)?,
        received_at: r.get(7)?,
        payload: r.get(8)?,
        raw_id: r.get::<_, i64>(9)? as u64,
        hash: hex::encode(r.get::<_, Vec<u8>>(10)?),
    })
}

pub(crate) fn q_events_since(conn: &Connection, after_seq: u64, limit: usize) -> Result<Vec<StoredEvent>> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT {EVENT_COLS} FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2"
    ))?;
    let rows = st.query_map(params![after_seq as i64, limit as i64], event_from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

fn event_row<'r>(r: &'r Row<'_>) -> rusqlite::Result<EventRow<'r>> {
    let blob = |i: usize| -> rusqlite::Result<&'r [u8]> {
        let v = r.get_ref(i)?;
        v.as_blob().map_err(|e| conversion(i, v, e))
    };
    Ok(EventRow {
        seq: int(r, 0)? as u64,
        platform: parse(text(r, 1)?, "platform")?,
        account: text(r, 2)?,
        chat_id: text(r, 3)?,
        msg_id: opt_text(r, 4)?,
        kind: parse(text(r, 5)?, "kind")?,
        occurred_at: int(r, 6)?,
        received_at: int(r, 7)?,
        payload: blob(8)?,
        raw_id: int(r, 9)? as u64,
        hash: blob(10)?,
    })
}

pub(crate) fn q_visit_events<E: From<StoreError>>(
    conn: &Connection,
    after_seq: u64,
    upto_seq: u64,
    f: &mut dyn FnMut(&EventRow<'_>) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    let sql = |e: rusqlite::Error| E::from(StoreError::from(e));
    let mut st = conn
        .prepare_cached(&format!(
            "SELECT {EVENT_COLS} FROM events WHERE seq > ?1 AND seq <= ?2 ORDER BY seq"
        ))
        .map_err(sql)?;
    let mut rows = st.query(params![after_seq as i64, upto_seq as i64]).map_err(sql)?;
    while let Some(r) = rows.next().map_err(sql)? {
        f(&event_row(r).map_err(sql)?)?;
    }
    Ok(())
}

pub(crate) fn q_touched(conn: &Connection, after_seq: u64, f: &mut dyn FnMut(Platform, TimestampMs)) -> Result<()> {
    let mut st = conn.prepare_cached(
        "SELECT platform, sent_at FROM messages WHERE last_seq > ?1 AND has_message = 1 ORDER BY last_seq",
    )?;
    let mut rows = st.query([after_seq as i64])?;
    while let Some(r) = rows.next()? {
        f(parse(&r.get::<_, String>(0)?, "platform")?, r.get(1)?);
    }
    Ok(())
}

/// Messages of one platform in `[from_ms, to_ms)`, in `sent_at` order. Ties are broken by `id`
/// (arrival order), which the `(platform, sent_at)` index carries as its rowid: no sort step,
/// and the rows it points to lie nearly in index order on disk.
const MESSAGES_IN_RANGE: &str =
    "FROM messages WHERE has_message = 1 AND platform = ?1 AND sent_at >= ?2 AND sent_at < ?3
     ORDER BY sent_at, id";

pub(crate) fn q_visit_messages_in_range<E: From<StoreError>>(
    conn: &Connection,
    platform: Platform,
    from_ms: TimestampMs,
    to_ms: TimestampMs,
    f: &mut dyn FnMut(&MessageRow<'_>) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    let sql = |e: rusqlite::Error| E::from(StoreError::from(e));
    let mut st = conn
        .prepare_cached(&format!("SELECT {RECORD_COLS} {MESSAGES_IN_RANGE}"))
        .map_err(sql)?;
    let mut rows = st.query(params![platform.as_str(), from_ms, to_ms]).map_err(sql)?;
    while let Some(r) = rows.next().map_err(sql)? {
        f(&message_row(r).map_err(sql)?)?;
    }
    Ok(())
}

pub(crate) fn q_messages_in_range(
    conn: &Connection,
    platform: Platform,
    from_ms: TimestampMs,
    to_ms: TimestampMs,
    chunk: usize,
    f: &mut dyn FnMut(Vec<MessageRecord>) -> Result<()>,
) -> Result<()> {
    let chunk = chunk.max(1);
    let mut buf = Vec::with_capacity(chunk.min(65536));
    q_visit_messages_in_range(conn, platform, from_ms, to_ms, &mut |row| {
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

pub(crate) fn q_first_message_time(
    conn: &Connection,
    platform: Platform,
    from_ms: TimestampMs,
) -> Result<Option<TimestampMs>> {
    let mut st = conn.prepare_cached(
        "SELECT sent_at FROM messages WHERE has_message = 1 AND platform = ?1 AND sent_at >= ?2 ORDER BY sent_at LIMIT 1",
    )?;
    Ok(st
        .query_row(params![platform.as_str(), from_ms], |r| r.get(0))
        .optional()?)
}

pub(crate) fn q_messages_by_keys(conn: &Connection, keys: &[MessageKey]) -> Result<Vec<MessageRecord>> {
    // One read transaction for all the keys: otherwise each of the two lookups per key opens
    // and closes its own, which was most of the search indexer's catch-up time.
    let snapshot = if conn.is_autocommit() {
        Some(conn.unchecked_transaction()?)
    } else {
        None
    };
    let mut out = Vec::with_capacity(keys.len());
    {
        let mut st = conn.prepare_cached(&format!(
            "SELECT {RECORD_COLS} FROM messages WHERE mkey = ?1 AND has_message = 1"
        ))?;
        for key in keys {
            let (mkey, exists) = crate::store::resolve(conn, key)?;
            if exists.is_none() {
                continue;
            }
            if let Some(rec) = st.query_row([mkey], record_from_row).optional()? {
                out.push(rec);
            }
        }
    }
    if let Some(tx) = snapshot {
        tx.commit()?;
    }
    Ok(out)
}

pub(crate) fn q_revisions(conn: &Connection, key: &MessageKey) -> Result<Vec<Revision>> {
    let (mkey, exists) = crate::store::resolve(conn, key)?;
    if exists.is_none() {
        return Ok(Vec::new());
    }
    revisions_of(conn, mkey)
}

fn revisions_of(conn: &Connection, mkey: i64) -> Result<Vec<Revision>> {
    let mut st =
        conn.prepare_cached("SELECT revision, text, at, seq FROM revisions WHERE mkey = ?1 ORDER BY revision")?;
    let rows = st.query_map([mkey], |r| {
        Ok(Revision {
            revision: r.get(0)?,
            text: r.get(1)?,
            at: r.get(2)?,
            seq: r.get::<_, i64>(3)? as u64,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub(crate) fn q_find_keys(
    conn: &Connection,
    platform: Platform,
    chat_id: &str,
    msg_id: &str,
    account: Option<&str>,
) -> Result<Vec<MessageKey>> {
    let mut st = conn.prepare_cached(
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

pub(crate) fn q_message(conn: &Connection, key: &MessageKey) -> Result<Option<MessageHistory>> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT {EVENT_COLS} FROM events WHERE platform = ?1 AND account = ?2 AND chat_id = ?3 AND msg_id = ?4 ORDER BY seq"
    ))?;
    let events = st
        .query_map(
            params![key.platform.as_str(), key.account, key.chat_id, key.msg_id],
            event_from_row,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    if events.is_empty() {
        return Ok(None);
    }
    let record = q_messages_by_keys(conn, std::slice::from_ref(key))?.pop();
    let revisions = q_revisions(conn, key)?;
    let mut raws = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut rst =
        conn.prepare_cached("SELECT id, platform, account, received_at, media_type, bytes FROM raw WHERE id = ?1")?;
    for e in &events {
        if seen.insert(e.raw_id) {
            let raw = rst.query_row([e.raw_id as i64], |r| {
                Ok(RawRow {
                    id: r.get::<_, i64>(0)? as u64,
                    platform: parse(&r.get::<_, String>(1)?, "platform")?,
                    account: r.get(2)?,
                    received_at: r.get(3)?,
                    media_type: r.get(4)?,
                    bytes: r.get(5)?,
                })
            })?;
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

pub(crate) fn q_audit(
    conn: &Connection,
    filter: &AuditFilter,
    f: &mut dyn FnMut(AuditEntry) -> Result<()>,
) -> Result<()> {
    let any = !(filter.withdrawn || filter.edited || filter.deleted);
    let mut conds = Vec::new();
    if any || filter.withdrawn {
        conds.push("state = 'withdrawn' OR withdrawn_at IS NOT NULL");
    }
    if any || filter.edited {
        conds.push("revision > 0");
    }
    if any || filter.deleted {
        conds.push("state = 'deleted'");
    }
    let sql = format!(
        "SELECT {RECORD_COLS}, mkey FROM messages INDEXED BY messages_changed
         WHERE has_message = 1 AND (state <> 'active' OR revision > 0) AND ({})
           AND (?1 IS NULL OR sent_at >= ?1) AND (?2 IS NULL OR sent_at < ?2) AND (?3 IS NULL OR platform = ?3)
         ORDER BY sent_at, id",
        conds.join(" OR ")
    );
    let mut st = conn.prepare(&sql)?;
    let mut rows = st.query(params![filter.since, filter.until, filter.platform.map(|p| p.as_str())])?;
    while let Some(r) = rows.next()? {
        let mkey: i64 = r.get(25)?;
        let record = record_from_row(r)?;
        let revisions = revisions_of(conn, mkey)?;
        let original_text = revisions
            .first()
            .map(|r| r.text.clone())
            .unwrap_or_else(|| record.text.clone());
        f(AuditEntry {
            record,
            original_text,
            revisions,
        })?;
    }
    Ok(())
}

pub(crate) fn q_gaps(
    conn: &Connection,
    since: Option<TimestampMs>,
    until: Option<TimestampMs>,
    platform: Option<Platform>,
) -> Result<Vec<Gap>> {
    let mut st = conn.prepare_cached(
        "SELECT seq, platform, account, payload FROM events WHERE kind = 'connector_state'
         AND (?1 IS NULL OR platform = ?1) ORDER BY seq",
    )?;
    let mut rows = st.query(params![platform.map(|p| p.as_str())])?;
    let mut open: BTreeMap<(String, String), Gap> = BTreeMap::new();
    let mut gaps = Vec::new();
    while let Some(r) = rows.next()? {
        let seq: i64 = r.get(0)?;
        let platform: Platform = parse(&r.get::<_, String>(1)?, "platform")?;
        let account: String = r.get(2)?;
        let payload: Vec<u8> = r.get(3)?;
        let env: Envelope = serde_json::from_slice(&payload)
            .map_err(|e| StoreError::Corrupt(format!("event seq {seq} does not decode: {e}")))?;
        let EventBody::ConnectorState { status, detail, at } = env.event.body else {
            continue;
        };
        let k = (platform.to_string(), account.clone());
        if status.is_up() {
            if let Some(mut g) = open.remove(&k) {
                g.to = Some(at);
                gaps.push(g);
            }
        } else {
            open.entry(k).or_insert(Gap {
                platform,
                account,
                status,
                detail,
                from: at,
                to: None,
            });
        }
    }
    gaps.extend(open.into_values());
    gaps.retain(|g| since.is_none_or(|s| g.to.is_none_or(|t| t >= s)) && until.is_none_or(|u| g.from < u));
    gaps.sort_by_key(|g| g.from);
    Ok(gaps)
}

pub(crate) fn q_chats(conn: &Connection) -> Result<Vec<ChatRow>> {
    let mut st = conn.prepare_cached(
        "SELECT platform, account, chat_id, name, chat_type, messages FROM chats ORDER BY platform, account, chat_id",
    )?;
    let rows = st.query_map([], |r| {
        Ok(ChatRow {
            platform: parse(&r.get::<_, String>(0)?, "platform")?,
            account: r.get(1)?,
            chat_id: r.get(2)?,
            name: r.get(3)?,
            chat_type: r.get(4)?,
            messages: r.get::<_, i64>(5)? as u64,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub(crate) fn q_cursor(conn: &Connection, platform: Platform, account: &str) -> Result<Option<Cursor>> {
    let s: Option<String> = conn
        .prepare_cached("SELECT cursor FROM cursors WHERE platform = ?1 AND account = ?2")?
        .query_row(params![platform.as_str(), account], |r| r.get(0))
        .optional()?;
    s.map(|s| serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(format!("cursor does not decode: {e}"))))
        .transpose()
}

pub(crate) fn q_rejects(conn: &Connection, limit: usize) -> Result<Vec<RejectRow>> {
    let mut st = conn.prepare_cached(
        "SELECT id, platform, account, received_at, reason, bytes FROM rejects ORDER BY id DESC LIMIT ?1",
    )?;
    let rows = st.query_map([limit as i64], |r| {
        Ok(RejectRow {
            id: r.get::<_, i64>(0)? as u64,
            platform: r.get(1)?,
            account: r.get(2)?,
            received_at: r.get(3)?,
            reason: r.get(4)?,
            bytes: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub(crate) fn q_head(conn: &Connection) -> Result<ChainHead> {
    let row: Option<(i64, Vec<u8>)> = conn
        .query_row("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    Ok(match row {
        None => ChainHead {
            seq: 0,
            hash: hex::encode([0u8; 32]),
        },
        Some((seq, h)) => ChainHead {
            seq: seq as u64,
            hash: hex::encode(h),
        },
    })
}

fn counts(conn: &Connection, sql: &str) -> Result<Vec<(String, u64)>> {
    let mut st = conn.prepare(sql)?;
    let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub(crate) fn q_stats(conn: &Connection) -> Result<Stats> {
    let one = |sql: &str| -> Result<u64> { Ok(conn.query_row(sql, [], |r| r.get::<_, i64>(0))? as u64) };
    let mut stats = Stats {
        events: one("SELECT coalesce(max(seq), 0) FROM events")?,
        messages: one("SELECT count(*) FROM messages WHERE has_message = 1")?,
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
    let mut st = conn.prepare(
        "SELECT platform, account, count(*), (SELECT reason FROM rejects r2 WHERE r2.platform = r.platform AND r2.account = r.account ORDER BY id DESC LIMIT 1)
         FROM rejects r GROUP BY platform, account ORDER BY platform, account",
    )?;
    stats.rejects_by_connector = st
        .query_map([], |r| {
            Ok(RejectSummary {
                platform: r.get(0)?,
                account: r.get(1)?,
                count: r.get::<_, i64>(2)? as u64,
                last_reason: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    // Per connector: events, last receive time, last state, cursor. The log has few accounts,
    // so one grouped scan of the (platform, account) pairs plus point queries is enough.
    let mut st = conn.prepare(
        "SELECT platform, account, count(*), max(received_at) FROM events GROUP BY platform, account ORDER BY platform, account",
    )?;
    let pairs = st
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<i64>>(3)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for (platform, account, events, last) in pairs {
        let state: Option<(Vec<u8>,)> = conn
            .prepare_cached(
                "SELECT payload FROM events WHERE platform = ?1 AND account = ?2 AND kind = 'connector_state' ORDER BY seq DESC LIMIT 1",
            )?
            .query_row(params![platform, account], |r| Ok((r.get(0)?,)))
            .optional()?;
        let (state, state_since) = match state.and_then(|(p,)| serde_json::from_slice::<Envelope>(&p).ok()) {
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
        stats.connectors.push(ConnectorSummary {
            platform,
            account,
            events: events as u64,
            last_event_at: last,
            state,
            state_since,
            cursor: cursor.and_then(|c| serde_json::from_str(&c).ok()),
        });
    }
    stats.head = Some(q_head(conn)?);
    Ok(stats)
}
