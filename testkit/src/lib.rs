//! Test support: builders for the events, payloads and batches a connector would send, so
//! every test suite describes its archive in the same few words.
//!
//! Dev-only (no production crate depends on it). It depends on `proto` (plus SQLite and zstd
//! for `tamper`, tempfile for the SeaweedFS server of the lake tests, sha2 for the blob store
//! of `ui`), never on `store` or any crate above it: a crate's own tests could not use a
//! testkit that depends on that crate (they would see two copies of its types).

pub mod events;
pub mod farm;
pub mod lock;
pub mod seaweed;
pub mod tamper;
pub mod ui;

pub use events::*;
