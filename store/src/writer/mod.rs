//! The store writer task: drains the bounded channel, group-commits, then fires notices.
//!
//! Group commit is what makes `synchronous=FULL` affordable: every batch that arrives while
//! the previous transaction is being fsynced (or within `group_commit` of the first one) goes
//! into the next transaction, so the cost is one fsync per group, not per message. A commit
//! notice fires only after the transaction holding its batch has committed; if the
//! transaction fails (disk full, read-only file), every notice of the group reports the error
//! and the connectors do not acknowledge — the platform redelivers, nothing is lost.
//!
//! Three stages run at once: this task receives batches and fires notices; the prepare threads
//! ([`prepare_pool`]) compute each batch's [`Prepared`] parts (envelopes, hashes) as it
//! arrives; the commit runs on the blocking pool and does only the sequential part. A group
//! is the run of prepared batches waiting when the committer is free, so under a burst the
//! first group is small and later groups grow to what arrived during the previous commit:
//! the stages stay busy together instead of each waiting for one large group.
//!
//! Volatile figures (defaults of [`WriterOptions`]): a group closes 5 ms after its first batch
//! unless the committer was busy, and holds at most 1024 batches or 20 000 events; at most one
//! group waits (received, preparing or prepared) beside the one committing, beyond which the
//! channel pushes back on the connectors; what waits is also bounded in bytes (64 MiB by
//! default), since a batch of rejected payloads counts no events but can be megabytes.
//! Prepare threads: two (`prepare_pool.rs`). WAL checkpoints: `checkpoint.rs`.
//!
//! **Death.** If the commit thread or a prepare thread panics, or the writer task itself
//! stops with an error, every batch it holds or that waits in the channel gets a failed
//! notice (nothing of them is acknowledged) and [`WriterHandle::died`] resolves with the
//! reason, so the process can stop instead of answering health checks while nothing is
//! archived.

mod prepare_pool;

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use proto::{CommitError, EventBatch, Ingested};
use tokio::sync::{mpsc, oneshot, watch};

use crate::{Prepared, Result, Store, StoreError};
use prepare_pool::{Done, PreparePool};

mod gate;
pub use gate::{IndexGate, IndexProgress};

/// Writer tuning.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// How long to wait for more batches after the first of a group.
    pub group_commit: Duration,
    /// Most batches per transaction.
    pub max_batches: usize,
    /// Most events per transaction (bounds transaction size, latency and memory). Large groups
    /// only form under bulk load (a backfill); there, each transaction rewrites the pages of
    /// the randomly ordered key index it touches, so fewer, larger transactions write less.
    /// But a group and the one waiting behind it are held decoded and prepared, several KiB
    /// an event: at 60,000 that was ~300 MiB more resident memory under `bench pipeline`
    /// than at 20,000, for no faster run (docs/performance.md, "Memory").
    pub max_events: usize,
    /// Most payload bytes received and not yet committed (raw payloads and rejects); beyond
    /// it the channel pushes back, whatever the event count.
    pub max_bytes: usize,
    /// Back-pressure from the search index (none: commits never wait for it).
    pub index_gate: Option<IndexGate>,
    /// Fault injection for tests: the commit thread panics at this commit (1 = the first).
    #[doc(hidden)]
    pub panic_at_commit: Option<u64>,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            group_commit: Duration::from_millis(5),
            max_batches: 1024,
            max_events: 20_000,
            max_bytes: 64 << 20,
            index_gate: None,
            panic_at_commit: None,
        }
    }
}

/// Totals of a writer's life.
#[derive(Debug, Clone, Default)]
pub struct WriterStats {
    /// Transactions committed.
    pub commits: u64,
    /// Batches committed.
    pub batches: u64,
    /// Events appended.
    pub appended: u64,
    /// Duplicates skipped.
    pub duplicates: u64,
    /// Transactions that failed (their notices reported the error).
    pub failures: u64,
    /// Events in the largest transaction committed.
    pub largest_group: u64,
    /// Wall time with a transaction in flight, from its start to its outcome (fsync
    /// included): against the writer's life, how busy the commit stage was.
    pub committing: Duration,
    /// Commits that waited for the search index ([`IndexGate`]).
    pub index_holds: u64,
    /// How long they waited in all: time in which nothing was committed because the index
    /// was behind.
    pub index_held: Duration,
    /// WAL checkpoints run beside the commits (each copies what the WAL holds into the
    /// database file; one per interval at most, however many commits it covers).
    pub checkpoints: u64,
    /// WAL restarts the writer ran itself between two transactions, once the WAL had passed
    /// four times its limit.
    pub wal_restarts: u64,
    /// The time those restarts took (attempts that gave way to a reader included): time in
    /// which no transaction could start.
    pub wal_restarting: Duration,
}

