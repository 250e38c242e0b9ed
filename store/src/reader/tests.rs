//! The borrowed visitors against the owned queries on one small archive.

use proto::{
    Attachment, ChatEvent, ChatType, ContentType, EventBatch, EventBody, Ingested, NewMessage, RawPayload, batch::media,
};

use std::path::Path;

use proto::{MessageRecord, Platform};

use super::StoreReader;
use crate::StoreError;
use crate::{Store, StoreOptions};

const T0: i64 = 1_760_000_000_000;

fn message(id: &str, sent_at: i64, mentions: Vec<String>, attachments: Vec<Attachment>) -> Ingested {
    let ev = ChatEvent::message(
        "c1",
        id,
        EventBody::Message(NewMessage {
            chat_type: ChatType::Group,
            chat_name: Some("群".into()),
            external: false,
            sender_id: "u1".into(),
            sender_name: None,
            sent_at,
            content_type: ContentType::Text,
            text: format!("好的收到 {id}"),
            attachments,
            reply_to: None,
            mentions,
            recipients: vec![],
            text_format: proto::TextFormat::Plain,
            source_text: None,
        }),
    );
    Ingested::Payload {
        raw: RawPayload {
            received_at: sent_at + 1,
            media_type: media::JSON.into(),
            bytes: serde_json::to_vec(&ev).unwrap_or_default().into(),
        },
        events: vec![ev],
    }
}

/// m3 and m1 share a send time (m3 arrived first), m2 is a day later; m1's list values
/// need JSON escapes, so they cannot be borrowed from the stored text.
fn archive(dir: &Path) -> StoreReader {
    let mut store = Store::open(
        dir,
        StoreOptions {
            synchronous_full: false,
            cache_mib: 4,
        },
    )
    .unwrap();
    let attachment = Attachment {
        name: Some("合同.pdf".into()),
        size: Some(12),
        ..Default::default()
    };
    let items = vec![
        message("m3", T0, vec!["plain".into()], vec![]),
        message("m1", T0, vec!["say \"hi\"".into(), "a\\b".into()], vec![attachment]),
        message("m2", T0 + 86_400_000, vec![], vec![]),
    ];
    let batch = EventBatch::new(Platform::Yunhu, "team", items, None).0;
    store.append(&[&batch]).unwrap();
    drop(store);
    StoreReader::open(dir).unwrap()
}

#[test]
fn visited_rows_match_the_owned_records_in_send_then_arrival_order() {
    let dir = tempfile::tempdir().unwrap();
    let reader = archive(dir.path());
    let mut owned = Vec::new();
    reader
        .messages_in_range(Platform::Yunhu, T0, T0 + 1, 1, &mut |chunk| {
            owned.extend(chunk);
            Ok(())
        })
        .unwrap();
    let mut seen = Vec::new();
    reader
        .visit_messages_in_range(Platform::Yunhu, T0, T0 + 1, &mut |row| {
            let mentions: Vec<String> = row.mentions()?.into_iter().map(|m| m.into_owned()).collect();
            seen.push((
                row.msg_id.to_string(),
                mentions,
                row.attachments()?.len(),
                row.to_record()?,
            ));
            Ok::<(), StoreError>(())
        })
        .unwrap();
    let ids: Vec<&str> = seen.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(ids, ["m3", "m1"]);
    assert_eq!(seen[1].1, ["say \"hi\"", "a\\b"]);
    assert_eq!((seen[0].2, seen[1].2), (0, 1));
    let records: Vec<MessageRecord> = seen.into_iter().map(|s| s.3).collect();
    assert_eq!(records, owned);
    assert_eq!(records[1].attachments[0].name.as_deref(), Some("合同.pdf"));
}

#[test]
fn first_message_time_steps_from_day_to_day() {
    let dir = tempfile::tempdir().unwrap();
    let reader = archive(dir.path());
    assert_eq!(reader.first_message_time(Platform::Yunhu, i64::MIN).unwrap(), Some(T0));
    assert_eq!(
        reader.first_message_time(Platform::Yunhu, T0 + 1).unwrap(),
        Some(T0 + 86_400_000)
    );
    assert_eq!(
        reader.first_message_time(Platform::Yunhu, T0 + 86_400_001).unwrap(),
        None
    );
    assert_eq!(reader.first_message_time(Platform::Wecom, i64::MIN).unwrap(), None);
}

