//! The walk in seq order: every column of an event row must be what its payload says, its raw
//! row must match, and the chain must link. On the way it notes the recomputed hash at each
//! expected chain position, which `dedup` entries the log accounts for, and the chat-level
//! events (names and members) that `state.rs` folds against `chats` and `members`.

use std::collections::{BTreeMap, HashMap};

use proto::{EventBody, Identity};
use rusqlite::Connection;

use super::{Expectation, wanted};
use crate::compress::Unpacker;
use crate::keys::{DedupView, content_check, content_key};
use crate::types::{ChainHead, Envelope};
use crate::{Result, chain};

/// A chat: platform, account, chat id.
pub(super) type ChatId = (String, String, String);
/// A member of a chat: the chat and the user id.
pub(super) type MemberId = (String, String, String, String);

/// A member as the fold of the member events leaves it: name, present, since seq.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Member {
    pub name: Option<String>,
    pub present: bool,
    pub since_seq: i64,
}

/// Where an expected chain position was found: its seq and the recomputed hash there (`None`
/// if the event does not decode).
pub(super) struct Found {
    pub seq: u64,
    pub hash: Option<String>,
}

/// What the walk found.
pub(super) struct Walk {
    pub events: u64,
    pub head: ChainHead,
    pub first_bad: Option<u64>,
    /// By index into the expectation list.
    pub found: HashMap<usize, Found>,
    /// The latest name a chat-level event gave each chat, with its seq.
    pub chat_names: BTreeMap<ChatId, (i64, String)>,
    pub members: BTreeMap<MemberId, Member>,
}

pub(super) fn walk(
    conn: &Connection,
    unpacker: &mut Unpacker,
    expect: &[Expectation],
    dedup: &mut HashMap<i64, i64>,
    progress: &mut dyn FnMut(u64),
) -> Result<Walk> {
    let (by_seq, by_hash) = wanted(expect);
    let mut st = conn.prepare(
        "SELECT e.seq, e.platform, e.account, e.chat_id, e.msg_id, e.kind, e.occurred_at, e.received_at, e.payload,
                e.hash, r.bytes, r.platform, r.account, r.received_at, e.zdict, r.zdict
         FROM events e LEFT JOIN raw r ON r.id = e.raw_id ORDER BY e.seq",
    )?;
    let mut rows = st.query([])?;
    let mut w = Walk {
        events: 0,
        head: ChainHead {
            seq: 0,
            hash: hex::encode(chain::ZERO),
        },
        first_bad: None,
        found: HashMap::new(),
        chat_names: BTreeMap::new(),
        members: BTreeMap::new(),
    };
    let mut prev = chain::ZERO;
    let mut expected_seq = 1u64;
    while let Some(r) = rows.next()? {
        let seq = r.get::<_, i64>(0)? as u64;
        // A blob that does not decompress is damage to report at its seq, like any other.
        let payload = unpacker
            .unpack(conn, r.get(8)?, r.get(14)?, &|| format!("event seq {seq}"))
            .ok();
        let stored_hash: Vec<u8> = r.get(9)?;
        let raw: Option<Vec<u8>> = match r.get::<_, Option<Vec<u8>>>(10)? {
            Some(bytes) => unpacker
                .unpack(conn, bytes, r.get(15)?, &|| {
                    format!("the raw payload of event seq {seq}")
                })
                .ok(),
            None => None,
        };
        let mut note = |hash: Option<String>| {
            let stored = hex::encode(&stored_hash);
            let at_seq = by_seq.get(&seq).into_iter().flatten();
            let at_hash = by_hash.get(&stored).into_iter().flatten();
            for &i in at_seq.chain(at_hash) {
                w.found.entry(i).or_insert(Found {
                    seq,
                    hash: hash.clone(),
                });
            }
        };
        let Some(payload) = payload else {
            note(None);
            w.first_bad.get_or_insert(seq);
            // The links after it are still checked, from the hash it claims.
            prev = chain::to32(&stored_hash).unwrap_or(chain::ZERO);
            expected_seq = seq + 1;
            w.events += 1;
            continue;
        };
        let raw_sha = chain::sha(raw.as_deref().unwrap_or_default());
        let hash = chain::link(&prev, seq, &payload, &raw_sha);
        note(Some(hex::encode(hash)));
        let env = serde_json::from_slice::<Envelope>(&payload).ok();
        let columns_ok = match &env {
            None => false,
            Some(env) => {
                let ev = &env.event;
                raw.is_some()
                    && r.get::<_, String>(1)? == env.platform.as_str()
                    && r.get::<_, String>(2)? == env.account
                    && r.get::<_, String>(3)? == ev.chat_id
                    && r.get::<_, Option<String>>(4)? == ev.msg_id
                    && r.get::<_, String>(5)? == ev.kind().as_str()
                    && r.get::<_, i64>(6)? == ev.occurred_at.unwrap_or(env.received_at)
                    && r.get::<_, i64>(7)? == env.received_at
                    && r.get::<_, Option<String>>(11)?.as_deref() == Some(env.platform.as_str())
                    && r.get::<_, Option<String>>(12)?.as_deref() == Some(env.account.as_str())
                    && r.get::<_, Option<i64>>(13)? == Some(env.received_at)
            }
        };
        if let Some(env) = &env {
            account_for_dedup(env, dedup);
            chat_level(env, seq as i64, &mut w);
        }
        if w.first_bad.is_none() && (seq != expected_seq || stored_hash != hash || !columns_ok) {
            w.first_bad = Some(seq);
        }
        prev = hash;
        expected_seq = seq + 1;
        w.events += 1;
        if w.events.is_multiple_of(10_000) {
            progress(seq);
        }
    }
    progress(expected_seq - 1);
    w.head = ChainHead {
        seq: expected_seq - 1,
        hash: hex::encode(prev),
    };
    Ok(w)
}

