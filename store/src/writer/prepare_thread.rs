//! The writer's prepare stage on a thread of its own.
//!
//! Preparing (envelopes, hashes: [`Prepared`]) runs beside the commit, one core each on a
//! two-core machine, and off the runtime thread that receives batches and fires notices.
//! One thread, not one per batch: with several preparing threads the commit thread — the
//! sequential part — had to take turns with them for a core and the store got slower
//! (measured on two cores).

use std::path::Path;

use proto::EventBatch;
use tokio::sync::oneshot;

use crate::prepare::StoredProbe;
use crate::{Prepared, Result, StoreError};

/// A batch back from the thread with its prepared parts.
pub(super) type Done = (EventBatch, Result<Prepared>);

pub(super) struct PrepareThread {
    tx: std::sync::mpsc::SyncSender<(EventBatch, oneshot::Sender<Done>)>,
}

impl PrepareThread {
    /// `capacity`: the most batches the writer has submitted and not yet collected, so
    /// [`PrepareThread::submit`] never blocks.
    /// `data_dir`: the archive, read to recognise stored messages early ([`StoredProbe`]).
    pub fn start(capacity: usize, data_dir: &Path) -> Result<PrepareThread> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(EventBatch, oneshot::Sender<Done>)>(capacity);
        // Without the probe every event is prepared in full and the commit decides: slower
        // for redeliveries, the same result.
        let mut stored = match StoredProbe::open(data_dir) {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::warn!(error = %e, "store: cannot read the archive ahead of the writer; redeliveries are checked at commit only");
                None
            }
        };
        std::thread::Builder::new()
            .name("chatvault-prepare".into())
            .spawn(move || {
                for (batch, reply) in rx {
                    let prepared = Prepared::checked(&batch, stored.as_mut());
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
