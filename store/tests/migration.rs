//! Archives written by earlier schema versions open under the current version with nothing
//! lost: the chain heads do not change and still verify, histories and the early edit
//! survive, raw payloads read back as received, and redeliveries of events stored before the
//! upgrade are still recognised as duplicates.
//!
//! `fixtures/archive-v1.db`: written by schema version 1. `fixtures/archive-v2.db`: written by
//! schema version 2 with `examples/write_fixture.rs`; its head is recorded in [`V2_HEAD`].
//! `fixtures/archive-v3.db`: the same program run with the schema version 3 store (the same
//! events, so the same head, stored compressed). `fixtures/archive-v4.db`: the same, with the
//! schema version 4 store. `fixtures/archive-v5.db`: the same, with the schema version 5 store
//! (its rows at their identity hash). `fixtures/archive-v6.db`: the same with the schema version
//! 6 store, run with `--numbered` (two chats of platform-numbered Goofish messages, their rows at
//! schema 6's ordered key).

mod common;

use chatvault_store as store;
use common::*;
use proto::MessageState;

/// Whether schema 5's per-chat index is there.
fn has_chat_index(dir: &std::path::Path) -> bool {
    let conn = rusqlite::Connection::open(dir.join(store::DB_FILE)).unwrap();
    conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'messages_by_chat'",
        [],
        |r| r.get::<_, i64>(0),
    )
    .unwrap()
        == 1
}

/// Whether the archive's `meta` holds `key`.
fn marked(conn: &rusqlite::Connection, key: &str) -> bool {
    conn.query_row("SELECT EXISTS(SELECT 1 FROM meta WHERE key = ?1)", [key], |r| r.get(0))
        .unwrap()
}

fn user_version(dir: &std::path::Path) -> i64 {
    let conn = rusqlite::Connection::open(dir.join(store::DB_FILE)).unwrap();
    conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap()
}

/// A copy of `fixtures/<name>` as the archive of a fresh directory, checked to be at schema
/// `version` before anything opens it.
fn fixture_archive(name: &str, version: i64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    std::fs::copy(fixtures.join(name), dir.path().join(store::DB_FILE)).unwrap();
    assert_eq!(user_version(dir.path()), version);
    dir
}

/// Opens the archive in `dir`, checking it is migrated to the current schema.
fn open_migrated(dir: &std::path::Path) -> store::Store {
    let s = open(dir);
    assert_eq!(user_version(dir), 7);
    assert!(has_chat_index(dir));
    s
}

