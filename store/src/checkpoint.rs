//! The WAL checkpointer: copies committed pages from the WAL into the database file on its own
//! thread and connection, so the writer's commit is only "append to the WAL, fsync".
//!
//! SQLite's automatic checkpoint runs inside the committing call, on the writer, and at scale
//! (random-order key indexes dirtying thousands of pages per transaction) it was half of the
//! writer's time. A passive checkpoint never blocks the writer; durability is unchanged, since a
//! transaction is durable once its WAL frames are fsynced. Commits nudge the thread, and it
//! copies at most once per [`CHECKPOINT_INTERVAL`], for every commit since its last copy.
//!
//! A passive checkpoint copies pages but never makes the WAL start over: only a restart does,
//! and a restart needs the write lock and every reader gone from the WAL. Once the WAL passes
//! [`WAL_LIMIT_PAGES`], this thread tries a restart after its passive checkpoint, off the
//! writer's path. Under a bulk load that try failed nearly every time: one transaction starts
//! as the last one ends, and the writer's own prepare threads read the WAL for the next batches.
//! (Under `bench pipeline`'s load, with checkpoints a second apart, about half of the tries
//! succeed: 7 of 12 and 7 of 17 in two 1M runs, with no restart left to the writer.)
//! The WAL then grew without end: 2.3 GB beside a 720 MB database after `bench store --n
//! 1000000`, and every page read that missed the WAL searched an index of all its frames. So
//! once the WAL holds [`WRITER_RESTART_FACTOR`] times the limit (as SQLite's WAL hook counted
//! it at the writer's last commit), the **writer** restarts it between two transactions
//! ([`Checkpointer::restart_if_due`]), with its prepare threads holding back their reads
//! ([`RestartFlag`]): it waits for a passive checkpoint in progress to end (up to
//! `CHECKPOINT_WAIT`) and for one copy of what the passive checkpoints have not copied yet,
//! and the WAL starts over. The writer pays for that copy, so it is the bound, not the
//! first resort: restarting at the limit itself made `bench pipeline --n 1000000` about 12 %
//! slower (docs/performance.md).
//!
//! A restart also waits for every reader to leave the WAL, so with a long reader (`verify`,
//! `export --full`, `backup` of a large archive) a patient restart would stall the writer for
//! as long as the reader runs. The restart therefore waits only [`RESTART_PATIENCE`] for
//! readers and, when it gives up, is not tried again for [`RESTART_BACKOFF`]: the writer waits
//! at most that long per attempt, and the WAL grows while the long reader runs (it cannot start
//! over under a reader's snapshot anyway).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::Result;

/// WAL size (pages) above which the checkpoint thread tries to restart the WAL (the writer
/// restarts it itself at [`WRITER_RESTART_FACTOR`] times this).
pub const WAL_LIMIT_PAGES: i64 = 65_536;

/// The writer restarts the WAL itself once it holds this many times [`WAL_LIMIT_PAGES`]: the
/// checkpoint thread's own restarts, tried from [`WAL_LIMIT_PAGES`] on, did not keep it there.
pub const WRITER_RESTART_FACTOR: i64 = 4;

/// How long a restart checkpoint waits for readers (holding the write lock) before it gives up.
pub const RESTART_PATIENCE: Duration = Duration::from_millis(50);

/// How long a restart waits for a passive checkpoint in progress on this thread to finish
/// (SQLite lets one checkpoint run at a time and does not wait for another).
const CHECKPOINT_WAIT: Duration = Duration::from_secs(5);

/// How long after a restart gave up the next one is tried.
pub const RESTART_BACKOFF: Duration = Duration::from_secs(1);

/// Normal checkpoints wait this long for the write lock (a commit in progress).
const PATIENCE: Duration = Duration::from_secs(30);

