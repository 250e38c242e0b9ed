//! `chatvault.toml` → typed, validated configuration.
//!
//! [`load`] reads one file, expands `${ENV}` references, parses it and validates it; every
//! error names the file, the line, the field and the valid choices. Secrets are held in
//! [`Secret`], whose `Debug` and `Display` print `***`. This crate opens no file other than
//! the config and no socket.
//!
//! # Layout
//! - [`model`] holds the config structs, one per section / connector kind.
//! - [`secret`]: the [`Secret`] type.
//! - [`alerts`]: `[alerts]` (the outage webhook).
//! - `load`: reading, parsing, turning problems into [`ConfigError`]s with lines.
//! - `env`: `${ENV}` expansion inside string values.
//! - `validate`: checks serde cannot express (unique names and paths, URLs, key lengths).
//! - [`wecom_archive`]: the `[[wecom_archive]]` section (会话存档) and its durations.
//! - `locate`: lines of fields, fields of lines.
//! - `error`: [`ConfigError`].

pub mod alerts;
mod env;
mod error;
mod load;
mod locate;
pub mod model;
pub mod secret;
mod validate;
pub mod wecom_archive;

pub use alerts::AlertsConfig;
pub use error::ConfigError;
pub use load::{load, parse, parse_with_env};
pub use locate::field_line;
pub use model::*;
pub use secret::Secret;
pub use wecom_archive::{PrivateKeyConfig, WecomArchiveConfig};
