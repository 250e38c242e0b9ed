//! Connectors: from each platform's wire format to [`proto::EventBatch`]es.
//!
//! Every platform is a module with the same split: `codec.rs` (pure bytes → events, no I/O),
//! `transport.rs` (the socket or HTTP session), `connector.rs` (the loop that reads, decodes,
//! sends a batch, waits for its commit notice and only then acknowledges the platform).
//! Shared parts every connector uses, and none writes again:
//!
//! - [`Connector`], [`ConnectorContext`], [`EventSender`]: the trait and what a connector
//!   gets to run (bounded sender, resume cursor, shutdown token, state reporter, blob store).
//! - [`backoff::Backoff`]: reconnect delays (exponential, jitter, cap, reset after a healthy
//!   period, optional fixed first attempts).
//! - [`state::StateRegistry`]: per-connector state (connected, disconnected, auth failed,
//!   kicked), recorded as `connector_state` events and shown by `/healthz` and `stats`.
//! - [`blobs::BlobStore`]: content-addressed attachment storage, size-capped.
//! - [`detail::bounded`]: platform fields kept in events, nested no deeper than the store can
//!   read back.
//! - [`server`]: the shared HTTP callback server (routes per callback connector,
//!   body limits, `/healthz`, `/metrics`) and the durable spool of design §3.2.
//! - [`build`]: config → connector, one match.
//!
//! This crate never depends on `store`: the CLI wires the channel to the store writer.

pub mod backoff;
pub mod blobs;
mod build;
mod connector;
pub mod detail;
pub mod metrics;
pub mod server;
pub mod state;

pub mod eoffice;
pub mod goofish;
pub mod wecom;
pub mod worktool;
pub mod yunhu;

pub use build::build;
pub use connector::{Connector, ConnectorContext, ConnectorError, EventSender};
