//! [`PidLock`]: one holder at a time, and the others can say which process it is.
//!
//! An OS advisory lock (`flock` on Unix, `LockFileEx` on Windows) on a file that holds the
//! holder's pid. The kernel releases the lock when the holder exits, even by a crash, so a
//! stale file never blocks anyone: the file's existence means nothing, only the lock does.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// A held lock; released (and its pid cleared) on drop.
#[derive(Debug)]
pub struct PidLock {
    file: File,
    path: PathBuf,
}

impl PidLock {
    /// Takes the lock on `path` (created if missing; its directory must exist) without
    /// waiting and writes this process's pid into it. `Ok(None)` when someone else holds it —
    /// another process, or another open of the same file in this one.
    pub fn try_acquire(path: &Path) -> io::Result<Option<PidLock>> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Ok(None),
            Err(TryLockError::Error(e)) => return Err(e),
        }
        // Truncated only once held: the pid in the file is always the current holder's.
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        write!(file, "{}", std::process::id())?;
        file.flush()?;
        Ok(Some(PidLock {
            file,
            path: path.to_path_buf(),
        }))
    }

    /// The pid written by the holder of the lock on `path`, if there is one and it is readable.
    pub fn holder(path: &Path) -> Option<u32> {
        let mut s = String::new();
        File::open(path).ok()?.read_to_string(&mut s).ok()?;
        s.trim().parse().ok()
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PidLock {
    fn drop(&mut self) {
        // Cleared first, so nobody reads a pid that no longer holds the lock.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_and_can_name_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let held = PidLock::try_acquire(&path).unwrap().expect("free lock");
        assert_eq!(held.path(), path);
        // A second open file description conflicts with the first, even in one process.
        assert!(PidLock::try_acquire(&path).unwrap().is_none());
        assert_eq!(PidLock::holder(&path), Some(std::process::id()));
        drop(held);
        assert_eq!(PidLock::holder(&path), None, "the pid is cleared on release");
        assert!(PidLock::try_acquire(&path).unwrap().is_some());
    }

    #[test]
    fn a_missing_directory_is_an_error_not_a_refusal() {
        let dir = tempfile::tempdir().unwrap();
        assert!(PidLock::try_acquire(&dir.path().join("no/such/x.lock")).is_err());
    }
}
