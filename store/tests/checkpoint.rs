//! A long reader (`verify`, `export --full`, `backup`) must not lock the writer out when the WAL
//! passes the size at which the checkpointer restarts it: every commit goes through.

mod common;

use std::time::{Duration, Instant};

use common::*;

#[test]
fn a_long_reader_never_makes_a_commit_fail_while_the_wal_passes_the_restart_size() {
    let (dir, mut s) = temp_store();
    s.set_wal_limit_pages(16);
    s.append(&[&batch(vec![payload(msg("c1", "m0", "起点", T0), T0)])])
        .unwrap();

    // A reader holding one snapshot for the whole test, as a long verify does.
    let reader = rusqlite::Connection::open(dir.path().join(chatvault_store::DB_FILE)).unwrap();
    reader.execute_batch("BEGIN").unwrap();
    let seen: i64 = reader
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(seen, 1);

    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    for n in 0..120 {
        let items = (0..20)
            .map(|i| {
                let id = format!("m{n}-{i}");
                payload(msg("c1", &id, &"长文本".repeat(40), T0 + n), T0 + n)
            })
            .collect();
        let t = Instant::now();
        s.append(&[&batch(items)])
            .unwrap_or_else(|e| panic!("commit {n} failed beside a long reader: {e}"));
        slowest = slowest.max(t.elapsed());
    }
    let wal = std::fs::metadata(dir.path().join("chatvault.db-wal")).unwrap().len();
    assert!(wal > 16 * 4096 * 4, "the WAL passed the restart size ({wal} bytes)");
    assert!(
        slowest < Duration::from_secs(2),
        "no commit waited long for the checkpointer (slowest {slowest:?}, all {:?})",
        started.elapsed()
    );
    let still: i64 = reader
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(still, 1, "the reader kept its snapshot throughout");
    reader.execute_batch("COMMIT").unwrap();
}