#[test]
fn a_version_1_archive_is_upgraded_without_losing_anything() {
    let dir = fixture_archive("archive-v1.db", 1);

    let mut s = open_migrated(dir.path());
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

/// The chain head of `fixtures/archive-v2.db` as schema version 2 wrote it.
const V2_HEAD: (u64, &str) = (12, "82eec21e1e4bfe822f67764c236b77b7fe43eba407777bbaedb727a388b2691a");

/// Checks the chain head is the one schema version 2 wrote.
fn assert_v2_head(s: &store::Store) {
    let (seq, hash) = s.head();
    assert_eq!(
        (seq, hex::encode(hash).as_str()),
        V2_HEAD,
        "the chain head is unchanged"
    );
}

/// The binary raw payload `examples/write_fixture.rs` writes for `seed`.
fn fixture_binary(seed: u8) -> Vec<u8> {
    (0..600u32).map(|i| (i as u8).wrapping_mul(31) ^ seed ^ 0x80).collect()
}

fn v2_archive() -> tempfile::TempDir {
    fixture_archive("archive-v2.db", 2)
}

#[test]
fn a_version_2_archive_is_compressed_in_place_without_losing_anything() {
    let dir = v2_archive();
    let mut s = open_migrated(dir.path());
    assert_v2_head(&s);

    let r = s.reader().unwrap();
    let report = r.verify(&mut |_| {}).unwrap();
    assert!(report.ok, "verify after the migration: {report:?}");
    assert_eq!((report.head.seq, report.head.hash.as_str()), V2_HEAD);
    assert_eq!(report.messages, 4);

    // Stored compressed: the repetitive binary payloads and the envelopes; nothing left over.
    let conn = rusqlite::Connection::open(dir.path().join(store::DB_FILE)).unwrap();
    let compressed: (i64, i64) = conn
        .query_row(
            "SELECT (SELECT count(*) FROM raw WHERE zdict IS NOT NULL), (SELECT count(*) FROM events WHERE zdict IS NOT NULL)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(compressed.0 >= 2 && compressed.1 > 0, "{compressed:?}");
    let progress: i64 = conn
        .query_row("SELECT count(*) FROM meta WHERE key LIKE 'v3_%'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(progress, 0, "the migration finished");
    drop(conn);

    let m1 = r.message(&key("c1", "m1")).unwrap().expect("m1 kept");
    let rec = m1.record.as_ref().expect("m1 has its message");
    assert_eq!(rec.text, "合同后天签");
    assert_eq!(rec.state, MessageState::Withdrawn);
    assert_eq!(m1.revisions.len(), 2);
    let m1_raw: proto::ChatEvent = serde_json::from_slice(&m1.raws[0].bytes).unwrap();
    assert_eq!(
        m1_raw,
        m1.events[0].event().unwrap(),
        "raw payload and envelope read back"
    );
    let m0 = r.message(&key("c1", "m0")).unwrap().expect("m0 kept");
    assert_eq!(m0.record.expect("m0 has its message").text, "先到的编辑");
    let m3 = r.message(&key("c2", "m3")).unwrap().expect("m3 kept");
    assert_eq!(
        m3.record.expect("m3 has its message").text,
        "invoice v2.3.1 已开，请查收"
    );
    assert_eq!(m3.raws.len(), 1, "two events of one payload share it");
    assert_eq!(m3.raws[0].bytes, fixture_binary(1), "raw payload byte for byte");
    let g = r
        .message(&goofish::goofish_key("g1", "1.PNM"))
        .unwrap()
        .expect("1.PNM kept");
    assert_eq!(g.events.len(), 1, "its redelivery was recorded once");
    assert_eq!(g.raws[0].bytes, fixture_binary(2));

    let gaps = r.gaps(None, None, None).unwrap();
    assert_eq!(gaps.len(), 1);
    assert_eq!((gaps[0].from, gaps[0].to), (T0 + 300_000, Some(T0 + 360_000)));
    assert_eq!(gaps[0].detail.as_deref(), Some("connection reset"));
    assert_eq!(
        r.cursor(proto::Platform::Yunhu, "team").unwrap(),
        Some(serde_json::json!({"seq": 42}))
    );
    let rejects = r.rejects(10).unwrap();
    assert_eq!(rejects.len(), 1);
    assert_eq!(rejects[0].bytes, [0xc1, 0x00, 0x01]);
    let chats = r.chats().unwrap();
    let c1 = chats.iter().find(|c| c.chat_id == "c1").expect("chat c1");
    assert_eq!((c1.name.as_deref(), c1.messages), (Some("群c1"), 2));
    let stats = r.stats().unwrap();
    assert_eq!((stats.events, stats.raw_payloads), (12, 11));

    appends_after_the_upgrade(&mut s);
}

#[test]
fn a_version_3_archive_gains_markup_and_per_user_deletions() {
    let dir = fixture_archive("archive-v3.db", 3);
    let mut s = open_migrated(dir.path());
    assert_v2_head(&s);
    let r = s.reader().unwrap();
    let report = r.verify(&mut |_| {}).unwrap();
    assert!(report.ok, "verify after the migration: {report:?}");
    let m1 = r.message(&key("c1", "m1")).unwrap().unwrap().record.unwrap();
    assert_eq!(
        (m1.text_format, m1.source_text.as_deref(), m1.deleted_for.len()),
        (proto::TextFormat::Plain, None, 0),
        "rows written before read as plain text with no per-user deletion"
    );
    assert_eq!(m1.state, MessageState::Withdrawn);

    // New events use the new columns; a per-user deletion leaves the message active and is
    // listed by `audit --deleted`.
    let mut md = msg("c3", "md1", "周报 完成", T0 + 600_000);
    if let proto::EventBody::Message(m) = &mut md.body {
        m.content_type = proto::ContentType::Markdown;
        m.text_format = proto::TextFormat::Markdown;
        m.source_text = Some("# 周报\n- **完成**".into());
    }
    let hidden = proto::ChatEvent::message(
        "c2",
        "m3",
        proto::EventBody::Delete {
            by: Some("u9".into()),
            at: Some(T0 + 700_000),
            scope: proto::DeleteScope::User,
        },
    );
    s.append(&[&batch(vec![payload(md, T0 + 600_001), payload(hidden, T0 + 700_001)])])
        .unwrap();
    let r = s.reader().unwrap();
    let md = r.message(&key("c3", "md1")).unwrap().unwrap().record.unwrap();
    assert_eq!(
        (md.text_format, md.source_text.as_deref(), md.text.as_str()),
        (proto::TextFormat::Markdown, Some("# 周报\n- **完成**"), "周报 完成")
    );
    let m3 = r.message(&key("c2", "m3")).unwrap().unwrap().record.unwrap();
    assert_eq!(m3.state, MessageState::Active, "deleted for one user only");
    assert_eq!(
        m3.deleted_for,
        [proto::UserDeletion {
            user: Some("u9".into()),
            at: T0 + 700_000
        }]
    );
    let mut deleted = Vec::new();
    r.audit(
        &store::AuditFilter {
            deleted: true,
            ..Default::default()
        },
        &mut |e| {
            deleted.push(e.record.key.msg_id.clone());
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(deleted, ["m3"]);
    let report = r.verify(&mut |_| {}).unwrap();
    assert!(report.ok, "verify after appending: {report:?}");
}

#[test]
fn a_version_4_archive_gains_the_per_chat_index() {
    let dir = fixture_archive("archive-v4.db", 4);
    assert!(!has_chat_index(dir.path()));
    let s = open_migrated(dir.path());
    assert_v2_head(&s);
    let r = s.reader().unwrap();
    let report = r.verify(&mut |_| {}).unwrap();
    assert!(report.ok, "verify after the migration: {report:?}");
    // The index holds every message of the chat: the timeline through it is the whole chat.
    let all = r
        .chat_timeline(proto::Platform::Yunhu, "team", "c1", i64::MIN, 0, 1000)
        .unwrap();
    let conn = rusqlite::Connection::open(dir.path().join(store::DB_FILE)).unwrap();
    let rows: i64 = conn
        .query_row(
            "SELECT count(*) FROM messages WHERE has_message = 1 AND platform = 'yunhu' AND account = 'team' AND chat_id = 'c1'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(rows > 0);
    assert_eq!(all.len() as i64, rows);
}

/// Redeliveries of the fixture's events from before the migration are duplicates; a new event
/// links to the old head, and the archive verifies.
fn appends_after_the_upgrade(s: &mut store::Store) {
    let b = proto::EventBatch::new(
        proto::Platform::Goofish,
        "shop",
        vec![
            goofish::carried(
                fixture_binary(2),
                vec![msg("g1", "1.PNM", "还在吗？能便宜点吗", T0 + 400_000)],
                T0 + 500_000,
            ),
            goofish::carried(
                fixture_binary(3),
                vec![msg("g1", "2.PNM", "新消息", T0 + 500_000)],
                T0 + 500_001,
            ),
        ],
        None,
    )
    .0;
    let info = s.append(&[&b]).unwrap().remove(0);
    assert_eq!((info.duplicates, info.appended), (1, 1));
    let info = s
        .append(&[&batch(vec![payload(msg("c1", "m1", "合同明天签", T0), T0 + 999)])])
        .unwrap()
        .remove(0);
    assert_eq!((info.duplicates, info.appended), (1, 0));
    assert_eq!(s.head().0, 13);
    let report = s.reader().unwrap().verify(&mut |_| {}).unwrap();
    assert!(report.ok, "verify after appending to the migrated archive: {report:?}");
}

#[test]
fn a_version_5_archive_finds_its_rows_at_their_identity_hash() {
    let dir = fixture_archive("archive-v5.db", 5);
    let mut s = open_migrated(dir.path());
    assert_v2_head(&s);
    let conn = rusqlite::Connection::open(dir.path().join(store::DB_FILE)).unwrap();
    assert!(
        marked(&conn, "hash_keyed_rows"),
        "rows stored before schema 6 are looked for where they are"
    );
    appends_after_the_upgrade(&mut s);
    // An edit of a message stored before the upgrade lands on its row, not on a new one.
    let rows_before: i64 = conn
        .query_row("SELECT count(*) FROM messages", [], |r| r.get(0))
        .unwrap();
    s.append(&[&batch(vec![payload(
        edit("c1", "m1", "合同后天签", T0 + 5_000),
        T0 + 5_001,
    )])])
    .unwrap();
    let rows_after: i64 = conn
        .query_row("SELECT count(*) FROM messages", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows_after, rows_before);
    let r = s.reader().unwrap();
    assert_eq!(
        r.messages_by_keys(&[key("c1", "m1")]).unwrap().pop().unwrap().text,
        "合同后天签"
    );
    assert!(r.verify(&mut |_| {}).unwrap().ok);
}

/// The Goofish chats `write_fixture --numbered` adds: ids `4263141580162.PNM` + i, chat `g2` for
/// even i, `g3` for odd, text `第{i}条`.
fn numbered(i: u64, text: &str) -> proto::ChatEvent {
    let chat = if i.is_multiple_of(2) { "g2" } else { "g3" };
    testkit::events::group_text(
        chat,
        &format!("{}.PNM", 4_263_141_580_162u64 + i),
        &format!("群{chat}"),
        text,
        T0 + 500_000 + i as i64,
    )
}

#[test]
fn a_version_6_archive_finds_its_numbered_rows_where_schema_6_put_them() {
    let dir = fixture_archive("archive-v6.db", 6);
    let mut s = open(dir.path());
    assert_eq!(user_version(dir.path()), 7);
    let head = s.head();
    assert_eq!(head.0, 16, "the fixture's 12 events and 4 numbered messages");
    let conn = rusqlite::Connection::open(dir.path().join(store::DB_FILE)).unwrap();
    assert!(
        marked(&conn, "chat_keyed_rows"),
        "rows stored by schema 6 are looked for where they are"
    );
    let rows = |conn: &rusqlite::Connection| -> i64 {
        conn.query_row("SELECT count(*) FROM messages", [], |r| r.get(0))
            .unwrap()
    };
    let rows_before = rows(&conn);
    // Redeliveries of the numbered messages are duplicates, not new rows; an edit lands on
    // its message's row; a new numbered message is new.
    let b = proto::EventBatch::new(
        proto::Platform::Goofish,
        "shop",
        vec![
            payload(numbered(0, "第0条"), T0 + 600_000),
            payload(numbered(3, "第3条"), T0 + 600_001),
            payload(
                testkit::events::edit("g3", "4263141580163.PNM", "第1条（改）", T0 + 600_002),
                T0 + 600_003,
            ),
            payload(numbered(4, "第4条"), T0 + 600_004),
        ],
        None,
    )
    .0;
    let info = s.append(&[&b]).unwrap().remove(0);
    assert_eq!((info.duplicates, info.appended), (2, 2));
    assert_eq!(rows(&conn), rows_before + 1, "only the new message has a new row");
    let r = s.reader().unwrap();
    let k = |chat: &str, n: u64| {
        testkit::events::key(
            proto::Platform::Goofish,
            "shop",
            chat,
            &format!("{}.PNM", 4_263_141_580_162u64 + n),
        )
    };
    let got = r.messages_by_keys(&[k("g3", 1), k("g2", 4)]).unwrap();
    let texts: Vec<&str> = got.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["第1条（改）", "第4条"]);
    assert!(r.verify(&mut |_| {}).unwrap().ok);
}

/// A reader opened on an empty archive of an older version, before a writer migrates it, finds
/// the messages that writer then stores at schema 7's keys.
#[test]
fn a_reader_opened_before_an_empty_archive_is_migrated_finds_what_is_written_after() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    let conn = rusqlite::Connection::open(dir.path().join(store::DB_FILE)).unwrap();
    // Schemas 6 and 7 differ only in where new rows are keyed: an empty archive of version 6.
    conn.pragma_update(None, "user_version", 6).unwrap();
    let reader = store::StoreReader::open(dir.path()).unwrap();
    let mut s = open(dir.path());
    assert_eq!(user_version(dir.path()), 7);
    let b = proto::EventBatch::new(
        proto::Platform::Goofish,
        "shop",
        (0..4).map(|i| payload(numbered(i, "在吗"), T0 + 600_000)).collect(),
        None,
    )
    .0;
    assert_eq!(s.append(&[&b]).unwrap().remove(0).appended, 4);
    let k = testkit::events::key(proto::Platform::Goofish, "shop", "g3", "4263141580163.PNM");
    let found = reader.messages_by_keys(&[k]).unwrap();
    assert_eq!(found.len(), 1, "the reader looks where the writer put the row");
}