/// Passive checkpoints are at least this far apart; the commits of the interval are copied
/// together. Each checkpoint copies every page the WAL holds a newer version of and fsyncs
/// the database file, and the random-order key indexes dirty the same pages commit after
/// commit: one copy per commit (the checkpoint thread's earlier rhythm) copied them again
/// each time. With 1 s, `bench pipeline` spent 1.7–2.6 µs of checkpoint CPU per message at 1M
/// instead of 4.0–5.3 (docs/performance.md). Durability does not depend on it: a
/// transaction is durable once its WAL frames are fsynced, and readers read the WAL.
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// A running checkpointer; dropping it runs a last checkpoint and joins the thread.
pub(crate) struct Checkpointer {
    nudge: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
    limit: Arc<AtomicI64>,
    /// Pages in the WAL after the writer's last commit (SQLite's WAL hook counts them).
    wal_pages: Arc<AtomicI64>,
    /// Set while the writer restarts the WAL: this thread starts no passive checkpoint and
    /// the prepare threads start no read (see [`RestartFlag`]) meanwhile, or they could hold
    /// the checkpoint lock or the WAL again before every retry.
    restart_wanted: RestartFlag,
    /// No restart is tried before this (set when one gave way to a reader).
    next_restart: Instant,
    /// Passive checkpoints run by the thread.
    done: Arc<AtomicU64>,
    /// WAL restarts the writer completed, and the time it spent in every attempt (its
    /// commits wait meanwhile).
    restarts: u64,
    restarting: Duration,
}