/// Removes the `dedup` entry this event accounts for (the same content key and check), if any.
fn account_for_dedup(env: &Envelope, dedup: &mut HashMap<i64, i64>) {
    let Ok(content) = chain::sha_json(&DedupView::of(env.platform, &env.account, &env.event)) else {
        return;
    };
    let k = content_key(&content);
    if dedup.get(&k) == Some(&content_check(&content)) {
        dedup.remove(&k);
    }
}

/// Folds a chat-level event the way `project.rs` projects it.
fn chat_level(env: &Envelope, seq: i64, w: &mut Walk) {
    let ev = &env.event;
    let chat = (
        env.platform.as_str().to_string(),
        env.account.clone(),
        ev.chat_id.clone(),
    );
    match &ev.body {
        EventBody::GroupCreated {
            name, members: list, ..
        } => {
            if let Some(n) = name {
                w.chat_names.insert(chat.clone(), (seq, n.clone()));
            }
            fold_members(&mut w.members, &chat, list, true, seq);
        }
        EventBody::GroupRenamed { name, .. } => {
            w.chat_names.insert(chat, (seq, name.clone()));
        }
        EventBody::MemberJoin { members: list, .. } => fold_members(&mut w.members, &chat, list, true, seq),
        EventBody::MemberLeave { members: list, .. } => fold_members(&mut w.members, &chat, list, false, seq),
        _ => {}
    }
}

/// An upsert per member, as `project.rs` does: a known name is kept when the event has none.
fn fold_members(into: &mut BTreeMap<MemberId, Member>, chat: &ChatId, list: &[Identity], present: bool, seq: i64) {
    for m in list {
        let (p, a, c) = chat.clone();
        let entry = into.entry((p, a, c, m.id.clone())).or_insert(Member {
            name: None,
            present,
            since_seq: seq,
        });
        if m.name.is_some() {
            entry.name.clone_from(&m.name);
        }
        entry.present = present;
        entry.since_seq = seq;
    }
}
