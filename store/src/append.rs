//! [`Store`]: the single writer. Appends batches in one transaction per call: for each event,
//! the duplicate check (`dedup.rs`), its raw payload (stored once, when one of its events is
//! new), the event row with its hash chain link, the projections (`project.rs`), then each
//! batch's cursor — so a batch and its cursor commit together, and nothing of a failed call
//! is committed. The parts that need no database (envelopes, hashes, compression) come
//! prepared (`prepare.rs`).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use proto::{ChatEvent, CommitInfo, EventBatch, EventBody, Ingested, MessageKey, Platform, RawPayload};
use rusqlite::{CachedStatement, Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use crate::checkpoint::Checkpointer;
use crate::compress::{Codebook, Packed, insert_dict};
use crate::dedup::{PROBE_SQL, Probe, is_duplicate, probe_message, resolve_from};
use crate::keys::{KeyScheme, content_key};
use crate::open::{StoreOptions, WRITER_BUSY, open_writer};
use crate::prepare::{EventPrep, ItemPrep, Prepared};
use crate::project::{Projector, Target};
use crate::reader::StoreReader;
use crate::{Result, StoreError, chain};

/// The writer side of the archive. One per process; readers use [`StoreReader`].
pub struct Store {
    // Declared before `checkpointer`: the writer connection closes first, then the
    // checkpointer copies what is left.
    conn: Connection,
    checkpointer: Checkpointer,
    dir: PathBuf,
    head_seq: u64,
    head_hash: [u8; 32],
    book: Arc<Codebook>,
    /// Dictionaries the archive holds (committed).
    dicts_stored: HashSet<i64>,
    /// Where `messages` rows are looked for (set by the migrations, fixed after).
    scheme: KeyScheme,
}

impl Store {
    /// Opens the archive in `data_dir`, creating the directory (0700) and database (0600) if
    /// needed. A foreign or corrupt file is refused and left untouched.
    pub fn open(data_dir: &Path, opts: StoreOptions) -> Result<Store> {
        let (mut conn, path) = open_writer(data_dir, &opts)?;
        let (head_seq, head_hash) = read_head(&conn)?;
        let scheme = KeyScheme::of(&conn)?;
        let book = Arc::new(Codebook::load(&conn)?);
        let dicts_stored = conn
            .prepare("SELECT id FROM dicts")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<HashSet<i64>>>()?;
        let checkpointer = Checkpointer::start(&path, opts.synchronous_full)?;
        checkpointer.count_wal_pages_of(&mut conn)?;
        Ok(Store {
            conn,
            checkpointer,
            dir: data_dir.to_path_buf(),
            head_seq,
            head_hash,
            book,
            dicts_stored,
            scheme,
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

    /// Sets the WAL size (pages) above which the checkpointer tries to restart the WAL
    /// (default 65 536, 256 MiB; the writer restarts it itself at four times that, see
    /// `checkpoint.rs`); a small one makes the restart paths easy to exercise.
    pub fn set_wal_limit_pages(&self, pages: i64) {
        self.checkpointer.set_limit(pages);
    }

    /// WAL checkpoints run so far by the checkpoint thread (at most one per
    /// [`CHECKPOINT_INTERVAL`](crate::CHECKPOINT_INTERVAL), however many commits).
    pub fn checkpoints(&self) -> u64 {
        self.checkpointer.checkpoints()
    }

    /// WAL restarts this store's writer completed itself (the WAL had passed four times its
    /// limit, see `checkpoint.rs`), and the time its attempts took, done or not: time in
    /// which no transaction could start.
    pub fn wal_restarts(&self) -> (u64, std::time::Duration) {
        self.checkpointer.restarts()
    }

    /// Raised while this store restarts its WAL (the prepare threads wait on it).
    pub(crate) fn restart_flag(&self) -> crate::checkpoint::RestartFlag {
        self.checkpointer.restart_flag()
    }

    /// The dictionaries batches are compressed with (shared with the prepare threads).
    pub(crate) fn codebook(&self) -> Arc<Codebook> {
        Arc::clone(&self.book)
    }

    /// Appends batches in one transaction and returns what happened to each, in order. On
    /// error nothing of the call is committed.
    pub fn append(&mut self, batches: &[&EventBatch]) -> Result<Vec<CommitInfo>> {
        let prepared = batches
            .iter()
            .map(|b| Prepared::new(b, &self.book, None))
            .collect::<Result<Vec<_>>>()?;
        let pairs: Vec<(&EventBatch, &Prepared)> = batches.iter().copied().zip(&prepared).collect();
        self.append_prepared(&pairs)
    }

    /// [`Store::append`] with each batch's [`Prepared`] parts computed beforehand (elsewhere,
    /// while the previous transaction commits).
    pub fn append_prepared(&mut self, batches: &[(&EventBatch, &Prepared)]) -> Result<Vec<CommitInfo>> {
        // IMMEDIATE: take the write lock first, under the busy timeout. A deferred transaction
        // that has read cannot wait for the lock (SQLite returns BUSY at once), and the
        // checkpointer's restart holds it for the length of one copy.
        // Between two transactions, the one moment the write lock is free under load.
        self.checkpointer.restart_if_due(&self.conn, WRITER_BUSY);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut ap = Appender {
            tx: &tx,
            hot: Hot::new(&tx)?,
            project: Projector::new(&tx)?,
            seq: self.head_seq,
            prev: self.head_hash,
            dicts_stored: &self.dicts_stored,
            dicts_new: Vec::new(),
            scheme: self.scheme,
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
        ap.project.flush()?;
        let (seq, prev, dicts_new) = (ap.seq, ap.prev, std::mem::take(&mut ap.dicts_new));
        // The held statements go back to the cache before the transaction ends.
        drop(ap);
        tx.commit()?;
        self.head_seq = seq;
        self.head_hash = prev;
        self.dicts_stored.extend(dicts_new);
        self.checkpointer.nudge();
        Ok(infos)
    }
}

const RAW_SQL: &str =
    "INSERT INTO raw(platform, account, received_at, media_type, bytes, zdict) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
const EVENT_SQL: &str = "INSERT INTO events(seq, platform, account, chat_id, msg_id, kind, occurred_at, received_at, payload, raw_id, mkey, hash, zdict)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";

/// The statements every new message runs, taken from the statement cache once per
/// transaction (see [`Projector`]).
struct Hot<'t> {
    probe: CachedStatement<'t>,
    raw: CachedStatement<'t>,
    event: CachedStatement<'t>,
}

impl<'t> Hot<'t> {
    fn new(conn: &'t Connection) -> Result<Hot<'t>> {
        Ok(Hot {
            probe: conn.prepare_cached(PROBE_SQL)?,
            raw: conn.prepare_cached(RAW_SQL)?,
            event: conn.prepare_cached(EVENT_SQL)?,
        })
    }
}

struct Appender<'t, 'c> {
    tx: &'t Transaction<'c>,
    hot: Hot<'t>,
    project: Projector<'t>,
    seq: u64,
    prev: [u8; 32],
    dicts_stored: &'t HashSet<i64>,
    /// Dictionaries inserted by this transaction.
    dicts_new: Vec<i64>,
    scheme: KeyScheme,
}

impl Appender<'_, '_> {
    fn item(
        &mut self,
        platform: Platform,
        account: &str,
        item: &Ingested,
        prep: Option<&ItemPrep>,
        info: &mut CommitInfo,
    ) -> Result<()> {
        let (raw, events, prep) = match (item, prep) {
            (Ingested::Rejected { raw, reason }, _) => {
                self.reject(platform, account, raw, reason)?;
                info.rejected += 1;
                return Ok(());
            }
            (Ingested::Payload { raw, events }, Some(prep)) if prep.events.len() == events.len() => (raw, events, prep),
            (Ingested::Payload { .. }, _) => {
                return Err(StoreError::Corrupt("prepared parts do not belong to this batch".into()));
            }
        };
        let mut raw_id: Option<i64> = None;
        for (n, (ev, ev_prep)) in events.iter().zip(&prep.events).enumerate() {
            // Found stored in the prepare stage, which validated it first.
            if ev_prep.stored {
                info.duplicates += 1;
                continue;
            }
            if let Err(why) = ev.validate() {
                self.reject(platform, account, raw, &format!("event {n}: {why}"))?;
                info.rejected += 1;
                continue;
            }
            let Some(target) = self.target(platform, account, ev, ev_prep)? else {
                info.duplicates += 1;
                continue;
            };
            let id = match raw_id {
                Some(id) => id,
                None => *raw_id.insert(self.insert_raw(platform, account, raw, prep.raw.as_ref())?),
            };
            self.append_event(platform, account, raw, (id, &prep.raw_sha), ev, ev_prep, target)?;
            info.appended += 1;
        }
        Ok(())
    }

    /// Steps 2 and 3 of `dedup.rs`: `None` for a duplicate, else where the event lands
    /// (`Some(None)` for an event that targets no message).
    fn target(
        &mut self,
        platform: Platform,
        account: &str,
        ev: &ChatEvent,
        prep: &EventPrep,
    ) -> Result<Option<Option<Target>>> {
        let content = content_key(&prep.content_hash);
        let targets = ev.body.targets_message();
        let probe = match (&ev.body, prep.row_keys) {
            (EventBody::Message(_), Some(keys)) if targets => {
                Some(probe_message(&mut self.hot.probe, keys, self.scheme, content)?)
            }
            _ => None,
        };
        if let Some(Probe::Duplicate) = probe {
            return Ok(None);
        }
        let target = if targets {
            let key = MessageKey {
                platform,
                account: account.to_string(),
                chat_id: ev.chat_id.clone(),
                msg_id: ev.msg_id.clone().unwrap_or_default(),
            };
            let (row_key, row) = match probe {
                Some(Probe::New(row_key)) => (row_key, None),
                _ => resolve_from(self.tx, self.scheme, &key, prep.row_keys)?,
            };
            Some(Target { key, row_key, row })
        } else {
            None
        };
        if is_duplicate(
            self.tx,
            ev,
            &prep.content_hash,
            target.as_ref().and_then(|t| t.row.as_ref()),
        )? {
            return Ok(None);
        }
        Ok(Some(target))
    }

    fn reject(&self, platform: Platform, account: &str, raw: &RawPayload, reason: &str) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO rejects(platform, account, received_at, reason, media_type, bytes) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![platform.as_str(), account, raw.received_at, reason, &*raw.media_type, &raw.bytes[..]])?;
        Ok(())
    }

    /// Inserts the dictionary `packed` needs, if this archive does not hold it yet.
    fn need_dict(&mut self, packed: &Packed) -> Result<()> {
        if let Some(d) = &packed.dict
            && !self.dicts_stored.contains(&d.id)
            && !self.dicts_new.contains(&d.id)
        {
            insert_dict(self.tx, d)?;
            self.dicts_new.push(d.id);
        }
        Ok(())
    }

    fn insert_raw(
        &mut self,
        platform: Platform,
        account: &str,
        raw: &RawPayload,
        packed: Option<&Packed>,
    ) -> Result<i64> {
        let packed = packed.ok_or_else(|| StoreError::Corrupt("a new event's raw payload was not prepared".into()))?;
        self.need_dict(packed)?;
        self.hot.raw.execute(params![
            platform.as_str(),
            account,
            raw.received_at,
            &*raw.media_type,
            &packed.bytes[..],
            packed.zdict
        ])?;
        Ok(self.tx.last_insert_rowid())
    }

    #[allow(clippy::too_many_arguments)]
    fn append_event(
        &mut self,
        platform: Platform,
        account: &str,
        raw: &RawPayload,
        (raw_id, raw_sha): (i64, &[u8; 32]),
        ev: &ChatEvent,
        prep: &EventPrep,
        target: Option<Target>,
    ) -> Result<()> {
        let packed = prep
            .packed
            .as_ref()
            .ok_or_else(|| StoreError::Corrupt("a new event's envelope was not prepared".into()))?;
        self.need_dict(packed)?;
        let seq = self.seq + 1;
        let hash = chain::link(&self.prev, seq, &prep.payload, raw_sha);
        let occurred_at = ev.occurred_at.unwrap_or(raw.received_at);
        self.hot.event.execute(params![
            seq as i64,
            platform.as_str(),
            account,
            ev.chat_id,
            ev.msg_id,
            ev.kind().as_str(),
            occurred_at,
            raw.received_at,
            &packed.bytes[..],
            raw_id,
            target.as_ref().map(|t| t.row_key),
            &hash[..],
            packed.zdict
        ])?;
        self.seq = seq;
        self.prev = hash;
        match target {
            Some(t) => {
                let content = content_key(&prep.content_hash);
                self.project.message(t, seq, raw.received_at, ev, content)
            }
            None => self.project.chat(platform, account, seq, ev),
        }
    }
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
