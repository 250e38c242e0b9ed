//! The indexer: follows `events.seq` and keeps one document per message equal to the
//! message's current state (text, state, names), with its earlier texts in `old_text`.
//!
//! Every message-level event (message, edit, stream append, withdraw, delete) re-indexes its
//! message from the store's current record, so the index never folds events itself and
//! cannot disagree with the archive. Withdrawn and deleted messages stay indexed with their
//! state (this is an archive). Each commit records the last applied `seq`; a restart carries
//! on from there.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use proto::{EventKind, MessageKey, MessageRecord};
use store::{MessageRow, StoreReader};
use tantivy::IndexWriter;

use crate::SearchError;
use crate::index::{Payload, SearchIndex};
use crate::lock::WriterLock;
use crate::schema::{self, SCHEMA_VERSION};

/// Events read from the log per step.
const EVENTS_PER_STEP: usize = 5_000;
/// Messages fetched from the store per query.
const KEYS_PER_FETCH: usize = 500;

/// How the writer is sized.
#[derive(Debug, Clone, Copy)]
pub struct IndexerOptions {
    /// Indexing threads.
    pub threads: usize,
    /// Writer memory budget in bytes (split between threads).
    pub memory_bytes: usize,
}

impl Default for IndexerOptions {
    /// One thread and 64 MiB: beside `run`'s ingest, indexing must stay light.
    fn default() -> Self {
        IndexerOptions {
            threads: 1,
            memory_bytes: 64 << 20,
        }
    }
}

impl IndexerOptions {
    /// Sizing for a rebuild, when nothing else competes for the machine.
    pub fn bulk() -> Self {
        IndexerOptions {
            threads: 2,
            memory_bytes: 256 << 20,
        }
    }
}

/// Holds the index writer (and the writer lock) and applies the event log to it.
pub struct Indexer {
    ix: SearchIndex,
    writer: IndexWriter,
    seq: u64,
    /// Every message holding a document (committed or not) has a `messages` row whose
    /// arrival number is at most this; `None` until learned from the archive at the next step.
    /// A message whose row is newer cannot have a document, so its first one is added
    /// without the delete by key: under bulk load that delete, looked up in every segment,
    /// was the largest cost the index added per message (docs/performance.md).
    documented_upto: Option<u64>,
    _lock: WriterLock,
}

impl std::fmt::Debug for Indexer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Indexer")
            .field("index", &self.ix)
            .field("seq", &self.seq)
            .finish()
    }
}

/// What opening the writer found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// An index that can be continued.
    Existing,
    /// No index: a new one was created.
    Created,
    /// The index was unusable (reason) and was replaced by an empty one.
    Replaced(String),
}

impl Indexer {
    /// Takes the writer lock (failing with the holder's pid) and opens the index, creating it
    /// when missing and replacing it when unusable (the index is derived: rebuilding loses
    /// nothing).
    pub fn open(data_dir: &Path, opts: IndexerOptions) -> Result<(Indexer, Opened), SearchError> {
        let lock = WriterLock::acquire(data_dir)?;
        Self::open_locked(data_dir, opts, lock, false)
    }

    /// Like [`Indexer::open`] but only when the lock is free; `Ok(None)` when another
    /// process holds it.
    pub fn try_open(data_dir: &Path, opts: IndexerOptions) -> Result<Option<(Indexer, Opened)>, SearchError> {
        match WriterLock::try_acquire(data_dir)? {
            Some(lock) => Self::open_locked(data_dir, opts, lock, false).map(Some),
            None => Ok(None),
        }
    }

    /// Takes the writer lock (failing with the holder's pid) and empties the index for a
    /// rebuild. Searchers keep seeing the old documents until the rebuild commits.
    pub fn open_for_rebuild(data_dir: &Path, opts: IndexerOptions) -> Result<Indexer, SearchError> {
        let lock = WriterLock::acquire(data_dir)?;
        let (mut me, opened) = Self::open_locked(data_dir, opts, lock, true)?;
        if opened == Opened::Existing {
            me.writer.delete_all_documents()?;
            me.seq = 0;
            me.documented_upto = Some(0);
        }
        Ok(me)
    }

