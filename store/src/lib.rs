//! The archive's storage: the only crate that speaks SQL.
//!
//! One SQLite file (`data_dir/chatvault.db`, WAL, `synchronous=FULL` by default) holds the
//! append-only event log with its sha256 hash chain, the raw payloads, the rejects, the
//! connectors' cursors and the projections (`messages`, `revisions`, `chats`, `members`) that
//! are updated in the same transaction as the events they fold.
//!
//! # Layout
//! - [`Store`] (`store.rs`): the single writer: open/migrate, [`Store::append`] of many batches
//!   in one transaction.
//! - `writer/`: [`spawn_writer`], the task that drains the bounded channel, group-commits
//!   and fires each batch's commit notice after the commit; batches are prepared on a thread
//!   of their own (`writer/prepare_pool.rs`) while the previous group commits.
//! - [`StoreReader`] (`reader.rs`): the read side for search, export and the CLI; many readers
//!   beside one writer (WAL).
//! - `fold.rs`: the pure fold of a message's events into its current state; the projection
//!   and `verify` both use it.
//! - `prepare.rs`: [`Prepared`], the per-event envelopes and hashes computed off the SQLite
//!   thread, and the early lookup that spares a stored message's redelivery that work.
//! - `checkpoint.rs`: copies the WAL into the database on its own thread, off the writer's
//!   commit path.
//! - `schema.rs`: DDL and migrations (`PRAGMA user_version`).
//! - `verify.rs`: recomputes the hash chain and re-folds every message.
//! - `types.rs`: rows and reports returned to callers.
#![deny(missing_docs)]

mod backup;
mod chain;
mod checkpoint;
mod error;
mod fold;
mod prepare;
mod queries;
mod reader;
mod schema;
mod store;
mod types;
mod verify;
mod writer;

pub use backup::backup;
pub use error::StoreError;
pub use fold::fold_message;
pub use prepare::Prepared;
pub use reader::{EventRow, MessageRow, StoreReader};
pub use store::{DB_FILE, Store, StoreOptions};
pub use types::*;
pub use writer::{WriterHandle, WriterOptions, WriterStats, spawn_writer};

/// Result alias.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
