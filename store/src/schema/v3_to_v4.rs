//! Schema version 3 → 4: the `messages` projection learns three things the canonical model
//! gained — how the text was written (`text_format`), the markup as sent (`source_text`), and
//! the users who removed a message from their own view only (`deleted_for`, JSON) — and the
//! `messages_changed` index also holds messages deleted for one user, so `audit` finds them.
//!
//! The events already hold these values (they are fields of the stored JSON); the columns are
//! their projection, so show, audit and export read them from the row like every other field
//! instead of decoding each message's envelope. `ALTER TABLE … ADD COLUMN` of a nullable column
//! only changes the table's definition, so the step takes the same time on any archive. Every
//! row written before holds plain text (the markup was not kept then) and no per-user
//! deletion (they were recorded as deletions for everyone, which is what those events say),
//! so NULL — read as `plain`, no markup, nobody — is the right value for them and no row is
//! rewritten; `verify` refolds them to the same values.

use rusqlite::Connection;

use crate::Result;

/// The columns and the index of version 4, on top of version 3's `messages`. A new archive
/// runs it too, right after the version 3 DDL.
pub(super) const DDL: &str = r#"
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
    let tx = conn.transaction()?;
    tx.execute_batch(DDL)?;
    tx.pragma_update(None, "user_version", 4)?;
    tx.commit()?;
    Ok(())
}
