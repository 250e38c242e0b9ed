//! "Is this event already in the log?", decided in three steps, cheapest first (names of the
//! keys: `keys.rs`):
//!
//! 1. **Before the commit** ([`StoredProbe`], in the writer's prepare threads, on a read
//!    connection of their own): a `message` event whose identity's row holds its content key
//!    is a redelivery. It then costs a hash and one index lookup, no envelope and nothing on
//!    the commit thread. The answer is final: a row's content key never changes once set, so
//!    what a committed snapshot holds the commit holds too.
//! 2. **In the commit, from the narrow index** ([`probe_message`]): the same question on
//!    `messages_by_key(mkey, msg_key)` for what step 1 did not settle; a missing row means a
//!    new message, with no further lookup.
//! 3. **In the commit, in full** ([`is_duplicate`]): the identity's row is resolved
//!    ([`resolve`], probing past identity-hash collisions); the first `message` event of an
//!    identity is recognised by the content key on its row, every other event by its `dedup`
//!    entry (content key + content check), which is recorded here when the event is new.
//!
//! A redelivery is thus recorded once; a withdrawal, an edit (its platform time is in the
//! body) or a stream chunk (its offset is in the body) of a known message is a new event.

use proto::{ChatEvent, EventBody, MessageKey, Platform};
use rusqlite::{Connection, OptionalExtension, Statement, params};

use crate::keys::{DedupView, KeyScheme, RowKeys, content_check, content_key, row_keys_of};
use crate::{Result, chain};

/// What the messages table already holds for an identity.
pub(crate) struct ExistingRow {
    pub has_message: bool,
    /// Content key of the `message` event the row was made from.
    pub content_key: Option<i64>,
}

/// Step 2: what the `messages_by_key` index alone says about a `message` event.
pub(crate) enum Probe {
    /// The identity's row was made from this very content.
    Duplicate,
    /// No row holds the identity: a new message, stored under this row key (its ordered key).
    New(i64),
    /// A row holds a key the identity may have (another version, a waiting edit, or a
    /// colliding identity): [`resolve`] decides.
    Ask,
}

/// The SQL of step 2 (and of step 1, on its own connection).
pub(crate) const PROBE_SQL: &str = "SELECT msg_key FROM messages WHERE mkey = ?1";

/// Step 2 (and step 1's question). The content key covers the identity, so a match is the
/// same message.
pub(crate) fn probe_message(
    probe: &mut Statement<'_>,
    keys: RowKeys,
    scheme: KeyScheme,
    content_key: i64,
) -> Result<Probe> {
    let mut at = |k: i64| -> Result<Option<Option<i64>>> { Ok(probe.query_row([k], |r| r.get(0)).optional()?) };
    let first = keys.first(scheme);
    match at(first)? {
        Some(Some(k)) if k == content_key => return Ok(Probe::Duplicate),
        Some(_) => return Ok(Probe::Ask),
        None if scheme.free_means_new() => return Ok(Probe::New(first)),
        None => {}
    }
    // A row stored before schema 6 starts its probe sequence at the identity hash.
    Ok(match at(keys.hash)? {
        None => Probe::New(first),
        Some(Some(k)) if k == content_key => Probe::Duplicate,
        Some(_) => Probe::Ask,
    })
}

/// Step 3: `true` if an identical event is already in the log; otherwise records what later
/// redeliveries are recognised by. The first `message` event of an identity is recognised by
/// the content key its new row will carry (the identity lookup happens anyway), so the common
/// append costs no dedup entry; every other event gets a `dedup` entry.
pub(crate) fn is_duplicate(
    tx: &Connection,
    ev: &ChatEvent,
    content_hash: &[u8; 32],
    row: Option<&ExistingRow>,
) -> Result<bool> {
    let (k, check) = (content_key(content_hash), content_check(content_hash));
    if let EventBody::Message(_) = ev.body {
        match row {
            Some(r) if r.has_message && r.content_key == Some(k) => return Ok(true),
            None => return Ok(false),
            Some(r) if !r.has_message => return Ok(false),
            // A second, different `message` event for a known identity (or a row from before
            // content keys were kept): the dedup table decides.
            Some(_) => {}
        }
    }
    let inserted = tx
        .prepare_cached("INSERT OR IGNORE INTO dedup(k, h) VALUES (?1, ?2)")?
        .execute(params![k, check])?;
    if inserted == 1 {
        return Ok(false);
    }
    let existing: i64 = tx
        .prepare_cached("SELECT h FROM dedup WHERE k = ?1")?
        .query_row([k], |r| r.get(0))?;
    // A different check under the same content key is a collision, not a duplicate: the event
    // is kept (its later redeliveries are then kept too, which loses nothing).
    Ok(existing == check)
}

