//! `audit`: messages that were edited, withdrawn or deleted (for everyone or for one user),
//! through the partial index that holds only those.

use rusqlite::params;

use super::StoreReader;
use super::rows::{RECORD_COLS, RECORD_COLS_LEN, record_from_row};
use crate::Result;
use crate::types::{AuditEntry, AuditFilter};

impl StoreReader {
    /// Changed messages matching `filter`, oldest first, streamed to `f`.
    pub fn audit(&self, filter: &AuditFilter, f: &mut dyn FnMut(AuditEntry) -> Result<()>) -> Result<()> {
        let any = !(filter.withdrawn || filter.edited || filter.deleted);
        let mut conds = Vec::new();
        if any || filter.withdrawn {
            conds.push("state = 'withdrawn' OR withdrawn_at IS NOT NULL");
        }
        if any || filter.edited {
            conds.push("revision > 0");
        }
        if any || filter.deleted {
            conds.push("state = 'deleted' OR deleted_for IS NOT NULL");
        }
        let sql = format!(
            "SELECT {RECORD_COLS}, mkey FROM messages INDEXED BY messages_changed
             WHERE has_message = 1 AND (state <> 'active' OR revision > 0 OR deleted_for IS NOT NULL) AND ({})
               AND (?1 IS NULL OR sent_at >= ?1) AND (?2 IS NULL OR sent_at < ?2) AND (?3 IS NULL OR platform = ?3)
             ORDER BY sent_at, id",
            conds.join(" OR ")
        );
        let mut st = self.conn.prepare(&sql)?;
        let mut rows = st.query(params![filter.since, filter.until, filter.platform.map(|p| p.as_str())])?;
        while let Some(r) = rows.next()? {
            let row_key: i64 = r.get(RECORD_COLS_LEN)?;
            let record = record_from_row(r)?;
            if let Some(chats) = &filter.chats
                && !chats
                    .iter()
                    .any(|(p, a, c)| *p == record.key.platform && *a == record.key.account && *c == record.key.chat_id)
            {
                continue;
            }
            let revisions = self.revisions_of(row_key)?;
            let original_text = revisions
                .first()
                .map(|r| r.text.clone())
                .unwrap_or_else(|| record.text.clone());
            f(AuditEntry {
                record,
                original_text,
                revisions,
            })?;
        }
        Ok(())
    }
}
