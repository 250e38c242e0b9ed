//! [`PipelineError`].

use std::path::PathBuf;

/// Why the pipeline could not start, or did not drain cleanly.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The archive could not be opened; nothing was started.
    #[error("cannot open the archive in `{dir}`")]
    OpenStore {
        /// The data directory.
        dir: PathBuf,
        /// Cause.
        source: store::StoreError,
    },
    /// Reading the connectors' cursors, or the writer's last commit, failed.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The callback server could not start (address in use, conflicting routes).
    #[error(transparent)]
    Server(#[from] ingest::server::ServerError),
    /// Another process writes this archive (`run`, or `rejects retry`).
    #[error("{0}")]
    Busy(#[from] crate::lock::Busy),
    /// The search indexer thread could not be started.
    #[error("cannot start the search indexer thread: {0}")]
    IndexerThread(std::io::Error),
}
