//! Schema version 3 → 4: columns of `messages` that the projection needs and version 3 lacked.
//!
//! - `stream_end`: the highest stream-chunk offset folded into a message's text (-1: none), so
//!   that a chunk that extends the text is appended to it instead of re-folding every earlier
//!   chunk (`project.rs`). NULL means "not known" (every row from before this version): the
//!   next event of such a message re-folds it and sets it.
//! - `text_format`, `source_text`, `deleted_for`: how the text was written, the markup as sent,
//!   and the users who removed a message from their own view only (JSON). The events already
//!   hold these values (they are fields of the stored JSON); the columns are their projection,
//!   so show, audit and export read them from the row like every other field instead of
//!   decoding each message's envelope. Every row written before holds plain text (the markup
//!   was not kept then) and no per-user deletion (they were recorded as deletions for
//!   everyone, which is what those events say), so NULL — read as `plain`, no markup, nobody —
//!   is the right value for them and no row is rewritten; `verify` refolds them to the same
//!   values.
//!
//! The `messages_changed` index also holds messages deleted for one user, so `audit` finds
//! them. `ALTER TABLE … ADD COLUMN` of a nullable column only changes the table's definition,
//! so the step takes the same time on any archive.

use rusqlite::Connection;

use crate::Result;

/// The columns and the index of version 4, on top of version 3's `messages`. A new archive
/// runs it too, right after the version 3 DDL.
pub(super) const DDL: &str = r#"
ALTER TABLE messages ADD COLUMN stream_end INTEGER;
-- NULL = plain (the common case stores nothing).
ALTER TABLE messages ADD COLUMN text_format TEXT;
ALTER TABLE messages ADD COLUMN source_text TEXT;
-- JSON list of {"user","at"}: deletions that removed the message for one user only.
ALTER TABLE messages ADD COLUMN deleted_for TEXT;
DROP INDEX messages_changed;
CREATE INDEX messages_changed ON messages(sent_at)
  WHERE has_message = 1 AND (state <> 'active' OR revision > 0 OR deleted_for IS NOT NULL);
"#;

pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
    super::apply_ddl(conn, DDL, 4)
}
