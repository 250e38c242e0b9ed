//! The walk by message identity: re-folds every message from the log (sorted by identity, not
//! through the projection's own indexes) and compares with `messages` and `revisions`; on the
//! way it sums what the chats projection must hold for the messages (counts, and the name and
//! type of each chat's latest message).

use std::collections::BTreeMap;

use proto::{EventKind, MessageKey};
use rusqlite::{Connection, OptionalExtension};

use super::chain::ChatId;
use super::push_listed;
use crate::compress::Unpacker;
use crate::dedup::resolve;
use crate::fold::{FoldInput, fold_message};
use crate::keys::KeyScheme;
use crate::reader::{RECORD_COLS, record_from_row, revisions_of};
use crate::types::{Envelope, Revision};
use crate::{Result, StoreError};

/// What a chat's messages put in `chats`: the message count, and the type and name of the
/// latest message (by the seq of its first `message` event) that had them.
#[derive(Debug, Default)]
pub(super) struct ChatFold {
    pub messages: i64,
    pub chat_type: Option<(u64, &'static str)>,
    pub name: Option<(u64, String)>,
}

/// What the walk found.
pub(super) struct Folded {
    /// Messages re-folded.
    pub messages: u64,
    pub chats: BTreeMap<ChatId, ChatFold>,
}

/// A message's stored state: its record, revisions, the seq of its first `message` event and
/// its `stream_end`.
type Actual = (proto::MessageRecord, Vec<Revision>, Option<u64>, Option<i64>);

pub(super) fn walk(
    conn: &Connection,
    scheme: KeyScheme,
    unpacker: &mut Unpacker,
    mismatches: &mut Vec<String>,
) -> Result<Folded> {
    let kinds = [
        EventKind::Message,
        EventKind::Edit,
        EventKind::StreamAppend,
        EventKind::Withdraw,
        EventKind::Delete,
        EventKind::AttachmentStored,
    ]
    .map(|k| format!("'{}'", k.as_str()))
    .join(",");
    let mut st = conn.prepare(&format!(
        "SELECT seq, occurred_at, received_at, payload, zdict FROM events WHERE kind IN ({kinds})
         ORDER BY platform, account, chat_id, msg_id, seq"
    ))?;
    let mut rows = st.query([])?;
    // An archive not yet opened by a version 4 writer has no `stream_end` (read as unknown).
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let end_col = if version >= 4 { "stream_end" } else { "NULL" };
    let mut group: Vec<FoldInput> = Vec::new();
    let mut group_key: Option<MessageKey> = None;
    let mut identities = 0u64;
    let mut out = Folded {
        messages: 0,
        chats: BTreeMap::new(),
    };
    let check = |key: &MessageKey, inputs: &[FoldInput], out: &mut Folded, mismatches: &mut Vec<String>| {
        let (expected, expected_revs) = fold_message(key, inputs);
        let actual = load_actual(conn, scheme, key, end_col)?;
        let base_seq = inputs
            .iter()
            .filter(|i| i.event.body.kind() == EventKind::Message)
            .map(|i| i.seq)
            .min();
        let same = match (&expected, &actual) {
            (None, None) => true,
            (Some(e), Some((a, revs, msg_seq, end))) => {
                // NULL: not known yet (rows from before version 4), re-folded at the next chunk.
                let end_ok = end.is_none() || *end == crate::project_step::stream_end(inputs);
                e == a && &expected_revs == revs && *msg_seq == base_seq && end_ok
            }
            _ => false,
        };
        if let (Some(rec), Some(seq)) = (&expected, base_seq) {
            out.messages += 1;
            let chat = out
                .chats
                .entry((
                    key.platform.as_str().to_string(),
                    key.account.clone(),
                    key.chat_id.clone(),
                ))
                .or_default();
            chat.messages += 1;
            if chat.chat_type.as_ref().is_none_or(|(s, _)| *s < seq) {
                chat.chat_type = Some((seq, rec.chat_type.as_str()));
            }
            if let Some(name) = &rec.chat_name
                && chat.name.as_ref().is_none_or(|(s, _)| *s < seq)
            {
                chat.name = Some((seq, name.clone()));
            }
        }
        if !same {
            push_listed(mismatches, format!("message {key} differs from the fold of its events"));
        }
        Ok::<_, StoreError>(())
    };
    while let Some(r) = rows.next()? {
        let seq = r.get::<_, i64>(0)? as u64;
        let payload = unpacker.unpack(conn, r.get(3)?, r.get(4)?, &|| format!("event seq {seq}"))?;
        let env: Envelope = serde_json::from_slice(&payload)
            .map_err(|e| StoreError::Corrupt(format!("event seq {seq} does not decode: {e}")))?;
        let key = MessageKey {
            platform: env.platform,
            account: env.account.clone(),
            chat_id: env.event.chat_id.clone(),
            msg_id: env.event.msg_id.clone().unwrap_or_default(),
        };
        if group_key.as_ref() != Some(&key) {
            if let Some(k) = group_key.take() {
                check(&k, &group, &mut out, mismatches)?;
                identities += 1;
            }
            group.clear();
            group_key = Some(key);
        }
        group.push(FoldInput {
            seq,
            occurred_at: r.get(1)?,
            received_at: r.get(2)?,
            event: env.event,
        });
    }
    if let Some(k) = group_key.take() {
        check(&k, &group, &mut out, mismatches)?;
        identities += 1;
    }
    let rows_total: i64 = conn.query_row("SELECT count(*) FROM messages", [], |r| r.get(0))?;
    if rows_total as u64 != identities {
        push_listed(
            mismatches,
            format!("messages table has {rows_total} rows but the log names {identities} message identities"),
        );
    }
    Ok(out)
}

fn load_actual(conn: &Connection, scheme: KeyScheme, key: &MessageKey, end_col: &str) -> Result<Option<Actual>> {
    let (row_key, exists) = resolve(conn, scheme, key)?;
    if exists.is_none() {
        return Ok(None);
    }
    let rec = conn
        .prepare_cached(&format!(
            "SELECT {RECORD_COLS}, msg_seq, {end_col} FROM messages WHERE mkey = ?1 AND has_message = 1"
        ))?
        .query_row([row_key], |r| {
            let rec = record_from_row(r)?;
            let n = RECORD_COLS.split(',').count();
            let msg_seq: Option<i64> = r.get(n)?;
            Ok((rec, msg_seq.map(|s| s as u64), r.get::<_, Option<i64>>(n + 1)?))
        })
        .optional()?;
    let Some((rec, msg_seq, end)) = rec else {
        return Ok(None);
    };
    let revs = revisions_of(conn, row_key)?;
    Ok(Some((rec, revs, msg_seq, end)))
}
