//! Schema version 6 → 7: a message whose id is the platform's number is stored at a row key
//! ordered by that number across the account's chats (`keys.rs`, [`RowKeys::by_number`]), where
//! version 6 ordered it within its chat. A commit of a catch-up then appends to one run of
//! `messages_by_key` instead of touching a page for each chat it holds.
//!
//! Nothing is rewritten: a row keeps the key it was stored under, which its events and
//! revisions name too. An archive that held messages is marked instead
//! ([`crate::keys::CHAT_KEYED_ROWS`]) and keeps computing its first key the version 6 way for
//! good ([`crate::keys::KeyScheme::ByChat`]): no extra lookup, and only new archives get the
//! new order. Cost of the step: one `meta` row; instant at any size.
//!
//! [`RowKeys::by_number`]: crate::keys::RowKeys::by_number

use rusqlite::Connection;

use crate::Result;
use crate::keys::CHAT_KEYED_ROWS;

pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
    super::mark_if_held(conn, CHAT_KEYED_ROWS, 7)
}
