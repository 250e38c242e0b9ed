//! [`StoreError`].

use std::path::PathBuf;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed (disk full, read-only file, I/O error…).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Filesystem failure around the database.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not a chatvault database (or not SQLite at all); it was not modified.
    #[error("`{path}` is not a chatvault database ({reason}); the file was left untouched")]
    Foreign {
        /// File.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// No archive at the path.
    #[error("no archive at `{0}` (run `chatvault run` or `chatvault demo` first, or pass --data-dir)")]
    NotFound(PathBuf),
    /// The database is from a newer chatvault.
    #[error("database schema version {found} is newer than this chatvault supports ({supported})")]
    TooNew {
        /// Found version.
        found: i64,
        /// Supported version.
        supported: i64,
    },
    /// The store writer stopped (a panic in one of its threads, or a failure of its own);
    /// nothing more is archived by it.
    #[error("the store writer stopped: {0}")]
    WriterDied(String),
    /// Stored data does not decode.
    #[error("corrupt archive: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        StoreError::Io {
            context: context.into(),
            source,
        }
    }
}
