//! The WAL checkpointer: copies committed pages from the WAL into the database file on its own
//! thread and connection, so the writer's commit is only "append to the WAL, fsync".
//!
//! SQLite's automatic checkpoint runs inside the committing call, on the writer, and at scale
//! (random-order key indexes dirtying thousands of pages per transaction) it was half of the
//! writer's time. A passive checkpoint never blocks the writer; durability is unchanged, since a
//! transaction is durable once its WAL frames are fsynced. If the WAL still outgrows
//! [`WAL_LIMIT_PAGES`] (the writer appending faster than pages are copied), a restart checkpoint
//! makes the writer wait for one full copy so the WAL starts over instead of growing without end.
//!
//! A restart holds the write lock while it waits for every reader to leave the WAL, so with a
//! long reader (`verify`, `export --full`, `backup` of a large archive) a patient restart would
//! lock the writer out until its commits fail with "database is locked". The restart therefore
//! waits only [`RESTART_PATIENCE`] for readers and, when it gives up, is not tried again for
//! [`RESTART_BACKOFF`]: the writer waits at most that long per attempt, and the WAL grows while
//! the long reader runs (it cannot start over under a reader's snapshot anyway).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::Result;

/// WAL size (pages) above which the checkpointer makes the writer wait for a full copy.
pub const WAL_LIMIT_PAGES: i64 = 65_536;

/// How long a restart checkpoint waits for readers (holding the write lock) before it gives up.
pub const RESTART_PATIENCE: Duration = Duration::from_millis(50);

/// How long after a restart gave up the next one is tried.
pub const RESTART_BACKOFF: Duration = Duration::from_secs(1);

/// Normal checkpoints wait this long for the write lock (a commit in progress).
const PATIENCE: Duration = Duration::from_secs(30);

/// A running checkpointer; dropping it runs a last checkpoint and joins the thread.
pub(crate) struct Checkpointer {
    nudge: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
    limit: Arc<AtomicI64>,
}

impl Checkpointer {
    /// Opens a second connection on `path` and starts the thread.
    pub(crate) fn start(path: &Path, synchronous_full: bool) -> Result<Checkpointer> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(PATIENCE)?;
        conn.pragma_update(None, "synchronous", if synchronous_full { "FULL" } else { "NORMAL" })?;
        let (nudge, rx) = sync_channel(1);
        let limit = Arc::new(AtomicI64::new(WAL_LIMIT_PAGES));
        let thread = {
            let limit = Arc::clone(&limit);
            std::thread::Builder::new()
                .name("chatvault-checkpoint".into())
                .spawn(move || run(conn, rx, &limit))
                .map_err(|e| crate::StoreError::io("cannot start the WAL checkpoint thread", e))?
        };
        Ok(Checkpointer {
            nudge: Some(nudge),
            thread: Some(thread),
            limit,
        })
    }

    /// Sets the WAL size (pages) above which a restart checkpoint is tried.
    pub(crate) fn set_limit(&self, pages: i64) {
        self.limit.store(pages.max(1), Ordering::Relaxed);
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

fn run(conn: Connection, rx: Receiver<()>, limit: &AtomicI64) {
    let mut next_restart = Instant::now();
    while rx.recv().is_ok() {
        match checkpoint(&conn, "PASSIVE") {
            Ok(log) if log > limit.load(Ordering::Relaxed) && Instant::now() >= next_restart => {
                let restarted = conn
                    .busy_timeout(RESTART_PATIENCE)
                    .and_then(|()| checkpoint_complete(&conn, "RESTART"));
                let _ = conn.busy_timeout(PATIENCE);
                match restarted {
                    Ok(true) => {}
                    // A reader is still on the WAL: let the writer go on and try later.
                    Ok(false) => next_restart = Instant::now() + RESTART_BACKOFF,
                    Err(e) => {
                        next_restart = Instant::now() + RESTART_BACKOFF;
                        tracing::debug!(error = %e, "WAL restart checkpoint gave way to a reader; retrying later");
                    }
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

/// Runs a checkpoint of `mode`; `false` if it could not finish (SQLite reports busy).
fn checkpoint_complete(conn: &Connection, mode: &str) -> rusqlite::Result<bool> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| r.get::<_, i64>(0))
        .map(|busy| busy == 0)
}
