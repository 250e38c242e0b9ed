//! Small filesystem helpers shared by the crates that own files in the data directory.
//!
//! - [`PidLock`]: an OS file lock that records its holder's pid, so a second process can say
//!   who holds it, and a crash never leaves a stale lock (the kernel releases it).
//! - [`create_private_dir`], [`create_private_file`], [`private_open_options`]: directories
//!   0700 and files 0600 on Unix, because the archive holds every message of a company.
//!
//! No dependencies beyond `std`, so any crate (including `proto`-level ones) can use it
//! without pulling anything else into its build.

mod lock;
mod private;

pub use lock::PidLock;
pub use private::{create_private_dir, create_private_file, private_open_options};