    /// `rebuild`: the caller empties the index, so nothing is committed on creation (a
    /// searcher keeps the old documents, or finds no index, until the rebuild commits).
    fn open_locked(
        data_dir: &Path,
        opts: IndexerOptions,
        lock: WriterLock,
        rebuild: bool,
    ) -> Result<(Indexer, Opened), SearchError> {
        let (ix, opened) = match SearchIndex::open(data_dir) {
            Ok(ix) => (ix, Opened::Existing),
            Err(SearchError::Missing(_)) => (SearchIndex::create_fresh(data_dir)?, Opened::Created),
            Err(SearchError::Corrupt { reason, .. }) => {
                (SearchIndex::create_fresh(data_dir)?, Opened::Replaced(reason))
            }
            Err(e) => return Err(e),
        };
        let seq = if opened == Opened::Existing {
            ix.indexed_seq()?
        } else {
            0
        };
        let writer = ix
            .index
            .writer_with_num_threads(opts.threads.max(1), opts.memory_bytes)?;
        let mut me = Indexer {
            ix,
            writer,
            seq,
            // A new index holds no document; an existing one may hold one for any row so far.
            documented_upto: (opened != Opened::Existing).then_some(0),
            _lock: lock,
        };
        if opened != Opened::Existing && !rebuild {
            // Record the payload at once, so a reader never finds an index without one.
            me.commit()?;
        }
        Ok((me, opened))
    }

    /// Last `seq` applied (committed or not).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The index.
    pub fn index(&self) -> &SearchIndex {
        &self.ix
    }

    /// Applies up to one step of events after [`Indexer::seq`]; returns how many events were
    /// read (0 = caught up). Not visible to searchers before [`Indexer::commit`].
    pub fn step(&mut self, store: &StoreReader) -> Result<usize, SearchError> {
        let changes = store.message_changes_since(self.seq, EVENTS_PER_STEP)?;
        if changes.read == 0 {
            return Ok(0);
        }
        // Attachment events change no indexed field.
        let mut seen = HashSet::new();
        let rows: Vec<i64> = changes
            .targets
            .iter()
            .filter(|(kind, row)| {
                matches!(
                    kind,
                    EventKind::Message
                        | EventKind::Edit
                        | EventKind::StreamAppend
                        | EventKind::Withdraw
                        | EventKind::Delete
                ) && seen.insert(*row)
            })
            .map(|&(_, row)| row)
            .collect();
        let mut upto = match self.documented_upto {
            Some(n) => n,
            None => store.last_message_arrival()?,
        };
        self.documented_upto = Some(upto);
        let (fields, writer, documented_upto) = (&self.ix.fields, &mut self.writer, &mut self.documented_upto);
        for chunk in rows.chunks(KEYS_PER_FETCH) {
            store.visit_messages_by_row_keys(chunk, &mut |arrival, row| -> Result<(), SearchError> {
                let m = schema::Indexed::from(row);
                let earlier = earlier_texts(store, row)?;
                let key = m.key();
                if arrival > upto {
                    // Raised before the add: should this step fail later and be read again,
                    // the message is then replaced, not added twice.
                    upto = arrival;
                    *documented_upto = Some(upto);
                } else {
                    writer.delete_term(schema::key_term(fields, &key));
                }
                writer.add_document(schema::document(fields, &m, key, &earlier))?;
                Ok(())
            })?;
        }
        self.seq = changes.last_seq;
        Ok(changes.read)
    }

    /// Adds a document without deleting an older one (bulk loads of new messages only).
    pub fn add_new(&mut self, r: &MessageRecord) -> Result<(), SearchError> {
        let m = schema::Indexed::from(r);
        self.writer
            .add_document(schema::document(&self.ix.fields, &m, m.key(), &[]))?;
        self.documented_upto = None;
        Ok(())
    }

    /// Marks `seq` as applied (bulk loads that bypass [`Indexer::step`]).
    pub fn set_seq(&mut self, seq: u64) {
        self.seq = seq;
    }

