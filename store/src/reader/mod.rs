//! [`StoreReader`]: the read side (search, export, CLI). Opens its own read-only connection;
//! many readers work beside the one writer (WAL). Each file holds the queries of one subject,
//! with their SQL:
//!
//! - `rows.rs`: [`MessageRow`] / [`EventRow`] and how rows are mapped;
//! - `events.rs`: the log in seq order, its head, connector gaps;
//! - `messages.rs`: current state of messages, their revisions and full history (`show`);
//! - `audit.rs`: changed messages;
//! - `chat.rs`: a chat's timeline and one message's chain check (reviewer UI);
//! - `summary.rs`: chats, cursors, rejects, `stats`;
//! - `chat_names.rs`: chats by any name they were recorded under (`audit --chat`).
//!
//! `verify` is in `verify.rs`. Stored blobs are decompressed (`compress.rs`) before they are
//! handed out, with the dictionaries this connection has loaded so far.

mod audit;
mod chat;
mod chat_names;
mod events;
mod messages;
mod rows;
mod summary;
#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use crate::Result;
use crate::compress::Unpacker;
use crate::keys::KeyScheme;

pub use chat::EventCheck;
pub use chat_names::NamedChat;
pub use rows::{EventRow, MessageRow};
pub(crate) use rows::{RECORD_COLS, record_from_row, revisions_of};

/// A read-only view of the archive.
pub struct StoreReader {
    pub(crate) conn: rusqlite::Connection,
    pub(crate) unpacker: RefCell<Unpacker>,
    /// The data directory (its anchors file is part of `verify`).
    pub(crate) dir: PathBuf,
    /// Where `messages` rows are looked for.
    pub(crate) scheme: KeyScheme,
}

impl StoreReader {
    /// Opens the archive in `data_dir` read-only. Fails with [`crate::StoreError::NotFound`] if
    /// there is none, [`crate::StoreError::Foreign`] if the file is not a chatvault database.
    pub fn open(data_dir: &Path) -> Result<Self> {
        let conn = crate::open::open_reader(data_dir)?;
        let scheme = KeyScheme::of(&conn)?;
        Ok(StoreReader {
            conn,
            unpacker: RefCell::new(Unpacker::default()),
            dir: data_dir.to_path_buf(),
            scheme,
        })
    }

    /// Sets this connection's page cache to `mib` MiB. [`StoreReader::open`] sizes it for
    /// random lookups; a reader that streams the archive once in index order (export) reads
    /// each page once and needs only a few MB, which it then does not hold for its whole run.
    pub fn set_cache_mib(&self, mib: u32) -> Result<()> {
        self.conn.pragma_update(None, "cache_size", -(i64::from(mib) * 1024))?;
        Ok(())
    }

    /// Runs `f` in one read transaction, so everything it reads is one snapshot of the archive
    /// (a case bundle's events, records and chain head agree while `run` keeps appending).
    /// Inside another snapshot, `f` simply reads that one.
    pub fn snapshot<T, E: From<crate::StoreError>>(
        &self,
        f: impl FnOnce(&Self) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        if !self.conn.is_autocommit() {
            return f(self);
        }
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(|e| E::from(crate::StoreError::from(e)))?;
        let out = f(self);
        // A read transaction has nothing to commit; dropping it ends the snapshot.
        drop(tx);
        out
    }

    /// Runs the cached query `sql` with `params` and hands each row to `each`, in the
    /// query's order; a SQLite error becomes an `E`, and `each`'s error stops the scan as is.
    fn visit_rows<E: From<crate::StoreError>>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        mut each: impl FnMut(&rusqlite::Row<'_>) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let sql_error = |e: rusqlite::Error| E::from(crate::StoreError::from(e));
        let mut st = self.conn.prepare_cached(sql).map_err(sql_error)?;
        let mut rows = st.query(params).map_err(sql_error)?;
        while let Some(r) = rows.next().map_err(sql_error)? {
            each(r)?;
        }
        Ok(())
    }
}