/// A running writer; [`WriterHandle::join`] waits for it to drain (all senders dropped).
pub struct WriterHandle {
    join: tokio::task::JoinHandle<Result<WriterStats>>,
    died: watch::Receiver<Option<String>>,
    committing: watch::Receiver<bool>,
}

impl WriterHandle {
    /// Waits until every sender is dropped and every received batch is committed or failed.
    pub async fn join(self) -> Result<WriterStats> {
        match self.join.await {
            Ok(r) => r,
            Err(e) => Err(StoreError::WriterDied(format!("its task failed: {e}"))),
        }
    }

    /// Resolves, with the reason, if the writer stops before its senders are gone (a panic in
    /// the commit or a prepare thread, a failure of its own). Never resolves otherwise.
    pub fn died(&self) -> WriterDeath {
        WriterDeath(self.died.clone())
    }

    /// Whether the last transaction committed (`true` until one fails). A failing disk does
    /// not kill the writer — the next transaction may succeed — but while it is `false`
    /// nothing is being archived, so health checks must say so.
    pub fn committing(&self) -> watch::Receiver<bool> {
        self.committing.clone()
    }
}

/// See [`WriterHandle::died`].
#[derive(Clone)]
pub struct WriterDeath(watch::Receiver<Option<String>>);

impl WriterDeath {
    /// The reason the writer died, once it has.
    pub async fn wait(mut self) -> String {
        loop {
            if let Some(why) = self.0.borrow_and_update().clone() {
                return why;
            }
            if self.0.changed().await.is_err() {
                // The writer ended; a death is written before that.
                if let Some(why) = self.0.borrow().clone() {
                    return why;
                }
                return std::future::pending().await;
            }
        }
    }
}

/// Spawns the writer on the current tokio runtime; the SQLite work runs on the blocking pool.
pub fn spawn_writer(store: Store, rx: mpsc::Receiver<EventBatch>, opts: WriterOptions) -> WriterHandle {
    let (tell, died) = watch::channel(None);
    let (committing_tx, committing) = watch::channel(true);
    let inner = tokio::spawn(writer_loop(store, rx, opts, committing_tx));
    let join = tokio::spawn(async move {
        let result = match inner.await {
            Ok(r) => r,
            Err(e) => Err(StoreError::WriterDied(format!("its task failed: {e}"))),
        };
        if let Err(e) = &result {
            metrics::counter!("chatvault_store_writer_deaths_total").increment(1);
            tracing::error!(error = %e, "store writer died; nothing more is archived");
            let _ = tell.send(Some(e.to_string()));
        }
        result
    });
    WriterHandle { join, died, committing }
}

/// Payload bytes a batch holds (raw payloads and rejects).
fn batch_bytes(b: &EventBatch) -> usize {
    b.items
        .iter()
        .map(|i| match i {
            Ingested::Payload { raw, .. } | Ingested::Rejected { raw, .. } => raw.bytes.len(),
        })
        .sum()
}

/// Batches received and not yet handed to a commit, in arrival order.
#[derive(Default)]
struct Waiting {
    /// Submitted to the prepare threads, answers pending (event count, bytes, answer).
    preparing: VecDeque<(usize, usize, oneshot::Receiver<Done>)>,
    /// Prepared, oldest first; the next group is taken from the front.
    ready: VecDeque<(EventBatch, Prepared)>,
    /// Events in `preparing` and `ready`.
    events: usize,
    /// Events in `ready`.
    ready_events: usize,
    /// Payload bytes in `preparing` and `ready`.
    bytes: usize,
}

impl Waiting {
    fn is_empty(&self) -> bool {
        self.preparing.is_empty() && self.ready.is_empty()
    }

    /// The group for the next commit: prepared batches from the front, within the limits
    /// (at least one batch, however large).
    fn take_group(&mut self, opts: &WriterOptions) -> Vec<(EventBatch, Prepared)> {
        let mut group = Vec::new();
        let (mut events, mut bytes) = (0, 0);
        while let Some((b, _)) = self.ready.front() {
            let n = b.event_count();
            if !group.is_empty() && (group.len() >= opts.max_batches || events + n > opts.max_events) {
                break;
            }
            events += n;
            bytes += batch_bytes(b);
            group.push(self.ready.pop_front().expect("front exists"));
        }
        self.events -= events;
        self.ready_events -= events;
        self.bytes -= bytes;
        group
    }
}

