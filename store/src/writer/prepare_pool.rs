//! The writer's prepare stage on threads of its own.
//!
//! Preparing (envelopes, hashes, compression, the early lookup of stored messages:
//! [`Prepared`]) runs beside the commit and off the runtime thread that receives batches and
//! fires notices. Two
//! threads at most, taking batches from one queue: under new messages the commit is the slow
//! stage and they mostly wait; under a replay the lookups are the slow stage and two of them
//! use the core the idle commit leaves (measured on two cores, replays of 100k stored events
//! into a 1M archive: 154k–212k events/s in nine runs with two, 135k–191k in nine with one). Not one thread per batch: dozens of
//! preparing threads made the commit thread — the sequential part — wait for a core.

use std::path::Path;
use std::sync::Arc;

use proto::EventBatch;
use tokio::sync::oneshot;

use crate::checkpoint::RestartFlag;
use crate::compress::Codebook;
use crate::dedup::StoredProbe;
use crate::{Prepared, Result, StoreError};

/// A batch back from a preparing thread with its prepared parts.
pub(super) type Done = (EventBatch, Result<Prepared>);

pub(super) struct PreparePool {
    tx: std::sync::mpsc::SyncSender<(EventBatch, oneshot::Sender<Done>)>,
}

impl PreparePool {
    /// `capacity`: the most batches the writer has submitted and not yet collected, so
    /// [`PreparePool::submit`] never blocks. `data_dir`: the archive, read to recognise stored
    /// messages early ([`StoredProbe`]). `book`: the writer's compression dictionaries.
    /// `restart`: raised while the writer restarts the WAL, when no thread starts a read.
    pub fn start(capacity: usize, data_dir: &Path, book: Arc<Codebook>, restart: RestartFlag) -> Result<PreparePool> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(EventBatch, oneshot::Sender<Done>)>(capacity);
        let rx = Arc::new(std::sync::Mutex::new(rx));
        for n in 0..threads() {
            // Without the probe every event is prepared in full and the commit decides: slower
            // for redeliveries, the same result.
            let mut stored = match StoredProbe::open(data_dir) {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::warn!(error = %e, "store: cannot read the archive ahead of the writer; redeliveries are checked at commit only");
                    None
                }
            };
            let rx = Arc::clone(&rx);
            let book = Arc::clone(&book);
            let restart = restart.clone();
            std::thread::Builder::new()
                .name(format!("chatvault-prepare-{n}"))
                .spawn(move || {
                    loop {
                        // One thread waits in `recv` holding the lock, the other for the lock.
                        let next = rx.lock().map(|rx| rx.recv());
                        let Ok(Ok((batch, reply))) = next else { break };
                        restart.wait_until_lowered();
                        let prepared = Prepared::new(&batch, &book, stored.as_mut());
                        let _ = reply.send((batch, prepared));
                    }
                })
                .map_err(|e| StoreError::io("cannot start the store's prepare thread", e))?;
        }
        Ok(PreparePool { tx })
    }

    /// Hands `batch` to the next free thread. Each batch has an answer of its own (the writer
    /// collects them in submission order). If the threads are gone the answer is an error
    /// (and the batch, dropped, reports nothing to its sender, so nothing of it is
    /// acknowledged).
    pub fn submit(&self, batch: EventBatch) -> oneshot::Receiver<Done> {
        let (reply, rx) = oneshot::channel();
        let _ = self.tx.send((batch, reply));
        rx
    }
}

/// Two preparing threads, or one on a single core.
fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(2))
}
