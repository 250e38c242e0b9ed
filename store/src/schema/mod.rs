//! DDL and migrations. The version lives in `PRAGMA user_version`; the `meta` table marks the
//! file as a chatvault archive so a foreign SQLite file is refused instead of modified.
//!
//! Versions: 1 keyed `messages` by the identity hash and kept whole content hashes in
//! `dedup`; 2 (`v1_to_v2.rs`) keeps `messages` in arrival order and two integers per dedup
//! entry; 3 (`v2_to_v3.rs`) compresses raw payloads and event envelopes (`zdict` columns,
//! `dicts` table); 4 (`v3_to_v4.rs`) keeps each message's highest stream offset, its text
//! format, the markup as sent and per-user deletions in `messages`; 5 (`v4_to_v5.rs`) indexes
//! `messages` per chat in time order (the reviewer UI's chat timeline); 6 (`v5_to_v6.rs`)
//! stores new `messages` rows at their ordered key (`keys.rs`); 7 (`v6_to_v7.rs`) orders a
//! platform-numbered message's key by its number across the account's chats. Each migration is tested
//! against a fixture archive written by the version before it (`tests/migration.rs`).

mod v1_to_v2;
mod v2_to_v3;
mod v3_to_v4;
mod v4_to_v5;
mod v5_to_v6;
mod v6_to_v7;

use rusqlite::Connection;

use crate::{Result, StoreError};

/// Current schema version.
pub const VERSION: i64 = 7;

/// Value of `meta.app` in every chatvault database.
pub const APP_MARKER: &str = "chatvault";

/// The log tables. A new archive gets `LOG`, [`DICTS`], [`DEDUP`], [`MESSAGES`] and [`REST`].
/// Version 3 added the `zdict` columns (`compress.rs`), last, as `ALTER TABLE` adds them.
const LOG: &str = r#"
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
-- Payloads as received (after transport decryption), byte for byte once decompressed
-- (zdict: NULL = stored as is, 0 = zstd, n = zstd with dictionary n).
CREATE TABLE raw(
  id INTEGER PRIMARY KEY,
  platform TEXT NOT NULL,
  account TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  media_type TEXT NOT NULL,
  bytes BLOB NOT NULL,
  zdict INTEGER
);
-- The append-only event log. `payload` is the normalized event as stored (compressed as
-- raw.bytes is); every other column is derived from it (verify checks that).
-- hash = sha256(prev ‖ seq be64 ‖ payload ‖ sha256(raw.bytes)), over the uncompressed bytes.
CREATE TABLE events(
  seq INTEGER PRIMARY KEY,
  platform TEXT NOT NULL,
  account TEXT NOT NULL,
  chat_id TEXT NOT NULL,
  msg_id TEXT,
  kind TEXT NOT NULL,
  occurred_at INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  payload BLOB NOT NULL,
  raw_id INTEGER NOT NULL,
  mkey INTEGER,
  hash BLOB NOT NULL,
  zdict INTEGER
);
-- Non-message events per message (edits, withdrawals…): the fold reads them. Plain messages
-- stay out of this index, which keeps the common append cheap.
CREATE INDEX events_by_message ON events(mkey) WHERE mkey IS NOT NULL AND kind <> 'message';
"#;

/// Compression dictionaries (`compress.rs`), immutable once written.
const DICTS: &str = r#"
CREATE TABLE dicts(id INTEGER PRIMARY KEY, blob TEXT NOT NULL, platform TEXT NOT NULL, bytes BLOB NOT NULL);
"#;

/// The dedup table (rebuilt by the version 1 → 2 migration).
const DEDUP: &str = r#"
-- Dedup: k = first 8 bytes of the content hash, h = the next 8 bytes (a false duplicate needs a
-- 128-bit collision). Two integers per row keep this randomly ordered B-tree small enough to
-- stay in the page cache.
CREATE TABLE dedup(k INTEGER PRIMARY KEY, h INTEGER NOT NULL);
"#;

/// The `messages` projection and its indexes (rebuilt by the version 1 → 2 migration).
const MESSAGES: &str = r#"
-- Current state, one row per message identity, in arrival order (id), so appends and
-- time-ordered reads touch neighbouring pages. mkey = 64-bit hash of the identity (probed on
-- collision), looked up through the narrow messages_by_key index rather than keying the wide
-- rows by a random number. has_message = 0 while only edits/withdrawals of an unseen message exist.
CREATE TABLE messages(
  id INTEGER PRIMARY KEY,
  mkey INTEGER NOT NULL,
  platform TEXT NOT NULL,
  account TEXT NOT NULL,
  chat_id TEXT NOT NULL,
  msg_id TEXT NOT NULL,
  has_message INTEGER NOT NULL,
  msg_seq INTEGER,
  -- First 8 bytes of the content hash of the message event at msg_seq: its redeliveries are
  -- recognised here, with no dedup entry (see dedup.rs `is_duplicate`).
  msg_key INTEGER,
  chat_type TEXT,
  chat_name TEXT,
  external INTEGER,
  sender_id TEXT,
  sender_name TEXT,
  sent_at INTEGER,
  received_at INTEGER,
  content_type TEXT,
  text TEXT,
  attachments TEXT,
  reply_to TEXT,
  mentions TEXT,
  recipients TEXT,
  state TEXT,
  revision INTEGER,
  edited_at INTEGER,
  withdrawn_at INTEGER,
  withdrawn_by TEXT,
  deleted_at INTEGER,
  deleted_by TEXT,
  last_seq INTEGER NOT NULL
);
-- One row per mkey (dedup.rs `resolve` probes past collisions, so no UNIQUE is needed);
-- msg_key rides along so a redelivered message is recognised from the index alone.
CREATE INDEX messages_by_key ON messages(mkey, msg_key);
CREATE INDEX messages_by_last_seq ON messages(last_seq);
CREATE INDEX messages_by_time ON messages(platform, sent_at) WHERE has_message = 1;
CREATE INDEX messages_changed ON messages(sent_at) WHERE has_message = 1 AND (state <> 'active' OR revision > 0);
"#;

