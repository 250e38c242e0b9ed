//! The per-event work of an append that needs no database: the stored envelope, its content
//! hash (dedup), the row keys (`keys.rs`), the raw payload's hash, and the compressed forms of the
//! envelope and the raw payload (`compress.rs`). [`Prepared`] is computed apart from the
//! transaction — the writer task prepares the next group while the current one commits — so
//! the single SQLite thread only does what must be sequential: lookups, inserts and the hash
//! chain link.
//!
//! The envelope and the content hash share their largest part, the event's body. Two serde
//! passes (one per JSON document) cost a fifth of a replay's CPU, most of it escaping the same
//! text twice, so the envelope is written once, piece by piece, and the content hash is taken
//! over slices of it. The bytes of both are exactly what serde writes for the stored
//! [`crate::Envelope`] and for `keys::DedupView`: stored payloads and dedup keys stay those of
//! every earlier archive. A `detail` nested deeper than can be read back is bounded first
//! (`detail.rs`), whichever connector sent it.
//!
//! In the writer, a `message` event is first looked up in the committed archive (step 1 of
//! `dedup.rs`): a redelivery the archive holds needs no envelope, no compression and no commit
//! work; a payload whose events are all such redeliveries is not compressed either.

use std::borrow::Cow;

use proto::{ChatEvent, EventBatch, Ingested, Platform};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::compress::{Blob, Codebook, Packed};
use crate::dedup::StoredProbe;
use crate::keys::{RowKeys, row_keys_of};
use crate::{Result, StoreError, chain, detail};

/// A batch's precomputed hashes, envelopes and compressed blobs, item by item; see the module
/// docs.
pub struct Prepared {
    pub(crate) items: Vec<Option<ItemPrep>>,
}

/// A payload item's parts (a rejection has none).
pub(crate) struct ItemPrep {
    /// sha256 of the raw payload as received (hashed into the chain).
    pub raw_sha: [u8; 32],
    /// The raw payload as stored; `None` when every event was found stored in step 1 of
    /// `dedup.rs` (the payload is then not stored again).
    pub raw: Option<Packed>,
    pub events: Vec<EventPrep>,
}

pub(crate) struct EventPrep {
    /// sha256 of the event's dedup view (`keys.rs`).
    pub content_hash: [u8; 32],
    /// The canonical envelope, [`crate::Envelope`] JSON: what the chain hashes.
    pub payload: Vec<u8>,
    /// `payload` as stored (the `payload` column); `None` when `stored`.
    pub packed: Option<Packed>,
    /// The row keys of the event's message, for events that target one.
    pub row_keys: Option<RowKeys>,
    /// The archive holds this `message` event already (step 1 of `dedup.rs`); `payload` is
    /// empty.
    pub stored: bool,
}

impl EventPrep {
    /// The parts of a `message` event found stored: nothing to write.
    pub(crate) fn stored(content_hash: [u8; 32], row_keys: RowKeys) -> EventPrep {
        EventPrep {
            content_hash,
            payload: Vec::new(),
            packed: None,
            row_keys: Some(row_keys),
            stored: true,
        }
    }
}

