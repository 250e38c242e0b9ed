//! The ingest crate's tests, one binary organised like the code: a module per platform
//! (codec golden files, the connector against its simulator), the shared runtime, the
//! callback server, and the "never panic" suites of every decoder. `support/` holds what
//! they share: the golden-file checker, `eventually`, the connector rig.

mod eoffice;
mod goofish;
mod never_panic;
mod runtime;
mod server;
mod server_limits;
mod state;
mod support;
mod wecom;
mod wecom_archive;
mod worktool;
mod yunhu;
