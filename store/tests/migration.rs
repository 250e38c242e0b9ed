//! An archive written by schema version 1 opens under the current version with nothing lost:
//! the chain still verifies, histories and the early edit survive, and redeliveries of events
//! stored before the upgrade are still recognised as duplicates.

mod common;

use chatvault_store as store;
use common::*;
use proto::MessageState;

fn user_version(dir: &std::path::Path) -> i64 {
    let conn = rusqlite::Connection::open(dir.join(store::DB_FILE)).unwrap();
    conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap()
}

#[test]
fn a_version_1_archive_is_upgraded_without_losing_anything() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/archive-v1.db"),
        dir.path().join(store::DB_FILE),
    )
    .unwrap();
    assert_eq!(user_version(dir.path()), 1);

    let mut s = open(dir.path());
    assert_eq!(user_version(dir.path()), 2);
    let before = s.head();
    assert_eq!(before.0, 7, "the fixture holds 7 events");

    let r = s.reader().unwrap();
    let report = r.verify(&mut |_| {}).unwrap();
    assert!(report.ok, "verify after the upgrade: {report:?}");
    assert_eq!(report.messages, 4);

    let m1 = r.message(&key("c1", "m1")).unwrap().expect("m1 kept");
    let rec = m1.record.as_ref().expect("m1 has its message");
    assert_eq!(rec.text, "合同后天签");
    assert_eq!(rec.state, MessageState::Withdrawn);
    let texts: Vec<&str> = m1.revisions.iter().map(|v| v.text.as_str()).collect();
    assert_eq!(texts, ["合同明天签", "合同后天签"]);
    let m0 = r.message(&key("c1", "m0")).unwrap().expect("m0 kept");
    assert_eq!(
        m0.record.expect("m0 has its message").text,
        "先到的编辑",
        "the edit that arrived first still applies"
    );

    // Redeliveries of pre-upgrade events are duplicates; a new event appends after the old head.
    let b = batch(vec![
        payload(msg("c2", "m3", "invoice v2.3.1", T0 + 7), T0 + 99),
        payload(msg("c2", "m4", "新消息", T0 + 100), T0 + 101),
    ]);
    let info = s.append(&[&b]).unwrap().remove(0);
    assert_eq!((info.duplicates, info.appended), (1, 1));
    assert_eq!(s.head().0, 8);
    let report = s.reader().unwrap().verify(&mut |_| {}).unwrap();
    assert!(report.ok, "verify after appending to the upgraded archive: {report:?}");
    let chats = s.reader().unwrap().chats().unwrap();
    let c2 = chats.iter().find(|c| c.chat_id == "c2").expect("chat c2");
    assert_eq!(c2.messages, 2);
}
