//! Connectors: from each platform's wire format to [`proto::EventBatch`]es.
//!
//! One folder per platform. The WebSocket platforms (`eoffice`, `goofish`, `yunhu`) share one
//! split: `codec.rs` (pure bytes → events, no I/O), `transport.rs` (the socket, its framing
//! and heartbeats), `connector.rs` (the platform's session on the shared [`runtime`]), plus
//! platform-only files (`api.rs`, `catchup.rs`, `backfill.rs`, `crypto.rs`, …). The callback
//! platforms (`wecom`, `worktool`) have `codec.rs` and a `receiver.rs` (the HTTP handler that
//! decodes, hands the batch to the store and answers only after its commit notice).
//!
//! Shared parts every connector uses, and none writes again:
//!
//! - [`Connector`], [`ConnectorContext`], [`EventSender`]: the trait and what a connector
//!   gets to run (bounded sender, resume cursor, shutdown token, state reporter, blob store).
//! - [`runtime`]: what the WebSocket connectors run on — the supervisor (connect → session →
//!   backoff), the in-flight window (acks released in order, only after commit), the batch
//!   gatherer and the one [`runtime::Tuning`].
//! - [`backoff::Backoff`]: reconnect delays (exponential, jitter, cap, reset after a healthy
//!   period, optional fixed first attempts).
//! - [`state::StateRegistry`]: per-connector state (connected, disconnected, auth failed,
//!   kicked), recorded as `connector_state` events and shown by `/healthz` and `stats`.
//! - [`blobs::BlobStore`]: content-addressed attachment storage, size-capped.
//! - [`refetch`]: attachments whose first download failed, retried with backoff and linked
//!   to their message by an `attachment_stored` event.
//! - [`server`]: the shared HTTP callback server (routes per callback connector,
//!   body limits, `/healthz`, `/metrics`) and the durable spool of design §3.2.
//! - [`build`]: config → connector, one match.
//!
//! This crate never depends on `store`: the CLI wires the channel to the store writer.

pub mod backoff;
pub mod blobs;
mod build;
mod connector;
pub mod metrics;
pub mod refetch;
pub mod runtime;
pub mod server;
pub mod state;

pub mod eoffice;
pub mod goofish;
pub mod wecom;
pub mod wecom_archive;
pub mod worktool;
pub mod yunhu;

pub use build::build;
pub use connector::{Connector, ConnectorContext, ConnectorError, EventSender};
