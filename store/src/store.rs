//! [`Store`]: the single writer. Opens (or creates) the archive, then appends batches: raw
//! payloads, events with their hash chain, rejects, projections and cursors, all in one
//! transaction per call.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use proto::{
    ChatEvent, CommitInfo, EventBatch, EventBody, Identity, Ingested, MessageKey, NewMessage, Platform, RawPayload,
};
use rusqlite::{
    CachedStatement, Connection, OpenFlags, OptionalExtension, Statement, Transaction, TransactionBehavior, params,
};
use serde::Serialize;

use crate::chain;
use crate::checkpoint::Checkpointer;
use crate::fold::{FoldInput, fold_message};
use crate::prepare::{EventPrep, Prepared};
use crate::reader::StoreReader;
use crate::types::{Envelope, Revision};
use crate::{Result, StoreError, schema};

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "chatvault.db";

/// How the store opens the database.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `synchronous=FULL` (default): an acknowledged message survives power loss.
    /// `false` = NORMAL (survives a process crash, not a power cut).
    pub synchronous_full: bool,
    /// Page cache in MiB (the dedup and message keys must stay in cache for speed).
    pub cache_mib: u32,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            synchronous_full: true,
            cache_mib: 256,
        }
    }
}

/// The writer side of the archive. One per process; readers use [`StoreReader`].
pub struct Store {
    // Declared before `checkpointer`: the writer connection closes first, then the
    // checkpointer copies what is left.
    conn: Connection,
    checkpointer: Checkpointer,
    dir: PathBuf,
    head_seq: u64,
    head_hash: [u8; 32],
}

impl Store {
    /// Opens the archive in `data_dir`, creating the directory (0700) and database (0600) if
    /// needed. A foreign or corrupt file is refused and left untouched.
    pub fn open(data_dir: &Path, opts: StoreOptions) -> Result<Store> {
        create_private_dir(data_dir)?;
        let path = data_dir.join(DB_FILE);
        if !path.exists() {
            create_private_file(&path)?;
        }
        let mut conn =
            Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_WRITE).map_err(|e| foreign_or(e, &path))?;
        // Read before anything writes: a file that is not SQLite fails here, untouched.
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| foreign_or(e, &path))?;
        if version == 0 {
            let objects: i64 = conn
                .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
                .map_err(|e| foreign_or(e, &path))?;
            if objects > 0 {
                return Err(StoreError::Foreign {
                    path: path.clone(),
                    reason: format!("it holds {objects} schema objects and no chatvault schema version"),
                });
            }
        } else {
            schema::check_marker(&conn, &path)?;
        }
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(
            None,
            "synchronous",
            if opts.synchronous_full { "FULL" } else { "NORMAL" },
        )?;
        conn.pragma_update(None, "cache_size", -(i64::from(opts.cache_mib) * 1024))?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        // Checkpoints run on their own thread (checkpoint.rs), not inside the writer's commits.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        conn.set_prepared_statement_cache_capacity(64);
        schema::migrate(&mut conn, &path)?;
        let (head_seq, head_hash) = read_head(&conn)?;
        let checkpointer = Checkpointer::start(&path, opts.synchronous_full)?;
        Ok(Store {
            conn,
            checkpointer,
            dir: data_dir.to_path_buf(),
            head_seq,
            head_hash,
        })
    }

    /// A reader on the same archive.
    pub fn reader(&self) -> Result<StoreReader> {
        StoreReader::open(&self.dir)
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Last seq and hash.
    pub fn head(&self) -> (u64, [u8; 32]) {
        (self.head_seq, self.head_hash)
    }

    /// Appends batches in one transaction and returns what happened to each, in order. On
    /// error nothing of the call is committed.
    pub fn append(&mut self, batches: &[&EventBatch]) -> Result<Vec<CommitInfo>> {
        let prepared = batches.iter().map(|b| Prepared::new(b)).collect::<Result<Vec<_>>>()?;
        let pairs: Vec<(&EventBatch, &Prepared)> = batches.iter().copied().zip(&prepared).collect();
        self.append_prepared(&pairs)
    }

    /// [`Store::append`] with each batch's [`Prepared`] parts computed beforehand (elsewhere,
    /// while the previous transaction commits).
    pub fn append_prepared(&mut self, batches: &[(&EventBatch, &Prepared)]) -> Result<Vec<CommitInfo>> {
        // IMMEDIATE: take the write lock first, under the busy timeout. A deferred transaction
        // that has read cannot wait for the lock (SQLite returns BUSY at once), and the
        // checkpointer's restart holds it for the length of one copy.
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut ap = Appender {
            tx: &tx,
            hot: Hot::new(&tx)?,
            seq: self.head_seq,
            prev: self.head_hash,
            chats: ChatCounts::default(),
        };
        let mut infos = Vec::with_capacity(batches.len());
        for (batch, prepared) in batches {
            let mut info = CommitInfo::default();
            if prepared.items.len() != batch.items.len() {
                return Err(StoreError::Corrupt("prepared parts do not belong to this batch".into()));
            }
            for (item, prep) in batch.items.iter().zip(&prepared.items) {
                ap.item(batch.platform, &batch.account, item, prep.as_ref(), &mut info)?;
            }
            if let Some(cursor) = &batch.cursor {
                tx.prepare_cached(
                    "INSERT INTO cursors(platform, account, cursor, updated_seq, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT(platform, account) DO UPDATE SET cursor = excluded.cursor,
                     updated_seq = excluded.updated_seq, updated_at = excluded.updated_at",
                )?
                .execute(params![
                    batch.platform.as_str(),
                    batch.account,
                    cursor.to_string(),
                    ap.seq as i64,
                    proto::time::now_ms()
                ])?;
            }
            info.head_seq = ap.seq;
            infos.push(info);
        }
        ap.chats.flush(&tx)?;
        let (seq, prev) = (ap.seq, ap.prev);
        // The held statements go back to the cache before the transaction ends.
        drop(ap);
        tx.commit()?;
        self.head_seq = seq;
        self.head_hash = prev;
        self.checkpointer.nudge();
        Ok(infos)
    }
}