/// The row key of `key`'s identity and its row if one exists: the ordered key if the row is
/// there or (unless the archive is [`KeyScheme::Mixed`]) the key is free, else the probe sequence
/// `hash, hash + 1, …` up to the row or the first free key. A new row takes a free ordered
/// key, else the first free key of the sequence; rows are never deleted, so each identity
/// is found where it was put.
pub(crate) fn resolve(conn: &Connection, scheme: KeyScheme, key: &MessageKey) -> Result<(i64, Option<ExistingRow>)> {
    resolve_from(conn, scheme, key, None)
}

/// [`resolve`] with the key's row keys when already known.
pub(crate) fn resolve_from(
    conn: &Connection,
    scheme: KeyScheme,
    key: &MessageKey,
    keys: Option<RowKeys>,
) -> Result<(i64, Option<ExistingRow>)> {
    let keys = keys.unwrap_or_else(|| RowKeys::of_key(key));
    let mut st = conn.prepare_cached(
        "SELECT platform, account, chat_id, msg_id, has_message, msg_key FROM messages WHERE mkey = ?1",
    )?;
    // `None`: the key is free; `Some(None)`: another identity's row.
    let mut at = |row_key: i64| -> Result<Option<Option<ExistingRow>>> {
        let row = st
            .query_row([row_key], |r| {
                let same = r.get_ref(0)?.as_str()? == key.platform.as_str()
                    && r.get_ref(1)?.as_str()? == key.account
                    && r.get_ref(2)?.as_str()? == key.chat_id
                    && r.get_ref(3)?.as_str()? == key.msg_id;
                if !same {
                    return Ok(None);
                }
                Ok(Some(ExistingRow {
                    has_message: r.get(4)?,
                    content_key: r.get(5)?,
                }))
            })
            .optional()?;
        Ok(row)
    };
    let first = keys.first(scheme);
    let free_ordered = match at(first)? {
        Some(Some(row)) => return Ok((first, Some(row))),
        None if scheme.free_means_new() => return Ok((first, None)),
        None => Some(first),
        Some(None) => None,
    };
    let mut row_key = keys.hash;
    loop {
        match at(row_key)? {
            None => return Ok((free_ordered.unwrap_or(row_key), None)),
            Some(Some(row)) => return Ok((row_key, Some(row))),
            Some(None) => row_key = row_key.wrapping_add(1),
        }
    }
}

/// Step 1, on a read connection of the prepare thread's own.
///
/// Only a batch whose first `message` event is stored has the rest looked up: redeliveries come
/// in runs, and new messages — whose lookups would all miss, in a page cache each commit of
/// the writer empties — should not pay for one each.
pub(crate) struct StoredProbe {
    conn: Connection,
    scheme: KeyScheme,
}

impl StoredProbe {
    pub fn open(data_dir: &std::path::Path) -> Result<StoredProbe> {
        let conn = crate::open::open_reader(data_dir)?;
        let scheme = KeyScheme::of(&conn)?;
        Ok(StoredProbe { conn, scheme })
    }

    /// The lookups of one batch: one read transaction and one statement for all of them
    /// (starting a transaction per lookup cost more than the lookup). `None` if either cannot
    /// be had; the batch is then prepared in full, which is slower and as correct.
    pub(crate) fn batch(&mut self) -> Option<BatchLookups<'_>> {
        let tx = self.conn.unchecked_transaction().ok()?;
        let stmt = self.conn.prepare_cached(PROBE_SQL).ok()?;
        Some(BatchLookups {
            stmt,
            scheme: self.scheme,
            _tx: tx,
            asked: false,
            probing: true,
        })
    }
}

/// [`StoredProbe`]'s lookups for one batch; the read transaction ends when it is dropped.
pub(crate) struct BatchLookups<'c> {
    // Declared first: the statement is reset before the transaction ends.
    stmt: rusqlite::CachedStatement<'c>,
    scheme: KeyScheme,
    _tx: rusqlite::Transaction<'c>,
    /// The batch has had its first lookup.
    asked: bool,
    /// The batch's first lookup found the message stored (or none was made yet).
    probing: bool,
}

impl BatchLookups<'_> {
    /// `(content hash, row keys)` of a `message` event the archive holds with this very
    /// content, else `None`.
    pub(crate) fn known(&mut self, platform: Platform, account: &str, ev: &ChatEvent) -> Option<([u8; 32], RowKeys)> {
        if !self.probing || !matches!(ev.body, EventBody::Message(_)) || ev.validate().is_err() {
            return None;
        }
        let content_hash = chain::sha_json(&DedupView::of(platform, account, ev)).ok()?;
        let keys = row_keys_of(platform, account, ev);
        let known = matches!(
            probe_message(&mut self.stmt, keys, self.scheme, content_key(&content_hash)).ok()?,
            Probe::Duplicate
        );
        if !self.asked {
            (self.asked, self.probing) = (true, known);
        }
        known.then_some((content_hash, keys))
    }
}
