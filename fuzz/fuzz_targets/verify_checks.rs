//! `verify`'s checks against arbitrary histories and arbitrary tampering: bytes become a run
//! of message, edit, stream-chunk, withdrawal, deletion and membership events appended in
//! arbitrary batches and order (which also drives the projection's in-place steps against its
//! re-fold), then at most one tamper with the tables `verify` now covers (`dedup`, `chats`,
//! `members`, `cursors`), a cut of the log below an anchor, or arbitrary text in the anchors
//! file.
//!
//! Asserted: an untouched archive verifies; every tamper that changed a row fails `verify`;
//! nothing panics, whatever the anchors file holds.

#![no_main]

use libfuzzer_sys::fuzz_target;
use proto::{
    ChatEvent, ChatType, ContentType, DeleteScope, EventBatch, EventBody, Identity, Ingested, NewMessage, Platform,
    RawPayload, TextFormat,
};

const T0: i64 = 1_760_000_000_000;

fn event(op: u8, arg: u8, n: usize) -> ChatEvent {
    let id = format!("m{}", arg % 4);
    let at = T0 + i64::from(arg) * 1000;
    let body = match op % 7 {
        0 => EventBody::Message(NewMessage {
            chat_type: ChatType::Group,
            chat_name: (arg % 3 != 0).then(|| format!("群{}", arg % 3)),
            external: false,
            sender_id: "u1".into(),
            sender_name: None,
            sent_at: at,
            content_type: ContentType::Text,
            text: format!("原文{arg}"),
            // Markdown messages carry their markup, which stream chunks extend too.
            text_format: if arg & 0x40 != 0 {
                TextFormat::Markdown
            } else {
                TextFormat::Plain
            },
            source_text: (arg & 0x40 != 0).then(|| format!("**原文{arg}**")),
            attachments: Vec::new(),
            reply_to: None,
            mentions: Vec::new(),
            recipients: Vec::new(),
        }),
        1 => EventBody::Edit {
            text: format!("改{n}"),
            content_type: None,
            edited_at: Some(at + (arg / 4) as i64),
            text_format: (arg & 0x40 != 0).then_some(TextFormat::Markdown),
            source_text: (arg & 0x40 != 0).then(|| format!("*改{n}*")),
        },
        2 => EventBody::StreamAppend {
            chunk: format!("段{n}"),
            offset: u64::from(arg / 4),
        },
        3 => EventBody::Withdraw {
            by: Some("u1".into()),
            at: Some(at + (arg / 4) as i64),
        },
        4 => EventBody::Delete {
            by: (arg & 0x40 != 0).then(|| format!("u{}", arg % 3)),
            at: Some(at + (arg / 4) as i64),
            // A deletion for one user is re-folded; one for everyone is applied in place.
            scope: if arg & 0x40 != 0 {
                DeleteScope::User
            } else {
                DeleteScope::Everyone
            },
        },
        5 => EventBody::MemberJoin {
            members: vec![Identity {
                id: format!("u{}", arg % 3),
                name: (arg % 2 == 0).then(|| format!("名{arg}")),
            }],
            at: None,
        },
        _ => EventBody::MemberLeave {
            members: vec![Identity {
                id: format!("u{}", arg % 3),
                name: None,
            }],
            at: None,
        },
    };
    let targets = body.targets_message();
    ChatEvent {
        chat_id: "c1".into(),
        msg_id: targets.then_some(id),
        occurred_at: Some(at),
        body,
    }
}

fn batch(items: Vec<Ingested>, cursor: usize) -> EventBatch {
    EventBatch::new(Platform::Yunhu, "team", items, Some(serde_json::json!({ "n": cursor }))).0
}

fuzz_target!(|data: &[u8]| {
    let Some((&tamper, rest)) = data.split_first() else {
        return;
    };
    let Some((&tamper_arg, rest)) = rest.split_first() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store::Store::open(
        dir.path(),
        store::StoreOptions {
            synchronous_full: false,
            cache_mib: 4,
        },
    )
    .expect("open");
    let mut items = Vec::new();
    for (n, pair) in rest.chunks(2).take(64).enumerate() {
        let (op, arg) = (pair[0], *pair.get(1).unwrap_or(&0));
        let ev = event(op, arg, n);
        let bytes = serde_json::to_vec(&ev).expect("serializes");
        items.push(Ingested::Payload {
            raw: RawPayload {
                received_at: T0 + n as i64,
                media_type: proto::batch::media::JSON.into(),
                bytes: bytes.into(),
            },
            events: vec![ev],
        });
        if op & 0x80 != 0 {
            s.append(&[&batch(std::mem::take(&mut items), n)]).expect("append");
        }
    }
    if !items.is_empty() {
        s.append(&[&batch(items, 999)]).expect("append");
    }
    drop(s);
    let verify = || {
        store::StoreReader::open(dir.path())
            .expect("reader")
            .verify(&mut |_| {})
            .expect("verify")
    };
    let r = verify();
    assert!(r.ok, "an untouched archive verifies: {r:?}");

    let db = rusqlite::Connection::open(dir.path().join(store::DB_FILE)).expect("db");
    let d = i64::from(tamper_arg % 5) + 1;
    let changed = match tamper % 8 {
        0 => db.execute("INSERT OR IGNORE INTO dedup(k, h) VALUES (?1, ?2)", [d * 7919, d]),
        1 => db.execute("UPDATE chats SET messages = messages + ?1", [d]),
        2 => db.execute("UPDATE chats SET name = coalesce(name, '') || 'x'", []),
        3 => db.execute("UPDATE members SET present = 1 - present WHERE since_seq % ?1 = 0", [d]),
        4 => db.execute("DELETE FROM members WHERE user_id = 'u' || ?1", [d % 3]),
        5 => db.execute("UPDATE cursors SET updated_seq = updated_seq + ?1", [d]),
        6 => {
            // Anchor the head, then cut the log and everything that would betray the cut.
            let head = r.head.clone();
            let a = store::anchors::Anchor {
                seq: head.seq,
                hash: head.hash,
            };
            store::anchors::record(dir.path(), &a, "fuzz").expect("anchor");
            db.execute(
                "DELETE FROM events WHERE seq > ?1",
                [head.seq.saturating_sub(d as u64) as i64],
            )
        }
        _ => {
            let text = String::from_utf8_lossy(rest);
            std::fs::write(dir.path().join(store::anchors::ANCHORS_FILE), text.as_bytes()).expect("write");
            let _ = verify();
            return;
        }
    }
    .expect("tamper");
    if changed > 0 {
        let r = verify();
        assert!(!r.ok, "tamper {} changed {changed} rows and verify passed", tamper % 8);
    }
});
