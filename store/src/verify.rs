//! `verify`: recompute the hash chain and re-fold every message from the log. The chain is
//! recomputed over the uncompressed bytes (`compress.rs`), as it was written.

use proto::{EventKind, MessageKey};
use rusqlite::{Connection, OptionalExtension};

use crate::compress::Unpacker;
use crate::dedup::resolve;
use crate::fold::{FoldInput, fold_message};
use crate::reader::{RECORD_COLS, StoreReader, record_from_row};
use crate::types::{ChainHead, Envelope, Revision, VerifyReport};
use crate::{Result, StoreError, chain};

impl StoreReader {
    /// Recomputes the hash chain and re-folds every message; `progress` gets the seq reached.
    pub fn verify(&self, progress: &mut dyn FnMut(u64)) -> Result<VerifyReport> {
        verify(&self.conn, &mut self.unpacker.borrow_mut(), progress)
    }
}

fn verify(conn: &Connection, unpacker: &mut Unpacker, progress: &mut dyn FnMut(u64)) -> Result<VerifyReport> {
    let (events, head, first_bad) = verify_chain(conn, unpacker, progress)?;
    let mut mismatches = Vec::new();
    let messages = verify_projection(conn, unpacker, &mut mismatches)?;
    Ok(VerifyReport {
        events,
        messages,
        ok: first_bad.is_none() && mismatches.is_empty(),
        head,
        first_bad_seq: first_bad,
        projection_mismatches: mismatches,
    })
}

/// Walks the log in seq order. Every column of an event row must be what its payload says,
/// its raw row must match, and the chain must link.
fn verify_chain(
    conn: &Connection,
    unpacker: &mut Unpacker,
    progress: &mut dyn FnMut(u64),
) -> Result<(u64, ChainHead, Option<u64>)> {
    let mut st = conn.prepare(
        "SELECT e.seq, e.platform, e.account, e.chat_id, e.msg_id, e.kind, e.occurred_at, e.received_at, e.payload,
                e.hash, r.bytes, r.platform, r.account, r.received_at, e.zdict, r.zdict
         FROM events e LEFT JOIN raw r ON r.id = e.raw_id ORDER BY e.seq",
    )?;
    let mut rows = st.query([])?;
    let mut prev = chain::ZERO;
    let mut expected_seq = 1u64;
    let mut first_bad = None;
    let mut count = 0u64;
    while let Some(r) = rows.next()? {
        let seq = r.get::<_, i64>(0)? as u64;
        // A blob that does not decompress is damage to report at its seq, like any other.
        let payload = unpacker
            .unpack(conn, r.get(8)?, r.get(14)?, &|| format!("event seq {seq}"))
            .ok();
        let stored_hash: Vec<u8> = r.get(9)?;
        let raw: Option<Vec<u8>> = match r.get::<_, Option<Vec<u8>>>(10)? {
            Some(bytes) => unpacker
                .unpack(conn, bytes, r.get(15)?, &|| {
                    format!("the raw payload of event seq {seq}")
                })
                .ok(),
            None => None,
        };
        let Some(payload) = payload else {
            first_bad.get_or_insert(seq);
            // The links after it are still checked, from the hash it claims.
            prev = chain::to32(&stored_hash).unwrap_or(chain::ZERO);
            expected_seq = seq + 1;
            count += 1;
            continue;
        };
        let raw_sha = chain::sha(raw.as_deref().unwrap_or_default());
        let hash = chain::link(&prev, seq, &payload, &raw_sha);
        let columns_ok = (|| -> rusqlite::Result<bool> {
            let Ok(env) = serde_json::from_slice::<Envelope>(&payload) else {
                return Ok(false);
            };
            let ev = &env.event;
            Ok(raw.is_some()
                && r.get::<_, String>(1)? == env.platform.as_str()
                && r.get::<_, String>(2)? == env.account
                && r.get::<_, String>(3)? == ev.chat_id
                && r.get::<_, Option<String>>(4)? == ev.msg_id
                && r.get::<_, String>(5)? == ev.kind().as_str()
                && r.get::<_, i64>(6)? == ev.occurred_at.unwrap_or(env.received_at)
                && r.get::<_, i64>(7)? == env.received_at
                && r.get::<_, Option<String>>(11)?.as_deref() == Some(env.platform.as_str())
                && r.get::<_, Option<String>>(12)?.as_deref() == Some(env.account.as_str())
                && r.get::<_, Option<i64>>(13)? == Some(env.received_at))
        })()?;
        if first_bad.is_none() && (seq != expected_seq || stored_hash != hash || !columns_ok) {
            first_bad = Some(seq);
        }
        prev = hash;
        expected_seq = seq + 1;
        count += 1;
        if count.is_multiple_of(10_000) {
            progress(seq);
        }
    }
    progress(expected_seq - 1);
    Ok((
        count,
        ChainHead {
            seq: expected_seq - 1,
            hash: hex::encode(prev),
        },
        first_bad,
    ))
}

