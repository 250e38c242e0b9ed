//! Schema version 5 → 6: ordered row keys (`keys.rs`). A new `messages` row is stored at its
//! ordered key, which keeps a chat's messages together in `messages_by_key`, where version 5
//! stored it at its identity hash.
//!
//! Nothing is rewritten: a row keeps the key it was stored under, which its events and
//! revisions name too. An archive that held messages is marked instead
//! ([`crate::keys::HASH_KEYED_ROWS`]), so that a lookup whose ordered key is free goes on to
//! the identity hash, where those rows are ([`crate::keys::KeyScheme::Mixed`]): one more
//! index lookup for each new message, and no page written for it. Cost of the step: one
//! `meta` row; instant at any size.

use rusqlite::Connection;

use crate::Result;
use crate::keys::HASH_KEYED_ROWS;

pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction()?;
    let held: bool = tx.query_row("SELECT EXISTS(SELECT 1 FROM messages)", [], |r| r.get(0))?;
    if held {
        tx.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, '1')",
            [HASH_KEYED_ROWS],
        )?;
    }
    tx.pragma_update(None, "user_version", 6)?;
    tx.commit()?;
    Ok(())
}
