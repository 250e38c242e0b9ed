//! What a user of the archive notices: audit history, dedup, rejects, refusing foreign files,
//! gaps, and commit notices that tell the truth when the writer dies or a commit fails.

mod common;

use chatvault_store as store;
use common::*;
use proto::{ConnectorStatus, EventBody, MessageState};
use store::{AuditFilter, StoreError, StoreReader};

#[test]
fn audit_shows_every_revision_of_an_edited_then_withdrawn_message() {
    let (dir, mut s) = temp_store();
    let b = batch(vec![
        payload(msg("c1", "m1", "合同明天签", T0), T0 + 1),
        payload(edit("c1", "m1", "合同后天签", T0 + 60_000), T0 + 60_001),
        payload(edit("c1", "m1", "合同下周签", T0 + 120_000), T0 + 120_001),
        payload(withdraw("c1", "m1", "u1", T0 + 180_000), T0 + 180_001),
        payload(msg("c1", "m2", "无关消息", T0 + 5), T0 + 6),
    ]);
    s.append(&[&b]).unwrap();
    let r = StoreReader::open(dir.path()).unwrap();
    let mut entries = Vec::new();
    r.audit(
        &AuditFilter {
            withdrawn: true,
            ..Default::default()
        },
        &mut |e| {
            entries.push(e);
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(entries.len(), 1, "only the withdrawn message is listed");
    let e = &entries[0];
    assert_eq!(e.original_text, "合同明天签");
    assert_eq!(e.record.text, "合同下周签");
    assert_eq!(e.record.state, MessageState::Withdrawn);
    assert_eq!(e.record.withdrawn_by.as_deref(), Some("u1"));
    assert_eq!(e.record.withdrawn_at, Some(T0 + 180_000));
    assert_eq!(e.record.revision, 2);
    let texts: Vec<(&str, i64)> = e.revisions.iter().map(|r| (r.text.as_str(), r.at)).collect();
    assert_eq!(
        texts,
        vec![
            ("合同明天签", T0),
            ("合同后天签", T0 + 60_000),
            ("合同下周签", T0 + 120_000)
        ]
    );
    assert!(r.verify(&mut |_| {}).unwrap().ok);
}

#[test]
fn edits_and_withdrawals_before_their_message_are_applied_when_it_arrives() {
    let (_dir, mut s) = temp_store();
    s.append(&[&batch(vec![
        payload(withdraw("c1", "m1", "u1", T0 + 9), T0 + 10),
        payload(edit("c1", "m1", "改过的", T0 + 5), T0 + 11),
    ])])
    .unwrap();
    let r = s.reader().unwrap();
    assert!(
        r.messages_by_keys(&[key("c1", "m1")]).unwrap().is_empty(),
        "no message yet"
    );
    s.append(&[&batch(vec![payload(msg("c1", "m1", "原文", T0), T0 + 20)])])
        .unwrap();
    let rec = r.messages_by_keys(&[key("c1", "m1")]).unwrap().pop().unwrap();
    assert_eq!(rec.text, "改过的");
    assert_eq!(rec.state, MessageState::Withdrawn);
    assert_eq!(r.revisions(&key("c1", "m1")).unwrap().len(), 2);
    assert!(r.verify(&mut |_| {}).unwrap().ok);
}

#[test]
fn stream_appends_build_the_final_text_in_offset_order() {
    let (_dir, mut s) = temp_store();
    s.append(&[&batch(vec![
        payload(msg("c1", "m1", "答：", T0), T0),
        payload(append("c1", "m1", "第二段。", 2), T0 + 2),
        payload(append("c1", "m1", "第一段，", 1), T0 + 3),
        payload(append("c1", "m1", "第一段，", 1), T0 + 4),
    ])])
    .unwrap();
    let rec = s
        .reader()
        .unwrap()
        .messages_by_keys(&[key("c1", "m1")])
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(rec.text, "答：第一段，第二段。");
    assert_eq!(rec.revision, 0, "stream appends are not edits");
}

#[test]
fn redelivery_is_recorded_once_but_a_recall_of_a_known_message_is_new() {
    let (_dir, mut s) = temp_store();
    let first = s
        .append(&[&batch(vec![payload(msg("c1", "m1", "你好", T0), T0)])])
        .unwrap();
    assert_eq!(first[0].appended, 1);
    // Same event, received later (a different raw receive time must not matter).
    let again = s
        .append(&[&batch(vec![payload(msg("c1", "m1", "你好", T0), T0 + 99_000)])])
        .unwrap();
    assert_eq!((again[0].appended, again[0].duplicates), (0, 1));
    let recall = s
        .append(&[&batch(vec![payload(withdraw("c1", "m1", "u1", T0 + 5), T0 + 6)])])
        .unwrap();
    assert_eq!(recall[0].appended, 1);
    let stats = s.reader().unwrap().stats().unwrap();
    assert_eq!((stats.events, stats.raw_payloads, stats.messages), (2, 2, 1));
}

#[test]
fn every_version_a_platform_sent_under_one_id_is_kept_once() {
    let (_dir, mut s) = temp_store();
    // An edit first (the message row exists without its message), then the message, then a
    // different message under the same id, then all three again in one batch.
    let edit_first = payload(edit("c1", "m1", "改过的", T0 + 5), T0 + 6);
    let original = payload(msg("c1", "m1", "原文", T0), T0 + 7);
    let other = payload(msg("c1", "m1", "另一个版本", T0), T0 + 8);
    for item in [&edit_first, &original, &other] {
        let info = s.append(&[&batch(vec![item.clone()])]).unwrap();
        assert_eq!((info[0].appended, info[0].duplicates), (1, 0));
    }
    let again = s.append(&[&batch(vec![other, original, edit_first])]).unwrap();
    assert_eq!((again[0].appended, again[0].duplicates), (0, 3));
    let r = s.reader().unwrap();
    assert_eq!(r.stats().unwrap().events, 3);
    assert_eq!(
        r.messages_by_keys(&[key("c1", "m1")]).unwrap().pop().unwrap().text,
        "改过的"
    );
    let report = r.verify(&mut |_| {}).unwrap();
    assert!(report.ok, "{report:?}");
}

#[test]
fn invalid_events_and_rejected_payloads_land_in_rejects_with_the_reason() {
    let (_dir, mut s) = temp_store();
    let mut bad = msg("c1", "m1", "x", T0);
    bad.msg_id = None;
    let mut bad_time = msg("c1", "m2", "x", T0);
    if let EventBody::Message(m) = &mut bad_time.body {
        m.sent_at = 12;
    }
    let rejected = proto::Ingested::Rejected {
        raw: proto::RawPayload::now(proto::batch::media::TEXT, "42{garbage"),
        reason: "malformed frame".into(),
    };
    let info = s
        .append(&[&batch(vec![
            payload(bad, T0),
            payload(bad_time, T0),
            rejected,
            payload(msg("c1", "ok", "好", T0), T0),
        ])])
        .unwrap();
    assert_eq!((info[0].appended, info[0].rejected), (1, 3));
    let rejects = s.reader().unwrap().rejects(10).unwrap();
    let reasons: Vec<&str> = rejects.iter().map(|r| r.reason.as_str()).collect();
    assert!(
        reasons.iter().any(|r| r.contains("without a message id")),
        "{reasons:?}"
    );
    assert!(reasons.iter().any(|r| r.contains("implausible sent_at")), "{reasons:?}");
    assert!(reasons.contains(&"malformed frame"));
}

#[test]
fn a_foreign_or_corrupt_file_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(store::DB_FILE);
    std::fs::write(
        &db,
        b"this is not a database, it is a text file that happens to be here",
    )
    .unwrap();
    let before = std::fs::read(&db).unwrap();
    let err = store::Store::open(dir.path(), Default::default())
        .err()
        .expect("must refuse");
    assert!(err.to_string().contains("not a chatvault database"), "{err}");
    assert_eq!(std::fs::read(&db).unwrap(), before);

    let dir2 = tempfile::tempdir().unwrap();
    let db2 = dir2.path().join(store::DB_FILE);
    rusqlite::Connection::open(&db2)
        .unwrap()
        .execute_batch("CREATE TABLE invoices(id INTEGER)")
        .unwrap();
    let before = std::fs::read(&db2).unwrap();
    let err = store::Store::open(dir2.path(), Default::default())
        .err()
        .expect("must refuse");
    assert!(err.to_string().contains("left untouched"), "{err}");
    assert_eq!(std::fs::read(&db2).unwrap(), before);
}

#[test]
fn an_unusable_data_dir_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    let err = store::Store::open(&file.join("data"), Default::default())
        .err()
        .expect("must fail");
    assert!(err.to_string().contains("cannot create data directory"), "{err}");
}

