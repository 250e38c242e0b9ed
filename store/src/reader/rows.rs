//! Rows as SQLite hands them out: [`MessageRow`] and [`EventRow`] borrowed from the row
//! buffer (bulk readers copy each value once, into their own columns), their owned forms, and
//! the column lists they are selected with.

use std::borrow::Cow;

use proto::{
    Attachment, ChatType, ContentType, EventKind, MessageKey, MessageRecord, MessageState, Platform, TextFormat,
    TimestampMs, UserDeletion,
};
use rusqlite::types::{FromSqlError, ValueRef};
use rusqlite::{Connection, Row};

use crate::Result;
use crate::compress::Unpacker;
use crate::types::{Revision, StoredEvent};

/// One `messages` row as [`StoreReader::visit_messages_in_range`] hands it to its callback:
/// the fields of a [`MessageRecord`] borrowed from SQLite's row buffer, so a bulk reader
/// (export) copies each value once, into its own columns, instead of into a record first.
/// The list columns are decoded only when asked for ([`MessageRow::attachments`],
/// [`MessageRow::mentions`], [`MessageRow::recipients`]); [`MessageRow::to_record`] makes an
/// owned copy.
#[derive(Debug, Clone, Copy)]
pub struct MessageRow<'a> {
    /// Platform.
    pub platform: Platform,
    /// Account (connector name).
    pub account: &'a str,
    /// Chat id.
    pub chat_id: &'a str,
    /// Message id.
    pub msg_id: &'a str,
    /// Chat kind.
    pub chat_type: ChatType,
    /// Chat display name.
    pub chat_name: Option<&'a str>,
    /// External chat flag.
    pub external: bool,
    /// Sender id.
    pub sender_id: &'a str,
    /// Sender display name.
    pub sender_name: Option<&'a str>,
    /// Platform send time.
    pub sent_at: TimestampMs,
    /// Archive receive time.
    pub received_at: TimestampMs,
    /// Content kind.
    pub content_type: ContentType,
    /// Current text.
    pub text: &'a str,
    pub(crate) attachments_json: Option<&'a str>,
    /// Message replied to.
    pub reply_to: Option<&'a str>,
    pub(crate) mentions_json: Option<&'a str>,
    pub(crate) recipients_json: Option<&'a str>,
    /// Lifecycle state.
    pub state: MessageState,
    /// Number of edits.
    pub revision: u32,
    /// Last edit time.
    pub edited_at: Option<TimestampMs>,
    /// Withdrawal time.
    pub withdrawn_at: Option<TimestampMs>,
    /// Who withdrew it.
    pub withdrawn_by: Option<&'a str>,
    /// Deletion time.
    pub deleted_at: Option<TimestampMs>,
    /// Who deleted it.
    pub deleted_by: Option<&'a str>,
    /// Seq of the last event folded into this state.
    pub last_seq: u64,
    /// How the text was written.
    pub text_format: TextFormat,
    /// The markup as sent (markdown / HTML), `None` for plain text.
    pub source_text: Option<&'a str>,
    pub(crate) deleted_for_json: Option<&'a str>,
}

/// One `events` row as [`StoreReader::visit_events`] hands it to its callback, borrowed like
/// [`MessageRow`]; the owned form is [`StoredEvent`].
#[derive(Debug, Clone, Copy)]
pub struct EventRow<'a> {
    /// Position in the log.
    pub seq: u64,
    /// Platform.
    pub platform: Platform,
    /// Account (connector name).
    pub account: &'a str,
    /// Chat id.
    pub chat_id: &'a str,
    /// Message id, for message-level events.
    pub msg_id: Option<&'a str>,
    /// Kind.
    pub kind: EventKind,
    /// When it happened (platform time, else receive time).
    pub occurred_at: TimestampMs,
    /// When the archive received the payload.
    pub received_at: TimestampMs,
    /// The normalized event as stored (JSON).
    pub payload: &'a [u8],
    /// The raw payload row it came from.
    pub raw_id: u64,
    /// The chain hash (32 bytes; [`StoredEvent::hash`] is its hex).
    pub hash: &'a [u8],
}

pub(crate) const RECORD_COLS: &str = "platform, account, chat_id, msg_id, chat_type, chat_name, external, sender_id, \
     sender_name, sent_at, received_at, content_type, text, attachments, reply_to, mentions, recipients, state, revision, \
     edited_at, withdrawn_at, withdrawn_by, deleted_at, deleted_by, last_seq, text_format, source_text, deleted_for";

/// How many columns [`RECORD_COLS`] selects (a query's next column is at this index).
pub(crate) const RECORD_COLS_LEN: usize = 28;

/// Every row `sql` gives for `params`, mapped by `f`: the prepare, query and collect each list
/// query would otherwise spell out.
pub(crate) fn all<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    f: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    let mut st = conn.prepare_cached(sql)?;
    let rows = st.query_map(params, f)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// The revisions of the message whose row key is `row_key`, oldest first (read and verify).
pub(crate) fn revisions_of(conn: &Connection, row_key: i64) -> Result<Vec<Revision>> {
    all(
        conn,
        "SELECT revision, text, at, seq FROM revisions WHERE mkey = ?1 ORDER BY revision",
        [row_key],
        |r| {
            Ok(Revision {
                revision: r.get(0)?,
                text: r.get(1)?,
                at: r.get(2)?,
                seq: r.get::<_, i64>(3)? as u64,
            })
        },
    )
}

