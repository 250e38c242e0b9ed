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

#[allow(unused_imports)] // only the tamper tests use it
pub use testkit::tamper::tamper_payload;