#[test]
fn files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let _s = open(&data);
    assert_eq!(std::fs::metadata(&data).unwrap().permissions().mode() & 0o777, 0o700);
    assert_eq!(
        std::fs::metadata(data.join(store::DB_FILE))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
}

/// The gaps of an archive whose connector went through `states` (status, ms after `T0`), each
/// reported with `detail`: (start, end, the state that started it), in ms after `T0`.
fn gaps_after(detail: &str, states: &[(ConnectorStatus, i64)]) -> Vec<(i64, Option<i64>, ConnectorStatus)> {
    let (_dir, mut s) = temp_store();
    let items = states
        .iter()
        .map(|&(status, after)| state_change(status, detail, T0 + after))
        .collect();
    s.append(&[&batch(items)]).unwrap();
    let gaps = s.reader().unwrap().gaps(None, None, None).unwrap();
    gaps.iter()
        .map(|g| (g.from - T0, g.to.map(|t| t - T0), g.status))
        .collect()
}

#[test]
fn gaps_come_from_connector_state_events() {
    let gaps = gaps_after(
        "test",
        &[
            (ConnectorStatus::Connected, 0),
            (ConnectorStatus::Disconnected, 1000),
            (ConnectorStatus::AuthFailed, 1500),
            (ConnectorStatus::Connected, 5000),
            (ConnectorStatus::Kicked, 9000),
        ],
    );
    let spans: Vec<(i64, Option<i64>)> = gaps.iter().map(|&(from, to, _)| (from, to)).collect();
    assert_eq!(spans, vec![(1000, Some(5000)), (9000, None)]);
    assert_eq!(gaps[1].2, ConnectorStatus::Kicked);
}

