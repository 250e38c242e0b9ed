//! Builders for the compression, detail and version 2 migration tests: payloads with raw bytes
//! of the test's choosing, on the Goofish account `shop`.

use proto::{ChatEvent, ChatType, EventBatch, NewMessage, Platform};

pub use testkit::events::carried;
pub use testkit::tamper::tamper_payload;

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

pub fn goofish(items: Vec<proto::Ingested>) -> EventBatch {
    testkit::events::batch(Platform::Goofish, "shop", items)
}

pub fn goofish_key(chat: &str, id: &str) -> proto::MessageKey {
    testkit::events::key(Platform::Goofish, "shop", chat, id)
}
