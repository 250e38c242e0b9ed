//! Export tests against real archives built with the store.

// The crate under the name the rest of the workspace uses.
extern crate chatvault_export as export;

mod common;
mod deltalake;
mod failures;
mod file_mode;
mod incremental;
mod lake;
mod python;
mod roundtrip;
mod seaweed;
mod server_down;