/// A WorkTool robot that forwards only @-mentions (`replyAll` 0) or no callbacks
/// (`openCallback` 0) is archiving, but not everything: both are gaps until it is fixed.
#[test]
fn a_robot_forwarding_only_mentions_or_nothing_is_a_gap() {
    let gaps = gaps_after(
        "robotInfo/get",
        &[
            (ConnectorStatus::RobotOnline, 0),
            (ConnectorStatus::MentionsOnly, 1000),
            (ConnectorStatus::RobotOnline, 5000),
            (ConnectorStatus::CallbackOff, 9000),
        ],
    );
    assert_eq!(
        gaps,
        vec![
            (1000, Some(5000), ConnectorStatus::MentionsOnly),
            (9000, None, ConnectorStatus::CallbackOff)
        ]
    );
}

#[test]
fn a_long_stream_applied_in_place_reads_as_the_fold_of_its_events() {
    let (dir, mut s) = temp_store();
    let mut items = vec![payload(msg("c1", "m1", "开头", T0), T0)];
    // In order, then one chunk that arrives late (offset 5), all in one transaction.
    items.extend(
        (0..200u64)
            .filter(|o| *o != 5)
            .map(|o| payload(append("c1", "m1", &format!("[{o}]"), o), T0 + 1)),
    );
    items.push(payload(append("c1", "m1", "[5]", 5), T0 + 2));
    s.append(&[&batch(items)]).unwrap();
    s.append(&[&batch(vec![payload(append("c1", "m1", "[200]", 200), T0 + 3)])])
        .unwrap();
    let r = StoreReader::open(dir.path()).unwrap();
    let want: String = std::iter::once("开头".to_string())
        .chain((0..=200).map(|o| format!("[{o}]")))
        .collect();
    assert_eq!(r.messages_by_keys(&[key("c1", "m1")]).unwrap()[0].text, want);
    // An edit then replaces the text; a chunk after it changes only revision 0.
    s.append(&[&batch(vec![
        payload(edit("c1", "m1", "改写", T0 + 10), T0 + 10),
        payload(append("c1", "m1", "[201]", 201), T0 + 11),
    ])])
    .unwrap();
    let rec = r.messages_by_keys(&[key("c1", "m1")]).unwrap().pop().unwrap();
    assert_eq!((rec.text.as_str(), rec.revision), ("改写", 1));
    assert!(r.verify(&mut |_| {}).unwrap().ok);
}

#[test]
fn a_streamed_markdown_reply_keeps_its_markup_growing_with_the_text() {
    let (dir, mut s) = temp_store();
    let mut start = msg("c1", "md", "周报", T0);
    if let EventBody::Message(m) = &mut start.body {
        m.text_format = proto::TextFormat::Markdown;
        m.source_text = Some("# 周报".into());
    }
    // Chunks in the same transaction as the message, then in two later ones.
    s.append(&[&batch(vec![
        payload(start, T0),
        payload(append("c1", "md", "\n- 完成", 0), T0 + 1),
    ])])
    .unwrap();
    s.append(&[&batch(vec![payload(append("c1", "md", "\n- **上线**", 1), T0 + 2)])])
        .unwrap();
    s.append(&[&batch(vec![payload(append("c1", "md", "\n- 复盘", 2), T0 + 3)])])
        .unwrap();
    let r = StoreReader::open(dir.path()).unwrap();
    let rec = r.messages_by_keys(&[key("c1", "md")]).unwrap().pop().unwrap();
    assert_eq!(rec.text_format, proto::TextFormat::Markdown);
    assert_eq!(rec.source_text.as_deref(), Some("# 周报\n- 完成\n- **上线**\n- 复盘"));
    assert_eq!(rec.text, "周报\n- 完成\n- **上线**\n- 复盘");
    assert!(r.verify(&mut |_| {}).unwrap().ok);
}

