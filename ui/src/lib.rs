//! The reviewer web UI: search, conversations with every edit and withdrawal, message
//! history with its chain check, attachment downloads — behind local logins, per-user scopes
//! and an access log.
//!
//! Server-rendered HTML (maud) on axum, no JavaScript. It listens on an address of its own,
//! never on the platforms' callback port. Users, sessions and the access log are in
//! `data_dir/access.db` (`store::access`); the archive and the search index are only read.
//!
//! # Layout
//! - `state.rs`: [`UiOptions`] and the state every handler shares;
//! - `auth/`: `password.rs` (argon2id), `session.rs` (the cookie → a session or a refusal),
//!   `csrf.rs` (tokens on every state-changing form), `throttle.rs` (failed logins);
//! - `scope.rs`: a user's scopes turned into search filters and checks;
//! - `i18n.rs`: Chinese or English from `Accept-Language`;
//! - `page.rs`: the page frame, style and small HTML helpers; `errors.rs`: error pages;
//! - `routes/`: one file per page (`login`, `search`, `conversation`, `message`,
//!   `attachment`, `access_log`, `audit`, `status`; `bundle`: case bundles, built by the
//!   `bundle` crate); `routes/mod.rs` builds the router; `routes/record.rs` writes the
//!   access-log entries, `routes/filter.rs` parses the filters search and audit share;
//! - `blocking.rs`: every handler's work on the blocking pool, off the async runtime;
//! - `server.rs`: [`serve`], binding and shutdown, and the index follower of `chatvault serve`.

pub mod auth;
mod blocking;
mod errors;
mod i18n;
mod page;
mod routes;
mod scope;
mod server;
mod state;

pub use auth::password::{hash_password, verify_password};
pub use routes::router;
pub use server::{ServeError, serve};
pub use state::{AppState, UiOptions};
