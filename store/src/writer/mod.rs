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
//! unless the committer was busy, and holds at most 1024 batches or 60 000 events; at most one
//! group waits (received, preparing or prepared) beside the one committing, beyond which the
//! channel pushes back on the connectors. Prepare threads: two (`prepare_pool.rs`). WAL
//! checkpoints: `checkpoint.rs`.

mod prepare_pool;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use proto::{CommitError, EventBatch};
use tokio::sync::{mpsc, oneshot};

use crate::{Prepared, Result, Store};
use prepare_pool::{Done, PreparePool};

/// Writer tuning.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// How long to wait for more batches after the first of a group.
    pub group_commit: Duration,
    /// Most batches per transaction.
    pub max_batches: usize,
    /// Most events per transaction (bounds transaction size and latency). Large groups only
    /// form under bulk load (a backfill); there, each transaction rewrites the pages of the
    /// randomly ordered key index it touches, so fewer, larger transactions write less.
    pub max_events: usize,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            group_commit: Duration::from_millis(5),
            max_batches: 1024,
            max_events: 60_000,
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
}

/// A running writer; [`WriterHandle::join`] waits for it to drain (all senders dropped).
pub struct WriterHandle {
    join: tokio::task::JoinHandle<Result<WriterStats>>,
}

impl WriterHandle {
    /// Waits until every sender is dropped and every received batch is committed or failed.
    pub async fn join(self) -> Result<WriterStats> {
        match self.join.await {
            Ok(r) => r,
            Err(e) => Err(crate::StoreError::Corrupt(format!("store writer task failed: {e}"))),
        }
    }
}

/// Spawns the writer on the current tokio runtime; the SQLite work runs on the blocking pool.
pub fn spawn_writer(store: Store, rx: mpsc::Receiver<EventBatch>, opts: WriterOptions) -> WriterHandle {
    WriterHandle {
        join: tokio::spawn(writer_loop(store, rx, opts)),
    }
}

/// Batches received and not yet handed to a commit, in arrival order.
#[derive(Default)]
struct Waiting {
    /// Submitted to the prepare threads, answers pending (event count, answer).
    preparing: VecDeque<(usize, oneshot::Receiver<Done>)>,
    /// Prepared, oldest first; the next group is taken from the front.
    ready: VecDeque<(EventBatch, Prepared)>,
    /// Events in `preparing` and `ready`.
    events: usize,
    /// Events in `ready`.
    ready_events: usize,
}

impl Waiting {
    fn is_empty(&self) -> bool {
        self.preparing.is_empty() && self.ready.is_empty()
    }

    /// The group for the next commit: prepared batches from the front, within the limits
    /// (at least one batch, however large).
    fn take_group(&mut self, opts: &WriterOptions) -> Vec<(EventBatch, Prepared)> {
        let mut group = Vec::new();
        let mut events = 0;
        while let Some((b, _)) = self.ready.front() {
            let n = b.event_count();
            if !group.is_empty() && (group.len() >= opts.max_batches || events + n > opts.max_events) {
                break;
            }
            events += n;
            group.push(self.ready.pop_front().expect("front exists"));
        }
        self.events -= events;
        self.ready_events -= events;
        group
    }
}

