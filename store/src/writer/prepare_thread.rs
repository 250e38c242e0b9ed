//! The writer's prepare stage on a thread of its own.
//!
//! Preparing (envelopes, hashes: [`Prepared`]) runs beside the commit, one core each on a
//! two-core machine, and off the runtime thread that receives batches and fires notices.
//! One thread, not one per batch: with several preparing threads the commit thread — the
//! sequential part — had to take turns with them for a core and the store got slower
//! (measured on two cores).

use proto::EventBatch;
use tokio::sync::oneshot;

use crate::{Prepared, Result, StoreError};

/// A batch back from the thread with its prepared parts.
pub(super) type Done = (EventBatch, Result<Prepared>);

pub(super) struct PrepareThread {
    tx: std::sync::mpsc::SyncSender<(EventBatch, oneshot::Sender<Done>)>,
}

impl PrepareThread {
    /// `capacity`: the most batches the writer has submitted and not yet collected, so
    /// [`PrepareThread::submit`] never blocks.
    pub fn start(capacity: usize) -> Result<PrepareThread> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(EventBatch, oneshot::Sender<Done>)>(capacity);
        std::thread::Builder::new()
            .name("chatvault-prepare".into())
            .spawn(move || {
                for (batch, reply) in rx {
                    let prepared = Prepared::new(&batch);
                    let _ = reply.send((batch, prepared));
                }
            })
            .map_err(|e| StoreError::io("cannot start the store's prepare thread", e))?;
        Ok(PrepareThread { tx })
    }

    /// Hands `batch` to the thread; the answer comes in submission order. If the thread is
    /// gone the answer is an error (and the batch, dropped, reports nothing to its sender, so
    /// nothing of it is acknowledged).
    pub fn submit(&self, batch: EventBatch) -> oneshot::Receiver<Done> {
        let (reply, rx) = oneshot::channel();
        let _ = self.tx.send((batch, reply));
        rx
    }
}
