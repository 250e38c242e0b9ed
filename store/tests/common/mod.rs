//! Builders shared by the store tests.
#![allow(dead_code)]

use chatvault_store as store;
use proto::{
    ChatEvent, ChatType, ContentType, EventBatch, EventBody, Ingested, NewMessage, Platform, RawPayload, batch::media,
};

pub const T0: i64 = 1_760_000_000_000;

/// The identity of message `id` in `chat` of the account [`batch`] uses.
pub fn key(chat: &str, id: &str) -> proto::MessageKey {
    proto::MessageKey {
        platform: Platform::Yunhu,
        account: "team".into(),
        chat_id: chat.into(),
        msg_id: id.into(),
    }
}

pub fn msg(chat: &str, id: &str, text: &str, sent_at: i64) -> ChatEvent {
    ChatEvent::message(
        chat,
        id,
        EventBody::Message(NewMessage {
            chat_type: ChatType::Group,
            chat_name: Some(format!("群{chat}")),
            external: false,
            sender_id: "u1".into(),
            sender_name: Some("张三".into()),
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

pub fn edit(chat: &str, id: &str, text: &str, at: i64) -> ChatEvent {
    ChatEvent::message(
        chat,
        id,
        EventBody::Edit {
            text: text.into(),
            content_type: None,
            edited_at: Some(at),
        },
    )
}

pub fn withdraw(chat: &str, id: &str, by: &str, at: i64) -> ChatEvent {
    ChatEvent::message(
        chat,
        id,
        EventBody::Withdraw {
            by: Some(by.into()),
            at: Some(at),
        },
    )
}

pub fn delete(chat: &str, id: &str, by: &str, at: i64) -> ChatEvent {
    ChatEvent::message(
        chat,
        id,
        EventBody::Delete {
            by: Some(by.into()),
            at: Some(at),
        },
    )
}

pub fn append(chat: &str, id: &str, chunk: &str, offset: u64) -> ChatEvent {
    ChatEvent::message(
        chat,
        id,
        EventBody::StreamAppend {
            chunk: chunk.into(),
            offset,
        },
    )
}

/// One payload per event; the raw bytes are the event's JSON, received at `received_at`.
pub fn payload(ev: ChatEvent, received_at: i64) -> Ingested {
    let bytes = serde_json::to_vec(&ev).unwrap();
    Ingested::Payload {
        raw: RawPayload {
            received_at,
            media_type: media::JSON.into(),
            bytes: bytes.into(),
        },
        events: vec![ev],
    }
}

pub fn batch(items: Vec<Ingested>) -> EventBatch {
    EventBatch::new(Platform::Yunhu, "team", items, None).0
}

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
