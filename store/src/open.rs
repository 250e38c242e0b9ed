//! Opening the archive file: the data directory and file permissions (0700 / 0600), refusing a
//! foreign or too-new file untouched, and the connection settings of the writer and of readers.
//!
//! Writer settings: WAL; `synchronous=FULL` unless told otherwise, and then the VFS of
//! `vfs.rs`, which gathers each commit's WAL frames into a few large writes; a page cache of
//! [`StoreOptions::cache_mib`] (the key indexes must stay cached for appends to stay fast); no
//! automatic checkpoint (`checkpoint.rs` copies the WAL on its own thread); 64 cached
//! statements. Readers: read-only, a 64 MiB page cache, the same 10 s busy timeout.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::{Result, StoreError, schema};

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "chatvault.db";

/// How the store opens the database.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `synchronous=FULL` (default): an acknowledged message survives power loss.
    /// `false` = NORMAL (survives a process crash, not a power cut).
    pub synchronous_full: bool,
    /// Page cache in MiB (the dedup and message keys must stay in cache for speed).
    pub cache_mib: u32,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            synchronous_full: true,
            cache_mib: 256,
        }
    }
}

/// How long the writer's connection waits for a lock (a checkpoint, a restart) before SQLite
/// reports the database busy.
pub(crate) const WRITER_BUSY: std::time::Duration = std::time::Duration::from_secs(10);

/// The writer's connection on `data_dir`'s archive, created (with its directory) if needed and
/// migrated to the current schema version. Returns the database path too.
pub(crate) fn open_writer(data_dir: &Path, opts: &StoreOptions) -> Result<(Connection, PathBuf)> {
    create_private_dir(data_dir)?;
    let path = data_dir.join(DB_FILE);
    if !path.exists() {
        create_private_file(&path)?;
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE;
    // Gathering the WAL's writes is sound only when every commit syncs (`vfs.rs`).
    let mut conn = if opts.synchronous_full {
        let vfs = crate::vfs::register().map_err(|code| {
            StoreError::io(
                "cannot register the writer's SQLite VFS",
                std::io::Error::other(format!("SQLite error code {code}")),
            )
        })?;
        Connection::open_with_flags_and_vfs(&path, flags, vfs)
    } else {
        Connection::open_with_flags(&path, flags)
    }
    .map_err(|e| foreign_or(e, &path))?;
    // Read before anything writes: a file that is not SQLite fails here, untouched.
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| foreign_or(e, &path))?;
    if version == 0 {
        let objects: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(|e| foreign_or(e, &path))?;
        if objects > 0 {
            return Err(StoreError::Foreign {
                path: path.clone(),
                reason: format!("it holds {objects} schema objects and no chatvault schema version"),
            });
        }
    } else {
        schema::check_marker(&conn, &path)?;
    }
    conn.busy_timeout(WRITER_BUSY)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(
        None,
        "synchronous",
        if opts.synchronous_full { "FULL" } else { "NORMAL" },
    )?;
    conn.pragma_update(None, "cache_size", -(i64::from(opts.cache_mib) * 1024))?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    conn.set_prepared_statement_cache_capacity(64);
    schema::migrate(&mut conn, &path)?;
    Ok((conn, path))
}

/// A read-only connection on `data_dir`'s archive.
pub(crate) fn open_reader(data_dir: &Path) -> Result<Connection> {
    let path = data_dir.join(DB_FILE);
    if !path.exists() {
        return Err(StoreError::NotFound(data_dir.to_path_buf()));
    }
    let conn = Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| foreign_or(e, &path))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| foreign_or(e, &path))?;
    if version == 0 {
        return Err(StoreError::Foreign {
            path,
            reason: "no chatvault schema version".into(),
        });
    }
    if version > schema::VERSION {
        return Err(StoreError::TooNew {
            found: version,
            supported: schema::VERSION,
        });
    }
    schema::check_marker(&conn, &path)?;
    conn.pragma_update(None, "cache_size", -65536)?;
    Ok(conn)
}

/// Maps "file is not a database" style errors to [`StoreError::Foreign`].
fn foreign_or(e: rusqlite::Error, path: &Path) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, _) = &e {
        if matches!(f.code, rusqlite::ErrorCode::NotADatabase) {
            return StoreError::Foreign {
                path: path.to_path_buf(),
                reason: "not an SQLite database".into(),
            };
        }
        if matches!(
            f.code,
            rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::PermissionDenied
        ) {
            return StoreError::io(
                format!("cannot open `{}`", path.display()),
                std::io::Error::other(e.to_string()),
            );
        }
    }
    StoreError::Sqlite(e)
}

fn create_private_dir(dir: &Path) -> Result<()> {
    fsutil::create_private_dir(dir)
        .map_err(|e| StoreError::io(format!("cannot create data directory `{}`", dir.display()), e))?;
    // Probe writability now, with a clear message, rather than at the first commit.
    let probe = dir.join(".chatvault-write-test");
    std::fs::write(&probe, b"")
        .and_then(|_| std::fs::remove_file(&probe))
        .map_err(|e| StoreError::io(format!("data directory `{}` is not writable", dir.display()), e))
}

fn create_private_file(path: &Path) -> Result<()> {
    fsutil::create_private_file(path).map_err(|e| StoreError::io(format!("cannot create `{}`", path.display()), e))?;
    Ok(())
}