impl Checkpointer {
    /// Opens a second connection on `path` and starts the thread.
    pub(crate) fn start(path: &Path, synchronous_full: bool) -> Result<Checkpointer> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(PATIENCE)?;
        conn.pragma_update(None, "synchronous", if synchronous_full { "FULL" } else { "NORMAL" })?;
        let (nudge, rx) = sync_channel(1);
        let limit = Arc::new(AtomicI64::new(WAL_LIMIT_PAGES));
        let wal_pages = Arc::new(AtomicI64::new(0));
        let restart_wanted = RestartFlag::default();
        let done = Arc::new(AtomicU64::new(0));
        let thread = {
            let (limit, restart_wanted, done) = (Arc::clone(&limit), restart_wanted.clone(), Arc::clone(&done));
            std::thread::Builder::new()
                .name("chatvault-checkpoint".into())
                .spawn(move || run(conn, rx, &limit, &restart_wanted, &done))
                .map_err(|e| crate::StoreError::io("cannot start the WAL checkpoint thread", e))?
        };
        Ok(Checkpointer {
            nudge: Some(nudge),
            thread: Some(thread),
            limit,
            wal_pages,
            restart_wanted,
            next_restart: Instant::now(),
            done,
            restarts: 0,
            restarting: Duration::ZERO,
        })
    }

    /// What the prepare threads wait on before they read the archive.
    pub(crate) fn restart_flag(&self) -> RestartFlag {
        self.restart_wanted.clone()
    }

    /// Counts the WAL's pages after every commit of the writer's connection `conn`, for
    /// [`Checkpointer::restart_if_due`]. Replaces SQLite's automatic checkpoint, which the
    /// writer has turned off anyway.
    pub(crate) fn count_wal_pages_of(&self, conn: &mut Connection) -> Result<()> {
        let pages = Arc::clone(&self.wal_pages);
        conn.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, n: std::ffi::c_int| {
            pages.store(i64::from(n), Ordering::Relaxed);
            Ok(())
        }))?;
        Ok(())
    }

    /// Called by the writer between two transactions, on its own connection (`conn`, whose
    /// busy timeout is `busy` otherwise): restarts the WAL if it has outgrown the limit (see
    /// the module doc). Never fails the writer: a restart that cannot finish is tried again
    /// later, and the WAL keeps growing meanwhile.
    pub(crate) fn restart_if_due(&mut self, conn: &Connection, busy: Duration) {
        let hard = self.limit.load(Ordering::Relaxed).saturating_mul(WRITER_RESTART_FACTOR);
        if self.wal_pages.load(Ordering::Relaxed) <= hard || Instant::now() < self.next_restart {
            return;
        }
        let started = Instant::now();
        self.restart_wanted.0.store(true, Ordering::Relaxed);
        let outcome = conn.busy_timeout(RESTART_PATIENCE).and_then(|()| {
            loop {
                match restart(conn)? {
                    Restart::CheckpointRunning if started.elapsed() < CHECKPOINT_WAIT => {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    other => break Ok(other),
                }
            }
        });
        self.restart_wanted.0.store(false, Ordering::Relaxed);
        if let Err(e) = conn.busy_timeout(busy) {
            tracing::warn!(error = %e, "could not reset the writer's busy timeout after a WAL restart");
        }
        self.restarting += started.elapsed();
        match outcome {
            Ok(Restart::Done) => {
                self.restarts += 1;
                self.wal_pages.store(0, Ordering::Relaxed);
            }
            Ok(_) => self.next_restart = Instant::now() + RESTART_BACKOFF,
            Err(e) => {
                self.next_restart = Instant::now() + RESTART_BACKOFF;
                tracing::debug!(error = %e, "WAL restart checkpoint gave way to a reader; retrying later");
            }
        }
    }

    /// Sets the WAL size (pages) above which a restart checkpoint is tried.
    pub(crate) fn set_limit(&self, pages: i64) {
        self.limit.store(pages.max(1), Ordering::Relaxed);
    }

    /// Passive checkpoints run so far.
    pub(crate) fn checkpoints(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    /// WAL restarts the writer completed, and the time its attempts took (done or not).
    pub(crate) fn restarts(&self) -> (u64, Duration) {
        (self.restarts, self.restarting)
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

fn run(conn: Connection, rx: Receiver<()>, limit: &AtomicI64, restart_wanted: &RestartFlag, done: &AtomicU64) {
    let mut next_restart = Instant::now();
    // Far in the past: the first commit is copied at once.
    let mut last = Instant::now()
        .checked_sub(CHECKPOINT_INTERVAL)
        .unwrap_or_else(Instant::now);
    while rx.recv().is_ok() {
        if !gather_nudges(&rx, last + CHECKPOINT_INTERVAL) {
            break;
        }
        if restart_wanted.0.load(Ordering::Relaxed) {
            // The writer's restart copies everything; this nudge is covered by it.
            continue;
        }
        last = Instant::now();
        let passive = checkpoint(&conn, "PASSIVE");
        if passive.is_ok() {
            done.fetch_add(1, Ordering::Relaxed);
        }
        match passive {
            Ok(log) if log > limit.load(Ordering::Relaxed) && Instant::now() >= next_restart => {
                // Off the writer's path: it succeeds whenever the write lock and the WAL's
                // readers leave it a moment, and costs the writer nothing when it fails.
                let restarted = conn.busy_timeout(RESTART_PATIENCE).and_then(|()| restart(&conn));
                let _ = conn.busy_timeout(PATIENCE);
                if !matches!(restarted, Ok(Restart::Done)) {
                    next_restart = Instant::now() + RESTART_BACKOFF;
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

/// Waits until `due`, taking in the commits' nudges meanwhile; `false` if the writer is gone
/// (its last checkpoint is then the final one).
fn gather_nudges(rx: &Receiver<()>, due: Instant) -> bool {
    loop {
        match rx.recv_timeout(due.saturating_duration_since(Instant::now())) {
            Ok(()) => {}
            Err(RecvTimeoutError::Timeout) => return true,
            Err(RecvTimeoutError::Disconnected) => return false,
        }
    }
}

/// Runs a checkpoint of `mode`; returns the WAL size in pages.
fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<i64> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| r.get::<_, i64>(1))
}

/// Raised while the writer restarts the WAL. A restart waits for every reader to leave the
/// WAL, and under load the writer's own prepare threads read it almost all the time (each
/// batch's lookups of stored messages are one read transaction), so they start no new read
/// while it is raised; a long reader elsewhere still makes the restart give way.
#[derive(Clone, Default)]
pub(crate) struct RestartFlag(Arc<AtomicBool>);

impl RestartFlag {
    /// Waits while a restart is under way (for [`CHECKPOINT_WAIT`] at most).
    pub(crate) fn wait_until_lowered(&self) {
        let started = Instant::now();
        while self.0.load(Ordering::Relaxed) && started.elapsed() < CHECKPOINT_WAIT {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// What a restart checkpoint did.
#[derive(Debug, PartialEq, Eq)]
enum Restart {
    /// Every frame copied; the next transaction writes the WAL from its start.
    Done,
    /// A reader still uses the WAL (SQLite counted the WAL, then gave up waiting).
    Readers,
    /// Another checkpoint holds the checkpoint lock (SQLite reports the WAL as -1 pages).
    CheckpointRunning,
}

fn restart(conn: &Connection) -> rusqlite::Result<Restart> {
    let (busy, log): (i64, i64) =
        conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(match (busy, log) {
        (0, _) => Restart::Done,
        (_, -1) => Restart::CheckpointRunning,
        _ => Restart::Readers,
    })
}
