//! Missing-message catch-up through the history API, run beside the live loop after every
//! (re)connect so a failing or slow history API never holds live archiving hostage.
//!
//! For every chat in the conversation list and in the cursor, the messages after the
//! chat's catch-up watermark are listed page by page (`list-message-by-seq`, protocols.md
//! §5.4), plus a look-back window of already archived messages, whose edits and recalls may
//! have happened while the connector was away. Edited messages get their edit records, so
//! every revision is kept: the `message` event carries the original text, one `edit` event
//! per edit follows. Streams that were still growing when the connection dropped get their
//! missing tail. Everything the live push would also produce normalizes to the same events,
//! so the store records it once.
//!
//! The catch-up runs as its own task on a snapshot of the position and hands what it found
//! to the session in order ([`Found`]); the session owns the position, advances a chat's
//! watermark as its pages go to the store, and retries a failed catch-up with backoff.

use proto::yunhu::list_msg_response::MsgData;
use proto::{ChatEvent, Ingested, RawPayload, batch::media};
use tokio::sync::mpsc;

use super::api::{Api, ApiError};
use super::codec::{Incoming, edit_event, message_event, stream_event, withdraw_event};
use super::content::Parts;
use super::cursor::Position;
use super::media::Media;
use super::names::Names;

/// Already archived messages re-read per chat to pick up edits and recalls made offline.
pub const LOOK_BACK: u64 = 50;
/// Pages read per chat and catch-up at most (a runaway server cannot keep us here forever).
const MAX_PAGES: usize = 10_000;

/// What a catch-up did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CatchUpStats {
    /// Chats listed.
    pub chats: usize,
    /// History rows read.
    pub rows: usize,
    /// Events produced (before deduplication by the store).
    pub events: usize,
}

/// What a catch-up found, in the order it found it; [`Found::Done`] comes last.
pub enum Found {
    /// The conversation list was read; these listed chats are not backfilled (a first
    /// start: history before their first live message is not wanted).
    Listed(Vec<(String, u64)>),
    /// One history page of a chat: what to archive and the seq it reaches.
    Page {
        /// Chat id.
        chat_id: String,
        /// Yunhu chat type.
        chat_type: u64,
        /// Highest seq on the page: the chat's history is fetched up to it.
        top: u64,
        /// The page and any edit records.
        items: Vec<Ingested>,
        /// msg id → msg_seq of the page's rows (chat names go by seq).
        seqs: std::collections::HashMap<String, u64>,
    },
    /// The missing tail of a stream, computed when `have` bytes of it were archived.
    Tail {
        /// Message id.
        msg_id: String,
        /// Its chat.
        chat_id: String,
        /// Bytes archived when the tail was computed.
        have: u64,
        /// Bytes of the tail.
        len: u64,
        /// The history answer and the chunk event.
        items: Vec<Ingested>,
    },
    /// The catch-up ended.
    Done(Result<CatchUpStats, ApiError>),
}

/// Runs one catch-up from the position `from` (a snapshot), sending what it finds on `tx`.
/// Ends early, without a `Done`, when the receiver is gone.
pub async fn run(
    api: Api,
    from: Position,
    tx: mpsc::Sender<Found>,
    names: std::sync::Arc<Names>,
    media: std::sync::Arc<Media>,
) {
    let result = catch_up(&api, &from, &tx, &names, &media).await;
    let _ = tx.send(Found::Done(result)).await;
}

/// The receiver is gone: the connection ended; nothing to report to.
struct Gone;

impl From<Gone> for ApiError {
    fn from(_: Gone) -> Self {
        ApiError::Transport {
            path: "catch-up",
            message: "connection ended".into(),
        }
    }
}

async fn give(tx: &mpsc::Sender<Found>, f: Found) -> Result<(), Gone> {
    tx.send(f).await.map_err(|_| Gone)
}

async fn catch_up(
    api: &Api,
    pos: &Position,
    tx: &mpsc::Sender<Found>,
    names: &Names,
    media: &Media,
) -> Result<CatchUpStats, ApiError> {
    let mut stats = CatchUpStats::default();
    let list = api.conversations().await?;
    names.learn(&list);
    let listed: Vec<(String, u64)> = list
        .into_iter()
        .map(|c| (c.chat_id, c.chat_type.max(0) as u64))
        .filter(|(id, _)| !id.is_empty())
        .collect();
    let mut chats = Vec::new();
    let mut skipped = Vec::new();
    for (id, t) in listed {
        match pos.chats.get(&id) {
            // First start without --backfill: archive from now on, not every chat's past.
            None if !pos.want_history => skipped.push((id, t)),
            Some(p) if p.from_live => {}
            _ => chats.push((id, t)),
        }
    }
    for (id, p) in &pos.chats {
        if !p.from_live && !chats.iter().any(|(c, _)| c == id) {
            chats.push((id.clone(), p.chat_type));
        }
    }
    give(tx, Found::Listed(skipped)).await?;
    stats.chats = chats.len();
    for (chat_id, chat_type) in chats {
        let known_seq = pos.seq(&chat_id);
        let mut from = known_seq.saturating_sub(LOOK_BACK);
        for _ in 0..MAX_PAGES {
            let page = api.after_seq(&chat_id, chat_type, from).await?;
            if page.value.is_empty() {
                break;
            }
            let mut rows = page.value;
            rows.sort_by_key(|r| r.msg_seq);
            let mut events = Vec::new();
            let mut extra = Vec::new();
            let top = rows.last().map_or(from, |r| r.msg_seq);
            for row in &rows {
                let (evs, edit_raw) = row_events(api, &chat_id, chat_type, row, row.msg_seq <= known_seq).await?;
                events.extend(evs.0);
                if let Some(raw) = edit_raw {
                    extra.push(Ingested::Payload {
                        raw: RawPayload::now(media::JSON, raw),
                        events: evs.1,
                    });
                } else {
                    events.extend(evs.1);
                }
            }
            media.fill(&mut events).await;
            stats.rows += rows.len();
            stats.events += events.len() + extra.iter().map(count).sum::<usize>();
            let mut items = vec![Ingested::Payload {
                raw: RawPayload::now(media::PROTOBUF, page.raw),
                events,
            }];
            items.extend(extra);
            give(
                tx,
                Found::Page {
                    chat_id: chat_id.clone(),
                    chat_type,
                    top,
                    items,
                    seqs: rows.iter().map(|r| (r.msg_id.clone(), r.msg_seq)).collect(),
                },
            )
            .await?;
            if top <= from {
                break;
            }
            from = top;
        }
    }
    stats.events += finish_streams(api, pos, tx).await?;
    Ok(stats)
}