const PROBE_SQL: &str = "SELECT msg_key FROM messages WHERE mkey = ?1";
const RAW_SQL: &str = "INSERT INTO raw(platform, account, received_at, media_type, bytes) VALUES (?1, ?2, ?3, ?4, ?5)";
const EVENT_SQL: &str = "INSERT INTO events(seq, platform, account, chat_id, msg_id, kind, occurred_at, received_at, payload, raw_id, mkey, hash)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
const MESSAGE_SQL: &str = "INSERT INTO messages(mkey, platform, account, chat_id, msg_id, has_message, msg_seq, chat_type, chat_name, external,
       sender_id, sender_name, sent_at, received_at, content_type, text, attachments, reply_to, mentions, recipients,
       state, revision, last_seq, msg_key)
     VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, 'active', 0, ?6, ?20)";

/// The statements every new message runs, taken from the statement cache once per
/// transaction: a cache lookup hashes the whole SQL text, which per event was a measurable
/// part of the append.
struct Hot<'t> {
    probe: CachedStatement<'t>,
    raw: CachedStatement<'t>,
    event: CachedStatement<'t>,
    message: CachedStatement<'t>,
}

impl<'t> Hot<'t> {
    fn new(conn: &'t Connection) -> Result<Hot<'t>> {
        Ok(Hot {
            probe: conn.prepare_cached(PROBE_SQL)?,
            raw: conn.prepare_cached(RAW_SQL)?,
            event: conn.prepare_cached(EVENT_SQL)?,
            message: conn.prepare_cached(MESSAGE_SQL)?,
        })
    }
}

struct Appender<'t, 'c> {
    tx: &'t Transaction<'c>,
    hot: Hot<'t>,
    seq: u64,
    prev: [u8; 32],
    chats: ChatCounts,
}

impl Appender<'_, '_> {
    fn item(
        &mut self,
        platform: Platform,
        account: &str,
        item: &Ingested,
        prep: Option<&([u8; 32], Vec<EventPrep>)>,
        info: &mut CommitInfo,
    ) -> Result<()> {
        match (item, prep) {
            (Ingested::Rejected { raw, reason }, _) => {
                self.reject(platform, account, raw, reason)?;
                info.rejected += 1;
            }
            (Ingested::Payload { raw, events }, Some((raw_sha, preps))) if preps.len() == events.len() => {
                let mut raw_id: Option<i64> = None;
                for (n, (ev, prep)) in events.iter().zip(preps).enumerate() {
                    // Found stored in the prepare stage, which validated it first.
                    if prep.stored {
                        info.duplicates += 1;
                        continue;
                    }
                    if let Err(why) = ev.validate() {
                        self.reject(platform, account, raw, &format!("event {n}: {why}"))?;
                        info.rejected += 1;
                        continue;
                    }
                    let content = prep.content;
                    let targets = ev.body.targets_message();
                    let probe = match (&ev.body, prep.mkey) {
                        (EventBody::Message(_), Some(mkey)) if targets => {
                            Some(probe_message(&mut self.hot.probe, mkey, chain::prefix_key(&content))?)
                        }
                        _ => None,
                    };
                    if let Some(Probe::Duplicate) = probe {
                        info.duplicates += 1;
                        continue;
                    }
                    let key = targets.then(|| MessageKey {
                        platform,
                        account: account.to_string(),
                        chat_id: ev.chat_id.clone(),
                        msg_id: ev.msg_id.clone().unwrap_or_default(),
                    });
                    let existing = match (&key, probe) {
                        (Some(_), Some(Probe::New(mkey))) => Some((mkey, None)),
                        (Some(k), _) => Some(resolve_from(self.tx, k, prep.mkey)?),
                        (None, _) => None,
                    };
                    if self.is_duplicate(ev, &content, existing.as_ref().and_then(|(_, row)| row.as_ref()))? {
                        info.duplicates += 1;
                        continue;
                    }
                    let id = match raw_id {
                        Some(id) => id,
                        None => *raw_id.insert(self.insert_raw(platform, account, raw)?),
                    };
                    let target = key.zip(existing);
                    self.append_event(platform, account, raw, (id, raw_sha), ev, prep, target)?;
                    info.appended += 1;
                }
            }
            (Ingested::Payload { .. }, _) => {
                return Err(StoreError::Corrupt("prepared parts do not belong to this batch".into()));
            }
        }
        Ok(())
    }

