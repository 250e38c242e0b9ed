//! One writing process per archive: `data_dir/writer.lock`, an [`fsutil::PidLock`] taken by
//! `run` (and `demo`, through the pipeline) and by `rejects retry`. The kernel drops it when
//! its holder exits, even by a crash, so a stale file never blocks anyone.

use std::path::{Path, PathBuf};

use fsutil::PidLock;

/// The lock file in a data directory.
pub const LOCK_FILE: &str = "writer.lock";

/// The held writer lock.
#[derive(Debug)]
pub struct WriterLock(#[allow(dead_code)] PidLock);

/// Someone else writes the archive.
#[derive(Debug, thiserror::Error)]
pub enum Busy {
    /// Held by another process.
    #[error(
        "another chatvault process{} is writing the archive in `{}`; stop it first (or let it do the work)",
        .pid.map(|p| format!(" (pid {p})")).unwrap_or_default(),
        .dir.display()
    )]
    Held {
        /// The holder's pid, when readable.
        pid: Option<u32>,
        /// The data directory.
        dir: PathBuf,
    },
    /// The lock file could not be opened.
    #[error("cannot take the writer lock in `{}`: {source}", .dir.display())]
    Io {
        /// The data directory.
        dir: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

impl WriterLock {
    /// Takes the lock without waiting (creating the data directory, owner-only, if needed).
    pub fn acquire(data_dir: &Path) -> Result<WriterLock, Busy> {
        let io = |source| Busy::Io {
            dir: data_dir.to_path_buf(),
            source,
        };
        if !data_dir.exists() {
            fsutil::create_private_dir(data_dir).map_err(io)?;
        }
        let path = data_dir.join(LOCK_FILE);
        match PidLock::try_acquire(&path).map_err(io)? {
            Some(l) => Ok(WriterLock(l)),
            None => Err(Busy::Held {
                pid: PidLock::holder(&path),
                dir: data_dir.to_path_buf(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_refused_with_the_holders_pid() {
        testkit::lock::assert_one_holder_at_a_time(WriterLock::acquire, |err| {
            assert!(
                err.to_string().contains(&format!("pid {}", std::process::id())),
                "{err}"
            );
        });
    }
}
