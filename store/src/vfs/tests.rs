use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;
use rusqlite::{Connection, OpenFlags};

use super::{NAME, register, wal_writes};
use crate::StoreOptions;
use crate::open::{DB_FILE, open_writer};

/// A WAL writer on `path` through this VFS, with a page cache of `cache_pages` (a small one
/// spills uncommitted pages into the WAL mid-transaction).
fn shim_writer(path: &Path, cache_pages: i64) -> Connection {
    register().unwrap();
    let conn = Connection::open_with_flags_and_vfs(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        NAME,
    )
    .unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    conn.pragma_update(None, "cache_size", cache_pages).unwrap();
    conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    conn.execute_batch("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v BLOB NOT NULL)")
        .unwrap();
    conn
}

fn rows(conn: &Connection) -> BTreeMap<i64, Vec<u8>> {
    let mut st = conn.prepare("SELECT id, v FROM t ORDER BY id").unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn a_commit_reaches_the_wal_in_a_few_large_writes() {
    let dir = tempfile::tempdir().unwrap();
    let conn = shim_writer(&dir.path().join("a.db"), 2000);
    let before = wal_writes();
    let tx = conn.unchecked_transaction().unwrap();
    for i in 0..2000i64 {
        tx.execute("INSERT INTO t VALUES (?1, ?2)", (i, vec![i as u8; 300]))
            .unwrap();
    }
    tx.commit().unwrap();
    let after = wal_writes();
    let (asked, made) = (after.asked - before.asked, after.made - before.made);
    // ~150 pages: SQLite asks for a header and a page per frame.
    assert!(asked >= 300, "SQLite asked for {asked} writes");
    // ~620 KB in pieces of 124 KiB.
    assert!(made <= 6, "{asked} writes asked for, {made} made");
    let reader = Connection::open(dir.path().join("a.db")).unwrap();
    assert_eq!(rows(&reader).len(), 2000);
}

#[test]
fn only_a_full_sync_writer_gathers_its_writes() {
    for full in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let opts = StoreOptions {
            synchronous_full: full,
            ..StoreOptions::default()
        };
        let (conn, _) = open_writer(dir.path(), &opts).unwrap();
        let before = wal_writes();
        conn.execute("INSERT INTO meta(key, value) VALUES ('probe', 'x')", [])
            .unwrap();
        let after = wal_writes();
        // Under NORMAL a reader may look for a committed frame before any sync: nothing
        // may wait in memory then.
        assert_eq!(after.asked > before.asked, full, "synchronous_full = {full}");
        drop(conn);
        let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
        let v: String = conn
            .query_row("SELECT value FROM meta WHERE key = 'probe'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, "x");
    }
}

#[derive(Debug, Clone)]
enum Op {
    Put {
        id: i64,
        len: usize,
    },
    Delete {
        id: i64,
    },
    Commit,
    Rollback,
    /// A checkpoint by another connection between transactions (TRUNCATE empties the WAL,
    /// so the writer starts it again at offset 0).
    Checkpoint {
        truncate: bool,
    },
    /// The writer closes and opens again between transactions.
    Reopen,
}

fn op() -> BoxedStrategy<Op> {
    prop_oneof![
        6 => (0i64..300, prop_oneof![0usize..200, 3000usize..9000]).prop_map(|(id, len)| Op::Put { id, len }),
        2 => (0i64..300).prop_map(|id| Op::Delete { id }),
        2 => Just(Op::Commit),
        1 => Just(Op::Rollback),
        1 => any::<bool>().prop_map(|truncate| Op::Checkpoint { truncate }),
        1 => Just(Op::Reopen),
    ]
    .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Whatever SQLite writes, rewrites, spills and reads back through the gathering, another
    /// connection sees exactly what was committed after every commit, and the file is sound
    /// and complete once the writer closes.
    #[test]
    fn readers_see_exactly_the_commits(ops in prop::collection::vec(op(), 1..120), cache in prop_oneof![Just(4i64), Just(2000i64)]) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let mut writer = Some(shim_writer(&path, cache));
        let reader = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let mut committed: BTreeMap<i64, Vec<u8>> = BTreeMap::new();
        let mut working = committed.clone();
        let mut open_tx = false;
        for (n, op) in ops.iter().enumerate() {
            let w = writer.as_ref().unwrap();
            match *op {
                Op::Put { id, len } => {
                    if !open_tx {
                        w.execute_batch("BEGIN IMMEDIATE").unwrap();
                        open_tx = true;
                    }
                    let v = vec![(id as u8) ^ (n as u8); len];
                    w.execute("INSERT OR REPLACE INTO t VALUES (?1, ?2)", (id, &v)).unwrap();
                    working.insert(id, v);
                }
                Op::Delete { id } => {
                    if !open_tx {
                        w.execute_batch("BEGIN IMMEDIATE").unwrap();
                        open_tx = true;
                    }
                    w.execute("DELETE FROM t WHERE id = ?1", [id]).unwrap();
                    working.remove(&id);
                }
                Op::Commit | Op::Rollback => {
                    if open_tx {
                        let commit = matches!(op, Op::Commit);
                        w.execute_batch(if commit { "COMMIT" } else { "ROLLBACK" }).unwrap();
                        if commit {
                            committed = working.clone();
                        } else {
                            working = committed.clone();
                        }
                        open_tx = false;
                    }
                    prop_assert_eq!(&rows(&reader), &committed);
                }
                Op::Checkpoint { truncate } if !open_tx => {
                    let c = Connection::open(&path).unwrap();
                    let mode = if truncate { "TRUNCATE" } else { "PASSIVE" };
                    c.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |_| Ok(())).unwrap();
                    prop_assert_eq!(&rows(&reader), &committed);
                }
                Op::Reopen if !open_tx => {
                    drop(writer.take());
                    writer = Some(shim_writer(&path, cache));
                }
                Op::Checkpoint { .. } | Op::Reopen => {}
            }
        }
        if open_tx {
            writer.as_ref().unwrap().execute_batch("COMMIT").unwrap();
            committed = working;
        }
        prop_assert_eq!(&rows(&reader), &committed);
        drop(writer);
        drop(reader);
        let plain = Connection::open(&path).unwrap();
        let check: String = plain.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        prop_assert_eq!(check, "ok");
        prop_assert_eq!(&rows(&plain), &committed);
    }
}
