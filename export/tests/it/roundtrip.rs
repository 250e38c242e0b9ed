//! Archive → export → read back with arrow/parquet: every field survives.

use arrow_schema::{DataType, TimeUnit};
use proto::{ChatType, ContentType, MessageState, Platform};

use crate::common::*;

/// A small archive covering every message field and state.
fn build() -> Archive {
    let mut a = Archive::new();
    let mut m1 = new_message(DAY0 + HOUR, "合同审批流程已完成");
    m1.attachments = vec![attachment("合同.pdf", 12_345), proto::Attachment::default()];
    m1.mentions = vec!["lisi".into(), "wangwu".into()];
    m1.recipients = vec!["lisi".into()];
    m1.reply_to = Some("m0".into());
    m1.external = true;
    let mut m2 = new_message(DAY0 + 2 * HOUR, "麻烦把发票发一下");
    m2.chat_type = ChatType::Direct;
    m2.chat_name = None;
    m2.sender_name = None;
    m2.content_type = ContentType::Markdown;
    m2.text_format = proto::TextFormat::Markdown;
    m2.source_text = Some("麻烦把**发票**发一下".into());
    a.append(
        Platform::Wecom,
        "corp",
        DAY0 + HOUR + 5,
        vec![msg("g1", "m1", m1), msg("d1", "m2", m2)],
    );
    a.append(
        Platform::Wecom,
        "corp",
        DAY0 + 3 * HOUR,
        vec![edit("g1", "m1", "合同审批流程已完成（已盖章）", DAY0 + 3 * HOUR)],
    );
    a.append(
        Platform::Wecom,
        "corp",
        DAY0 + 4 * HOUR,
        vec![withdraw("d1", "m2", "zhangsan", DAY0 + 4 * HOUR)],
    );
    // Removed from one user's view only: still active, the user listed.
    a.append(
        Platform::Wecom,
        "corp",
        DAY0 + 5 * HOUR,
        vec![proto::ChatEvent::message(
            "g1",
            "m1",
            proto::EventBody::Delete {
                by: Some("lisi".into()),
                at: Some(DAY0 + 5 * HOUR),
                scope: proto::DeleteScope::User,
            },
        )],
    );
    // Another platform, the next day, deleted.
    a.append(
        Platform::Yunhu,
        "team",
        DAY0 + DAY + 10,
        vec![msg("c9", "y1", new_message(DAY0 + DAY, "好的收到"))],
    );
    a.append(
        Platform::Yunhu,
        "team",
        DAY0 + DAY + 20,
        vec![proto::ChatEvent::message(
            "c9",
            "y1",
            proto::EventBody::Delete {
                by: Some("admin".into()),
                at: Some(DAY0 + DAY + 20),
                scope: proto::DeleteScope::Everyone,
            },
        )],
    );
    a
}

#[test]
fn every_message_field_round_trips() {
    let a = build();
    let s = a.export(chrono_tz::UTC, false);
    assert_eq!((s.partitions_written, s.message_rows_written), (2, 3));
    let out = a.out_dir();
    assert_eq!(
        parquet_files(&out.join("messages")),
        vec![
            "platform=wecom/date=2026-03-01/data.parquet",
            "platform=yunhu/date=2026-03-02/data.parquet"
        ]
    );

    let reader = a.reader();
    for (platform, file) in [
        (Platform::Wecom, "messages/platform=wecom/date=2026-03-01/data.parquet"),
        (Platform::Yunhu, "messages/platform=yunhu/date=2026-03-02/data.parquet"),
    ] {
        let batches = read_parquet(&out.join(file));
        // The file carries the declared schema, timestamps in ms UTC, no partition columns.
        let schema = batches[0].schema();
        assert_eq!(schema.fields(), export::schema::messages_schema().fields());
        assert_eq!(
            schema.field_with_name("sent_at").unwrap().data_type(),
            &DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
        );
        assert!(schema.field_with_name("platform").is_err() && schema.field_with_name("date").is_err());

        let got = decode_messages(platform, &batches);
        let keys: Vec<_> = got.iter().map(|r| r.key.clone()).collect();
        let mut want = reader.messages_by_keys(&keys).unwrap();
        want.sort_by_key(|r| r.sent_at);
        assert_eq!(got, want, "{file}");
    }

    // And the values are the fold of what was archived, not just whatever the store said.
    let got = decode_messages(
        Platform::Wecom,
        &read_parquet(&out.join("messages/platform=wecom/date=2026-03-01/data.parquet")),
    );
    let m1 = got.iter().find(|r| r.key.msg_id == "m1").unwrap();
    assert_eq!(m1.text, "合同审批流程已完成（已盖章）");
    assert_eq!((m1.revision, m1.edited_at), (1, Some(DAY0 + 3 * HOUR)));
    assert_eq!(m1.attachments[0], attachment("合同.pdf", 12_345));
    assert_eq!(m1.attachments[1], proto::Attachment::default());
    assert_eq!(m1.mentions, vec!["lisi", "wangwu"]);
    assert_eq!(
        (m1.state, m1.deleted_for.clone()),
        (
            MessageState::Active,
            vec![proto::UserDeletion {
                user: Some("lisi".into()),
                at: DAY0 + 5 * HOUR
            }]
        )
    );
    let m2 = got.iter().find(|r| r.key.msg_id == "m2").unwrap();
    assert_eq!(
        (
            m2.text_format,
            m2.source_text.as_deref(),
            m1.text_format,
            m1.source_text.as_deref()
        ),
        (
            proto::TextFormat::Markdown,
            Some("麻烦把**发票**发一下"),
            proto::TextFormat::Plain,
            None
        )
    );
    assert_eq!((m1.external, m1.reply_to.as_deref()), (true, Some("m0")));
    let m2 = got.iter().find(|r| r.key.msg_id == "m2").unwrap();
    assert_eq!(m2.state, MessageState::Withdrawn);
    assert_eq!(
        (m2.withdrawn_at, m2.withdrawn_by.as_deref()),
        (Some(DAY0 + 4 * HOUR), Some("zhangsan"))
    );
    assert_eq!(
        (m2.chat_type, m2.content_type, m2.chat_name.as_deref()),
        (ChatType::Direct, ContentType::Markdown, None)
    );
    let y1 = &decode_messages(
        Platform::Yunhu,
        &read_parquet(&out.join("messages/platform=yunhu/date=2026-03-02/data.parquet")),
    )[0];
    assert_eq!(
        (y1.state, y1.deleted_at, y1.deleted_by.as_deref()),
        (MessageState::Deleted, Some(DAY0 + DAY + 20), Some("admin"))
    );
}