    /// Applies every event up to the head of the log, committing every `commit_every`
    /// events read; `progress(seq, head)` is called after each step.
    pub fn catch_up(
        &mut self,
        store: &StoreReader,
        commit_every: usize,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<u64, SearchError> {
        let head = store.head()?.seq;
        if self.seq > head {
            return Err(SearchError::Corrupt {
                path: self.ix.path().to_path_buf(),
                reason: format!(
                    "it covers the event log up to seq {}, but this archive ends at seq {head}",
                    self.seq
                ),
            });
        }
        let start = self.seq;
        let mut since_commit = 0;
        loop {
            let n = self.step(store)?;
            if n == 0 {
                break;
            }
            since_commit += n;
            if since_commit >= commit_every {
                self.commit()?;
                since_commit = 0;
            }
            progress(self.seq, head.max(self.seq));
        }
        if since_commit > 0 || self.seq != start {
            self.commit()?;
        }
        Ok(self.seq - start)
    }

    /// Commits, recording the applied `seq` in the commit payload.
    pub fn commit(&mut self) -> Result<(), SearchError> {
        let payload = serde_json::to_string(&Payload {
            schema: SCHEMA_VERSION,
            seq: self.seq,
        })
        .expect("payload serializes");
        let mut prepared = self.writer.prepare_commit()?;
        prepared.set_payload(&payload);
        prepared.commit()?;
        Ok(())
    }

    /// Commits and waits for background merges (end of a bulk load).
    pub fn finish(mut self) -> Result<(), SearchError> {
        self.commit()?;
        self.writer.wait_merging_threads()?;
        Ok(())
    }
}

/// Texts the message had before its current one (for `--all-revisions`).
fn earlier_texts(store: &StoreReader, r: &MessageRow<'_>) -> Result<Vec<String>, SearchError> {
    if r.revision == 0 {
        return Ok(Vec::new());
    }
    let key = MessageKey {
        platform: r.platform,
        account: r.account.to_owned(),
        chat_id: r.chat_id.to_owned(),
        msg_id: r.msg_id.to_owned(),
    };
    let mut out: Vec<String> = Vec::new();
    for rev in store.revisions(&key)? {
        if rev.text != r.text && !out.contains(&rev.text) {
            out.push(rev.text);
        }
    }
    Ok(out)
}

/// Follows the event log until `stop` is set: opens (or creates) `data_dir/index`, takes the
/// writer lock (failing with the holder's pid), catches up from the last indexed `seq` and
/// then polls every `interval`, committing at least every `interval` while busy, so the
/// index lags the archive by about `interval`. Blocking; run it on its own thread.
///
/// `progress`, when given, learns the position the indexer has taken in after every step (the
/// store writer's back-pressure, [`store::IndexGate`]).
pub fn follow(
    data_dir: &Path,
    stop: Arc<AtomicBool>,
    interval: Duration,
    progress: Option<store::IndexProgress>,
) -> Result<(), SearchError> {
    let (mut ix, opened) = Indexer::open(data_dir, IndexerOptions::default())?;
    let report = |seq: u64| {
        if let Some(p) = &progress {
            p.set(seq);
        }
    };
    report(ix.seq());
    match &opened {
        Opened::Existing => tracing::info!(seq = ix.seq(), "search index opened"),
        Opened::Created => tracing::info!("search index created"),
        Opened::Replaced(why) => {
            tracing::warn!(reason = %why, "search index was unusable and is rebuilt from the archive")
        }
    }
    let Some(store) = wait_for_store(data_dir, &stop, interval) else {
        return Ok(());
    };
    let mut dirty = false;
    let mut last_commit = Instant::now();
    loop {
        let read = match ix.step(&store) {
            Ok(n) => n,
            Err(e @ SearchError::Corrupt { .. }) => return Err(e),
            Err(e) => {
                // The archive may be briefly unreadable (checkpoint, disk full); the index is
                // derived, so retrying later loses nothing.
                tracing::warn!(error = %e, "search indexing step failed; retrying");
                sleep_unless_stopped(interval, &stop);
                0
            }
        };
        dirty |= read > 0;
        // The writer's gate wants the indexer's pace: what it has taken in, searchable at the
        // next commit (at most `interval` later).
        report(ix.seq());
        let stopping = stop.load(Ordering::Relaxed);
        if dirty && (read == 0 || stopping || last_commit.elapsed() >= interval) {
            ix.commit()?;
            dirty = false;
            last_commit = Instant::now();
        }
        if stopping {
            return Ok(());
        }
        if read == 0 {
            sleep_unless_stopped(interval, &stop);
        }
    }
}

fn wait_for_store(data_dir: &Path, stop: &AtomicBool, interval: Duration) -> Option<StoreReader> {
    loop {
        match StoreReader::open(data_dir) {
            Ok(s) => return Some(s),
            Err(e) => tracing::debug!(error = %e, "archive not readable yet"),
        }
        if stop.load(Ordering::Relaxed) {
            return None;
        }
        sleep_unless_stopped(interval, stop);
    }
}

fn sleep_unless_stopped(total: Duration, stop: &AtomicBool) {
    let until = Instant::now() + total;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= until {
            return;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(50)));
    }
}

/// How many events the index is behind the archive (for metrics).
pub fn index_lag(data_dir: &Path) -> Result<u64, SearchError> {
    let ix = SearchIndex::open(data_dir)?;
    let head = StoreReader::open(data_dir)?.head()?.seq;
    Ok(head.saturating_sub(ix.indexed_seq()?))
}