#[test]
fn visited_events_cover_the_range_and_a_callback_error_stops_the_scan() {
    let dir = tempfile::tempdir().unwrap();
    let reader = archive(dir.path());
    let owned = reader.events_since(0, 10).unwrap();
    assert_eq!(owned.len(), 3);
    let mut seen = Vec::new();
    reader
        .visit_events(1, 3, &mut |e| {
            seen.push((
                e.seq,
                hex::encode(e.hash),
                e.payload.to_vec(),
                e.msg_id.map(str::to_string),
            ));
            Ok::<(), StoreError>(())
        })
        .unwrap();
    let want: Vec<_> = owned[1..]
        .iter()
        .map(|e| (e.seq, e.hash.clone(), e.payload.clone(), e.msg_id.clone()))
        .collect();
    assert_eq!(seen, want);

    #[derive(Debug)]
    enum Stop {
        Here(u64),
        Store,
    }
    impl From<StoreError> for Stop {
        fn from(_: StoreError) -> Self {
            Stop::Store
        }
    }
    let mut calls = 0;
    let got = reader.visit_events(0, 3, &mut |e| {
        calls += 1;
        Err(Stop::Here(e.seq))
    });
    assert!(matches!(got, Err(Stop::Here(1))), "{got:?}");
    assert_eq!(calls, 1);
}

#[test]
fn a_snapshot_does_not_see_what_is_appended_while_it_reads() {
    let dir = tempfile::tempdir().unwrap();
    let reader = archive(dir.path());
    let mut store = Store::open(
        dir.path(),
        StoreOptions {
            synchronous_full: false,
            cache_mib: 4,
        },
    )
    .unwrap();
    let append = |store: &mut Store, id: &str| {
        let batch = EventBatch::new(Platform::Yunhu, "team", vec![message(id, T0 + 5, vec![], vec![])], None).0;
        store.append(&[&batch]).unwrap();
    };
    let (before, after) = reader
        .snapshot(|r| {
            let before = r.head()?;
            append(&mut store, "m4");
            Ok::<_, StoreError>((before, r.head()?))
        })
        .unwrap();
    assert_eq!(before, after, "one snapshot: the append is not seen inside it");
    assert_eq!(reader.head().unwrap().seq, before.seq + 1, "and is seen after it");
    // Without a snapshot, each read sees the latest commit.
    let first = reader.head().unwrap();
    append(&mut store, "m5");
    assert_ne!(reader.head().unwrap(), first);
}

/// The reviewer UI's chat timeline seeks to the chat: both halves of the query are answered
/// from `messages_by_chat`, never by walking the platform's `messages_by_time` entries.
#[test]
fn a_chat_timeline_is_read_through_the_per_chat_index() {
    let dir = tempfile::tempdir().unwrap();
    let reader = archive(dir.path());
    for earlier in [true, false] {
        let sql = format!("EXPLAIN QUERY PLAN {}", super::chat::timeline_sql(earlier));
        let mut st = reader.conn.prepare(&sql).unwrap();
        let plan: Vec<String> = st
            .query_map(rusqlite::params!["yunhu", "team", "c1", T0, 50], |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            plan.iter().any(|d| d.contains("USING INDEX messages_by_chat (platform=? AND account=? AND chat_id=? AND sent_at")),
            "earlier={earlier}: {plan:?}"
        );
        assert!(!plan.iter().any(|d| d.contains("TEMP B-TREE")), "no sort: {plan:?}");
    }
    let page = reader
        .chat_timeline(Platform::Yunhu, "team", "c1", T0 + 1, 1, 5)
        .unwrap();
    let ids: Vec<&str> = page.iter().map(|m| m.key.msg_id.as_str()).collect();
    assert_eq!(
        ids,
        ["m1", "m2"],
        "one before (the later arrival of the two at T0), then from T0 + 1 on"
    );
}

/// `message_count` counts the messages that arrived, not an edit's placeholder row for a
/// message not seen yet, and SQLite answers it from an index, not by reading every row.
#[test]
fn the_message_count_leaves_out_edits_of_unseen_messages_and_reads_an_index() {
    let dir = tempfile::tempdir().unwrap();
    drop(archive(dir.path()));
    let mut store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let edit = ChatEvent::message(
        "c1",
        "not-yet",
        EventBody::Edit {
            text: "改过的".into(),
            content_type: Some(ContentType::Text),
            edited_at: Some(T0 + 5),
            text_format: Some(proto::TextFormat::Plain),
            source_text: None,
        },
    );
    let item = Ingested::Payload {
        raw: RawPayload {
            received_at: T0 + 6,
            media_type: media::JSON.into(),
            bytes: br#"{"edit":"not-yet"}"#.to_vec().into(),
        },
        events: vec![edit],
    };
    let batch = EventBatch::new(Platform::Yunhu, "team", vec![item], None).0;
    assert_eq!(store.append(&[&batch]).unwrap()[0].appended, 1);
    drop(store);
    let reader = StoreReader::open(dir.path()).unwrap();
    assert_eq!(reader.message_count().unwrap(), 3);
    assert_eq!(reader.stats().unwrap().messages, 3);
    let plan: Vec<String> = reader
        .conn
        .prepare(&format!("EXPLAIN QUERY PLAN {}", super::summary::MESSAGE_COUNT_SQL))
        .unwrap()
        .query_map([], |r| r.get(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        plan.iter().any(|d| d.contains("USING") && d.contains("INDEX")),
        "{plan:?}"
    );
}
