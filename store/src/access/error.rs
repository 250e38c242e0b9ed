//! [`AccessError`].

/// What went wrong with users, sessions or the access log.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// SQLite failed.
    #[error("access database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Filesystem failure.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not a chatvault access database; it was left untouched.
    #[error("`{0}` is not a chatvault access database; the file was left untouched")]
    Foreign(std::path::PathBuf),
    /// A user of that name exists already.
    #[error("user `{0}` exists already")]
    UserExists(String),
    /// No user of that name.
    #[error("no user `{0}`")]
    NoSuchUser(String),
    /// A user name, role or scope that cannot be used.
    #[error("{0}")]
    Invalid(String),
    /// Stored data does not decode.
    #[error("corrupt access database: {0}")]
    Corrupt(String),
}