impl Prepared {
    /// Computes the parts of every event of `batch`, compressing with `book`'s dictionaries,
    /// after asking `stored` about each `message` event: one the archive already holds gets no
    /// envelope.
    pub(crate) fn new(batch: &EventBatch, book: &Codebook, stored: Option<&mut StoredProbe>) -> Result<Prepared> {
        let mut lookups = stored.and_then(StoredProbe::batch);
        let platform = batch.platform.as_str();
        let items = batch
            .items
            .iter()
            .map(|item| match item {
                Ingested::Rejected { .. } => Ok(None),
                Ingested::Payload { raw, events } => {
                    let events = events
                        .iter()
                        .map(|ev| {
                            let known = lookups
                                .as_mut()
                                .and_then(|l| l.known(batch.platform, &batch.account, ev));
                            match known {
                                Some((content_hash, row_keys)) => Ok(EventPrep::stored(content_hash, row_keys)),
                                None => {
                                    let mut prep = prepare_event(batch.platform, &batch.account, raw.received_at, ev)?;
                                    prep.packed = Some(book.pack(Blob::Event, platform, &prep.payload)?);
                                    Ok(prep)
                                }
                            }
                        })
                        .collect::<Result<Vec<_>>>()?;
                    let raw_packed = if events.iter().any(|e| !e.stored) {
                        Some(book.pack(Blob::Raw, platform, &raw.bytes)?)
                    } else {
                        None
                    };
                    Ok(Some(ItemPrep {
                        raw_sha: chain::sha(&raw.bytes),
                        raw: raw_packed,
                        events,
                    }))
                }
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Prepared { items })
    }
}

fn prepare_event(platform: Platform, account: &str, received_at: i64, ev: &ChatEvent) -> Result<EventPrep> {
    let ev: Cow<'_, ChatEvent> = detail::bounded_event(ev);
    let ev = ev.as_ref();
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
    let content_hash: [u8; 32] = h.finalize().into();

    let row_keys = ev.body.targets_message().then(|| row_keys_of(platform, account, ev));
    Ok(EventPrep {
        content_hash,
        payload: out,
        packed: None,
        row_keys,
        stored: false,
    })
}

fn json<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) -> serde_json::Result<()> {
    serde_json::to_writer(out, v)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use proto::{Attachment, ChatEvent, ChatType, ContentType, EventBody, Identity, NewMessage, Platform};

    use super::prepare_event;
    use crate::keys::DedupView;
    use crate::{Envelope, chain};

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
        let view = DedupView::of(platform, account, ev);
        assert_eq!(prep.content_hash, chain::sha_json(&view).unwrap());
        assert_eq!(prep.row_keys.is_some(), ev.body.targets_message());
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
            text_format: proto::TextFormat::Plain,
            source_text: None,
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
                text_format: Some(proto::TextFormat::Markdown),
                source_text: Some("改成 **\"这个\"**".into()),
            },
        );
        edit.occurred_at = Some(-5);
        let deleted_for_one = ChatEvent::message(
            "c",
            "m",
            EventBody::Delete {
                by: Some("u2".into()),
                at: None,
                scope: proto::DeleteScope::User,
            },
        );
        let mut markdown = message("标题 内容".into());
        if let EventBody::Message(m) = &mut markdown {
            m.text_format = proto::TextFormat::Markdown;
            m.source_text = Some("# 标题\n内容".into());
        }
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
            deleted_for_one,
            ChatEvent::message("c", "m", message("你好 ok".into())),
            ChatEvent::message("c", "m", markdown),
        ] {
            assert_same_bytes(Platform::Wecom, "corp", 1_760_000_000_001, &ev);
        }
    }

    #[test]
    fn the_probe_knows_a_stored_message_by_its_content_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = crate::Store::open(dir.path(), crate::StoreOptions::default()).unwrap();
        let stored = ChatEvent::message("c", "m1", message("原文".into()));
        let raw = proto::RawPayload {
            received_at: 1,
            media_type: "application/json".into(),
            bytes: b"{}".to_vec().into(),
        };
        let (batch, _) = proto::EventBatch::new(
            Platform::Wecom,
            "corp",
            vec![proto::Ingested::Payload {
                raw,
                events: vec![stored.clone()],
            }],
            None,
        );
        store.append(&[&batch]).unwrap();

        let mut probe = crate::dedup::StoredProbe::open(dir.path()).unwrap();
        let mut probe = probe.batch().expect("a read transaction");
        let known = probe
            .known(Platform::Wecom, "corp", &stored)
            .expect("stored message is known");
        assert_eq!(
            known.0,
            chain::sha_json(&DedupView::of(Platform::Wecom, "corp", &stored)).unwrap()
        );
        let known = super::EventPrep::stored(known.0, known.1);
        assert!(known.stored && known.payload.is_empty());
        let other_version = ChatEvent::message("c", "m1", message("另一个版本".into()));
        let elsewhere = ChatEvent::message("c", "m2", message("原文".into()));
        let edit = ChatEvent::message(
            "c",
            "m1",
            EventBody::Edit {
                text: "原文".into(),
                content_type: None,
                edited_at: None,
                text_format: None,
                source_text: None,
            },
        );
        for ev in [&other_version, &elsewhere, &edit] {
            assert!(probe.known(Platform::Wecom, "corp", ev).is_none(), "{ev:?}");
        }
        assert!(probe.known(Platform::Wecom, "other", &stored).is_none());
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
