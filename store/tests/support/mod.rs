//! Builders for the compression, detail and version 2 migration tests: payloads with raw bytes
//! of the test's choosing, on the Goofish account `shop`.
#![allow(dead_code)]

use chatvault_store as store;
use proto::{ChatEvent, ChatType, EventBatch, Ingested, NewMessage, Platform, RawPayload, batch::media};

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

/// A direct text from an external buyer, as the Goofish connector records one.
pub fn text_message(chat: &str, id: &str, text: &str, sent_at: i64) -> ChatEvent {
    testkit::events::message(
        chat,
        id,
        NewMessage {
            chat_type: ChatType::Direct,
            external: true,
            sender_id: "2300000000007".into(),
            sender_name: Some("买家7".into()),
            ..testkit::events::text(text, sent_at)
        },
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

#[allow(unused_imports)] // only the tamper tests use it
pub use testkit::tamper::tamper_payload;
