//! `backup`: a consistent copy of the database while the writer runs (SQLite online backup).

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::{DB_FILE, Result, StoreError};

/// Copies the archive in `data_dir` to the file `dest` page by page; the writer keeps
/// committing meanwhile (pages it changes are copied again). `progress(remaining, total)`.
pub fn backup(data_dir: &Path, dest: &Path, progress: &mut dyn FnMut(i32, i32)) -> Result<()> {
    // Refuse early (and clearly) rather than half-copying into a foreign file.
    if dest.exists() {
        return Err(StoreError::io(
            format!("backup destination `{}` already exists", dest.display()),
            std::io::Error::from(std::io::ErrorKind::AlreadyExists),
        ));
    }
    let reader = crate::StoreReader::open(data_dir)?;
    drop(reader);
    let src = Connection::open_with_flags(data_dir.join(DB_FILE), OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut dst = Connection::open(dest)?;
    {
        let b = rusqlite::backup::Backup::new(&src, &mut dst)?;
        use rusqlite::backup::StepResult;
        loop {
            let r = b.step(1024)?;
            let p = b.progress();
            progress(p.remaining, p.pagecount);
            match r {
                StepResult::Done => break,
                // The writer holds a lock or changed pages: back off briefly and go on.
                StepResult::More | StepResult::Busy | StepResult::Locked => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                _ => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    }
    // The copy is a standalone file: no WAL beside it.
    dst.pragma_update(None, "journal_mode", "DELETE")?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dest, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| StoreError::io(format!("cannot restrict `{}`", dest.display()), e))?;
    }
    Ok(())
}
