//! The contract every pid lock of the data directory keeps (one holder at a time, free again
//! once the holder lets go), checked the same way for each crate's wrapper of it.

use std::fmt::Debug;
use std::path::Path;

/// Takes the lock of a fresh directory with `acquire`, checks that a second taker is refused
/// (`refused` inspects that error), and that the lock can be taken again once the first holder
/// is dropped.
pub fn assert_one_holder_at_a_time<L: Debug, E: Debug>(
    acquire: impl Fn(&Path) -> Result<L, E>,
    refused: impl FnOnce(E),
) {
    let dir = tempfile::tempdir().unwrap();
    let first = acquire(dir.path()).expect("a free lock is taken");
    refused(acquire(dir.path()).expect_err("a held lock is refused"));
    drop(first);
    acquire(dir.path()).expect("a released lock is taken again");
}
