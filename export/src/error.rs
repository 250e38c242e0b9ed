//! [`ExportError`]: everything that can stop an export. Each variant names the file or the
//! expression involved, so an operator can act on the message alone.

use std::path::PathBuf;

/// Why an export (or a schedule) failed. The previous export is left intact in every case.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The archive could not be read.
    #[error("cannot read the archive: {0}")]
    Store(#[from] store::StoreError),
    /// A file or directory of the export could not be written (unwritable dir, disk full…).
    #[error("cannot write `{path}`: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Parquet encoding failed.
    #[error("cannot encode `{path}` as Parquet: {source}")]
    Parquet {
        /// The file being written.
        path: PathBuf,
        /// Cause.
        source: parquet::errors::ParquetError,
    },
    /// Building Arrow columns failed (a bug rather than bad data: every field is mapped).
    #[error("cannot build Arrow columns: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// Another export (the CLI or the schedule inside `chatvault run`) holds the lock.
    #[error("another export is running on `{0}` (lock held); try again when it has finished")]
    Locked(PathBuf),
    /// The manifest of the previous export does not parse.
    #[error("the export manifest `{path}` is unreadable ({reason}); remove it or run `chatvault export --full`")]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A lake target is malformed or refused by configuration.
    #[error("invalid export target: {0}")]
    Target(String),
    /// The object store of a lake target failed (after its retries). Names the target and the
    /// object; never a credential.
    #[error("export to {target} failed: cannot {op} `{object}`: {reason}")]
    Remote {
        /// The target (`s3://bucket/prefix` or a folder).
        target: String,
        /// What was being done.
        op: String,
        /// The object, relative to the target.
        object: String,
        /// Why.
        reason: String,
    },
    /// Another writer committed the same Delta table version first.
    #[error(
        "export to {target}: another writer committed version {version} of the Delta table `{table}` first; run the export again"
    )]
    DeltaConflict {
        /// The target.
        target: String,
        /// `messages` or `events`.
        table: String,
        /// The version both wrote.
        version: u64,
    },
    /// A cron expression was refused.
    #[error("invalid export schedule `{expr}`: {reason}")]
    Schedule {
        /// The expression as configured.
        expr: String,
        /// Why.
        reason: String,
    },
}

impl ExportError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ExportError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn parquet(path: impl Into<PathBuf>, source: parquet::errors::ParquetError) -> Self {
        // The Parquet writer wraps I/O failures of its sink; surface them as I/O so that
        // "No space left on device" reads as a write failure, not an encoding one.
        match source {
            parquet::errors::ParquetError::External(inner) => match inner.downcast::<std::io::Error>() {
                Ok(io) => ExportError::Io {
                    path: path.into(),
                    source: *io,
                },
                Err(other) => ExportError::Parquet {
                    path: path.into(),
                    source: parquet::errors::ParquetError::External(other),
                },
            },
            source => ExportError::Parquet {
                path: path.into(),
                source,
            },
        }
    }
}

/// Result alias.
pub type Result<T, E = ExportError> = std::result::Result<T, E>;