async fn writer_loop(
    store: Store,
    mut rx: mpsc::Receiver<EventBatch>,
    opts: WriterOptions,
    committing: watch::Sender<bool>,
) -> Result<WriterStats> {
    // Received but not committed: at most one group being prepared or waiting besides the
    // one committing, as before the pipeline; the channel pushes back on the senders beyond.
    let (max_events, max_batches, max_bytes) = (opts.max_events.max(1), opts.max_batches.max(1), opts.max_bytes.max(1));
    let preparer = PreparePool::start(max_batches + 1, store.dir(), store.codebook(), store.restart_flag())?;
    let mut stats = WriterStats::default();
    let mut store = Some(store);
    let mut inflight: Option<tokio::task::JoinHandle<Committed>> = None;
    let mut waiting = Waiting::default();
    // When the group being formed closes (if the committer is free by then): the group-commit
    // window after its first batch.
    let mut closes: Option<tokio::time::Instant> = None;
    let mut open = true;
    let mut commits = 0u64;
    // When the next commit began to wait for the index (see `gate`).
    let mut hold_since = None;
    // When the current hold began, for the stats (the gate's `since` restarts on its own).
    let mut held_from: Option<Instant> = None;
    // When the transaction in flight started.
    let mut commit_started = Instant::now();
    loop {
        let held = match (&opts.index_gate, &store) {
            // A closing channel (shutdown) drains at once.
            (Some(gate), Some(s)) if open && inflight.is_none() && !waiting.ready.is_empty() => {
                gate.holds(s.head().0, &mut hold_since, Instant::now())
            }
            _ => false,
        };
        match (held, held_from) {
            (true, None) => held_from = Some(Instant::now()),
            (false, Some(from)) => {
                held_from = None;
                let waited = from.elapsed();
                stats.index_holds += 1;
                stats.index_held += waited;
                metrics::histogram!("chatvault_store_index_hold_seconds").record(waited.as_secs_f64());
            }
            _ => {}
        }
        if inflight.is_none() && !waiting.ready.is_empty() && !held {
            let full = waiting.ready_events >= max_events || waiting.ready.len() >= max_batches;
            // Batches prepared while the last group committed need no further wait.
            let due = closes.is_none_or(|c| tokio::time::Instant::now() >= c);
            // A closed channel has nothing more to wait for; prepared ones still pending join
            // the group only if already answered.
            if full || due || !open {
                hold_since = None;
                let group = waiting.take_group(&opts);
                closes = (!waiting.is_empty()).then(tokio::time::Instant::now);
                let s = store.take().expect("store is put back after every commit");
                commits += 1;
                let panic = opts.panic_at_commit == Some(commits);
                commit_started = Instant::now();
                inflight = Some(tokio::task::spawn_blocking(move || commit_with_retry(s, group, panic)));
            }
        }
        if !open && waiting.is_empty() && inflight.is_none() {
            break;
        }
        let accept = open
            && waiting.events < max_events
            && waiting.bytes < max_bytes
            && waiting.preparing.len() + waiting.ready.len() < max_batches;
        let window = closes.filter(|_| inflight.is_none() && !waiting.ready.is_empty() && !held);
        tokio::select! {
            // Notices first: connectors may wait for them before they send anything more.
            biased;
            done = async { inflight.as_mut().expect("guarded").await }, if inflight.is_some() => {
                inflight = None;
                stats.committing += commit_started.elapsed();
                let failures = stats.failures;
                match finish(done, &mut stats) {
                    Ok(s) => {
                        store = Some(s);
                        let ok = stats.failures == failures;
                        committing.send_if_modified(|c| std::mem::replace(c, ok) != ok);
                    }
                    Err(e) => return Err(die(e, waiting, &mut rx, &mut stats).await),
                }
            }
            answer = async { (&mut waiting.preparing.front_mut().expect("guarded").2).await }, if !waiting.preparing.is_empty() => {
                let (n, bytes, _) = waiting.preparing.pop_front().expect("guarded");
                match answer {
                    Ok((batch, Ok(prepared))) => {
                        waiting.ready_events += n;
                        waiting.ready.push_back((batch, prepared));
                    }
                    Ok((batch, Err(e))) => {
                        waiting.events -= n;
                        waiting.bytes -= bytes;
                        fail(vec![batch], &e, &mut stats);
                    }
                    Err(_) => {
                        let e = StoreError::WriterDied("a prepare thread stopped (it panicked)".into());
                        if let Some(f) = inflight.take() {
                            // The commit in flight still reports its own outcome.
                            let _ = finish(f.await, &mut stats);
                        }
                        return Err(die(e, waiting, &mut rx, &mut stats).await);
                    }
                }
            }
            b = rx.recv(), if accept => match b {
                Some(b) => {
                    let (n, bytes) = (b.event_count(), batch_bytes(&b));
                    waiting.events += n;
                    waiting.bytes += bytes;
                    waiting.preparing.push_back((n, bytes, preparer.submit(b)));
                    if closes.is_none() {
                        closes = Some(tokio::time::Instant::now() + opts.group_commit);
                    }
                }
                None => open = false,
            },
            _ = tokio::time::sleep_until(window.unwrap_or_else(tokio::time::Instant::now)), if window.is_some() => {}
            // A held commit looks at the index again soon.
            _ = tokio::time::sleep(std::time::Duration::from_millis(10)), if held => {}
        }
    }
    stats.checkpoints = store.as_ref().map_or(0, Store::checkpoints);
    (stats.wal_restarts, stats.wal_restarting) = store.as_ref().map_or((0, Duration::ZERO), Store::wal_restarts);
    Ok(stats)
}

