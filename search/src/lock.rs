//! The index writer lock: one process writes the index at a time (`run`'s indexer, a
//! `search` catching up the tail, or `reindex`), and the others can say which process holds
//! it.
//!
//! `data_dir/index.lock` is locked with an OS file lock (released by the kernel when the
//! holder dies, so a crash never leaves a stale lock) and holds the holder's pid. It lives
//! beside the index directory, not in it, so `reindex` can replace a corrupt index while
//! holding it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::SearchError;

/// File name of the lock in the data directory.
pub const LOCK_FILE: &str = "index.lock";

/// A held writer lock; released on drop.
#[derive(Debug)]
pub struct WriterLock {
    file: File,
    path: PathBuf,
}

impl WriterLock {
    /// Takes the lock without waiting. `Ok(None)` when another process holds it.
    pub fn try_acquire(data_dir: &Path) -> Result<Option<WriterLock>, SearchError> {
        let path = data_dir.join(LOCK_FILE);
        let io = |source| SearchError::Io {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Ok(None),
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        write!(file, "{}", std::process::id()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(Some(WriterLock { file, path }))
    }

    /// Takes the lock or fails naming the process that holds it.
    pub fn acquire(data_dir: &Path) -> Result<WriterLock, SearchError> {
        match Self::try_acquire(data_dir)? {
            Some(l) => Ok(l),
            None => Err(SearchError::Locked { pid: holder(data_dir) }),
        }
    }

    /// Where the lock file is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for WriterLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

/// The pid written by the current holder, if readable.
pub fn holder(data_dir: &Path) -> Option<u32> {
    let mut s = String::new();
    File::open(data_dir.join(LOCK_FILE)).ok()?.read_to_string(&mut s).ok()?;
    s.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_with_the_pid() {
        let dir = tempfile::tempdir().unwrap();
        let held = WriterLock::acquire(dir.path()).unwrap();
        // A second open file description conflicts with the first, even in one process.
        let e = WriterLock::acquire(dir.path()).unwrap_err();
        match e {
            SearchError::Locked { pid } => assert_eq!(pid, Some(std::process::id())),
            other => panic!("unexpected {other}"),
        }
        drop(held);
        assert!(WriterLock::try_acquire(dir.path()).unwrap().is_some());
    }
}
