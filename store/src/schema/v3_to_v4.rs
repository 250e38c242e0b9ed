//! Schema version 3 → 4: `messages.stream_end`, the highest stream-chunk offset folded into a
//! message's text (-1: none), so that a chunk that extends the text is appended to it instead
//! of re-folding every earlier chunk (`project.rs`). NULL means "not known" (every row from
//! before this version): the next event of such a message re-folds it and sets it. Adding a
//! column rewrites no row, so the step is instant on any archive.

use rusqlite::Connection;

use crate::Result;

/// The columns version 4 adds (also run on a new archive).
pub(super) const COLUMNS: &str = "ALTER TABLE messages ADD COLUMN stream_end INTEGER;";

pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction()?;
    tx.execute_batch(COLUMNS)?;
    tx.pragma_update(None, "user_version", 4)?;
    tx.commit()?;
    Ok(())
}