#[test]
fn the_log_names_the_row_of_every_message_an_event_changed_and_that_row_reads_as_its_state() {
    let (_dir, mut s) = temp_store();
    s.append(&[&batch(vec![
        payload(msg("c1", "m1", "原文", T0), T0 + 1),
        payload(msg("c1", "m2", "第二条", T0 + 2), T0 + 3),
        state_change(ConnectorStatus::Connected, "up", T0 + 4),
        payload(edit("c1", "m1", "改过的", T0 + 5), T0 + 6),
        payload(withdraw("c1", "m2", "u1", T0 + 7), T0 + 8),
        // An edit of a message the archive has not seen: a row, but no message to read yet.
        payload(edit("c1", "m3", "先到的修改", T0 + 9), T0 + 10),
    ])])
    .unwrap();
    let r = s.reader().unwrap();

    let all = r.message_changes_since(0, 100).unwrap();
    assert_eq!(
        (all.read, all.last_seq),
        (6, 6),
        "every event is counted, targeted or not"
    );
    let kinds: Vec<_> = all.targets.iter().map(|(k, _)| *k).collect();
    use proto::EventKind::*;
    assert_eq!(kinds, [Message, Message, Edit, Withdraw, Edit]);
    let rows: Vec<i64> = all.targets.iter().map(|(_, row)| *row).collect();
    assert_eq!(rows[0], rows[2], "the edit names its message's row");
    assert_eq!(rows[1], rows[3], "the withdrawal names its message's row");
    assert_ne!(rows[0], rows[1]);

    // Each row as the visit hands it out, with how many texts it has had, read during the
    // visit.
    let mut visited = Vec::new();
    r.visit_messages_by_row_keys(&rows, &mut |arrival, row| {
        let revisions = r.revisions(&key(row.chat_id, row.msg_id))?.len();
        visited.push((arrival, row.to_record()?, revisions));
        Ok::<_, StoreError>(())
    })
    .unwrap();
    let revisions: Vec<usize> = visited.iter().map(|(_, _, n)| *n).collect();
    assert_eq!(revisions, [2, 0, 2, 0], "m1's two texts");
    let found: Vec<_> = visited.into_iter().map(|(n, m, _)| (n, m)).collect();
    let arrivals: Vec<u64> = found.iter().map(|(n, _)| *n).collect();
    assert_eq!(arrivals, [1, 2, 1, 2], "rows are numbered as they are made");
    assert_eq!(r.last_message_arrival().unwrap(), 3, "m3's edit made a row too");
    let records: Vec<_> = found.into_iter().map(|(_, m)| m).collect();
    let states: Vec<_> = records
        .iter()
        .map(|m| (m.key.msg_id.as_str(), m.text.as_str(), m.state))
        .collect();
    assert_eq!(
        states,
        [
            ("m1", "改过的", MessageState::Active),
            ("m2", "第二条", MessageState::Withdrawn),
            ("m1", "改过的", MessageState::Active),
            ("m2", "第二条", MessageState::Withdrawn),
        ],
        "m3 has no message yet, so it is not read"
    );
    assert_eq!(
        records,
        r.messages_by_keys(&[key("c1", "m1"), key("c1", "m2"), key("c1", "m1"), key("c1", "m2")])
            .unwrap()
    );
    // The callback's error stops the visit and comes back as it was.
    let mut calls = 0;
    let stopped = r.visit_messages_by_row_keys(&rows, &mut |_, _| {
        calls += 1;
        Err(StoreError::Corrupt("stop here".into()))
    });
    assert!(matches!(stopped, Err(StoreError::Corrupt(m)) if m == "stop here"));
    assert_eq!(calls, 1);

    let first = r.message_changes_since(0, 2).unwrap();
    assert_eq!((first.read, first.last_seq, first.targets.len()), (2, 2, 2));
    let rest = r.message_changes_since(2, 100).unwrap();
    assert_eq!((rest.read, rest.last_seq, rest.targets.len()), (4, 6, 3));
    let none = r.message_changes_since(6, 100).unwrap();
    assert_eq!((none.read, none.last_seq, none.targets.len()), (0, 6, 0));
}

