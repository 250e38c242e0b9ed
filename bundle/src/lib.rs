//! Case bundles: the messages a reviewer selected, exported as one zip file that proves itself
//! offline — their current state, every event with the exact bytes the archive's hash chain
//! covers, their attachments, and a manifest with each file's sha256, each event's chain
//! position and the chain head when it was made (`chatvault verify-bundle` checks it).
//!
//! Zip, not tar: reviewers open bundles on their own machines, and every desktop opens a zip
//! without extra tools; its central directory lets the checker read the manifest first and
//! each file by name.
//!
//! # Layout
//! - `format.rs`: file names, [`Manifest`], [`EventLine`], [`MessageLine`];
//! - `write.rs`: [`write()`], one snapshot of the archive into a bundle;
//! - `check.rs`: [`check()`] / [`check_file`], the offline checker and what it proves, and
//!   [`sha256_of`], what a bundle file is known by;
//! - `json.rs`: a message's state as `show --json` renders it, shared by both;
//! - `error.rs`: [`BundleError`].
//!
//! The reviewer UI writes bundles and the CLI checks them; both use this crate, so the UI does
//! not depend on the CLI and the format lives in one place.

mod check;
mod error;
pub mod format;
pub mod json;
mod write;

pub use check::{Expected, Problem, Report, check, check_file, sha256_of};
pub use error::BundleError;
pub use format::{EventLine, Manifest, MessageLine, Position};
pub use write::{Request, Written, write};
