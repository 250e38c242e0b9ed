//! The reviewer UI's own database, `data_dir/access.db`: users, sessions and the access log.
//!
//! It is a SQLite file of its own, beside the archive and never on the archive writer's path:
//! logging a reviewer's search must not wait behind (or slow down) a group commit, and the
//! archive's `verify` must stay a statement about archived messages only. The access log has
//! its own hash chain (`log.rs`), checked by [`AccessDb::verify_log`].
//!
//! - `schema.rs`: DDL, the file marker, append-only triggers;
//! - `scope.rs`: [`Scope`] (`platform:X`, `chat:PLATFORM/CHAT`) and [`Role`];
//! - `users.rs`: users with password hashes as given (the UI layer hashes with argon2id);
//! - `sessions.rs`: sessions by the sha256 of their token, idle expiry;
//! - `log.rs`: the append-only, hash-chained access log;
//! - `error.rs`: [`AccessError`].

mod error;
mod log;
mod schema;
mod scope;
mod sessions;
#[cfg(test)]
mod tests;
mod users;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

pub use error::AccessError;
pub use log::{AccessEntry, AccessFilter, LogReport, NewAccess, Outcome};
pub use scope::{Role, Scope};
pub use sessions::Session;
pub use users::User;

/// File name of the access database inside the data directory.
pub const ACCESS_DB_FILE: &str = "access.db";

/// Result alias for this module.
pub type AccessResult<T> = std::result::Result<T, AccessError>;

/// An open access database (one connection; callers share it behind a lock).
pub struct AccessDb {
    pub(crate) conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for AccessDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessDb").field("path", &self.path).finish()
    }
}

impl AccessDb {
    /// Opens `data_dir/access.db`, creating it (owner-only, with its directory) if needed.
    pub fn open(data_dir: &Path) -> AccessResult<AccessDb> {
        fsutil::create_private_dir(data_dir).map_err(|e| AccessError::Io {
            context: format!("cannot create data directory `{}`", data_dir.display()),
            source: e,
        })?;
        let path = data_dir.join(ACCESS_DB_FILE);
        if !path.exists() {
            fsutil::create_private_file(&path).map_err(|e| AccessError::Io {
                context: format!("cannot create `{}`", path.display()),
                source: e,
            })?;
        }
        let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        schema::init(&conn, &path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        Ok(AccessDb { conn, path })
    }

    /// Opens the access database only if it exists (`verify` on an archive without a UI).
    pub fn open_existing(data_dir: &Path) -> AccessResult<Option<AccessDb>> {
        if data_dir.join(ACCESS_DB_FILE).exists() {
            Self::open(data_dir).map(Some)
        } else {
            Ok(None)
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
