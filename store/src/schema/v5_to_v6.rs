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
    super::mark_if_held(conn, HASH_KEYED_ROWS, 6)
}