    fn reject(&self, platform: Platform, account: &str, raw: &RawPayload, reason: &str) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO rejects(platform, account, received_at, reason, media_type, bytes) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![platform.as_str(), account, raw.received_at, reason, &*raw.media_type, &raw.bytes[..]])?;
        Ok(())
    }

    /// `true` if an identical event is already in the log; otherwise records what later
    /// redeliveries are recognised by. The first `message` event of an identity is recognised
    /// by the content key kept on its `messages` row (the identity lookup happens anyway), so
    /// the common append costs no dedup entry; every other event gets a `dedup` entry.
    fn is_duplicate(&self, ev: &ChatEvent, content: &[u8; 32], row: Option<&ExistingRow>) -> Result<bool> {
        let (k, check) = (chain::prefix_key(content), chain::check_key(content));
        if let EventBody::Message(_) = ev.body {
            match row {
                Some(r) if r.has_message && r.msg_key == Some(k) => return Ok(true),
                // Not seen yet: the new row will carry the key.
                None => return Ok(false),
                Some(r) if !r.has_message => return Ok(false),
                // A second, different `message` event for a known identity (or a row from
                // before content keys were kept): the dedup table decides.
                Some(_) => {}
            }
        }
        let inserted = self
            .tx
            .prepare_cached("INSERT OR IGNORE INTO dedup(k, h) VALUES (?1, ?2)")?
            .execute(params![k, check])?;
        if inserted == 1 {
            return Ok(false);
        }
        let existing: i64 = self
            .tx
            .prepare_cached("SELECT h FROM dedup WHERE k = ?1")?
            .query_row([k], |r| r.get(0))?;
        // A different check under the same 64-bit key is a collision, not a duplicate: the
        // event is kept (its later redeliveries are then kept too, which loses nothing).
        Ok(existing == check)
    }

    fn insert_raw(&mut self, platform: Platform, account: &str, raw: &RawPayload) -> Result<i64> {
        self.hot.raw.execute(params![
            platform.as_str(),
            account,
            raw.received_at,
            &*raw.media_type,
            &raw.bytes[..]
        ])?;
        Ok(self.tx.last_insert_rowid())
    }

    fn append_event(
        &mut self,
        platform: Platform,
        account: &str,
        raw: &RawPayload,
        (raw_id, raw_sha): (i64, &[u8; 32]),
        ev: &ChatEvent,
        prep: &EventPrep,
        target: Option<(MessageKey, (i64, Option<ExistingRow>))>,
    ) -> Result<()> {
        let (payload, content) = (&prep.payload, &prep.content);
        let seq = self.seq + 1;
        let hash = chain::link(&self.prev, seq, payload, raw_sha);
        let occurred_at = ev.occurred_at.unwrap_or(raw.received_at);
        let mkey = target.as_ref().map(|(_, (m, _))| *m);
        self.hot.event.execute(params![
            seq as i64,
            platform.as_str(),
            account,
            ev.chat_id,
            ev.msg_id,
            ev.kind().as_str(),
            occurred_at,
            raw.received_at,
            payload,
            raw_id,
            mkey,
            &hash[..]
        ])?;
        self.seq = seq;
        self.prev = hash;
        match target {
            Some((key, (mkey, row))) => {
                let content_key = chain::prefix_key(content);
                self.project_message(&key, mkey, row, seq, raw.received_at, ev, content_key)
            }
            None => self.project_chat(platform, account, seq, ev),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn project_message(
        &mut self,
        key: &MessageKey,
        mkey: i64,
        row: Option<ExistingRow>,
        seq: u64,
        received_at: i64,
        ev: &ChatEvent,
        content_key: i64,
    ) -> Result<()> {
        if let (None, EventBody::Message(m)) = (&row, &ev.body) {
            // Fast path: the first event of a new message.
            insert_message_row(&mut self.hot.message, key, mkey, seq, received_at, m, content_key)?;
            self.chats.bump(key, m);
            return Ok(());
        }
        match (&row, &ev.body) {
            (None, _) => {
                self.tx
                    .prepare_cached(
                        "INSERT INTO messages(mkey, platform, account, chat_id, msg_id, has_message, last_seq) VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)",
                    )?
                    .execute(params![mkey, key.platform.as_str(), key.account, key.chat_id, key.msg_id, seq as i64])?;
            }
            (Some(r), EventBody::Message(m)) if !r.has_message => {
                self.tx
                    .prepare_cached("UPDATE messages SET has_message = 1, msg_seq = ?2, msg_key = ?3 WHERE mkey = ?1")?
                    .execute(params![mkey, seq as i64, content_key])?;
                self.chats.bump(key, m);
            }
            _ => {}
        }
        let inputs = load_fold_inputs(self.tx, mkey)?;
        let (record, revisions) = fold_message(key, &inputs);
        match record {
            Some(mut rec) => {
                // A later `message` event with other content is not among the fold inputs
                // (the first version wins) but is still the message's latest event.
                rec.last_seq = rec.last_seq.max(seq);
                write_record(self.tx, mkey, &rec, &revisions)
            }
            None => {
                self.tx
                    .prepare_cached("UPDATE messages SET last_seq = ?2 WHERE mkey = ?1")?
                    .execute(params![mkey, seq as i64])?;
                Ok(())
            }
        }
    }

    fn project_chat(&mut self, platform: Platform, account: &str, seq: u64, ev: &ChatEvent) -> Result<()> {
        if !matches!(
            ev.body,
            EventBody::GroupCreated { .. }
                | EventBody::GroupRenamed { .. }
                | EventBody::MemberJoin { .. }
                | EventBody::MemberLeave { .. }
        ) {
            return Ok(());
        }
        // A rename must land after the counts of the messages before it, which may carry the
        // older name.
        self.chats.flush(self.tx)?;
        let set_name = |name: &str| -> Result<()> {
            self.tx
                .prepare_cached(
                    "INSERT INTO chats(platform, account, chat_id, name) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(platform, account, chat_id) DO UPDATE SET name = excluded.name",
                )?
                .execute(params![platform.as_str(), account, ev.chat_id, name])?;
            Ok(())
        };
        let members = |list: &[Identity], present: bool| -> Result<()> {
            let mut st = self.tx.prepare_cached(
                "INSERT INTO members(platform, account, chat_id, user_id, name, present, since_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(platform, account, chat_id, user_id) DO UPDATE SET
                 name = coalesce(excluded.name, name), present = excluded.present, since_seq = excluded.since_seq",
            )?;
            for m in list {
                st.execute(params![
                    platform.as_str(),
                    account,
                    ev.chat_id,
                    m.id,
                    m.name,
                    present,
                    seq as i64
                ])?;
            }
            Ok(())
        };
        match &ev.body {
            EventBody::GroupCreated {
                name, members: list, ..
            } => {
                if let Some(n) = name {
                    set_name(n)?;
                }
                members(list, true)
            }
            EventBody::GroupRenamed { name, .. } => set_name(name),
            EventBody::MemberJoin { members: list, .. } => members(list, true),
            EventBody::MemberLeave { members: list, .. } => members(list, false),
            _ => Ok(()),
        }
    }
}

/// What the messages table already holds for an identity.
pub(crate) struct ExistingRow {
    has_message: bool,
    /// Content key of the `message` event the row was made from (see `is_duplicate`).
    msg_key: Option<i64>,
}

/// What the `messages_by_key` index alone says about a `message` event.
enum Probe {
    /// The identity's row was made from this very content.
    Duplicate,
    /// No row holds the identity's key: a new message, stored under this key.
    New(i64),
    /// A row holds the key (another version, a waiting edit, or a colliding identity):
    /// [`resolve`] decides.
    Ask,
}

/// The common cases of a `message` event (new, or redelivered) from the narrow index, without
/// reading the wide row. The content key covers the identity, so a match is the same message.
fn probe_message(probe: &mut Statement<'_>, mkey: i64, content_key: i64) -> Result<Probe> {
    let found: Option<Option<i64>> = probe.query_row([mkey], |r| r.get(0)).optional()?;
    Ok(match found {
        None => Probe::New(mkey),
        Some(Some(k)) if k == content_key => Probe::Duplicate,
        Some(_) => Probe::Ask,
    })
}

/// The 64-bit key of `key`, probing past collisions, and the row if one exists.
pub(crate) fn resolve(conn: &Connection, key: &MessageKey) -> Result<(i64, Option<ExistingRow>)> {
    resolve_from(conn, key, None)
}

/// [`resolve`] starting from `mkey` = the key's [`chain::message_key`] when already known.
fn resolve_from(conn: &Connection, key: &MessageKey, mkey: Option<i64>) -> Result<(i64, Option<ExistingRow>)> {
    let mut mkey =
        mkey.unwrap_or_else(|| chain::message_key(key.platform.as_str(), &key.account, &key.chat_id, &key.msg_id));
    let mut st = conn.prepare_cached(
        "SELECT platform, account, chat_id, msg_id, has_message, msg_key FROM messages WHERE mkey = ?1",
    )?;
    loop {
        let row = st
            .query_row([mkey], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, bool>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                ))
            })
            .optional()?;
        match row {
            None => return Ok((mkey, None)),
            Some((p, a, c, m, has, msg_key)) => {
                if p == key.platform.as_str() && a == key.account && c == key.chat_id && m == key.msg_id {
                    return Ok((
                        mkey,
                        Some(ExistingRow {
                            has_message: has,
                            msg_key,
                        }),
                    ));
                }
                mkey = mkey.wrapping_add(1);
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn insert_message_row(
    insert: &mut Statement<'_>,
    key: &MessageKey,
    mkey: i64,
    seq: u64,
    received_at: i64,
    m: &NewMessage,
    content_key: i64,
) -> Result<()> {
    insert.execute(params![
        mkey,
        key.platform.as_str(),
        key.account,
        key.chat_id,
        key.msg_id,
        seq as i64,
        m.chat_type.as_str(),
        m.chat_name,
        m.external,
        m.sender_id,
        m.sender_name,
        m.sent_at,
        received_at,
        m.content_type.as_str(),
        m.text,
        json_list(&m.attachments),
        m.reply_to,
        json_list(&m.mentions),
        json_list(&m.recipients),
        content_key,
    ])?;
    Ok(())
}

pub(crate) fn json_list<T: Serialize>(v: &[T]) -> Option<String> {
    if v.is_empty() {
        None
    } else {
        serde_json::to_string(v).ok()
    }
}

/// Per-chat message counts and the latest name and type of the current transaction, written
/// once per chat at the end instead of one upsert per message.
#[derive(Default)]
struct ChatCounts {
    /// Few accounts, many chats: a short list of accounts, each with its chats by id.
    by_account: Vec<(Platform, String, HashMap<String, ChatBump>)>,
}

struct ChatBump {
    messages: i64,
    name: Option<String>,
    chat_type: &'static str,
}

impl ChatCounts {
    fn bump(&mut self, key: &MessageKey, m: &NewMessage) {
        let pos = match self
            .by_account
            .iter()
            .position(|(p, a, _)| *p == key.platform && *a == key.account)
        {
            Some(pos) => pos,
            None => {
                self.by_account
                    .push((key.platform, key.account.clone(), HashMap::new()));
                self.by_account.len() - 1
            }
        };
        let chats = &mut self.by_account[pos].2;
        match chats.get_mut(key.chat_id.as_str()) {
            Some(c) => {
                c.messages += 1;
                if m.chat_name.is_some() {
                    c.name.clone_from(&m.chat_name);
                }
                c.chat_type = m.chat_type.as_str();
            }
            None => {
                chats.insert(
                    key.chat_id.clone(),
                    ChatBump {
                        messages: 1,
                        name: m.chat_name.clone(),
                        chat_type: m.chat_type.as_str(),
                    },
                );
            }
        }
    }

    fn flush(&mut self, tx: &Connection) -> Result<()> {
        if self.by_account.is_empty() {
            return Ok(());
        }
        let mut st = tx.prepare_cached(
            "INSERT INTO chats(platform, account, chat_id, name, chat_type, messages) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(platform, account, chat_id) DO UPDATE SET messages = messages + excluded.messages,
             name = coalesce(excluded.name, name), chat_type = coalesce(excluded.chat_type, chat_type)",
        )?;
        for (platform, account, chats) in self.by_account.drain(..) {
            for (chat_id, c) in chats {
                st.execute(params![
                    platform.as_str(),
                    account,
                    chat_id,
                    c.name,
                    c.chat_type,
                    c.messages
                ])?;
            }
        }
        Ok(())
    }
}

/// The events of one message for the fold: its first `message` event and every other event.
pub(crate) fn load_fold_inputs(conn: &Connection, mkey: i64) -> Result<Vec<FoldInput>> {
    let mut out = Vec::new();
    let mut st = conn.prepare_cached(
        "SELECT seq, occurred_at, received_at, payload FROM events WHERE seq = (SELECT msg_seq FROM messages WHERE mkey = ?1)
         UNION ALL
         SELECT seq, occurred_at, received_at, payload FROM events WHERE mkey = ?1 AND kind <> 'message'",
    )?;
    let rows = st.query_map([mkey], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, Vec<u8>>(3)?,
        ))
    })?;
    for row in rows {
        let (seq, occurred_at, received_at, payload) = row?;
        let env: Envelope = serde_json::from_slice(&payload)
            .map_err(|e| StoreError::Corrupt(format!("event seq {seq} does not decode: {e}")))?;
        out.push(FoldInput {
            seq: seq as u64,
            occurred_at,
            received_at,
            event: env.event,
        });
    }
    Ok(out)
}

