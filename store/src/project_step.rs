//! One step of the fold (`fold.rs`) applied to a message's row as it stands, for the events
//! that land at the end of its history: what re-folding every event would give, at the cost
//! of one row read and one or two writes, however long the history.
//!
//! When each applies (anything else is re-folded by `project.rs`):
//! - a stream chunk whose offset is at or past `stream_end` (chunks fold in offset order, ties
//!   by seq, and this one has the highest seq), on a message never edited (an edit replaces
//!   the streamed text, so a chunk under it changes only revision 0);
//! - an edit whose time is at or past `edited_at` (edits fold by time, ties by seq);
//! - a withdrawal or a deletion for everyone (the earliest time of each is kept; deleted wins).
//!
//! Chunks of one message that follow each other in a transaction are gathered in memory
//! ([`Tails`]) and written to the row once, when the transaction ends or another event of the
//! message comes: a long text is then rewritten once per transaction, not once per chunk.

use std::collections::HashMap;

use proto::{ChatEvent, DeleteScope, EventBody, TimestampMs};
use rusqlite::{Connection, OptionalExtension, params};

use crate::Result;
use crate::fold::FoldInput;

/// The row fields a step needs.
struct Row {
    revision: i64,
    stream_end: Option<i64>,
    sent_at: Option<i64>,
    msg_seq: Option<i64>,
    edited_at: Option<i64>,
    withdrawn_at: Option<i64>,
    deleted_at: Option<i64>,
}

/// Chunks gathered for the end of messages' texts in the current transaction, by row key.
#[derive(Default)]
pub(crate) struct Tails {
    rows: HashMap<i64, Tail>,
}

struct Tail {
    text: String,
    end: i64,
    last_seq: i64,
}

impl Tails {
    /// Writes the gathered chunks of `row_key`'s message to its row.
    pub(crate) fn flush_row(&mut self, tx: &Connection, row_key: i64) -> Result<()> {
        if let Some(t) = self.rows.remove(&row_key) {
            write_tail(tx, row_key, &t)?;
        }
        Ok(())
    }

    /// Writes every gathered chunk (before the transaction commits).
    pub(crate) fn flush(&mut self, tx: &Connection) -> Result<()> {
        for (row_key, t) in self.rows.drain() {
            write_tail(tx, row_key, &t)?;
        }
        Ok(())
    }
}

fn write_tail(tx: &Connection, row_key: i64, t: &Tail) -> Result<()> {
    tx.prepare_cached(
        // Chunks extend the markup as they extend the text (`fold.rs`).
        "UPDATE messages SET text = coalesce(text, '') || ?2, source_text = source_text || ?2, stream_end = ?3,
         last_seq = ?4 WHERE mkey = ?1",
    )?
    .execute(params![row_key, t.text, t.end, t.last_seq])?;
    Ok(())
}

