//! The WAL checkpointer: copies committed pages from the WAL into the database file on its own
//! thread and connection, so the writer's commit is only "append to the WAL, fsync".
//!
//! SQLite's automatic checkpoint runs inside the committing call, on the writer, and at scale
//! (random-order key indexes dirtying thousands of pages per transaction) it was half of the
//! writer's time. A passive checkpoint never blocks the writer; durability is unchanged, since a
//! transaction is durable once its WAL frames are fsynced. If the WAL still outgrows
//! [`WAL_LIMIT_PAGES`] (the writer appending faster than pages are copied), a restart checkpoint
//! makes the writer wait for one full copy so the WAL starts over instead of growing without end.

use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

use rusqlite::Connection;

use crate::Result;

/// WAL size (pages) above which the checkpointer makes the writer wait for a full copy.
pub const WAL_LIMIT_PAGES: i64 = 65_536;

/// A running checkpointer; dropping it runs a last checkpoint and joins the thread.
pub(crate) struct Checkpointer {
    nudge: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Opens a second connection on `path` and starts the thread.
    pub(crate) fn start(path: &Path, synchronous_full: bool) -> Result<Checkpointer> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.pragma_update(None, "synchronous", if synchronous_full { "FULL" } else { "NORMAL" })?;
        let (nudge, rx) = sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("chatvault-checkpoint".into())
            .spawn(move || run(conn, rx))
            .map_err(|e| crate::StoreError::io("cannot start the WAL checkpoint thread", e))?;
        Ok(Checkpointer {
            nudge: Some(nudge),
            thread: Some(thread),
        })
    }

    /// Asks for a checkpoint soon; never blocks (a pending request already covers this one).
    pub(crate) fn nudge(&self) {
        if let Some(tx) = &self.nudge {
            match tx.try_send(()) {
                Ok(()) | Err(TrySendError::Full(())) | Err(TrySendError::Disconnected(())) => {}
            }
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.nudge.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(conn: Connection, rx: Receiver<()>) {
    while rx.recv().is_ok() {
        match checkpoint(&conn, "PASSIVE") {
            Ok(log) if log > WAL_LIMIT_PAGES => {
                if let Err(e) = checkpoint(&conn, "RESTART") {
                    tracing::warn!(error = %e, "WAL restart checkpoint failed; retrying after the next commit");
                }
            }
            Ok(_) => {}
            // A failed checkpoint loses nothing (the pages stay in the WAL); it is retried
            // after the next commit.
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed; retrying after the next commit"),
        }
    }
    // The writer is gone: copy everything and truncate the WAL so the file is self-contained.
    // A reader still holding a snapshot must not hold up shutdown for long: what is not copied
    // now stays in the WAL and is copied on the next open.
    let _ = conn.busy_timeout(std::time::Duration::from_secs(2));
    if let Err(e) = checkpoint(&conn, "TRUNCATE") {
        tracing::warn!(error = %e, "final WAL checkpoint failed; the WAL is replayed on next open");
    }
}

/// Runs a checkpoint of `mode`; returns the WAL size in pages.
fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<i64> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| r.get::<_, i64>(1))
}
