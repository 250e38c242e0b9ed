//! The canonical vocabulary of chatvault.
//!
//! Every connector in `ingest` turns its platform's wire format into the types of this crate,
//! the `store` writes them to the event log, and `search` and `export` read them back. Nothing
//! here does I/O.
//!
//! # Layout
//! - [`model`]: platforms, chat/content types, message states, the message as stored
//!   ([`MessageRecord`]) and its identity ([`MessageKey`]).
//! - [`event`]: [`ChatEvent`], one normalized thing that happened (a message, an edit, a
//!   withdrawal, a member joining, a connector losing its connection…).
//! - [`batch`]: the seam between ingest and store: [`EventBatch`], [`Ingested`],
//!   [`RawPayload`] and the commit notice.
//! - [`yunhu`]: the Yunhu protobuf schemas, compiled by prost without a system `protoc`.
//!
//! Serialized names are stable snake_case; [`SCHEMA_VERSION`] changes when a stored shape
//! changes incompatibly.
#![deny(missing_docs)]

#[macro_use]
mod macros;
pub mod batch;
pub mod event;
pub mod model;
pub mod time;
pub mod yunhu;

pub use batch::{CommitError, CommitInfo, CommitNotice, EventBatch, Ingested, RawPayload};
pub use event::{ChatEvent, ConnectorStatus, EventBody, EventKind};
pub use model::{
    AccountId, Attachment, ChatType, ContentType, DeleteScope, Identity, MessageKey, MessageRecord, MessageState,
    NewMessage, Platform, TextFormat, UserDeletion,
};
pub use time::TimestampMs;

/// Version of the canonical model as stored (event payload JSON and export schema).
pub const SCHEMA_VERSION: u32 = 1;

/// A connector's resume position: opaque JSON that only the connector interprets. The store
/// commits it in the same transaction as the events it covers.
pub type Cursor = serde_json::Value;