/// Ids whose numbers are equal share an ordered row key (`keys.rs`): the second and later
/// identities go on to their hash sequence, and each is still its own message.
#[test]
fn messages_whose_ids_share_a_number_stay_apart() {
    let (dir, mut s) = temp_store();
    let ids = ["a1000001", "b1000001", "1000001"];
    // In one transaction: each new row is seen by the next lookup.
    let first: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| payload(msg("c1", id, &format!("第{i}条"), T0 + i as i64), T0))
        .collect();
    let info = s.append(&[&batch(first)]).unwrap();
    assert_eq!((info[0].appended, info[0].duplicates), (3, 0), "each is new");
    // An edit of a fourth one before its message, then the message.
    s.append(&[&batch(vec![payload(edit("c1", "c1000001", "先到的修改", T0 + 9), T0)])])
        .unwrap();
    s.append(&[&batch(vec![payload(msg("c1", "c1000001", "原文", T0 + 3), T0)])])
        .unwrap();
    let again: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| payload(msg("c1", id, &format!("第{i}条"), T0 + i as i64), T0 + 50))
        .collect();
    let info = s.append(&[&batch(again)]).unwrap();
    assert_eq!(
        (info[0].appended, info[0].duplicates),
        (0, 3),
        "redeliveries are recognised"
    );
    s.append(&[&batch(vec![payload(
        edit("c1", "b1000001", "改过的", T0 + 20),
        T0 + 21,
    )])])
    .unwrap();

    let r = s.reader().unwrap();
    let texts: Vec<String> = r
        .messages_by_keys(&[
            key("c1", "a1000001"),
            key("c1", "b1000001"),
            key("c1", "1000001"),
            key("c1", "c1000001"),
        ])
        .unwrap()
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(texts, ["第0条", "改过的", "第2条", "先到的修改"]);
    assert_eq!(r.revisions(&key("c1", "b1000001")).unwrap().len(), 2);
    assert_eq!(r.stats().unwrap().messages, 4);
    let report = r.verify(&mut |_| {}).unwrap();
    assert!(report.ok, "{report:?}");
    drop(s);
    let conn = rusqlite::Connection::open(dir.path().join(store::DB_FILE)).unwrap();
    let distinct: i64 = conn
        .query_row("SELECT count(DISTINCT mkey) FROM messages", [], |r| r.get(0))
        .unwrap();
    assert_eq!(distinct, 4, "one row key each");
}

/// A chat's numbered messages take neighbouring row keys, in order, so a commit writes the
/// key index near one place per chat rather than one page per message.
#[test]
fn a_chats_numbered_messages_sit_together_in_the_key_index() {
    let (dir, mut s) = temp_store();
    let items = (1..=40)
        .map(|i| {
            let chat = if i % 2 == 0 { "c1" } else { "c2" };
            payload(msg(chat, &format!("m{i:09}"), "你好", T0 + i), T0 + i)
        })
        .collect();
    s.append(&[&batch(items)]).unwrap();
    drop(s);
    let conn = rusqlite::Connection::open(dir.path().join(store::DB_FILE)).unwrap();
    for chat in ["c1", "c2"] {
        let keys: Vec<i64> = conn
            .prepare("SELECT mkey FROM messages WHERE chat_id = ?1 ORDER BY id")
            .unwrap()
            .query_map([chat], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(keys.len(), 20);
        assert!(keys.windows(2).all(|w| w[1] == w[0] + 2), "{chat}: {keys:?}");
    }
}

/// A new archive keeps a catch-up's numbered messages of many chats in one run of the key
/// index (`keys.rs`): each commit then appends there instead of rewriting a page per chat.
#[test]
fn numbered_messages_of_many_chats_take_consecutive_row_keys() {
    let (dir, mut s) = temp_store();
    let items: Vec<_> = (0..30u64)
        .map(|i| {
            let id = format!("{}.PNM", 4_263_141_580_162 + i);
            payload(msg(&format!("chat{}", i % 10), &id, "在吗", T0 + i as i64), T0 + 100)
        })
        .collect();
    s.append(&[&batch(items)]).unwrap();
    let conn = rusqlite::Connection::open(dir.path().join(store::DB_FILE)).unwrap();
    let keys: Vec<i64> = conn
        .prepare("SELECT mkey FROM messages ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(keys.len(), 30);
    assert!(keys.windows(2).all(|w| w[1] == w[0] + 1), "{keys:?}");
}