/// Writes a folded record and its revisions over the projection row.
pub(crate) fn write_record(
    tx: &Connection,
    mkey: i64,
    rec: &proto::MessageRecord,
    revisions: &[Revision],
) -> Result<()> {
    tx.prepare_cached(
        "UPDATE messages SET chat_type = ?2, chat_name = ?3, external = ?4, sender_id = ?5, sender_name = ?6, sent_at = ?7,
           received_at = ?8, content_type = ?9, text = ?10, attachments = ?11, reply_to = ?12, mentions = ?13, recipients = ?14,
           state = ?15, revision = ?16, edited_at = ?17, withdrawn_at = ?18, withdrawn_by = ?19, deleted_at = ?20,
           deleted_by = ?21, last_seq = ?22
         WHERE mkey = ?1",
    )?
    .execute(params![
        mkey,
        rec.chat_type.as_str(),
        rec.chat_name,
        rec.external,
        rec.sender_id,
        rec.sender_name,
        rec.sent_at,
        rec.received_at,
        rec.content_type.as_str(),
        rec.text,
        json_list(&rec.attachments),
        rec.reply_to,
        json_list(&rec.mentions),
        json_list(&rec.recipients),
        rec.state.as_str(),
        rec.revision,
        rec.edited_at,
        rec.withdrawn_at,
        rec.withdrawn_by,
        rec.deleted_at,
        rec.deleted_by,
        rec.last_seq as i64,
    ])?;
    tx.prepare_cached("DELETE FROM revisions WHERE mkey = ?1")?
        .execute([mkey])?;
    let mut st =
        tx.prepare_cached("INSERT INTO revisions(mkey, revision, text, at, seq) VALUES (?1, ?2, ?3, ?4, ?5)")?;
    for r in revisions {
        st.execute(params![mkey, r.revision, r.text, r.at, r.seq as i64])?;
    }
    Ok(())
}

