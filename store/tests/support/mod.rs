//! Builders for the compression, detail and version 2 migration tests: payloads with raw bytes
//! of the test's choosing, on the Goofish account `shop`.
#![allow(dead_code)]

use chatvault_store as store;
use proto::{
    ChatEvent, ChatType, ContentType, EventBatch, EventBody, Ingested, NewMessage, Platform, RawPayload, batch::media,
};

pub const T0: i64 = 1_760_000_000_000;

pub fn open(dir: &std::path::Path) -> store::Store {
    store::Store::open(
        dir,
        store::StoreOptions {
            synchronous_full: false,
            cache_mib: 16,
        },
    )
    .unwrap()
}

pub fn text_message(chat: &str, id: &str, text: &str, sent_at: i64) -> ChatEvent {
    ChatEvent::message(
        chat,
        id,
        EventBody::Message(NewMessage {
            chat_type: ChatType::Direct,
            chat_name: None,
            external: true,
            sender_id: "2300000000007".into(),
            sender_name: Some("买家7".into()),
            sent_at,
            content_type: ContentType::Text,
            text: text.into(),
            attachments: vec![],
            reply_to: None,
            mentions: vec![],
            recipients: vec![],
        }),
    )
}

/// `events` carried by the raw payload `bytes`.
pub fn carried(bytes: Vec<u8>, events: Vec<ChatEvent>, received_at: i64) -> Ingested {
    Ingested::Payload {
        raw: RawPayload {
            received_at,
            media_type: media::MSGPACK.into(),
            bytes: bytes.into(),
        },
        events,
    }
}

pub fn goofish(items: Vec<Ingested>) -> EventBatch {
    EventBatch::new(Platform::Goofish, "shop", items, None).0
}

pub fn goofish_key(chat: &str, id: &str) -> proto::MessageKey {
    proto::MessageKey {
        platform: Platform::Goofish,
        account: "shop".into(),
        chat_id: chat.into(),
        msg_id: id.into(),
    }
}

/// Rewrites the stored envelope of event `seq` as `edit` changes its JSON text, keeping its
/// compression (stored as is, zstd, or zstd with its dictionary): a tamper with the event
/// itself, not with how it is stored. Returns the rows changed.
pub fn tamper_payload(conn: &rusqlite::Connection, seq: i64, edit: impl Fn(&str) -> String) -> usize {
    use rusqlite::OptionalExtension;
    let Some((stored, zdict)) = conn
        .query_row("SELECT payload, zdict FROM events WHERE seq = ?1", [seq], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Option<i64>>(1)?))
        })
        .optional()
        .unwrap()
    else {
        return 0;
    };
    let dict: Vec<u8> = match zdict {
        Some(id) if id > 0 => conn
            .query_row("SELECT bytes FROM dicts WHERE id = ?1", [id], |r| r.get(0))
            .unwrap(),
        _ => Vec::new(),
    };
    let plain = match zdict {
        None => stored,
        Some(_) => zstd::bulk::Decompressor::with_dictionary(&dict)
            .unwrap()
            .decompress(&stored, 1 << 24)
            .unwrap(),
    };
    let text = edit(&String::from_utf8(plain).unwrap());
    let restored = match zdict {
        None => text.into_bytes(),
        Some(_) => zstd::bulk::Compressor::with_dictionary(3, &dict)
            .unwrap()
            .compress(text.as_bytes())
            .unwrap(),
    };
    conn.execute(
        "UPDATE events SET payload = ?2 WHERE seq = ?1",
        rusqlite::params![seq, restored],
    )
    .unwrap()
}
