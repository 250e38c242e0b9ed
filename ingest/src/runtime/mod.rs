//! The runtime every WebSocket connector (e-office, Goofish, Yunhu) runs on, one concept per
//! file:
//!
//! - [`supervisor`]: connect → session → backoff with jitter, with state reporting and the
//!   reconnect counter.
//! - [`window`]: batches in flight to the store and what each releases (acks, a resume
//!   position), released strictly in send order and only after a commit said `Ok`; bounded in
//!   batches and bytes.
//! - [`batch`]: gathering what is already readable into one batch, bounded by count, bytes
//!   and time.
//! - [`tuning`]: every timer and bound in one [`Tuning`] value, with platform defaults.
//!
//! A platform's `connector.rs` implements [`Session`] on top of its `transport.rs` and
//! `codec.rs`; nothing here knows a platform's wire format.

pub mod batch;
pub mod supervisor;
pub mod tuning;
pub mod window;

pub use batch::{Batch, BatchLimits};
pub use supervisor::{Exit, Link, Session, supervise};
pub use tuning::Tuning;
pub use window::{Window, WindowLimits};
