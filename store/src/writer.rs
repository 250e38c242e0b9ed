//! The store writer task: drains the bounded channel, group-commits, then fires notices.
//!
//! Group commit is what makes `synchronous=FULL` affordable: every batch that arrives while
//! the previous transaction is being fsynced (or within `group_commit` of the first one) goes
//! into the next transaction, so the cost is one fsync per group, not per message. A commit
//! notice fires only after the transaction holding its batch has committed; if the
//! transaction fails (disk full, read-only file), every notice of the group reports the error
//! and the connectors do not acknowledge — the platform redelivers, nothing is lost.
//!
//! The writer is a two-stage pipeline: while one group commits on the blocking pool, the next
//! is gathered and its [`Prepared`] parts (envelopes, hashes) computed on another thread, so
//! the SQLite thread only does the sequential part.

use std::time::{Duration, Instant};

use proto::{CommitError, EventBatch};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TryRecvError;

use crate::{Prepared, Result, Store};

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

async fn writer_loop(store: Store, mut rx: mpsc::Receiver<EventBatch>, opts: WriterOptions) -> Result<WriterStats> {
    let mut store = Some(store);
    let mut stats = WriterStats::default();
    // One group commits on the blocking pool while the next is gathered and prepared.
    let mut inflight: Option<tokio::task::JoinHandle<Committed>> = None;
    loop {
        // Wait for the next batch, but fire the in-flight group's notices the moment its
        // commit ends: connectors may be waiting for them before they send anything more.
        let first = match inflight.as_mut() {
            None => rx.recv().await,
            Some(h) => tokio::select! {
                done = h => {
                    inflight = None;
                    store = Some(finish(done, &mut stats)?);
                    rx.recv().await
                }
                b = rx.recv() => b,
            },
        };
        let Some(first) = first else { break };
        let (group, prepared) = gather(first, &mut rx, &opts, inflight.as_ref()).await;
        if let Some(h) = inflight.take() {
            store = Some(finish(h.await, &mut stats)?);
        }
        let s = store.take().expect("store is put back after every commit");
        inflight = Some(tokio::task::spawn_blocking(move || {
            commit_with_retry(s, group, prepared)
        }));
    }
    if let Some(h) = inflight.take() {
        finish(h.await, &mut stats)?;
    }
    Ok(stats)
}

/// The next group and its prepared parts: the first batch to arrive, then whatever else
/// arrives while the previous group is still committing or within the group-commit window,
/// up to the limits. Each batch is prepared as it arrives, overlapping the commit. That work
/// runs on the writer task's runtime thread (a few ms per 500-event batch); a per-batch
/// `spawn_blocking` was tried and measured slower on two cores.
async fn gather(
    first: EventBatch,
    rx: &mut mpsc::Receiver<EventBatch>,
    opts: &WriterOptions,
    inflight: Option<&tokio::task::JoinHandle<Committed>>,
) -> (Vec<EventBatch>, Result<Vec<Prepared>>) {
    let mut events = first.event_count();
    let mut prepared = Vec::new();
    let mut failed = None;
    let mut prepare = |b: &EventBatch| match Prepared::new(b) {
        Ok(p) => prepared.push(p),
        Err(e) => failed = Some(e),
    };
    prepare(&first);
    let mut group = vec![first];
    let deadline = tokio::time::Instant::now() + opts.group_commit;
    // A zero window takes only what was queued when the group began, without waiting.
    let max_batches = if opts.group_commit.is_zero() {
        opts.max_batches.min(1 + rx.len())
    } else {
        opts.max_batches
    };
    while group.len() < max_batches && events < opts.max_events {
        let b = match rx.try_recv() {
            Ok(b) => b,
            Err(TryRecvError::Disconnected) => break,
            Err(TryRecvError::Empty) => {
                if opts.group_commit.is_zero() {
                    break;
                }
                let committing = inflight.is_some_and(|h| !h.is_finished());
                let now = tokio::time::Instant::now();
                if !committing && now >= deadline {
                    break;
                }
                // While a commit runs, look again every millisecond for its end.
                let until = if committing {
                    now + Duration::from_millis(1)
                } else {
                    deadline
                };
                match tokio::time::timeout_at(until, rx.recv()).await {
                    Ok(Some(b)) => b,
                    Ok(None) => break,
                    Err(_) => continue,
                }
            }
        };
        events += b.event_count();
        prepare(&b);
        group.push(b);
    }
    let prepared = match failed {
        Some(e) => Err(e),
        None => Ok(prepared),
    };
    (group, prepared)
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
        Err(e) => {
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
    }
    Ok(store)
}

type Committed = (Store, Result<Vec<proto::CommitInfo>>, Vec<EventBatch>);

/// One retry covers transient failures (a busy checkpoint); a full disk or read-only file
/// fails twice and is reported.
fn commit_with_retry(mut store: Store, group: Vec<EventBatch>, prepared: Result<Vec<Prepared>>) -> Committed {
    let started = Instant::now();
    let prepared = match prepared {
        Ok(p) => p,
        Err(e) => return (store, Err(e), group),
    };
    let pairs: Vec<(&EventBatch, &Prepared)> = group.iter().zip(&prepared).collect();
    let mut result = store.append_prepared(&pairs);
    if result.is_err() {
        std::thread::sleep(Duration::from_millis(100));
        result = store.append_prepared(&pairs);
    }
    drop(pairs);
    metrics::histogram!("chatvault_store_commit_seconds").record(started.elapsed().as_secs_f64());
    (store, result, group)
}
