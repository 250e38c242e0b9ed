//! The fold: a message's current state from its events, whatever order they arrived in.
//!
//! Canonical order, so the result does not depend on arrival order:
//! - the base is the `message` event with the smallest seq (a redelivery with different
//!   content is kept in the log but does not replace the first version);
//! - stream chunks are appended in `offset` order;
//! - edits apply in order of (edit time, seq); each is a new revision whose text replaces the
//!   whole text (streamed chunks included); stream appends are not revisions;
//! - a withdrawal sets `withdrawn`, a deletion sets `deleted` (deleted wins over withdrawn);
//!   the earliest time of each is kept.

use proto::{ChatEvent, ContentType, EventBody, MessageKey, MessageRecord, MessageState, NewMessage, TimestampMs};

use crate::types::Revision;

/// One event of a message, as the fold sees it.
#[derive(Debug, Clone)]
pub struct FoldInput {
    /// Log position.
    pub seq: u64,
    /// Platform time, else receive time.
    pub occurred_at: TimestampMs,
    /// Receive time.
    pub received_at: TimestampMs,
    /// The event.
    pub event: ChatEvent,
}

/// Folds a message's events. `None` while no `message` event exists (its edits or
/// withdrawals wait for it). Revisions are empty for a message that was never edited.
pub fn fold_message(key: &MessageKey, inputs: &[FoldInput]) -> (Option<MessageRecord>, Vec<Revision>) {
    let last_seq = inputs.iter().map(|i| i.seq).max().unwrap_or(0);
    let Some((base_in, base)) = inputs
        .iter()
        .filter_map(|i| match &i.event.body {
            EventBody::Message(m) => Some((i, m)),
            _ => None,
        })
        .min_by_key(|(i, _)| i.seq)
    else {
        return (None, Vec::new());
    };

    let mut chunks: Vec<(u64, u64, &str)> = Vec::new();
    let mut edits: Vec<(TimestampMs, u64, &str, Option<ContentType>)> = Vec::new();
    let mut withdrawn: Option<(TimestampMs, Option<&String>)> = None;
    let mut deleted: Option<(TimestampMs, Option<&String>)> = None;
    for i in inputs {
        match &i.event.body {
            EventBody::StreamAppend { chunk, offset } => chunks.push((*offset, i.seq, chunk)),
            EventBody::Edit {
                text,
                content_type,
                edited_at,
            } => edits.push((edited_at.unwrap_or(i.occurred_at), i.seq, text, *content_type)),
            EventBody::Withdraw { by, at } => {
                let t = at.unwrap_or(i.occurred_at);
                if withdrawn.is_none_or(|(w, _)| t < w) {
                    withdrawn = Some((t, by.as_ref()));
                }
            }
            EventBody::Delete { by, at } => {
                let t = at.unwrap_or(i.occurred_at);
                if deleted.is_none_or(|(d, _)| t < d) {
                    deleted = Some((t, by.as_ref()));
                }
            }
            _ => {}
        }
    }
    chunks.sort_by_key(|c| (c.0, c.1));
    edits.sort_by_key(|e| (e.0, e.1));

    let mut text = base.text.clone();
    for (_, _, c) in &chunks {
        text.push_str(c);
    }
    let mut content_type = base.content_type;
    let mut revisions = Vec::new();
    if !edits.is_empty() {
        revisions.push(Revision {
            revision: 0,
            text: text.clone(),
            at: base.sent_at,
            seq: base_in.seq,
        });
    }
    for (n, (at, seq, t, ct)) in edits.iter().enumerate() {
        text = (*t).to_string();
        if let Some(ct) = ct {
            content_type = *ct;
        }
        revisions.push(Revision {
            revision: n as u32 + 1,
            text: text.clone(),
            at: *at,
            seq: *seq,
        });
    }
    let state = if deleted.is_some() {
        MessageState::Deleted
    } else if withdrawn.is_some() {
        MessageState::Withdrawn
    } else {
        MessageState::Active
    };
    let NewMessage {
        chat_type,
        chat_name,
        external,
        sender_id,
        sender_name,
        sent_at,
        attachments,
        reply_to,
        mentions,
        recipients,
        ..
    } = base.clone();
    let record = MessageRecord {
        key: key.clone(),
        chat_type,
        chat_name,
        external,
        sender_id,
        sender_name,
        sent_at,
        received_at: base_in.received_at,
        content_type,
        text,
        attachments,
        reply_to,
        mentions,
        recipients,
        state,
        revision: edits.len() as u32,
        edited_at: edits.last().map(|e| e.0),
        withdrawn_at: withdrawn.map(|w| w.0),
        withdrawn_by: withdrawn.and_then(|w| w.1.cloned()),
        deleted_at: deleted.map(|d| d.0),
        deleted_by: deleted.and_then(|d| d.1.cloned()),
        last_seq,
    };
    (Some(record), revisions)
}
