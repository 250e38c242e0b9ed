//! [`ExportLock`]: one export at a time per export directory, whether started by
//! `chatvault export` or by the schedule inside `chatvault run`.
//!
//! An OS advisory lock (`flock` on Unix) on `<out>/.export.lock`: the kernel releases it when
//! the holder exits, even by a crash, so a stale lock file never blocks the next export.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{ExportError, Result};

/// File name of the lock in the export directory.
pub const LOCK_FILE: &str = ".export.lock";

/// Held for the duration of an export; released on drop.
#[derive(Debug)]
pub struct ExportLock {
    _file: File,
    path: PathBuf,
}

impl ExportLock {
    /// Takes the lock of `out_dir` (created if missing) or fails with
    /// [`ExportError::Locked`] at once if another export holds it.
    pub fn acquire(out_dir: &Path) -> Result<ExportLock> {
        std::fs::create_dir_all(out_dir).map_err(|e| ExportError::io(out_dir, e))?;
        let path = out_dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| ExportError::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(ExportError::Locked(out_dir.to_path_buf()));
            }
            Err(TryLockError::Error(e)) => return Err(ExportError::io(&path, e)),
        }
        // Who holds it, for an operator looking at the directory.
        let _ = file.set_len(0).and_then(|()| writeln!(file, "{}", std::process::id()));
        Ok(ExportLock { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = ExportLock::acquire(dir.path()).unwrap();
        let err = ExportLock::acquire(dir.path()).unwrap_err();
        assert!(matches!(err, ExportError::Locked(_)));
        assert!(err.to_string().contains("another export is running"), "{err}");
        drop(first);
        ExportLock::acquire(dir.path()).unwrap();
    }
}