fn count(i: &Ingested) -> usize {
    match i {
        Ingested::Payload { events, .. } => events.len(),
        Ingested::Rejected { .. } => 0,
    }
}

/// A history row as the live push would describe it.
pub fn incoming(chat_id: &str, chat_type: u64, row: &MsgData) -> Incoming {
    let sender = row.sender.clone().unwrap_or_default();
    Incoming {
        msg_id: row.msg_id.clone(),
        chat_id: chat_id.to_string(),
        chat_type,
        sender_id: sender.chat_id,
        sender_name: sender.name,
        sender_type: sender.chat_type.max(0) as u64,
        content_type: row.content_type.max(0) as u64,
        parts: row.msg_content.as_ref().map(Parts::from).unwrap_or_default(),
        sent_at: row.send_time,
        quote_msg_id: row.quote_msg_id.clone(),
        seq: row.msg_seq,
        recalled_at: row.recall_time,
    }
}

/// Events of one history row: `(row events, edit events)` and the raw edit-record body the
/// edit events came from. `archived`: the message itself is already in the archive.
async fn row_events(
    api: &Api,
    chat_id: &str,
    chat_type: u64,
    row: &MsgData,
    archived: bool,
) -> Result<((Vec<ChatEvent>, Vec<ChatEvent>), Option<bytes::Bytes>), ApiError> {
    let m = incoming(chat_id, chat_type, row);
    let mut edits = Vec::new();
    let mut original: Option<(u64, String)> = None;
    let mut raw = None;
    if row.edit_time > 0 {
        let fetched = api.edit_records(&m.msg_id).await?;
        let mut recs = fetched.value;
        recs.sort_by_key(|r| (r.msg_time, r.id));
        raw = Some(fetched.raw);
        if let Some(first) = recs.first() {
            original = Some((first.content_type, first.old_text()));
        }
        for (k, rec) in recs.iter().enumerate() {
            let (ct, text) = match recs.get(k + 1) {
                Some(next) => (next.content_type, next.old_text()),
                None => (m.content_type, m.parts.text.clone()),
            };
            edits.push(edit_event(chat_id, &m.msg_id, ct, &text, rec.msg_time));
        }
        if recs.is_empty() {
            edits.push(edit_event(
                chat_id,
                &m.msg_id,
                m.content_type,
                &m.parts.text,
                row.edit_time,
            ));
        }
    }
    let mut evs = Vec::new();
    if !archived {
        evs.push(message_event(&m, original.as_ref().map(|(ct, t)| (*ct, t.as_str()))));
    }
    if m.recalled_at > 0 {
        evs.push(withdraw_event(chat_id, &m.msg_id, m.recalled_at));
    }
    Ok(((evs, edits), raw))
}

/// Fetches every remembered stream and hands over what was streamed while we were away.
async fn finish_streams(api: &Api, pos: &Position, tx: &mpsc::Sender<Found>) -> Result<usize, ApiError> {
    let mut n = 0;
    for s in &pos.streams {
        let fetched = api.message(&s.chat_id, s.chat_type, &s.msg_id).await?;
        let Some(row) = fetched.value else { continue };
        let text = row.msg_content.map(|c| c.text).unwrap_or_default();
        let have = s.len as usize;
        if text.len() <= have || !text.is_char_boundary(have) {
            continue;
        }
        let tail = &text[have..];
        let ev = stream_event(&s.chat_id, &s.msg_id, tail, s.len);
        n += 1;
        let item = Ingested::Payload {
            raw: RawPayload::now(media::PROTOBUF, fetched.raw),
            events: vec![ev],
        };
        give(
            tx,
            Found::Tail {
                msg_id: s.msg_id.clone(),
                chat_id: s.chat_id.clone(),
                have: s.len,
                len: tail.len() as u64,
                items: vec![item],
            },
        )
        .await?;
    }
    Ok(n)
}