fn read_head(conn: &Connection) -> Result<(u64, [u8; 32])> {
    let row: Option<(i64, Vec<u8>)> = conn
        .query_row("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    match row {
        None => Ok((0, chain::ZERO)),
        Some((seq, hash)) => {
            let h = chain::to32(&hash).ok_or_else(|| StoreError::Corrupt(format!("event seq {seq} has a bad hash")))?;
            Ok((seq as u64, h))
        }
    }
}

/// Opens a read-only connection for [`StoreReader`].
pub(crate) fn open_reader(data_dir: &Path) -> Result<StoreReader> {
    let path = data_dir.join(DB_FILE);
    if !path.exists() {
        return Err(StoreError::NotFound(data_dir.to_path_buf()));
    }
    let conn = Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| foreign_or(e, &path))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| foreign_or(e, &path))?;
    if version == 0 {
        return Err(StoreError::Foreign {
            path,
            reason: "no chatvault schema version".into(),
        });
    }
    if version > schema::VERSION {
        return Err(StoreError::TooNew {
            found: version,
            supported: schema::VERSION,
        });
    }
    schema::check_marker(&conn, &path)?;
    conn.pragma_update(None, "cache_size", -65536)?;
    Ok(StoreReader { conn })
}

/// Maps "file is not a database" style errors to [`StoreError::Foreign`].
fn foreign_or(e: rusqlite::Error, path: &Path) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, _) = &e {
        if matches!(f.code, rusqlite::ErrorCode::NotADatabase) {
            return StoreError::Foreign {
                path: path.to_path_buf(),
                reason: "not an SQLite database".into(),
            };
        }
        if matches!(
            f.code,
            rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::PermissionDenied
        ) {
            return StoreError::io(
                format!("cannot open `{}`", path.display()),
                std::io::Error::other(e.to_string()),
            );
        }
    }
    StoreError::Sqlite(e)
}

fn create_private_dir(dir: &Path) -> Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
        .map_err(|e| StoreError::io(format!("cannot create data directory `{}`", dir.display()), e))?;
    // Probe writability now, with a clear message, rather than at the first commit.
    let probe = dir.join(".chatvault-write-test");
    std::fs::write(&probe, b"")
        .and_then(|_| std::fs::remove_file(&probe))
        .map_err(|e| StoreError::io(format!("data directory `{}` is not writable", dir.display()), e))
}

fn create_private_file(path: &Path) -> Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
        .map_err(|e| StoreError::io(format!("cannot create `{}`", path.display()), e))?;
    Ok(())
}
