//! [`BenchError`].

/// Why a benchmark could not run to the end. The wrapped errors print as themselves, as the
/// components report them, so a failed run reads the same as in the command it measures.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The benchmark name is not one of them (a usage error).
    #[error("unknown benchmark `{0}` (valid: store, search, export, pipeline, stream, archive, ui)")]
    UnknownBenchmark(String),
    /// A file, a child process or the runtime failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A baseline's SQLite failed.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// The archive failed.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// A batch was not committed.
    #[error(transparent)]
    Commit(#[from] proto::CommitError),
    /// The index failed.
    #[error(transparent)]
    Search(#[from] search::SearchError),
    /// The export failed.
    #[error(transparent)]
    Export(#[from] export::ExportError),
    /// The pipeline failed to start or drain.
    #[error(transparent)]
    Pipeline(#[from] pipeline::PipelineError),
    /// The generated config was refused.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The reviewer UI could not be served.
    #[error(transparent)]
    Ui(#[from] ::ui::ServeError),
    /// A simulator did not start.
    #[error("simulator: {0}")]
    Simulator(Box<dyn std::error::Error + Send + Sync>),
    /// A blocking task of the harness panicked.
    #[error("benchmark task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    /// The measured run did not finish as it must (a step failed, a result is missing).
    #[error("{0}")]
    Failed(String),
}
