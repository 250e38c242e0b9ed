//! `chatvault.toml` → typed, validated configuration.
//!
//! [`load`] reads one file, expands `${ENV}` references, parses it and validates it; every
//! error names the file, the line, the field and the valid choices. Secrets are held in
//! [`Secret`], whose `Debug` and `Display` print `***`. This crate opens no file other than
//! the config and no socket.
//!
//! # Layout
//! - [`model`]: the config structs, one per section / connector kind.
//! - [`secret`]: [`Secret`].
//! - `load`: reading, `${ENV}` expansion, parsing, validation.
//! - `error`: [`ConfigError`].

mod error;
mod load;
pub mod model;
pub mod secret;

pub use error::ConfigError;
pub use load::{load, parse};
pub use model::*;
pub use secret::Secret;
