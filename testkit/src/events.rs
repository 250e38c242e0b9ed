//! Builders for [`ChatEvent`]s, [`Ingested`] payloads and [`EventBatch`]es.
//!
//! The defaults are one plain group text message from `u1` (张三); a test that cares about a
//! field says so with struct update syntax:
//! `message("c1", "m1", NewMessage { chat_name: Some("报销群".into()), ..text("hi", T0) })`.

use proto::{
    ChatEvent, ConnectorStatus, EventBatch, EventBody, Ingested, MessageKey, NewMessage, Platform, RawPayload,
    batch::media,
};

/// A group text message from `u1` (张三), sent at `sent_at` (ms), in a chat with no name.
pub fn text(text: &str, sent_at: i64) -> NewMessage {
    NewMessage {
        sender_name: Some("张三".into()),
        ..NewMessage::plain("u1", sent_at, text)
    }
}

/// Message `id` of `chat` as the platform first delivers it.
pub fn message(chat: &str, id: &str, m: NewMessage) -> ChatEvent {
    ChatEvent::message(chat, id, EventBody::Message(m))
}

/// Message `id` of chat `chat`, named `chat_name`: a [`text`] sent at `sent_at`.
pub fn group_text(chat: &str, id: &str, chat_name: &str, text: &str, sent_at: i64) -> ChatEvent {
    message(
        chat,
        id,
        NewMessage {
            chat_name: Some(chat_name.into()),
            ..self::text(text, sent_at)
        },
    )
}

/// An edit of message `id` that replaces its text, made on the platform at `at`.
pub fn edit(chat: &str, id: &str, text: &str, at: i64) -> ChatEvent {
    ChatEvent::message(
        chat,
        id,
        EventBody::Edit {
            text: text.into(),
            content_type: None,
            edited_at: Some(at),
            text_format: None,
            source_text: None,
        },
    )
}

/// A withdrawal (recall) of message `id` by `by` at `at`.
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

/// A deletion of message `id` by `by` at `at`.
pub fn delete(chat: &str, id: &str, by: &str, at: i64) -> ChatEvent {
    ChatEvent::message(
        chat,
        id,
        EventBody::Delete {
            by: Some(by.into()),
            at: Some(at),
            scope: proto::DeleteScope::Everyone,
        },
    )
}

/// A chunk of a streamed message `id`, starting at character `offset`.
pub fn stream_append(chat: &str, id: &str, chunk: &str, offset: u64) -> ChatEvent {
    ChatEvent::message(
        chat,
        id,
        EventBody::StreamAppend {
            chunk: chunk.into(),
            offset,
        },
    )
}

/// The connector's own state changing at `at` (not about any chat or message).
pub fn connector_state(status: ConnectorStatus, detail: &str, at: i64) -> ChatEvent {
    ChatEvent {
        chat_id: String::new(),
        msg_id: None,
        occurred_at: Some(at),
        body: EventBody::ConnectorState {
            status,
            detail: Some(detail.into()),
            at,
        },
    }
}

/// One payload per event, received at `received_at`; its raw bytes are the event's JSON, so
/// distinct events have distinct raw payloads.
pub fn payload(ev: ChatEvent, received_at: i64) -> Ingested {
    Ingested::Payload {
        raw: RawPayload {
            received_at,
            media_type: media::JSON.into(),
            bytes: serde_json::to_vec(&ev).expect("an event serializes").into(),
        },
        events: vec![ev],
    }
}

/// `events` carried by one binary (MessagePack) payload of `bytes`, received at `received_at`:
/// the shape of a platform that frames several events in one payload.
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

/// A batch from connector `account` of `platform`, without a cursor; its commit notice is
/// dropped (tests that wait for it build the batch themselves).
pub fn batch(platform: Platform, account: &str, items: Vec<Ingested>) -> EventBatch {
    EventBatch::new(platform, account, items, None).0
}

/// The identity of message `id` in `chat` of connector `account` of `platform`.
pub fn key(platform: Platform, account: &str, chat: &str, id: &str) -> MessageKey {
    MessageKey {
        platform,
        account: account.into(),
        chat_id: chat.into(),
        msg_id: id.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_carries_its_event_as_raw_json() {
        let ev = message("c1", "m1", text("你好", 1));
        let Ingested::Payload { raw, events } = payload(ev.clone(), 2) else {
            panic!("a payload")
        };
        assert_eq!(raw.received_at, 2);
        assert_eq!(serde_json::from_slice::<ChatEvent>(&raw.bytes).unwrap(), ev);
        assert_eq!(events, vec![ev]);
    }
}
