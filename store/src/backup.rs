//! `backup`: a consistent copy of the database while the writer runs (SQLite online backup).
//!
//! The copy is made from one read snapshot, held for the whole copy: SQLite's backup restarts
//! from the first page whenever the source changes between two steps, which under a steady
//! writer (a commit every few milliseconds) means it never finishes; under a held snapshot
//! the source does not change for the copy, and the writer goes on (WAL). Copying in steps of
//! [`STEP_PAGES`] rather than in one call is what lets it show progress. (`VACUUM INTO` also
//! reads one snapshot, but rebuilds every table and index and reports nothing until done.)
//!
//! The destination is created 0600 before SQLite writes a byte to it, and the copy's head
//! must be an event of the source's chain (same seq, same hash) before the copy is reported.

use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::types::ChainHead;
use crate::{DB_FILE, Result, StoreError};

/// Pages copied per step (16 MiB of 4 KiB pages): progress a few times a second.
pub const STEP_PAGES: i32 = 4096;

/// Copies the archive in `data_dir` to the new file `dest` page by page while the writer keeps
/// committing; `progress(remaining, total)` after each step. Returns the copy's head, checked
/// to be on the source's chain.
pub fn backup(data_dir: &Path, dest: &Path, progress: &mut dyn FnMut(i32, i32)) -> Result<ChainHead> {
    // Refuses a foreign or missing archive with the reader's clear errors.
    drop(crate::StoreReader::open(data_dir)?);
    // Owner-only from its first byte; and never into an existing file.
    fsutil::create_private_file(dest)
        .map_err(|e| StoreError::io(format!("cannot create the backup destination `{}`", dest.display()), e))?;
    let copied = copy(data_dir, dest, progress);
    if copied.is_err() {
        let _ = std::fs::remove_file(dest);
    }
    copied
}

fn copy(data_dir: &Path, dest: &Path, progress: &mut dyn FnMut(i32, i32)) -> Result<ChainHead> {
    let src = Connection::open_with_flags(data_dir.join(DB_FILE), OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    src.busy_timeout(std::time::Duration::from_secs(10))?;
    let mut dst = Connection::open(dest)?;
    // The snapshot the whole copy is made from.
    src.execute_batch("BEGIN")?;
    src.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))?;
    {
        let b = rusqlite::backup::Backup::new(&src, &mut dst)?;
        loop {
            let r = b.step(STEP_PAGES)?;
            let p = b.progress();
            progress(p.remaining, p.pagecount);
            use rusqlite::backup::StepResult;
            match r {
                StepResult::Done => break,
                StepResult::More => {}
                // Only the destination can be busy (nobody else knows it): wait briefly.
                _ => std::thread::sleep(std::time::Duration::from_millis(5)),
            }
        }
    }
    src.execute_batch("COMMIT")?;
    // The copy is a standalone file: no WAL beside it.
    dst.pragma_update(None, "journal_mode", "DELETE")?;
    let head = read_head(&dst)?;
    drop(dst);
    // The copy's head must be an event of the source's chain, as the source holds it now.
    let at_source: Option<Vec<u8>> = src
        .query_row("SELECT hash FROM events WHERE seq = ?1", [head.seq as i64], |r| {
            r.get(0)
        })
        .optional()?;
    let on_chain = match &at_source {
        Some(h) => hex::encode(h) == head.hash,
        None => head.seq == 0,
    };
    if !on_chain {
        return Err(StoreError::Corrupt(format!(
            "the copy's head (seq {} {}) is not an event of the source's chain",
            head.seq, head.hash
        )));
    }
    Ok(head)
}

fn read_head(conn: &Connection) -> Result<ChainHead> {
    let row: Option<(i64, Vec<u8>)> = conn
        .query_row("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    Ok(match row {
        Some((seq, hash)) => ChainHead {
            seq: seq as u64,
            hash: hex::encode(hash),
        },
        None => ChainHead {
            seq: 0,
            hash: hex::encode(crate::chain::ZERO),
        },
    })
}