/// Applies `ev` (event `seq` of the message stored under `row_key`, which has its `message`
/// event) to the row if it lands at the end of its history; `false` if it needs a re-fold
/// (the row is then up to date with every gathered chunk).
pub(crate) fn apply(
    tx: &Connection,
    tails: &mut Tails,
    row_key: i64,
    seq: u64,
    occurred_at: TimestampMs,
    ev: &ChatEvent,
) -> Result<bool> {
    if let (EventBody::StreamAppend { chunk, offset }, Some(t)) = (&ev.body, tails.rows.get_mut(&row_key))
        && let Ok(offset) = i64::try_from(*offset)
        && offset >= t.end
    {
        t.text.push_str(chunk);
        (t.end, t.last_seq) = (offset, seq as i64);
        return Ok(true);
    }
    tails.flush_row(tx, row_key)?;
    let row = tx
        .prepare_cached(
            "SELECT revision, stream_end, sent_at, msg_seq, edited_at, withdrawn_at, deleted_at
             FROM messages WHERE mkey = ?1 AND has_message = 1",
        )?
        .query_row([row_key], |r| {
            Ok(Row {
                revision: r.get(0)?,
                stream_end: r.get(1)?,
                sent_at: r.get(2)?,
                msg_seq: r.get(3)?,
                edited_at: r.get(4)?,
                withdrawn_at: r.get(5)?,
                deleted_at: r.get(6)?,
            })
        })
        .optional()?;
    let Some(row) = row else { return Ok(false) };
    let seq = seq as i64;
    match &ev.body {
        EventBody::StreamAppend { chunk, offset } => {
            let Ok(offset) = i64::try_from(*offset) else {
                return Ok(false);
            };
            if row.revision != 0 || row.stream_end.is_none_or(|end| offset < end) {
                return Ok(false);
            }
            // Gathered; written by `flush_row` / `flush` with any chunks that follow it.
            tails.rows.insert(
                row_key,
                Tail {
                    text: chunk.clone(),
                    end: offset,
                    last_seq: seq,
                },
            );
            Ok(true)
        }
        EventBody::Edit {
            text,
            content_type,
            edited_at,
            text_format,
            source_text,
        } => {
            let at = edited_at.unwrap_or(occurred_at);
            if row.edited_at.is_some_and(|last| at < last) || (row.revision > 0) != row.edited_at.is_some() {
                return Ok(false);
            }
            let mut revise =
                tx.prepare_cached("INSERT INTO revisions(mkey, revision, text, at, seq) VALUES (?1, ?2, ?3, ?4, ?5)")?;
            if row.revision == 0 {
                // The first edit keeps the text it replaces as revision 0.
                let (Some(sent_at), Some(msg_seq)) = (row.sent_at, row.msg_seq) else {
                    return Ok(false);
                };
                let before: String = tx
                    .prepare_cached("SELECT text FROM messages WHERE mkey = ?1")?
                    .query_row([row_key], |r| Ok(r.get::<_, Option<String>>(0)?.unwrap_or_default()))?;
                revise.execute(params![row_key, 0, before, sent_at, msg_seq])?;
            }
            revise.execute(params![row_key, row.revision + 1, text, at, seq])?;
            tx.prepare_cached(
                // An edit replaces the format and markup too; without a format it is plain.
                "UPDATE messages SET text = ?2, content_type = coalesce(?3, content_type), revision = ?4, edited_at = ?5,
                 last_seq = ?6, text_format = ?7, source_text = ?8 WHERE mkey = ?1",
            )?
            .execute(params![
                row_key,
                text,
                content_type.map(|c| c.as_str()),
                row.revision + 1,
                at,
                seq,
                crate::project::format_column(text_format.unwrap_or_default()),
                source_text
            ])?;
            Ok(true)
        }
        EventBody::Withdraw { by, at } => {
            let at = at.unwrap_or(occurred_at);
            let earlier = row.withdrawn_at.is_none_or(|w| at < w);
            let state = if row.deleted_at.is_some() {
                "deleted"
            } else {
                "withdrawn"
            };
            tx.prepare_cached(
                "UPDATE messages SET state = ?2, withdrawn_at = CASE WHEN ?3 THEN ?4 ELSE withdrawn_at END,
                 withdrawn_by = CASE WHEN ?3 THEN ?5 ELSE withdrawn_by END, last_seq = ?6 WHERE mkey = ?1",
            )?
            .execute(params![row_key, state, earlier, at, by, seq])?;
            Ok(true)
        }
        // A deletion for one user only joins `deleted_for`'s sorted list: re-folded.
        EventBody::Delete {
            scope: DeleteScope::User,
            ..
        } => Ok(false),
        EventBody::Delete { by, at, .. } => {
            let at = at.unwrap_or(occurred_at);
            let earlier = row.deleted_at.is_none_or(|d| at < d);
            tx.prepare_cached(
                "UPDATE messages SET state = 'deleted', deleted_at = CASE WHEN ?2 THEN ?3 ELSE deleted_at END,
                 deleted_by = CASE WHEN ?2 THEN ?4 ELSE deleted_by END, last_seq = ?5 WHERE mkey = ?1",
            )?
            .execute(params![row_key, earlier, at, by, seq])?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// `messages.stream_end` for a message folded from `inputs`: its highest chunk offset, -1
/// without chunks, NULL (not known: the next chunk re-folds) past what SQLite can hold.
pub(crate) fn stream_end(inputs: &[FoldInput]) -> Option<i64> {
    let mut end = -1i64;
    for i in inputs {
        if let EventBody::StreamAppend { offset, .. } = &i.event.body {
            end = end.max(i64::try_from(*offset).ok()?);
        }
    }
    Some(end)
}
