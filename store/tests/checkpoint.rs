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

/// Under sustained load the writer starts a transaction as soon as the last one ends (the
/// next group is prepared meanwhile), so the write lock is almost never free for a checkpoint:
/// the WAL must still start over once it passes its limit, instead of growing with everything
/// ever written (it reached 2.3 GB beside a 720 MB database in a 1M-message bulk load).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_to_back_commits_keep_the_wal_near_its_limit() {
    const LIMIT_PAGES: u64 = 64;
    let (dir, s) = temp_store();
    s.set_wal_limit_pages(LIMIT_PAGES as i64);
    // Every batch is queued before the writer starts: its transactions (ten batches each)
    // follow each other with no pause, each longer than a restart's patience in a debug
    // build, while the prepare threads read the archive for the next ones.
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    let mut notices = Vec::new();
    for n in 0..240 {
        let items = (0..150)
            .map(|i| {
                let id = format!("m{n}-{i}");
                payload(msg(&format!("c{}", i % 97), &id, &"长文本".repeat(20), T0 + n), T0 + n)
            })
            .collect();
        let (b, notice) = proto::EventBatch::new(proto::Platform::Yunhu, "team", items, None);
        tx.send(b).await.unwrap();
        notices.push(notice);
    }
    drop(tx);
    let writer = chatvault_store::spawn_writer(
        s,
        rx,
        chatvault_store::WriterOptions {
            max_events: 1500,
            ..Default::default()
        },
    );
    // The WAL file never shrinks while the writer runs: its size is the most it ever held.
    let wal_path = dir.path().join("chatvault.db-wal");
    for notice in notices {
        notice.await.unwrap().unwrap();
    }
    let wal = std::fs::metadata(&wal_path).map(|m| m.len()).unwrap_or(0);
    let stats = writer.join().await.unwrap();
    assert!(stats.wal_restarts > 0, "the writer reports no WAL restart: {stats:?}");
    assert!(!stats.wal_restarting.is_zero(), "{stats:?}");
    let db = std::fs::metadata(dir.path().join("chatvault.db")).unwrap().len();
    // Restarted by the writer at four times the limit, the WAL holds that and one transaction
    // (here up to ~700 pages, about an eighth of the database, as the random-order indexes
    // grow); without a restart, it holds every page ever written (twice the database).
    assert!(
        wal < db / 4,
        "the WAL reached {wal} bytes beside a database of {db} bytes, against a limit of {} bytes",
        LIMIT_PAGES * 4096
    );
}

/// The checkpoint thread copies the WAL into the database at most once per
/// `CHECKPOINT_INTERVAL`, covering every commit since the last copy: a copy per commit
/// rewrote, commit after commit, the pages the random-order key indexes keep dirtying, and
/// fsynced the database file each time.
#[test]
fn commits_in_quick_succession_share_one_checkpoint_per_interval() {
    let (_dir, mut s) = temp_store();
    let started = Instant::now();
    s.append(&[&batch(vec![payload(msg("c1", "m0", "起点", T0), T0)])])
        .unwrap();
    // The first commit is copied at once.
    let deadline = Instant::now() + Duration::from_secs(5);
    while s.checkpoints() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(s.checkpoints(), 1, "the first commit was checkpointed");

    for n in 1..80 {
        let id = format!("m{n}");
        s.append(&[&batch(vec![payload(msg("c1", &id, "文本", T0 + n), T0 + n)])])
            .unwrap();
    }
    let elapsed = started.elapsed();
    // The commits after the first are copied together once the interval has passed.
    let deadline = Instant::now() + chatvault_store::CHECKPOINT_INTERVAL * 3;
    while s.checkpoints() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let done = s.checkpoints();
    let intervals = elapsed.as_secs_f64() / chatvault_store::CHECKPOINT_INTERVAL.as_secs_f64();
    assert!(
        done >= 2 && (done as f64) <= intervals.ceil() + 2.0,
        "{done} checkpoints for 80 commits in {elapsed:?}: at most one per interval after the first, and the later commits copied too"
    );
}
