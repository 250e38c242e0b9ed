//! [`SearchError`].

use std::path::PathBuf;

/// What went wrong in search or indexing.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The query cannot be understood (unbalanced quote, dangling OR, nothing searchable).
    #[error("{0}")]
    Query(String),
    /// A filter value is not valid.
    #[error("{0}")]
    Filter(String),
    /// No index has been built yet.
    #[error("there is no search index in `{0}`; run `chatvault reindex` to build it")]
    Missing(PathBuf),
    /// The index cannot be read, or was built by another version or for another archive.
    #[error("the search index in `{path}` cannot be used ({reason}); run `chatvault reindex` to rebuild it")]
    Corrupt {
        /// Index directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Another process holds the index writer.
    #[error("the search index is being written by another chatvault process ({}); stop it first", match .pid { Some(p) => format!("pid {p}"), None => "pid unknown".to_string() })]
    Locked {
        /// The holder's pid, when it could be read.
        pid: Option<u32>,
    },
    /// The archive failed.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// tantivy failed.
    #[error("search index error: {0}")]
    Index(#[from] tantivy::TantivyError),
    /// A file operation failed.
    #[error("`{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

impl SearchError {
    /// Whether the error is the user's input (exit code 2).
    pub fn is_usage(&self) -> bool {
        matches!(self, SearchError::Query(_) | SearchError::Filter(_))
    }
}
