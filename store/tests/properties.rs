//! Property tests: the projection is the fold of the log whatever the arrival order, a replay
//! changes nothing, and any single-row tamper makes `verify` fail.

mod common;

use chatvault_store as store;
use common::*;
use proptest::prelude::*;
use proto::{ChatEvent, MessageKey, MessageRecord, Platform};

/// Message `i`'s id. The even ones share a number, so they share an ordered row key and all but
/// the first to arrive are stored in their hash sequence (`keys.rs`); the odd ones have none.
fn id(i: usize) -> String {
    if i.is_multiple_of(2) {
        format!("{}1000001", ["a", "b", "c"][i / 2 % 3])
    } else {
        format!("m{i}")
    }
}

/// Events for `n` messages: each has a message event plus random edits / appends / withdraw /
/// delete, with distinct platform times.
fn scenario() -> impl Strategy<Value = Vec<ChatEvent>> {
    prop::collection::vec((0u8..3, 0u8..3, any::<bool>(), any::<bool>()), 1..6).prop_map(|specs| {
        let mut evs = Vec::new();
        for (i, (edits, appends, wd, del)) in specs.into_iter().enumerate() {
            let id = id(i);
            let base = T0 + i as i64 * 1000;
            evs.push(msg("c1", &id, &format!("原文{i}"), base));
            for e in 0..edits {
                evs.push(edit("c1", &id, &format!("第{e}次修改{i}"), base + 100 + e as i64));
            }
            for a in 0..appends {
                evs.push(append("c1", &id, &format!("片段{a}"), a as u64));
            }
            if wd {
                evs.push(withdraw("c1", &id, "u1", base + 500));
            }
            if del {
                evs.push(delete("c1", &id, "admin", base + 600));
            }
        }
        evs
    })
}

/// Appends `events` in the given order, split into batches at `cuts`; raw receive times are
/// per event (not per arrival) so records are comparable.
fn archive(dir: &std::path::Path, events: &[(usize, ChatEvent)], cuts: &[usize]) -> store::Store {
    let mut s = open(dir);
    let mut items = Vec::new();
    for (n, (orig, ev)) in events.iter().enumerate() {
        items.push(payload(ev.clone(), T0 + *orig as i64));
        if cuts.contains(&n) {
            s.append(&[&batch(std::mem::take(&mut items))]).unwrap();
        }
    }
    if !items.is_empty() {
        s.append(&[&batch(items)]).unwrap();
    }
    s
}

/// A message's current state and its revisions as (revision, text, time).
type Folded = (MessageRecord, Vec<(u32, String, i64)>);

fn records(s: &store::Store, n: usize) -> Vec<Folded> {
    let r = s.reader().unwrap();
    (0..n)
        .filter_map(|i| {
            let key = MessageKey {
                platform: Platform::Yunhu,
                account: "team".into(),
                chat_id: "c1".into(),
                msg_id: id(i),
            };
            let mut rec = r.messages_by_keys(std::slice::from_ref(&key)).unwrap().pop()?;
            rec.last_seq = 0; // depends on interleaving with other messages
            let revs = r
                .revisions(&key)
                .unwrap()
                .into_iter()
                .map(|v| (v.revision, v.text, v.at))
                .collect();
            Some((rec, revs))
        })
        .collect()
}

