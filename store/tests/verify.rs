//! What `verify` proves: a chain position written down earlier still holds after legitimate
//! appends and fails after a rewrite; anchors catch a log cut back to a consistent shorter
//! chain; the tables that steer the writer (`dedup`, `cursors`) and the chat projections are
//! checked against the log; and a live archive verifies as one snapshot.

mod common;

use chatvault_store as store;
use common::*;
use proto::{ConnectorStatus, EventBatch, Identity, Platform};
use store::anchors::{self, Anchor};
use store::{Expectation, StoreReader};
use testkit::events;

fn db(dir: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join(store::DB_FILE)).unwrap()
}

/// The keys the store recognises redeliveries by.
fn dedup_keys(c: &rusqlite::Connection) -> Vec<i64> {
    c.prepare("SELECT k FROM dedup")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn head(dir: &std::path::Path) -> Anchor {
    let h = StoreReader::open(dir).unwrap().head().unwrap();
    Anchor {
        seq: h.seq,
        hash: h.hash,
    }
}

fn messages(s: &mut store::Store, from: usize, n: usize) {
    let items = (from..from + n)
        .map(|i| {
            payload(
                msg("c1", &format!("m{i}"), &format!("第{i}条"), T0 + i as i64),
                T0 + i as i64,
            )
        })
        .collect();
    s.append(&[&batch(items)]).unwrap();
}

fn verify(dir: &std::path::Path, expect: &[Expectation]) -> store::VerifyReport {
    StoreReader::open(dir)
        .unwrap()
        .verify_with(expect, &mut |_| {})
        .unwrap()
}

#[test]
fn a_recorded_position_holds_after_appends_and_fails_after_a_rewrite() {
    let (dir, mut s) = temp_store();
    messages(&mut s, 0, 5);
    let then = head(dir.path());
    assert_eq!(then.seq, 5);
    messages(&mut s, 5, 5);
    let by_seq = Expectation::at(&then, "--expect-head");
    let by_hash = Expectation {
        seq: None,
        ..by_seq.clone()
    };
    let r = verify(dir.path(), &[by_seq.clone(), by_hash.clone()]);
    assert!(r.ok, "{r:?}");
    assert_eq!(r.head.seq, 10, "the head line still shows the current head");
    assert_eq!(r.positions_checked, 2);

    // The wrong hash at a seq, and a hash no event has, both fail.
    let wrong = Expectation {
        hash: "0".repeat(64),
        ..by_seq.clone()
    };
    let r = verify(dir.path(), &[wrong]);
    assert!(!r.ok);
    assert!(
        r.position_failures[0].contains("the event at seq 5 now hashes to"),
        "{r:?}"
    );
    let r = verify(
        dir.path(),
        &[Expectation {
            seq: None,
            hash: "0".repeat(64),
            source: "x".into(),
        }],
    );
    assert!(r.position_failures[0].contains("no event of the log has hash"), "{r:?}");

    // Rewrite the third message: the position at seq 5 no longer holds, by seq or by hash.
    drop(s);
    let changed = testkit::tamper::tamper_payload(&db(dir.path()), 3, |t| t.replace("第2条", "第9条"));
    assert_eq!(changed, 1);
    let r = verify(dir.path(), &[by_seq, by_hash]);
    assert!(!r.ok);
    assert_eq!(r.first_bad_seq, Some(3));
    assert_eq!(r.position_failures.len(), 2, "{r:?}");
    assert!(r.position_failures.iter().all(|f| f.contains("seq 5")), "{r:?}");
}

#[test]
fn a_log_cut_back_below_an_anchor_fails() {
    let (dir, mut s) = temp_store();
    messages(&mut s, 0, 7);
    let kept = dedup_keys(&db(dir.path()));
    for i in 0..3 {
        let ev = events::connector_state(ConnectorStatus::Connected, &format!("up {i}"), T0 + 100 + i);
        s.append(&[&batch(vec![payload(ev, T0 + 100 + i)])]).unwrap();
    }
    let a = head(dir.path());
    assert_eq!(a.seq, 10);
    anchors::record(dir.path(), &a, "anchor").unwrap();
    assert!(verify(dir.path(), &[]).ok);
    drop(s);

    // Remove the last three events and everything that would betray them: what is left is a
    // consistent, shorter chain.
    let c = db(dir.path());
    c.execute("DELETE FROM events WHERE seq > 7", []).unwrap();
    c.execute("DELETE FROM raw WHERE id NOT IN (SELECT raw_id FROM events)", [])
        .unwrap();
    let all = dedup_keys(&c);
    for k in all.into_iter().filter(|k| !kept.contains(k)) {
        c.execute("DELETE FROM dedup WHERE k = ?1", [k]).unwrap();
    }
    drop(c);

    let r = verify(dir.path(), &[]);
    assert_eq!(r.first_bad_seq, None, "the shorter chain links");
    assert!(
        r.projection_mismatches.is_empty() && r.bookkeeping_mismatches.is_empty(),
        "{r:?}"
    );
    assert!(!r.ok, "the anchor at seq 10 is past the end of the log");
    assert_eq!(r.positions_checked, 1);
    assert!(
        r.position_failures[0].contains("seq 10 is past the end of the log (seq 7)"),
        "{r:?}"
    );
}

#[test]
fn a_damaged_anchors_file_fails() {
    let (dir, mut s) = temp_store();
    messages(&mut s, 0, 2);
    std::fs::write(dir.path().join(anchors::ANCHORS_FILE), "2:nothex 1 anchor\n").unwrap();
    let r = verify(dir.path(), &[]);
    assert!(!r.ok);
    assert!(r.position_failures[0].contains("anchors file is damaged"), "{r:?}");
}

#[test]
fn a_dedup_entry_without_its_event_fails_verify_before_it_drops_a_message() {
    // The entry an edit leaves, taken from an archive that has the edit.
    let other = tempfile::tempdir().unwrap();
    let mut s = open(other.path());
    let e = || payload(edit("c1", "m1", "改过的", T0 + 50), T0 + 51);
    s.append(&[&batch(vec![payload(msg("c1", "m1", "原文", T0), T0 + 1), e()])])
        .unwrap();
    let entry: (i64, i64) = db(other.path())
        .query_row("SELECT k, h FROM dedup", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();

    // Planted in an archive that has only the message, it would drop the edit when it comes.
    let (dir, mut s) = temp_store();
    s.append(&[&batch(vec![payload(msg("c1", "m1", "原文", T0), T0 + 1)])])
        .unwrap();
    db(dir.path())
        .execute("INSERT INTO dedup(k, h) VALUES (?1, ?2)", [entry.0, entry.1])
        .unwrap();
    let r = verify(dir.path(), &[]);
    assert!(!r.ok);
    assert_eq!(r.first_bad_seq, None);
    assert!(r.bookkeeping_mismatches[0].contains("stands for no event"), "{r:?}");
    let info = s.append(&[&batch(vec![e()])]).unwrap();
    assert_eq!(info[0].duplicates, 1, "this is what the planted entry does");
}

fn group_events() -> EventBatch {
    let who = |id: &str, name: &str| Identity {
        id: id.into(),
        name: Some(name.into()),
    };
    let ev = |body| proto::ChatEvent {
        chat_id: "c1".into(),
        msg_id: None,
        occurred_at: Some(T0),
        body,
    };
    let (b, _) = EventBatch::new(
        Platform::Yunhu,
        "team",
        vec![
            payload(msg("c1", "m1", "你好", T0), T0 + 1),
            payload(
                ev(proto::EventBody::GroupCreated {
                    name: Some("项目组".into()),
                    members: vec![who("u1", "张三"), who("u2", "李四")],
                    at: None,
                }),
                T0 + 2,
            ),
            payload(
                ev(proto::EventBody::MemberLeave {
                    members: vec![Identity {
                        id: "u2".into(),
                        name: None,
                    }],
                    at: None,
                }),
                T0 + 3,
            ),
            payload(msg("c1", "m2", "再见", T0 + 4), T0 + 5),
        ],
        Some(serde_json::json!({"offset": 4})),
    );
    b
}

#[test]
fn chats_members_and_cursors_must_agree_with_the_log() {
    for (what, sql) in [
        ("chats", "UPDATE chats SET messages = messages + 1"),
        ("chats", "UPDATE chats SET name = '别的名字'"),
        ("members", "UPDATE members SET present = 1 WHERE user_id = 'u2'"),
        ("members", "DELETE FROM members WHERE user_id = 'u1'"),
        ("cursors", "UPDATE cursors SET updated_seq = updated_seq + 5"),
    ] {
        let (dir, mut s) = temp_store();
        s.append(&[&group_events()]).unwrap();
        let r = verify(dir.path(), &[]);
        assert!(r.ok, "{r:?}");
        let chat: (String, i64) = db(dir.path())
            .query_row("SELECT name, messages FROM chats", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        // The later message names the chat again.
        assert_eq!(chat, ("群c1".to_string(), 2));
        assert_eq!(db(dir.path()).execute(sql, []).unwrap(), 1, "{sql}");
        let r = verify(dir.path(), &[]);
        assert!(!r.ok, "{sql}");
        let listed = [&r.projection_mismatches[..], &r.bookkeeping_mismatches[..]].concat();
        let word = if what == "members" {
            "member"
        } else {
            &what[..what.len() - 1]
        };
        assert!(listed.iter().any(|m| m.starts_with(word)), "{sql}: {listed:?}");
    }
}

#[test]
fn a_live_archive_verifies_as_one_snapshot() {
    let (dir, mut s) = temp_store();
    messages(&mut s, 0, 50);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            for i in 50..300 {
                // New messages, and edits of earlier ones, in a chat that sorts last.
                let items = vec![
                    payload(msg("c9", &format!("m{i}"), "新", T0 + i as i64), T0 + i as i64),
                    payload(
                        edit("c9", &format!("m{}", i - 1), "改", T0 + 10 * i as i64),
                        T0 + i as i64,
                    ),
                ];
                s.append(&[&batch(items)]).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        })
    };
    let reader = StoreReader::open(dir.path()).unwrap();
    let mut runs = 0;
    while runs < 3 || !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let r = reader.verify(&mut |_| {}).unwrap();
        assert!(r.ok, "{r:?}");
        assert_eq!(r.events, r.head.seq);
        runs += 1;
    }
    writer.join().unwrap();
    let appended = reader.head().unwrap().seq;
    assert_eq!(
        appended,
        50 + 250 * 2,
        "the archive grew while it was verified {runs} times"
    );
}
