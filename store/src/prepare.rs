//! The per-event work of an append that needs no database: the stored envelope, its content
//! hash (dedup), the message key and the raw payload's hash. [`Prepared`] is computed apart
//! from the transaction — the writer task prepares the next group while the current one
//! commits — so the single SQLite thread only does what must be sequential: lookups, inserts
//! and the hash chain link.
//!
//! The envelope and the content hash share their largest part, the event's body. Two serde
//! passes (one per JSON document) cost a fifth of a replay's CPU, most of it escaping the same
//! text twice, so the envelope is written once, piece by piece, and the content hash is taken
//! over slices of it. The bytes of both are exactly what serde writes for the stored
//! [`crate::Envelope`] and for the dedup view defined in the tests below (identity, kind and
//! content; never receive or occurred times): stored payloads and dedup keys stay those of
//! every earlier archive.

use proto::{ChatEvent, EventBatch, Ingested, Platform};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::chain;
use crate::{Result, StoreError};

/// A batch's precomputed hashes and envelopes, item by item; see the module docs.
pub struct Prepared {
    pub(crate) items: Vec<ItemPrep>,
}

/// One item: `None` for a rejection, else the raw payload's hash and each event's parts.
pub(crate) type ItemPrep = Option<([u8; 32], Vec<EventPrep>)>;

pub(crate) struct EventPrep {
    /// sha256 of the event's dedup view (see the module docs).
    pub content: [u8; 32],
    /// The stored envelope (the `payload` column, hashed into the chain): [`crate::Envelope`] JSON.
    pub payload: Vec<u8>,
    /// [`chain::message_key`] of the event's message, for events that target one.
    pub mkey: Option<i64>,
}

