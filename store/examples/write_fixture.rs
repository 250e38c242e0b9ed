//! Writes a small archive holding every kind of stored row into `<dir>/chatvault.db`:
//! `cargo run -p chatvault-store --example write_fixture -- <dir>`.
//!
//! `tests/fixtures/archive-v2.db` was written by this program with the schema version 2 store,
//! before raw payloads and envelopes were compressed; `tests/migration.rs` checks that an
//! archive of that version is migrated with nothing lost. Run against a later store, it writes
//! the same content in that version's format (the start of the next version's fixture).
//!
//! With `--numbered` after the directory it then adds two Goofish chats whose message ids are
//! the platform's numbers (`4263141580162.PNM`…), whose row keys schema 7 computes differently
//! from schema 6: `tests/fixtures/archive-v6.db` was written that way by the schema 6 store.

use chatvault_store as store;
use proto::{
    ChatEvent, ConnectorStatus, EventBatch, EventBody, Identity, Ingested, Platform, RawPayload, batch::media,
};
use testkit::events::{self, payload as json};

const T0: i64 = 1_760_000_000_000;

/// A text from `u1` (张三) in the group named after its chat.
fn message(chat: &str, id: &str, text: &str, sent_at: i64) -> ChatEvent {
    events::group_text(chat, id, &format!("群{chat}"), text, sent_at)
}

/// Bytes that are not UTF-8 and repeat (a compressor finds something), carrying `events`.
fn binary(events: Vec<ChatEvent>, received_at: i64, seed: u8) -> Ingested {
    let bytes: Vec<u8> = (0..600u32).map(|i| (i as u8).wrapping_mul(31) ^ seed ^ 0x80).collect();
    events::carried(bytes, events, received_at)
}

/// The connector's state as it reports it: about no chat, at no platform time of its own.
fn state(status: ConnectorStatus, detail: Option<&str>, at: i64) -> Ingested {
    let ev = ChatEvent {
        chat_id: String::new(),
        msg_id: None,
        occurred_at: None,
        body: EventBody::ConnectorState {
            status,
            detail: detail.map(Into::into),
            at,
        },
    };
    json(ev, at)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .ok_or("usage: write_fixture <dir> [--numbered]")?;
    let mut s = store::Store::open(
        std::path::Path::new(&dir),
        store::StoreOptions {
            synchronous_full: false,
            cache_mib: 4,
        },
    )?;
    let edit = |id: &str, text: &str, at: i64| events::edit("c1", id, text, at);
    let first = EventBatch::new(
        Platform::Yunhu,
        "team",
        vec![
            json(
                ChatEvent {
                    chat_id: "c1".into(),
                    msg_id: None,
                    occurred_at: Some(T0 - 10),
                    body: EventBody::GroupCreated {
                        name: Some("项目群".into()),
                        members: vec![Identity {
                            id: "u1".into(),
                            name: Some("张三".into()),
                        }],
                        at: Some(T0 - 10),
                    },
                },
                T0 - 9,
            ),
            json(message("c1", "m1", "合同明天签", T0), T0 + 1),
            json(edit("m1", "合同后天签", T0 + 60_000), T0 + 60_001),
            json(events::withdraw("c1", "m1", "u1", T0 + 120_000), T0 + 120_001),
            // An edit before its message: applied when the message arrives.
            json(edit("m0", "先到的编辑", T0 + 200_000), T0 + 200_001),
            json(message("c1", "m0", "原文", T0 + 100_000), T0 + 200_002),
            // Two events from one binary payload.
            binary(
                vec![
                    message("c2", "m3", "invoice v2.3.1 已开", T0 + 7),
                    events::stream_append("c2", "m3", "，请查收", 0),
                ],
                T0 + 8,
                1,
            ),
            json(
                ChatEvent {
                    chat_id: "c2".into(),
                    msg_id: None,
                    occurred_at: None,
                    body: EventBody::Other {
                        subtype: "typing".into(),
                        detail: serde_json::json!({"who": "u2", "nested": [[{"a": 1}]]}),
                    },
                },
                T0 + 9,
            ),
            Ingested::Rejected {
                raw: RawPayload {
                    received_at: T0 + 10,
                    media_type: media::OCTETS.into(),
                    bytes: vec![0xc1, 0x00, 0x01].into(),
                },
                reason: "neither JSON nor MessagePack".into(),
            },
            state(ConnectorStatus::Disconnected, Some("connection reset"), T0 + 300_000),
            state(ConnectorStatus::Connected, None, T0 + 360_000),
        ],
        Some(serde_json::json!({"seq": 42})),
    )
    .0;
    s.append(&[&first])?;
    // A second platform, and a redelivery recorded once.
    let second = EventBatch::new(
        Platform::Goofish,
        "shop",
        vec![
            binary(
                vec![message("g1", "1.PNM", "还在吗？能便宜点吗", T0 + 400_000)],
                T0 + 400_001,
                2,
            ),
            binary(
                vec![message("g1", "1.PNM", "还在吗？能便宜点吗", T0 + 400_000)],
                T0 + 400_002,
                2,
            ),
        ],
        None,
    )
    .0;
    s.append(&[&second])?;
    if std::env::args().nth(2).as_deref() == Some("--numbered") {
        let numbered = EventBatch::new(
            Platform::Goofish,
            "shop",
            (0..4u64)
                .map(|i| {
                    let chat = if i.is_multiple_of(2) { "g2" } else { "g3" };
                    let id = format!("{}.PNM", 4_263_141_580_162u64 + i);
                    json(
                        message(chat, &id, &format!("第{i}条"), T0 + 500_000 + i as i64),
                        T0 + 500_100,
                    )
                })
                .collect(),
            None,
        )
        .0;
        s.append(&[&numbered])?;
    }
    let (seq, hash) = s.head();
    println!("head {seq} {}", hex::encode(hash));
    Ok(())
}
