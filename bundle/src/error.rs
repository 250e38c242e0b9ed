//! [`BundleError`]: why a bundle could not be written or read at all. A bundle that reads but
//! does not check out is not an error: it is a [`crate::Problem`] in the report.

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Reading the archive failed.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// Writing or reading the file failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The zip layer failed while writing.
    #[error("writing the bundle: {0}")]
    Zip(#[from] zip::result::ZipError),
    /// A record could not be serialised (never expected: every type here serialises).
    #[error("serialising {what}: {source}")]
    Json {
        /// What.
        what: String,
        /// Cause.
        source: serde_json::Error,
    },
    /// A message asked for is not in the archive.
    #[error("no message {0} in the archive")]
    NoSuchMessage(String),
}