impl Prepared {
    /// Computes the parts of every event of `batch`.
    pub fn new(batch: &EventBatch) -> Result<Prepared> {
        let items = batch
            .items
            .iter()
            .map(|item| match item {
                Ingested::Rejected { .. } => Ok(None),
                Ingested::Payload { raw, events } => {
                    let events = events
                        .iter()
                        .map(|ev| prepare_event(batch.platform, &batch.account, raw.received_at, ev))
                        .collect::<Result<Vec<_>>>()?;
                    Ok(Some((chain::sha(&raw.bytes), events)))
                }
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Prepared { items })
    }
}

fn prepare_event(platform: Platform, account: &str, received_at: i64, ev: &ChatEvent) -> Result<EventPrep> {
    let corrupt = |e: serde_json::Error| StoreError::Corrupt(format!("event does not serialize: {e}"));
    let text_len = match &ev.body {
        proto::EventBody::Message(m) => m.text.len(),
        _ => 0,
    };
    let mut out = Vec::with_capacity(192 + text_len + text_len / 4);
    // {"v":1,"platform":P,"account":A,"received_at":R,"event":{"chat_id":C,"msg_id":M,"occurred_at":O,BODY}}
    out.extend_from_slice(b"{\"v\":");
    json(&mut out, &proto::SCHEMA_VERSION).map_err(corrupt)?;
    out.push(b',');
    let ids = out.len();
    out.extend_from_slice(b"\"platform\":");
    json(&mut out, &platform).map_err(corrupt)?;
    out.extend_from_slice(b",\"account\":");
    json(&mut out, account).map_err(corrupt)?;
    let ids = ids..out.len();
    out.extend_from_slice(b",\"received_at\":");
    json(&mut out, &received_at).map_err(corrupt)?;
    out.extend_from_slice(b",\"event\":{");
    let chat = out.len();
    out.extend_from_slice(b"\"chat_id\":");
    json(&mut out, &ev.chat_id).map_err(corrupt)?;
    if let Some(m) = &ev.msg_id {
        out.extend_from_slice(b",\"msg_id\":");
        json(&mut out, m).map_err(corrupt)?;
    }
    let chat = chat..out.len();
    if let Some(at) = ev.occurred_at {
        out.extend_from_slice(b",\"occurred_at\":");
        json(&mut out, &at).map_err(corrupt)?;
    }
    // The body on its own is `{"kind":…,…}`; inside the event it continues the event's map.
    let body = out.len();
    json(&mut out, &ev.body).map_err(corrupt)?;
    if out.get(body) != Some(&b'{') || out.last() != Some(&b'}') {
        return Err(StoreError::Corrupt(
            "event body does not serialize to a JSON object".into(),
        ));
    }
    out[body] = b',';
    // `,…}` now also closes the event; one more brace closes the envelope.
    let body = body..out.len();
    out.push(b'}');

    // {"platform":P,"account":A,"chat_id":C,"msg_id":M|null,BODY}
    let mut h = Sha256::new();
    h.update(b"{");
    h.update(&out[ids]);
    h.update(b",");
    h.update(&out[chat]);
    if ev.msg_id.is_none() {
        h.update(b",\"msg_id\":null");
    }
    h.update(&out[body]);
    let content: [u8; 32] = h.finalize().into();

    let mkey = ev.body.targets_message().then(|| {
        chain::message_key(
            platform.as_str(),
            account,
            &ev.chat_id,
            ev.msg_id.as_deref().unwrap_or_default(),
        )
    });
    Ok(EventPrep {
        content,
        payload: out,
        mkey,
    })
}

fn json<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) -> serde_json::Result<()> {
    serde_json::to_writer(out, v)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use proto::{Attachment, ChatEvent, ChatType, ContentType, EventBody, Identity, NewMessage, Platform};

    use serde::Serialize;

    use super::prepare_event;
    use crate::{Envelope, chain};

    /// What the dedup hash covers: identity, kind and content; never receive or occurred
    /// times. The definition the content hash has had since the first archive.
    #[derive(Serialize)]
    struct DedupView<'a> {
        platform: &'a str,
        account: &'a str,
        chat_id: &'a str,
        msg_id: Option<&'a str>,
        #[serde(flatten)]
        body: &'a proto::EventBody,
    }

    fn assert_same_bytes(platform: Platform, account: &str, received_at: i64, ev: &ChatEvent) {
        let prep = prepare_event(platform, account, received_at, ev).unwrap();
        let envelope = Envelope {
            v: proto::SCHEMA_VERSION,
            platform,
            account: account.into(),
            received_at,
            event: ev.clone(),
        };
        assert_eq!(
            String::from_utf8(prep.payload).unwrap(),
            serde_json::to_string(&envelope).unwrap()
        );
        let view = DedupView {
            platform: platform.as_str(),
            account,
            chat_id: &ev.chat_id,
            msg_id: ev.msg_id.as_deref(),
            body: &ev.body,
        };
        assert_eq!(prep.content, chain::sha_json(&view).unwrap());
        assert_eq!(prep.mkey.is_some(), ev.body.targets_message());
    }

    fn message(text: String) -> EventBody {
        EventBody::Message(NewMessage {
            chat_type: ChatType::Group,
            chat_name: Some("财务群".into()),
            external: true,
            sender_id: "u\"1\"".into(),
            sender_name: None,
            sent_at: 1_760_000_000_000,
            content_type: ContentType::File,
            text,
            attachments: vec![Attachment {
                name: Some("报告.pdf".into()),
                mime: Some("application/pdf".into()),
                size: Some(12),
                url: None,
                sha256: None,
            }],
            reply_to: Some("m0".into()),
            mentions: vec!["u2".into()],
            recipients: vec![],
        })
    }

    #[test]
    fn every_kind_of_event_is_written_as_serde_writes_it() {
        let join = ChatEvent {
            chat_id: "g".into(),
            msg_id: None,
            occurred_at: None,
            body: EventBody::MemberJoin {
                members: vec![Identity {
                    id: "u1".into(),
                    name: Some("李四".into()),
                }],
                at: Some(3),
            },
        };
        let renamed = ChatEvent {
            chat_id: "g".into(),
            msg_id: Some("rename-1".into()),
            occurred_at: Some(9),
            body: EventBody::GroupRenamed {
                name: "新名字".into(),
                at: None,
            },
        };
        let mut edit = ChatEvent::message(
            "c",
            "m",
            EventBody::Edit {
                text: "改成\n\"这个\" \u{1}".into(),
                content_type: None,
                edited_at: Some(1_760_000_000_000),
            },
        );
        edit.occurred_at = Some(-5);
        let withdraw = ChatEvent::message(
            "c",
            "m",
            EventBody::Withdraw {
                by: Some("张三".into()),
                at: None,
            },
        );
        for ev in [
            join,
            renamed,
            edit,
            withdraw,
            ChatEvent::message("c", "m", message("你好 ok".into())),
        ] {
            assert_same_bytes(Platform::Wecom, "corp", 1_760_000_000_001, &ev);
        }
    }

    proptest! {
        #[test]
        fn any_text_and_identity_is_written_as_serde_writes_it(
            account in ".{0,8}",
            chat_id in ".{0,8}",
            msg_id in proptest::option::of(".{0,8}"),
            occurred_at in proptest::option::of(any::<i64>()),
            received_at in any::<i64>(),
            text in "(?s).{0,40}",
        ) {
            let ev = ChatEvent { chat_id, msg_id, occurred_at, body: message(text) };
            assert_same_bytes(Platform::Goofish, &account, received_at, &ev);
        }
    }
}
