//! The store writer task: drains the bounded channel, group-commits, then fires notices.
//!
//! Group commit is what makes `synchronous=FULL` affordable: every batch that arrives while
//! the previous transaction is being fsynced (or within `group_commit` of the first one) goes
//! into the next transaction, so the cost is one fsync per group, not per message. A commit
//! notice fires only after the transaction holding its batch has committed; if the
//! transaction fails (disk full, read-only file), every notice of the group reports the error
//! and the connectors do not acknowledge — the platform redelivers, nothing is lost.

use std::time::{Duration, Instant};

use proto::{CommitError, EventBatch};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TryRecvError;

use crate::{Result, Store};

/// Writer tuning.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// How long to wait for more batches after the first of a group.
    pub group_commit: Duration,
    /// Most batches per transaction.
    pub max_batches: usize,
    /// Most events per transaction (bounds transaction size and latency).
    pub max_events: usize,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            group_commit: Duration::from_millis(5),
            max_batches: 1024,
            max_events: 20_000,
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
    while let Some(first) = rx.recv().await {
        let mut events = first.event_count();
        let mut group = vec![first];
        let deadline = tokio::time::Instant::now() + opts.group_commit;
        while group.len() < opts.max_batches && events < opts.max_events {
            match rx.try_recv() {
                Ok(b) => {
                    events += b.event_count();
                    group.push(b);
                    continue;
                }
                Err(TryRecvError::Disconnected) => break,
                Err(TryRecvError::Empty) => {}
            }
            if opts.group_commit.is_zero() {
                break;
            }
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(b)) => {
                    events += b.event_count();
                    group.push(b);
                }
                _ => break,
            }
        }
        let s = store.take().expect("store is put back after every commit");
        let started = Instant::now();
        let (s, result, group) = tokio::task::spawn_blocking(move || commit_with_retry(s, group))
            .await
            .map_err(|e| crate::StoreError::Corrupt(format!("store writer thread failed: {e}")))?;
        store = Some(s);
        metrics::histogram!("chatvault_store_commit_seconds").record(started.elapsed().as_secs_f64());
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
    }
    Ok(stats)
}

type Committed = (Store, Result<Vec<proto::CommitInfo>>, Vec<EventBatch>);

/// One retry covers transient failures (a busy checkpoint); a full disk or read-only file
/// fails twice and is reported.
fn commit_with_retry(mut store: Store, group: Vec<EventBatch>) -> Committed {
    let refs: Vec<&EventBatch> = group.iter().collect();
    let mut result = store.append(&refs);
    if result.is_err() {
        std::thread::sleep(Duration::from_millis(100));
        result = store.append(&refs);
    }
    drop(refs);
    (store, result, group)
}
