//! The access database's tables. `PRAGMA application_id` marks the file as ours, so a wrong
//! `--data-dir` never gets tables added to someone else's database. Triggers make the log
//! append-only for every writer that goes through SQLite; the hash chain catches the rest.

use std::path::Path;

use rusqlite::Connection;

use super::{AccessError, AccessResult};

/// `CVAC` in ASCII.
const APPLICATION_ID: i64 = 0x4356_4143;
const VERSION: i64 = 1;

const DDL: &str = "
CREATE TABLE users (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    scopes TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL
);
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users(name),
    csrf TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions(user);
CREATE TABLE log (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    user TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL,
    outcome TEXT NOT NULL,
    hash BLOB NOT NULL
);
CREATE INDEX log_user_at ON log(user, at);
CREATE INDEX log_at ON log(at);
CREATE TRIGGER log_no_update BEFORE UPDATE ON log BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END;
CREATE TRIGGER log_no_delete BEFORE DELETE ON log BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END;
";

/// Creates the tables in an empty file, or checks that a non-empty one is ours.
pub(super) fn init(conn: &Connection, path: &Path) -> AccessResult<()> {
    let foreign = |_| AccessError::Foreign(path.to_path_buf());
    let app: i64 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(foreign)?;
    if app == APPLICATION_ID {
        let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if v > VERSION {
            return Err(AccessError::Invalid(format!(
                "`{}` is from a newer chatvault (version {v}, this one reads {VERSION})",
                path.display()
            )));
        }
        return Ok(());
    }
    let objects: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .map_err(foreign)?;
    if objects > 0 || app != 0 {
        return Err(AccessError::Foreign(path.to_path_buf()));
    }
    conn.execute_batch(&format!(
        "BEGIN IMMEDIATE; {DDL} PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {VERSION}; COMMIT;"
    ))?;
    Ok(())
}
