//! Schema version 4 → 5: an index of `messages` per chat, in time order, for a chat's
//! timeline (the reviewer UI's conversation page, `reader/chat.rs`).
//!
//! Before it, a timeline was read through `messages_by_time (platform, sent_at)`: SQLite walked
//! the platform's messages from the requested time and looked each row up to keep the chat's,
//! so a page of a quiet chat on a busy platform read every message of that platform until it
//! had found a page's worth or reached the start (tens of milliseconds per 100,000 messages of
//! the platform; `chatvault bench ui` shows it). With `(platform, account, chat_id, sent_at)`
//! the page is one seek and as many index steps as it shows.
//!
//! Cost: on an empty archive the step is instant. On an existing one `CREATE INDEX` reads every
//! `messages` row once and sorts the keys (in the writer's open, inside the migration's
//! transaction, before `run` starts archiving): 2.1 s for the 1M-message `bench ui` archive
//! in a release build (`docs/performance.md`, "Reviewer UI"). The index then takes about 41
//! bytes per message on disk (41.2 MB at 1M; the chat id, account and platform repeated per
//! row) and one more B-tree insert per new message in the writer, at its chat's place in the
//! index: with many active chats those inserts are spread over the tree, which costs about
//! 16 % of the append rate in `bench store --n 1000000` (release; `docs/performance.md`).

use rusqlite::Connection;

use crate::Result;

/// The index of version 5, on top of version 4. A new archive runs it too, right after the
/// version 4 DDL.
pub(super) const DDL: &str = r#"
-- A chat's messages in time order (the rowid, last in every index, orders equal times as
-- `ORDER BY sent_at, id` does).
CREATE INDEX messages_by_chat ON messages(platform, account, chat_id, sent_at) WHERE has_message = 1;
"#;

pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
    super::apply_ddl(conn, DDL, 5)
}