async fn writer_loop(store: Store, mut rx: mpsc::Receiver<EventBatch>, opts: WriterOptions) -> Result<WriterStats> {
    // Received but not committed: at most one group being prepared or waiting besides the
    // one committing, as before the pipeline; the channel pushes back on the senders beyond.
    let (max_events, max_batches) = (opts.max_events.max(1), opts.max_batches.max(1));
    let preparer = PreparePool::start(max_batches + 1, store.dir(), store.codebook())?;
    let mut stats = WriterStats::default();
    let mut store = Some(store);
    let mut inflight: Option<tokio::task::JoinHandle<Committed>> = None;
    let mut waiting = Waiting::default();
    // When the group being formed closes (if the committer is free by then): the group-commit
    // window after its first batch.
    let mut closes: Option<tokio::time::Instant> = None;
    let mut open = true;
    loop {
        if inflight.is_none() && !waiting.ready.is_empty() {
            let full = waiting.ready_events >= max_events || waiting.ready.len() >= max_batches;
            // Batches prepared while the last group committed need no further wait.
            let due = closes.is_none_or(|c| tokio::time::Instant::now() >= c);
            // A closed channel has nothing more to wait for; prepared ones still pending join
            // the group only if already answered.
            if full || due || !open {
                let group = waiting.take_group(&opts);
                closes = (!waiting.is_empty()).then(tokio::time::Instant::now);
                let s = store.take().expect("store is put back after every commit");
                inflight = Some(tokio::task::spawn_blocking(move || commit_with_retry(s, group)));
            }
        }
        if !open && waiting.is_empty() && inflight.is_none() {
            break;
        }
        let accept = open && waiting.events < max_events && waiting.preparing.len() + waiting.ready.len() < max_batches;
        let window = closes.filter(|_| inflight.is_none() && !waiting.ready.is_empty());
        tokio::select! {
            // Notices first: connectors may wait for them before they send anything more.
            biased;
            done = async { inflight.as_mut().expect("guarded").await }, if inflight.is_some() => {
                inflight = None;
                store = Some(finish(done, &mut stats)?);
            }
            answer = async { (&mut waiting.preparing.front_mut().expect("guarded").1).await }, if !waiting.preparing.is_empty() => {
                let (n, _) = waiting.preparing.pop_front().expect("guarded");
                match answer {
                    Ok((batch, Ok(prepared))) => {
                        waiting.ready_events += n;
                        waiting.ready.push_back((batch, prepared));
                    }
                    Ok((batch, Err(e))) => {
                        waiting.events -= n;
                        fail(vec![batch], &e, &mut stats);
                    }
                    Err(_) => {
                        return Err(crate::StoreError::Corrupt("the store's prepare threads stopped".into()));
                    }
                }
            }
            b = rx.recv(), if accept => match b {
                Some(b) => {
                    let n = b.event_count();
                    waiting.events += n;
                    waiting.preparing.push_back((n, preparer.submit(b)));
                    if closes.is_none() {
                        closes = Some(tokio::time::Instant::now() + opts.group_commit);
                    }
                }
                None => open = false,
            },
            _ = tokio::time::sleep_until(window.unwrap_or_else(tokio::time::Instant::now)), if window.is_some() => {}
        }
    }
    Ok(stats)
}

/// Fires a finished commit's notices (only now: the data is committed) and returns the store.
fn finish(done: std::result::Result<Committed, tokio::task::JoinError>, stats: &mut WriterStats) -> Result<Store> {
    let (store, result, group) =
        done.map_err(|e| crate::StoreError::Corrupt(format!("store writer thread failed: {e}")))?;
    match result {
        Ok(infos) => {
            stats.commits += 1;
            stats.batches += group.len() as u64;
            for (batch, info) in group.into_iter().zip(infos) {
                stats.appended += info.appended;
                stats.duplicates += info.duplicates;
                let _ = batch.committed.send(Ok(info));
            }
        }
        Err(e) => fail(group, &e, stats),
    }
    Ok(store)
}

/// Reports `e` to every batch of `group`; none of them is committed.
fn fail(group: Vec<EventBatch>, e: &crate::StoreError, stats: &mut WriterStats) {
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

type Committed = (Store, Result<Vec<proto::CommitInfo>>, Vec<EventBatch>);

/// One retry covers transient failures (a busy checkpoint); a full disk or read-only file
/// fails twice and is reported.
fn commit_with_retry(mut store: Store, group: Vec<(EventBatch, Prepared)>) -> Committed {
    let started = Instant::now();
    let pairs: Vec<(&EventBatch, &Prepared)> = group.iter().map(|(b, p)| (b, p)).collect();
    let mut result = store.append_prepared(&pairs);
    if result.is_err() {
        std::thread::sleep(Duration::from_millis(100));
        result = store.append_prepared(&pairs);
    }
    drop(pairs);
    metrics::histogram!("chatvault_store_commit_seconds").record(started.elapsed().as_secs_f64());
    // The prepared parts are dropped here, on the blocking thread; the batches go back for
    // their notices.
    (store, result, group.into_iter().map(|(b, _)| b).collect())
}
