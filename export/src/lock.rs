//! [`ExportLock`]: one export at a time per export directory, whether started by
//! `chatvault export` or by the schedule inside `chatvault run`.
//!
//! An [`fsutil::PidLock`] on `<out>/.export.lock`: released by the kernel when the holder
//! exits, even by a crash, and holding the pid for an operator looking at the directory.

use std::path::Path;

use fsutil::PidLock;

use crate::error::{ExportError, Result};

/// File name of the lock in the export directory.
pub const LOCK_FILE: &str = ".export.lock";

/// Held for the duration of an export; released on drop.
#[derive(Debug)]
pub struct ExportLock(PidLock);

impl ExportLock {
    /// Takes the lock of `out_dir` (created if missing) or fails with
    /// [`ExportError::Locked`] at once if another export holds it.
    pub fn acquire(out_dir: &Path) -> Result<ExportLock> {
        std::fs::create_dir_all(out_dir).map_err(|e| ExportError::io(out_dir, e))?;
        let path = out_dir.join(LOCK_FILE);
        match PidLock::try_acquire(&path) {
            Ok(Some(held)) => Ok(ExportLock(held)),
            Ok(None) => Err(ExportError::Locked(out_dir.to_path_buf())),
            Err(e) => Err(ExportError::io(&path, e)),
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        self.0.path()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_until_the_first_is_dropped() {
        testkit::lock::assert_one_holder_at_a_time(ExportLock::acquire, |err| {
            assert!(matches!(err, ExportError::Locked(_)));
            assert!(err.to_string().contains("another export is running"), "{err}");
        });
    }
}
