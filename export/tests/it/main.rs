//! Export tests against real archives built with the store.

mod common;
mod failures;
mod incremental;
mod python;
mod roundtrip;