/// The rest of the schema, unchanged since version 1.
const REST: &str = r#"
-- Every text an edited message has had (unedited messages: the text is in `messages`).
CREATE TABLE revisions(
  mkey INTEGER NOT NULL,
  revision INTEGER NOT NULL,
  text TEXT NOT NULL,
  at INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY(mkey, revision)
) WITHOUT ROWID;
CREATE TABLE chats(
  platform TEXT NOT NULL,
  account TEXT NOT NULL,
  chat_id TEXT NOT NULL,
  name TEXT,
  chat_type TEXT,
  messages INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(platform, account, chat_id)
) WITHOUT ROWID;
CREATE TABLE members(
  platform TEXT NOT NULL,
  account TEXT NOT NULL,
  chat_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  name TEXT,
  present INTEGER NOT NULL,
  since_seq INTEGER NOT NULL,
  PRIMARY KEY(platform, account, chat_id, user_id)
) WITHOUT ROWID;
-- Payloads that could not be decoded or failed a check, with the reason.
CREATE TABLE rejects(
  id INTEGER PRIMARY KEY,
  platform TEXT NOT NULL,
  account TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  reason TEXT NOT NULL,
  media_type TEXT NOT NULL,
  bytes BLOB NOT NULL
);
CREATE TABLE cursors(
  platform TEXT NOT NULL,
  account TEXT NOT NULL,
  cursor TEXT NOT NULL,
  updated_seq INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY(platform, account)
) WITHOUT ROWID;
"#;

/// Brings a writable database to [`VERSION`]. A non-empty database without the chatvault
/// marker is refused untouched. Each step runs in its own transaction: an interrupted
/// migration leaves the archive at the last completed version.
pub fn migrate(conn: &mut Connection, path: &std::path::Path) -> Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > VERSION {
        return Err(StoreError::TooNew {
            found: version,
            supported: VERSION,
        });
    }
    if version == 0 {
        let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
        if tables > 0 {
            return Err(StoreError::Foreign {
                path: path.to_path_buf(),
                reason: format!("it already holds {tables} schema objects and no chatvault schema version"),
            });
        }
        let tx = conn.transaction()?;
        for ddl in [LOG, DICTS, DEDUP, MESSAGES, REST, v3_to_v4::DDL, v4_to_v5::DDL] {
            tx.execute_batch(ddl)?;
        }
        tx.execute("INSERT INTO meta(key, value) VALUES ('app', ?1)", [APP_MARKER])?;
        tx.execute(
            "INSERT INTO meta(key, value) VALUES ('created_at', ?1)",
            [proto::time::now_ms().to_string()],
        )?;
        tx.pragma_update(None, "user_version", VERSION)?;
        tx.commit()?;
        return check_marker(conn, path);
    }
    check_marker(conn, path)?;
    if version == 1 {
        v1_to_v2::migrate(conn)?;
    }
    if version <= 2 {
        v2_to_v3::migrate(conn)?;
    }
    if version <= 3 {
        v3_to_v4::migrate(conn)?;
    }
    if version <= 4 {
        v4_to_v5::migrate(conn)?;
    }
    if version <= 5 {
        v5_to_v6::migrate(conn)?;
    }
    if version <= 6 {
        v6_to_v7::migrate(conn)?;
    }
    // An interrupted compression of a version 2 archive goes on where it stopped.
    v2_to_v3::finish(conn)
}

/// A migration that changes where new rows go and rewrites none: if the archive holds
/// messages, `meta` gets `flag` (their readers then look where the rows are), with the move to
/// `version` in one transaction. Instant at any size.
fn mark_if_held(conn: &mut Connection, flag: &str, version: i64) -> Result<()> {
    let tx = conn.transaction()?;
    let held: bool = tx.query_row("SELECT EXISTS(SELECT 1 FROM messages)", [], |r| r.get(0))?;
    if held {
        tx.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?1, '1')", [flag])?;
    }
    tx.pragma_update(None, "user_version", version)?;
    tx.commit()?;
    Ok(())
}

/// A migration that only runs `ddl`: applied with the move to `version` in one transaction.
fn apply_ddl(conn: &mut Connection, ddl: &str, version: i64) -> Result<()> {
    let tx = conn.transaction()?;
    tx.execute_batch(ddl)?;
    tx.pragma_update(None, "user_version", version)?;
    tx.commit()?;
    Ok(())
}

/// Checks that the database is a chatvault archive.
pub fn check_marker(conn: &Connection, path: &std::path::Path) -> Result<()> {
    let app: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'app'", [], |r| r.get(0))
        .ok();
    if app.as_deref() != Some(APP_MARKER) {
        return Err(StoreError::Foreign {
            path: path.to_path_buf(),
            reason: "no chatvault marker".into(),
        });
    }
    Ok(())
}
