//! Test support: builders for the events, payloads and batches a connector would send, so
//! every test suite describes its archive in the same few words.
//!
//! Dev-only (no production crate depends on it). It depends on `proto` alone and never on
//! `store` or any crate above it: a crate's own tests could not use a testkit that depends
//! on that crate (they would see two copies of its types). `events.rs` uses nothing but
//! `proto` and `serde_json`, so a suite that cannot list this crate yet can include the file
//! itself with `#[path]`.

pub mod events;

pub use events::*;
