//! Schema version 1 → 2.

use rusqlite::Connection;

use crate::{Result, StoreError};

/// Version 1 keyed `messages` rows by the random identity hash and kept the whole content hash
/// in `dedup`; version 2 keeps rows in arrival order and two integers per dedup entry. The
/// rows are copied, not recomputed, so `verify` holds before and after.
pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction()?;
    tx.execute_batch(
        "ALTER TABLE messages RENAME TO messages_v1;
         DROP INDEX messages_by_last_seq;
         DROP INDEX messages_by_time;
         DROP INDEX messages_changed;
         ALTER TABLE dedup RENAME TO dedup_v1;",
    )?;
    tx.execute_batch(super::DEDUP)?;
    tx.execute_batch(super::MESSAGES)?;
    let cols = "mkey, platform, account, chat_id, msg_id, has_message, msg_seq, chat_type, chat_name, external, \
                sender_id, sender_name, sent_at, received_at, content_type, text, attachments, reply_to, mentions, \
                recipients, state, revision, edited_at, withdrawn_at, withdrawn_by, deleted_at, deleted_by, last_seq";
    tx.execute(
        &format!("INSERT INTO messages({cols}) SELECT {cols} FROM messages_v1 ORDER BY coalesce(msg_seq, last_seq)"),
        [],
    )?;
    {
        let mut read = tx.prepare("SELECT k, h FROM dedup_v1")?;
        let mut write = tx.prepare("INSERT INTO dedup(k, h) VALUES (?1, ?2)")?;
        let mut rows = read.query([])?;
        while let Some(r) = rows.next()? {
            let k: i64 = r.get(0)?;
            let h: Vec<u8> = r.get(1)?;
            let h = crate::chain::to32(&h)
                .ok_or_else(|| StoreError::Corrupt(format!("dedup entry {k} holds a {}-byte hash", h.len())))?;
            write.execute([k, crate::keys::content_check(&h)])?;
        }
    }
    tx.execute_batch("DROP TABLE messages_v1; DROP TABLE dedup_v1;")?;
    tx.pragma_update(None, "user_version", 2)?;
    tx.commit()?;
    Ok(())
}
