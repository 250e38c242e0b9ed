//! The index writer lock: one process writes the index at a time (`run`'s indexer, a
//! `search` catching up the tail, or `reindex`), and the others can say which process holds
//! it.
//!
//! `data_dir/index.lock` is an [`fsutil::PidLock`]. It lives beside the index directory, not
//! in it, so `reindex` can replace a corrupt index while holding it.

use std::path::Path;

use fsutil::PidLock;

use crate::SearchError;

/// File name of the lock in the data directory.
pub const LOCK_FILE: &str = "index.lock";

/// A held writer lock; released on drop.
#[derive(Debug)]
pub struct WriterLock(PidLock);

impl WriterLock {
    /// Takes the lock without waiting. `Ok(None)` when another process holds it.
    pub fn try_acquire(data_dir: &Path) -> Result<Option<WriterLock>, SearchError> {
        let path = data_dir.join(LOCK_FILE);
        match PidLock::try_acquire(&path) {
            Ok(held) => Ok(held.map(WriterLock)),
            Err(source) => Err(SearchError::Io { path, source }),
        }
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
        self.0.path()
    }
}

/// The pid written by the current holder, if readable.
pub fn holder(data_dir: &Path) -> Option<u32> {
    PidLock::holder(&data_dir.join(LOCK_FILE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_with_the_pid() {
        testkit::lock::assert_one_holder_at_a_time(WriterLock::acquire, |e| match e {
            SearchError::Locked { pid } => assert_eq!(pid, Some(std::process::id())),
            other => panic!("unexpected {other}"),
        });
    }
}
