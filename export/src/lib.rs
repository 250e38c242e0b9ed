//! Parquet export of the archive: hive-partitioned snapshots that DuckDB, Spark, pandas,
//! Superset or Power BI read directly.
//!
//! ```text
//! <out>/messages/platform=<p>/date=<YYYY-MM-DD>/data.parquet      current state, one row per message
//! <out>/events/platform=<p>/date=<YYYY-MM-DD>/part-<from>-<to>.parquet   the event log, append only
//! <out>/_manifest.json                                              files, rows, sha256, seq watermark, chain head
//! ```
//!
//! Exports are incremental (only partitions touched since the manifest's `seq` are
//! rewritten, only new events are appended), atomic (temporary file, fsync, rename; the
//! manifest last), streaming (the archive is read in chunks, so memory does not grow with
//! it) and mutually exclusive (a lock file).
//!
//! # Layout
//! - [`run_export`] (`run.rs`): one export, start to finish.
//! - `messages_out.rs` / `events_out.rs`: the two tables' writers.
//! - [`schema`]: the Arrow schemas and Parquet settings, defined once.
//! - `columns.rs`: rows → Arrow record batches.
//! - `pipeline.rs`: reading on one thread, encoding on another.
//! - `partition.rs`: `(platform, local date)` partitions in the configured time zone.
//! - `atomic.rs`: files that appear complete or not at all; `lock.rs`: the export lock.
//! - [`Manifest`] (`manifest.rs`): `_manifest.json`.
//! - [`Schedule`] (`schedule.rs`): the `[export] schedule` cron expression.
//! - `lake/`: [`run_lake_export`], the export to S3-compatible object storage and as Delta
//!   Lake tables.
#![deny(missing_docs)]

mod atomic;
mod columns;
mod error;
mod events_out;
mod lake;
mod lock;
mod manifest;
mod messages_out;
mod parquet_out;
mod partition;
mod pipeline;
mod run;
mod schedule;
pub mod schema;

pub use error::{ExportError, Result};
pub use lake::{Credential, LakeFormat, LakeOptions, LakeSummary, LakeTarget, S3Settings, run_lake_export};
pub use lock::{ExportLock, LOCK_FILE};
pub use manifest::{FileEntry, MANIFEST_FILE, Manifest, ManifestHead};
pub use run::{DEFAULT_FILE_MODE, ExportOptions, ExportSummary, Progress, Stage, run_export};
pub use schedule::Schedule;
pub use schema::EXPORT_SCHEMA_VERSION;