/// The writer cannot go on: fails the notice of every batch it holds and of every batch still
/// in the channel (closed first, so senders learn at once), and returns `e`.
async fn die(
    e: StoreError,
    waiting: Waiting,
    rx: &mut mpsc::Receiver<EventBatch>,
    stats: &mut WriterStats,
) -> StoreError {
    rx.close();
    let mut held: Vec<EventBatch> = waiting.ready.into_iter().map(|(b, _)| b).collect();
    for (_, _, answer) in waiting.preparing {
        // A live prepare thread answers soon; a dead one's batch is dropped with it, which
        // its sender sees as a failed notice too.
        if let Ok((b, _)) = answer.await {
            held.push(b);
        }
    }
    while let Ok(b) = rx.try_recv() {
        held.push(b);
    }
    if !held.is_empty() {
        fail(held, &e, stats);
    }
    e
}

/// Fires a finished commit's notices (only now: the data is committed) and returns the store.
/// A commit thread that panicked fails its group's notices and ends the writer.
fn finish(done: std::result::Result<Committed, tokio::task::JoinError>, stats: &mut WriterStats) -> Result<Store> {
    let (store, result, group) = done.map_err(|e| StoreError::WriterDied(format!("its commit thread failed: {e}")))?;
    let store = match store {
        Some(s) => s,
        None => {
            let e = result
                .err()
                .unwrap_or_else(|| StoreError::WriterDied("its commit thread panicked".into()));
            fail(group, &e, stats);
            return Err(e);
        }
    };
    match result {
        Ok(infos) => {
            stats.commits += 1;
            stats.batches += group.len() as u64;
            let mut events = 0;
            for (batch, info) in group.into_iter().zip(infos) {
                events += info.appended + info.duplicates;
                stats.appended += info.appended;
                stats.duplicates += info.duplicates;
                let _ = batch.committed.send(Ok(info));
            }
            stats.largest_group = stats.largest_group.max(events);
        }
        Err(e) => fail(group, &e, stats),
    }
    Ok(store)
}

/// Reports `e` to every batch of `group`; none of them is committed.
fn fail(group: Vec<EventBatch>, e: &StoreError, stats: &mut WriterStats) {
    stats.failures += 1;
    metrics::counter!("chatvault_store_commit_failures_total").increment(1);
    tracing::error!(error = %e, batches = group.len(), "store commit failed; nothing in these batches is acknowledged");
    let message = e.to_string();
    for batch in group {
        let _ = batch.committed.send(Err(CommitError {
            message: message.clone(),
        }));
    }
}

/// The store back (`None` if the commit thread panicked: its state is not trusted again), the
/// outcome, and the group's batches for their notices.
type Committed = (Option<Store>, Result<Vec<proto::CommitInfo>>, Vec<EventBatch>);

/// One retry covers transient failures (a busy checkpoint); a full disk or read-only file
/// fails twice and is reported. A panic is caught so that the group's notices can be failed.
fn commit_with_retry(mut store: Store, group: Vec<(EventBatch, Prepared)>, panic: bool) -> Committed {
    let started = Instant::now();
    let pairs: Vec<(&EventBatch, &Prepared)> = group.iter().map(|(b, p)| (b, p)).collect();
    let attempt = std::panic::catch_unwind(AssertUnwindSafe(|| {
        if panic {
            panic!("injected commit thread panic");
        }
        let mut result = store.append_prepared(&pairs);
        if result.is_err() {
            std::thread::sleep(Duration::from_millis(100));
            result = store.append_prepared(&pairs);
        }
        result
    }));
    drop(pairs);
    metrics::histogram!("chatvault_store_commit_seconds").record(started.elapsed().as_secs_f64());
    // The prepared parts are dropped here, on the blocking thread; the batches go back for
    // their notices.
    let batches = group.into_iter().map(|(b, _)| b).collect();
    match attempt {
        Ok(result) => (Some(store), result, batches),
        Err(p) => {
            let what = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            (
                None,
                Err(StoreError::WriterDied(format!("its commit thread panicked: {what}"))),
                batches,
            )
        }
    }
}