fn verified(s: &store::Store) -> bool {
    s.reader().unwrap().verify(&mut |_| ()).unwrap().ok
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn projection_equals_the_fold_whatever_the_arrival_order(
        evs in scenario(),
        seed in any::<u64>(),
        cuts in prop::collection::vec(0usize..30, 0..4),
    ) {
        let canonical: Vec<(usize, ChatEvent)> = evs.iter().cloned().enumerate().collect();
        let mut shuffled = canonical.clone();
        // Deterministic shuffle from the seed (proptest shrinks the seed).
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let n = evs.iter().filter(|e| matches!(e.body, proto::EventBody::Message(_))).count();
        let d1 = tempfile::tempdir().unwrap();
        let d2 = tempfile::tempdir().unwrap();
        let a = archive(d1.path(), &canonical, &[]);
        let b = archive(d2.path(), &shuffled, &cuts);
        prop_assert_eq!(records(&a, n), records(&b, n));
        prop_assert!(verified(&b));
    }

    #[test]
    fn applying_a_batch_twice_changes_nothing(evs in scenario()) {
        let d = tempfile::tempdir().unwrap();
        let mut s = open(d.path());
        let items: Vec<_> = evs.iter().cloned().enumerate().map(|(i, e)| payload(e, T0 + i as i64)).collect();
        s.append(&[&batch(items.clone())]).unwrap();
        let head = s.reader().unwrap().head().unwrap();
        let n = evs.iter().filter(|e| matches!(e.body, proto::EventBody::Message(_))).count();
        let before = records(&s, n);
        // Redelivered later: different receive times, same events.
        let later: Vec<_> = evs.iter().cloned().map(|e| payload(e, T0 + 10_000_000)).collect();
        let info = s.append(&[&batch(later)]).unwrap();
        prop_assert_eq!(info[0].appended, 0);
        prop_assert_eq!(info[0].duplicates as usize, evs.len());
        prop_assert_eq!(s.reader().unwrap().head().unwrap(), head);
        prop_assert_eq!(records(&s, n), before);
    }

    #[test]
    fn verify_fails_after_any_single_row_tamper(evs in scenario(), which in 0usize..9, pick in any::<prop::sample::Index>()) {
        let d = tempfile::tempdir().unwrap();
        let s = archive(d.path(), &evs.iter().cloned().enumerate().collect::<Vec<_>>(), &[]);
        prop_assert!(verified(&s));
        drop(s);
        let conn = rusqlite::Connection::open(d.path().join(store::DB_FILE)).unwrap();
        let count = |t: &str| conn.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get::<_, i64>(0)).unwrap();
        let nth = |t: &str, col: &str| {
            let n = count(t).max(1) as usize;
            conn.query_row(&format!("SELECT {col} FROM {t} ORDER BY {col} LIMIT 1 OFFSET {}", pick.index(n)), [], |r| r.get::<_, i64>(0)).unwrap()
        };
        if which == 0 {
            // The envelope is stored compressed: edit its text, not its stored bytes.
            let seq = nth("events", "seq");
            let changed = goofish::tamper_payload(&conn, seq, |t| t.replace("\"c1\"", "\"c2\""));
            prop_assume!(changed == 1);
            drop(conn);
            let report = store::StoreReader::open(d.path()).unwrap().verify(&mut |_| {}).unwrap();
            prop_assert!(!report.ok, "tamper 0 (chat id in the envelope of seq {}) went unnoticed", seq);
            return Ok(());
        }
        let sql = match which {
            1 => format!("UPDATE events SET occurred_at = occurred_at + 1 WHERE seq = {}", nth("events", "seq")),
            2 => format!("UPDATE events SET chat_id = 'other' WHERE seq = {}", nth("events", "seq")),
            3 => format!("UPDATE raw SET bytes = CAST('tampered' AS BLOB) WHERE id = {}", nth("raw", "id")),
            4 => format!("UPDATE messages SET text = text || '!' WHERE mkey = {}", nth("messages", "mkey")),
            5 => format!("UPDATE messages SET state = CASE state WHEN 'active' THEN 'deleted' ELSE 'active' END WHERE mkey = {}", nth("messages", "mkey")),
            6 => format!("DELETE FROM messages WHERE mkey = {}", nth("messages", "mkey")),
            7 => format!("DELETE FROM events WHERE seq = {}", nth("events", "seq")),
            _ => "INSERT INTO messages(mkey, platform, account, chat_id, msg_id, has_message, last_seq) VALUES (42, 'yunhu', 'team', 'c9', 'forged', 0, 1)".to_string(),
        };
        let changed = conn.execute(&sql, []).unwrap();
        prop_assume!(changed == 1);
        drop(conn);
        let r = store::StoreReader::open(d.path()).unwrap();
        let report = r.verify(&mut |_| {}).unwrap();
        prop_assert!(!report.ok, "tamper {} went unnoticed: {}", which, sql);
    }
}

#[test]
fn verify_names_the_first_bad_seq() {
    let d = tempfile::tempdir().unwrap();
    let evs: Vec<(usize, ChatEvent)> = (0..10)
        .map(|i| (i, msg("c1", &format!("m{i}"), "文本", T0 + i as i64)))
        .collect();
    drop(archive(d.path(), &evs, &[]));
    let conn = rusqlite::Connection::open(d.path().join(store::DB_FILE)).unwrap();
    // The envelope is stored compressed: edit its text, not its stored bytes.
    assert_eq!(goofish::tamper_payload(&conn, 7, |t| t.replace("文本", "假的")), 1);
    drop(conn);
    let report = store::StoreReader::open(d.path()).unwrap().verify(&mut |_| {}).unwrap();
    assert_eq!(report.first_bad_seq, Some(7));
    assert!(!report.ok);
}
