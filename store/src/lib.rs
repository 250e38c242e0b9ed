//! The archive's storage: the only crate that speaks SQL.
//!
//! One SQLite file (`data_dir/chatvault.db`, WAL, `synchronous=FULL` by default) holds the
//! append-only event log with its sha256 hash chain, the raw payloads, the rejects, the
//! connectors' cursors and the projections (`messages`, `revisions`, `chats`, `members`) that
//! are updated in the same transaction as the events they fold. Raw payloads and event
//! envelopes are stored zstd-compressed; the chain hashes their uncompressed bytes.
//!
//! # Layout
//! Writing, in the order an event goes through it:
//! - `writer/`: [`spawn_writer`], the task that drains the bounded channel, group-commits and
//!   fires each batch's commit notice after the commit; batches are prepared on threads of
//!   their own (`writer/prepare_pool.rs`) while the previous group commits.
//! - `prepare.rs`: [`Prepared`], each event's canonical envelope, hashes and compressed
//!   blobs, computed off the SQLite thread; `detail.rs` bounds the nesting of platform values
//!   there, whoever sent them.
//! - `append.rs`: [`Store`], the single writer: [`Store::append`] of many batches in one
//!   transaction (raw rows, events with their chain link, cursors).
//! - `dedup.rs`: the three steps that decide "already in the log?"; `keys.rs` names the keys
//!   they use (identity hash, row key, content hash / key / check).
//! - `project.rs`: the projections (`project_step.rs`: events at the end of a message's
//!   history applied to its row without a re-fold); `fold.rs`: the pure fold of a message's events into its
//!   current state, used by the projection and by `verify`.
//! - `compress.rs`: how blobs are stored (zstd, one trained dictionary per platform).
//! - `chain.rs`: the hash chain.
//! - `checkpoint.rs`: copies the WAL into the database on its own thread, off the commit path.
//! - `vfs.rs`: the writer's SQLite VFS, which hands each commit's WAL frames to the kernel in
//!   a few large writes; the crate's only `unsafe`.
//!
//! Opening and reading:
//! - `open.rs`: directory and file permissions, pragmas, refusing foreign files; [`StoreOptions`].
//! - `schema/`: DDL and migrations (`PRAGMA user_version`).
//! - `reader/`: [`StoreReader`], the read side for search, export and the CLI; many readers
//!   beside one writer (WAL). `verify.rs` recomputes the chain and re-folds every message;
//!   `backup.rs` copies the archive online; `anchors.rs` keeps the chain positions written
//!   down in the data directory, which `verify` checks.
//! - `access/`: the reviewer UI's own database (users, sessions, the hash-chained access
//!   log), a file of its own beside the archive.
//! - `types.rs`: rows and reports returned to callers; `error.rs`: [`StoreError`].
#![deny(missing_docs)]

pub mod access;
pub mod anchors;
mod append;
mod backup;
mod chain;
mod checkpoint;
mod compress;
mod dedup;
mod detail;
mod error;
mod fold;
mod keys;
mod open;
mod prepare;
mod project;
mod project_step;
mod reader;
mod schema;
mod types;
mod verify;
mod vfs;
mod writer;

pub use append::Store;
pub use backup::backup;
pub use chain::link as chain_link;
pub use checkpoint::CHECKPOINT_INTERVAL;
pub use detail::bounded as bounded_detail;
pub use error::StoreError;
pub use fold::{FoldInput, fold_message};
pub use open::{DB_FILE, StoreOptions};
pub use prepare::Prepared;
pub use reader::{EventCheck, EventRow, MessageRow, NamedChat, StoreReader};
pub use types::*;
pub use verify::Expectation;
pub use writer::{IndexGate, IndexProgress, WriterDeath, WriterHandle, WriterOptions, WriterStats, spawn_writer};

/// Result alias.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
