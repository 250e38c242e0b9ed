//! The writer task: notices fire only after commit, failures fail the notices, and a writer
//! that dies mid-stream never leaves a notice that lies.

mod common;

use chatvault_store as store;
use common::*;
use proto::{CommitInfo, EventBatch, Platform};
use store::{WriterOptions, spawn_writer};
use tokio::sync::{mpsc, oneshot};

/// Message `m{i}` of chat `c1`, sent at `T0 + i`, as a batch of its own from `platform` and
/// `account`, with the receiver of its notice.
fn numbered(
    platform: Platform,
    account: &str,
    i: i64,
    text: &str,
) -> (EventBatch, oneshot::Receiver<Result<CommitInfo, proto::CommitError>>) {
    EventBatch::new(
        platform,
        account,
        vec![payload(msg("c1", &format!("m{i}"), text, T0 + i), T0)],
        None,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_fire_after_commit_and_failed_commits_fail_their_notices() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    // A trigger makes any message whose text is "POISON" fail to insert, like a disk error
    // that hits some transactions and not others. (It watches the projection: raw payloads
    // and envelopes are stored compressed.)
    rusqlite::Connection::open(dir.path().join(store::DB_FILE))
        .unwrap()
        .execute_batch("CREATE TRIGGER poison BEFORE INSERT ON messages WHEN NEW.text = 'POISON' BEGIN SELECT RAISE(ABORT, 'injected failure'); END;")
        .unwrap();
    let (tx, rx) = mpsc::channel(4);
    let writer = spawn_writer(
        s,
        rx,
        WriterOptions {
            group_commit: std::time::Duration::ZERO,
            ..Default::default()
        },
    );
    let mut notices = Vec::new();
    for i in 0..60 {
        let text = if i % 7 == 3 { "POISON" } else { "正常" };
        let (b, rx) = numbered(Platform::Eoffice, "oa", i, text);
        tx.send(b).await.unwrap();
        notices.push((i, rx));
    }
    drop(tx);
    let stats = writer.join().await.unwrap();
    let reader = store::StoreReader::open(dir.path()).unwrap();
    let mut ok = 0;
    for (i, rx) in notices {
        let key = proto::MessageKey {
            platform: Platform::Eoffice,
            account: "oa".into(),
            chat_id: "c1".into(),
            msg_id: format!("m{i}"),
        };
        let present = !reader.messages_by_keys(&[key]).unwrap().is_empty();
        match rx.await.expect("every notice fires") {
            Ok(CommitInfo { appended: 1, .. }) => {
                ok += 1;
                assert!(present, "m{i}: notice said committed but the row is missing");
            }
            Ok(other) => panic!("unexpected {other:?}"),
            Err(e) => {
                assert!(!present, "m{i}: notice said failed but the row exists");
                assert!(e.message.contains("injected failure"), "{}", e.message);
            }
        }
    }
    assert!(ok > 0 && ok < 60, "some batches must fail and some succeed (ok = {ok})");
    assert!(stats.failures > 0);
    assert!(reader.verify(&mut |_| {}).unwrap().ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_dropped_mid_stream_leaves_no_lying_notice() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, rx) = mpsc::channel(8);
    let writer = spawn_writer(open(dir.path()), rx, WriterOptions::default());
    let sender = tokio::spawn(async move {
        let mut notices = Vec::new();
        for i in 0..5000 {
            let (b, rx) = numbered(Platform::Eoffice, "oa", i, "流");
            if tx.send(b).await.is_err() {
                break;
            }
            notices.push((i, rx));
        }
        notices
    });
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    // Kill the writer: its task is dropped, the channel closes, in-flight notices are dropped.
    drop(writer);
    let notices = sender.await.unwrap();
    // Give a commit already running on the blocking pool time to finish.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let reopened = open(dir.path());
    let reader = reopened.reader().unwrap();
    let mut fired_ok = 0;
    for (i, mut rx) in notices {
        if let Ok(Ok(_)) = rx.try_recv() {
            fired_ok += 1;
            let key = proto::MessageKey {
                platform: Platform::Eoffice,
                account: "oa".into(),
                chat_id: "c1".into(),
                msg_id: format!("m{i}"),
            };
            assert_eq!(
                reader.messages_by_keys(&[key]).unwrap().len(),
                1,
                "m{i} acknowledged but missing after reopen"
            );
        }
    }
    assert!(reader.verify(&mut |_| {}).unwrap().ok);
    assert!(fired_ok > 0, "the writer committed something before it was dropped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_that_waits_for_each_notice_is_never_left_waiting() {
    // Connectors send the next batch only after the previous one was acknowledged, so the
    // writer must fire a notice when its commit ends, not when the next batch arrives.
    let dir = tempfile::tempdir().unwrap();
    let (tx, rx) = mpsc::channel(8);
    let writer = spawn_writer(open(dir.path()), rx, WriterOptions::default());
    for i in 0..20 {
        let (b, notice) = numbered(Platform::Goofish, "shop", i, "一条一条地发");
        tx.send(b).await.unwrap();
        let info = tokio::time::timeout(std::time::Duration::from_secs(10), notice)
            .await
            .unwrap_or_else(|_| panic!("batch {i}: no notice within 10 s"))
            .unwrap()
            .unwrap();
        assert_eq!(info.appended, 1);
    }
    drop(tx);
    let stats = writer.join().await.unwrap();
    assert_eq!(stats.appended, 20);
}

/// Sends `events` through a writer, three payloads per batch, and returns the totals of its
/// life.
async fn through_writer(dir: &std::path::Path, events: &[proto::ChatEvent], received_at: i64) -> store::WriterStats {
    let (tx, rx) = mpsc::channel(8);
    let writer = spawn_writer(open(dir), rx, WriterOptions::default());
    let mut notices = Vec::new();
    for chunk in events.chunks(3) {
        let items = chunk.iter().map(|ev| payload(ev.clone(), received_at)).collect();
        let (b, notice) = EventBatch::new(Platform::Yunhu, "team", items, None);
        tx.send(b).await.unwrap();
        notices.push(notice);
    }
    drop(tx);
    let stats = writer.join().await.unwrap();
    for n in notices {
        n.await.unwrap().unwrap();
    }
    stats
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_through_the_writer_records_only_what_is_new() {
    // The writer recognises stored messages before the commit; what it recognises must be
    // exactly what the commit would: the same message again is a duplicate, another version
    // under the same id, an edit or a message seen only through its edit so far is not.
    let dir = tempfile::tempdir().unwrap();
    let first = vec![
        msg("c1", "m1", "第一条", T0),
        msg("c1", "m2", "第二条", T0 + 1),
        edit("c1", "m3", "先到的编辑", T0 + 5),
        msg("c2", "m4", "another chat", T0 + 2),
    ];
    let stats = through_writer(dir.path(), &first, T0 + 10).await;
    assert_eq!((stats.appended, stats.duplicates), (4, 0));
    let head = store::StoreReader::open(dir.path()).unwrap().head().unwrap();

    // Received again later: nothing new, the chain does not move.
    let stats = through_writer(dir.path(), &first, T0 + 20).await;
    assert_eq!((stats.appended, stats.duplicates), (0, 4));
    assert_eq!(store::StoreReader::open(dir.path()).unwrap().head().unwrap(), head);

    let second = vec![
        msg("c1", "m1", "第一条", T0),
        msg("c1", "m2", "第二条（另一个版本）", T0 + 1),
        msg("c1", "m3", "编辑之前的原文", T0 + 3),
        edit("c1", "m1", "第一条改了", T0 + 30),
        msg("c2", "m4", "another chat", T0 + 2),
    ];
    let stats = through_writer(dir.path(), &second, T0 + 40).await;
    assert_eq!((stats.appended, stats.duplicates), (3, 2));
    let reader = store::StoreReader::open(dir.path()).unwrap();
    let m3 = reader.message(&key("c1", "m3")).unwrap().expect("m3 exists");
    assert_eq!(m3.record.expect("m3 has its message").text, "先到的编辑");
    let m1 = reader.message(&key("c1", "m1")).unwrap().expect("m1 exists");
    assert_eq!(m1.record.expect("m1 has its message").text, "第一条改了");
    assert!(reader.verify(&mut |_| {}).unwrap().ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_thread_that_panics_fails_every_pending_notice_and_reports_its_death() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, rx) = mpsc::channel(64);
    let writer = spawn_writer(
        open(dir.path()),
        rx,
        WriterOptions {
            group_commit: std::time::Duration::ZERO,
            panic_at_commit: Some(2),
            ..Default::default()
        },
    );
    let died = writer.died();
    let mut notices = Vec::new();
    for i in 0..40 {
        let (b, n) = numbered(Platform::Eoffice, "oa", i, "正文");
        if tx.send(b).await.is_err() {
            break;
        }
        notices.push(n);
    }
    let why = tokio::time::timeout(std::time::Duration::from_secs(10), died.wait())
        .await
        .expect("the death is reported, not left for the next health check");
    assert!(why.contains("injected commit thread panic"), "{why}");
    let mut ok = 0;
    for n in notices {
        // Every notice resolves: committed, or failed (never left pending).
        let notice = tokio::time::timeout(std::time::Duration::from_secs(10), n)
            .await
            .expect("resolves");
        if let Ok(Ok(_)) = notice {
            ok += 1;
        }
    }
    assert!(ok >= 1, "the first commit went through");
    // What was acknowledged is exactly what the archive holds.
    let held = store::StoreReader::open(dir.path()).unwrap().head().unwrap().seq;
    assert_eq!(held, ok as u64);
    drop(tx);
    assert!(matches!(writer.join().await, Err(store::StoreError::WriterDied(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_payloads_are_bounded_in_bytes_while_the_writer_waits() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    // Another process holds the write lock: the first commit waits (its busy timeout).
    let blocker = rusqlite::Connection::open(dir.path().join(store::DB_FILE)).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (tx, rx) = mpsc::channel(1);
    let _writer = spawn_writer(
        s,
        rx,
        WriterOptions {
            group_commit: std::time::Duration::ZERO,
            max_batches: 64,
            max_bytes: 4 << 20,
            ..Default::default()
        },
    );
    let rejected = || {
        let raw = proto::RawPayload {
            received_at: T0,
            media_type: proto::batch::media::JSON.into(),
            bytes: vec![b'x'; 1 << 20].into(),
        };
        EventBatch::new(
            Platform::Wecom,
            "corp",
            vec![proto::Ingested::Rejected {
                raw,
                reason: "bad signature".into(),
            }],
            None,
        )
        .0
    };
    let mut accepted = 0;
    for _ in 0..64 {
        match tokio::time::timeout(std::time::Duration::from_millis(300), tx.send(rejected())).await {
            Ok(Ok(())) => accepted += 1,
            _ => break,
        }
    }
    // 4 MiB waiting, one batch in the channel, one committing: never the 64 batches (64 MiB)
    // the event count alone would let in.
    assert!(
        accepted <= 7,
        "{accepted} MiB of rejects taken in while the writer waited"
    );
    blocker.execute_batch("ROLLBACK").unwrap();
}

/// The index gate: while the reported index position is too far behind, the next commit
/// waits (for at most its hold), and it goes ahead at once when the index catches up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_waits_for_a_lagging_index_but_not_longer_than_its_hold() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let progress = store::IndexProgress::default();
    let (tx, rx) = mpsc::channel(4);
    let writer = spawn_writer(
        open(dir.path()),
        rx,
        WriterOptions {
            group_commit: Duration::ZERO,
            index_gate: Some(store::IndexGate {
                progress: progress.clone(),
                max_lag: 1,
                max_hold: Duration::from_millis(2500),
            }),
            ..Default::default()
        },
    );
    let send = |i: i64| {
        let tx = tx.clone();
        async move {
            let (b, notice) = numbered(Platform::Eoffice, "oa", i, "正常");
            tx.send(b).await.unwrap();
            let started = Instant::now();
            notice.await.unwrap().unwrap();
            started.elapsed()
        }
    };
    // No indexer has reported: nothing waits.
    assert!(send(0).await < Duration::from_millis(1500));
    // The index reports seq 0 while the log is at 1: within the bound.
    progress.set(0);
    assert!(send(1).await < Duration::from_millis(1500));
    // Now 2 behind: the commit is held for its whole hold, then goes ahead anyway.
    let held = send(2).await;
    assert!(held >= Duration::from_millis(2500), "held only {held:?}");
    // Held again, until the index reports that it caught up.
    let p = progress.clone();
    let catch_up = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        p.set(3);
    });
    let waited = send(3).await;
    catch_up.await.unwrap();
    assert!(
        waited >= Duration::from_millis(150) && waited < Duration::from_millis(2000),
        "waited {waited:?}"
    );
    drop(tx);
    let stats = writer.join().await.unwrap();
    let reader = store::StoreReader::open(dir.path()).unwrap();
    assert_eq!(reader.head().unwrap().seq, 4, "every message committed");
    // The two holds are counted with their length, for operators and the benchmark.
    assert_eq!(stats.index_holds, 2, "{stats:?}");
    assert!(
        stats.index_held
            >= held.saturating_sub(Duration::from_millis(500)) + waited.saturating_sub(Duration::from_millis(500))
            && stats.index_held <= held + waited,
        "held {:?} in all, the senders waited {held:?} and {waited:?}",
        stats.index_held
    );
    assert!(
        stats.committing > Duration::ZERO && stats.committing < held,
        "{stats:?}"
    );
    assert_eq!(stats.largest_group, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_holds_at_most_max_events_however_many_wait() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    // Every batch is queued before the writer starts, so nothing but the bound keeps them
    // from one transaction.
    let (tx, rx) = mpsc::channel(32);
    let mut notices = Vec::new();
    for b in 0..12i64 {
        let items = (0..3)
            .map(|j| {
                let i = b * 3 + j;
                payload(msg("c1", &format!("m{i}"), "排队中的消息", T0 + i), T0)
            })
            .collect();
        let (batch, notice) = EventBatch::new(Platform::Eoffice, "oa", items, None);
        tx.send(batch).await.unwrap();
        notices.push(notice);
    }
    drop(tx);
    let writer = spawn_writer(
        s,
        rx,
        WriterOptions {
            max_events: 7,
            ..Default::default()
        },
    );
    for n in notices {
        assert_eq!(n.await.unwrap().unwrap().appended, 3);
    }
    let stats = writer.join().await.unwrap();
    assert_eq!(stats.appended, 36);
    // 36 events, at most 7 a transaction: at least 6 transactions (two batches of three each
    // at the most). Unbounded, the queued batches went into a few large ones.
    assert!(stats.commits >= 6, "{} transactions for 36 events", stats.commits);
    assert!((3..=7).contains(&stats.largest_group), "{stats:?}");
}