/// Re-folds every message from the log (sorted by identity, not through the projection's own
/// indexes) and compares with `messages` and `revisions`.
fn verify_projection(conn: &Connection, unpacker: &mut Unpacker, mismatches: &mut Vec<String>) -> Result<u64> {
    let kinds = [
        EventKind::Message,
        EventKind::Edit,
        EventKind::StreamAppend,
        EventKind::Withdraw,
        EventKind::Delete,
    ]
    .map(|k| format!("'{}'", k.as_str()))
    .join(",");
    let mut st = conn.prepare(&format!(
        "SELECT seq, occurred_at, received_at, payload, zdict FROM events WHERE kind IN ({kinds})
         ORDER BY platform, account, chat_id, msg_id, seq"
    ))?;
    let mut rows = st.query([])?;
    let mut group: Vec<FoldInput> = Vec::new();
    let mut group_key: Option<MessageKey> = None;
    let mut identities = 0u64;
    let mut folded = 0u64;
    let mut check = |key: &MessageKey, inputs: &[FoldInput], mismatches: &mut Vec<String>| -> Result<()> {
        let (expected, expected_revs) = fold_message(key, inputs);
        let actual = load_actual(conn, key)?;
        let same = match (&expected, &actual) {
            (None, None) => true,
            (Some(e), Some((a, revs))) => e == a && &expected_revs == revs,
            _ => false,
        };
        if expected.is_some() {
            folded += 1;
        }
        if !same && mismatches.len() < 20 {
            mismatches.push(format!("message {key} differs from the fold of its events"));
        }
        Ok(())
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
                check(&k, &group, mismatches)?;
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
        check(&k, &group, mismatches)?;
        identities += 1;
    }
    let rows_total: i64 = conn.query_row("SELECT count(*) FROM messages", [], |r| r.get(0))?;
    if rows_total as u64 != identities && mismatches.len() < 20 {
        mismatches.push(format!(
            "messages table has {rows_total} rows but the log names {identities} message identities"
        ));
    }
    Ok(folded)
}

fn load_actual(conn: &Connection, key: &MessageKey) -> Result<Option<(proto::MessageRecord, Vec<Revision>)>> {
    let (row_key, exists) = resolve(conn, key)?;
    if exists.is_none() {
        return Ok(None);
    }
    let rec = conn
        .prepare_cached(&format!(
            "SELECT {RECORD_COLS} FROM messages WHERE mkey = ?1 AND has_message = 1"
        ))?
        .query_row([row_key], record_from_row)
        .optional()?;
    let Some(rec) = rec else { return Ok(None) };
    let mut st =
        conn.prepare_cached("SELECT revision, text, at, seq FROM revisions WHERE mkey = ?1 ORDER BY revision")?;
    let revs = st
        .query_map([row_key], |r| {
            Ok(Revision {
                revision: r.get(0)?,
                text: r.get(1)?,
                at: r.get(2)?,
                seq: r.get::<_, i64>(3)? as u64,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Some((rec, revs)))
}