#[test]
fn event_log_round_trips_partitioned_by_receive_date() {
    let a = build();
    let s = a.export(chrono_tz::UTC, false);
    assert_eq!((s.event_rows_written, s.to_seq), (7, 7));
    let out = a.out_dir();
    assert_eq!(
        parquet_files(&out.join("events")),
        vec![
            "platform=wecom/date=2026-03-01/part-1-5.parquet",
            "platform=yunhu/date=2026-03-02/part-6-7.parquet"
        ]
    );
    let stored = a.reader().events_since(0, 100).unwrap();
    let mut seen = 0;
    for file in parquet_files(&out.join("events")) {
        for b in read_parquet(&out.join("events").join(&file)) {
            assert_eq!(b.schema().fields(), export::schema::events_schema().fields());
            let (seq, recv) = (ints(&b, "seq"), ts(&b, "received_at"));
            let (kind, payload, hash) = (strs(&b, "kind"), strs(&b, "payload"), strs(&b, "hash"));
            for i in 0..b.num_rows() {
                let e = &stored[seq.value(i) as usize - 1];
                assert_eq!(kind.value(i), e.kind.as_str());
                assert_eq!(payload.value(i).as_bytes(), e.payload.as_slice());
                assert_eq!(hash.value(i), e.hash);
                assert_eq!(recv.value(i), e.received_at);
                seen += 1;
            }
        }
    }
    assert_eq!(seen, stored.len());
}

#[test]
fn manifest_lists_every_file_with_checksums_and_the_chain_head() {
    let a = build();
    a.export(chrono_tz::Asia::Shanghai, false);
    let out = a.out_dir();
    let m = manifest(&out);
    assert_eq!(m.seq, 7);
    assert_eq!(m.head.seq, 7);
    assert_eq!(m.head.hash, a.reader().head().unwrap().hash);
    assert_eq!(m.timezone, "Asia/Shanghai");
    assert_eq!(m.schema_version, export::EXPORT_SCHEMA_VERSION);
    assert_eq!((m.rows("messages"), m.rows("events")), (3, 7));
    let listed: Vec<String> = m.files.iter().map(|f| f.path.clone()).collect();
    assert_eq!(listed, parquet_files(&out));
    for f in &m.files {
        let p = out.join(&f.path);
        assert_eq!(std::fs::metadata(&p).unwrap().len(), f.bytes);
        assert_eq!(sha256_file(&p), f.sha256, "{}", f.path);
    }
    // No temporaries left behind; only the manifest, the lock and data files.
    assert!(
        all_files(&out)
            .iter()
            .all(|f| f.ends_with(".parquet") || f == "_manifest.json" || f == ".export.lock")
    );
}

#[test]
fn dates_are_local_to_the_configured_time_zone() {
    let mut a = Archive::new();
    // 17:00 UTC on 1 March is 01:00 on 2 March in Shanghai.
    a.append_text(Platform::Goofish, "shop", "c", "late", DAY0 + 17 * HOUR, "包邮吗");
    a.append_text(Platform::Goofish, "shop", "c", "early", DAY0 + 15 * HOUR, "可以小刀吗");
    a.export(chrono_tz::Asia::Shanghai, false);
    assert_eq!(
        parquet_files(&a.out_dir().join("messages")),
        vec![
            "platform=goofish/date=2026-03-01/data.parquet",
            "platform=goofish/date=2026-03-02/data.parquet"
        ]
    );
}