pub(crate) fn parse<T: std::str::FromStr>(s: &str, what: &str) -> rusqlite::Result<T> {
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

pub(crate) fn conversion(i: usize, v: ValueRef<'_>, e: FromSqlError) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(i, v.data_type(), Box::new(e))
}

pub(crate) fn text<'r>(r: &'r Row<'_>, i: usize) -> rusqlite::Result<&'r str> {
    let v = r.get_ref(i)?;
    v.as_str().map_err(|e| conversion(i, v, e))
}

pub(crate) fn opt_text<'r>(r: &'r Row<'_>, i: usize) -> rusqlite::Result<Option<&'r str>> {
    let v = r.get_ref(i)?;
    v.as_str_or_null().map_err(|e| conversion(i, v, e))
}

pub(crate) fn int(r: &Row<'_>, i: usize) -> rusqlite::Result<i64> {
    let v = r.get_ref(i)?;
    v.as_i64().map_err(|e| conversion(i, v, e))
}

pub(crate) fn opt_int(r: &Row<'_>, i: usize) -> rusqlite::Result<Option<i64>> {
    let v = r.get_ref(i)?;
    v.as_i64_or_null().map_err(|e| conversion(i, v, e))
}

/// Borrows a row selected with [`RECORD_COLS`] (starting at column 0).
pub(crate) fn message_row<'r>(r: &'r Row<'_>) -> rusqlite::Result<MessageRow<'r>> {
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
        text_format: match opt_text(r, 25)? {
            None => TextFormat::Plain,
            Some(f) => parse(f, "text format")?,
        },
        source_text: opt_text(r, 26)?,
        deleted_for_json: opt_text(r, 27)?,
    })
}

impl<'a> MessageRow<'a> {
    /// The attachments (decoded from their stored JSON; no allocation when there are none).
    pub fn attachments(&self) -> Result<Vec<Attachment>> {
        Ok(json_vec(self.attachments_json)?)
    }

    /// Users who removed the message from their own view only.
    pub fn deleted_for(&self) -> Result<Vec<UserDeletion>> {
        Ok(json_vec(self.deleted_for_json)?)
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
            text_format: self.text_format,
            source_text: self.source_text.map(str::to_owned),
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
            deleted_for: json_vec(self.deleted_for_json)?,
            last_seq: self.last_seq,
        })
    }
}

/// Maps a row selected with [`RECORD_COLS`] (starting at column 0).
pub(crate) fn record_from_row(r: &Row<'_>) -> rusqlite::Result<MessageRecord> {
    message_row(r)?.record()
}

/// The columns [`event_from_row`] and [`event_row`] read, in order.
pub(crate) const EVENT_COLS: &str =
    "seq, platform, account, chat_id, msg_id, kind, occurred_at, received_at, payload, raw_id, hash, zdict";

/// An owned event row (selected with [`EVENT_COLS`]), its payload decompressed.
pub(crate) fn event_from_row(r: &Row<'_>, conn: &Connection, unpacker: &mut Unpacker) -> Result<StoredEvent> {
    let seq = r.get::<_, i64>(0)? as u64;
    let payload = unpacker.unpack(conn, r.get(8)?, r.get(11)?, &|| format!("event seq {seq}"))?;
    Ok(StoredEvent {
        seq,
        platform: parse(&r.get::<_, String>(1)?, "platform")?,
        account: r.get(2)?,
        chat_id: r.get(3)?,
        msg_id: r.get(4)?,
        kind: parse(&r.get::<_, String>(5)?, "kind")?,
        occurred_at: r.get(6)?,
        received_at: r.get(7)?,
        payload,
        raw_id: r.get::<_, i64>(9)? as u64,
        hash: hex::encode(r.get::<_, Vec<u8>>(10)?),
    })
}

/// A borrowed event row (selected with [`EVENT_COLS`]); its payload is decompressed into
/// `buf`, which it borrows.
pub(crate) fn event_row<'r>(
    r: &'r Row<'_>,
    conn: &Connection,
    unpacker: &mut Unpacker,
    buf: &'r mut Vec<u8>,
) -> Result<EventRow<'r>> {
    let blob = |i: usize| -> rusqlite::Result<&'r [u8]> {
        let v = r.get_ref(i)?;
        v.as_blob().map_err(|e| conversion(i, v, e))
    };
    let seq = int(r, 0)? as u64;
    unpacker.unpack_into(conn, blob(8)?, opt_int(r, 11)?, buf, &|| format!("event seq {seq}"))?;
    let payload: &'r Vec<u8> = buf;
    Ok(EventRow {
        seq,
        platform: parse(text(r, 1)?, "platform")?,
        account: text(r, 2)?,
        chat_id: text(r, 3)?,
        msg_id: opt_text(r, 4)?,
        kind: parse(text(r, 5)?, "kind")?,
        occurred_at: int(r, 6)?,
        received_at: int(r, 7)?,
        payload,
        raw_id: int(r, 9)? as u64,
        hash: blob(10)?,
    })
}
