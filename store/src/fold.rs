//! The fold: a message's current state from its events, whatever order they arrived in.
//!
//! Canonical order, so the result does not depend on arrival order:
//! - the base is the `message` event with the smallest seq (a redelivery with different
//!   content is kept in the log but does not replace the first version);
//! - stream chunks are appended in `offset` order;
//! - edits apply in order of (edit time, seq); each is a new revision whose text replaces the
//!   whole text (streamed chunks included); stream appends are not revisions;
//! - a withdrawal sets `withdrawn`, a deletion for everyone sets `deleted` (deleted wins over
//!   withdrawn); the earliest time of each is kept. A deletion for one user only
//!   (`DeleteScope::User`) leaves the state alone and is listed in `deleted_for`, once per
//!   user, earliest time kept;
//! - the text format and markup (`source_text`) are the base's, with stream chunks appended to
//!   the markup as they are to the text; an edit replaces both (an edit without a format is
//!   plain text);
//! - an `attachment_stored` event sets the `sha256` (and a size the message did not give) of
//!   the attachment at its index, the one with the smallest seq per index winning; an index
//!   the base does not have is ignored (it is still in the log).

use proto::{
    ChatEvent, ContentType, DeleteScope, EventBody, MessageKey, MessageRecord, MessageState, NewMessage, TextFormat,
    TimestampMs, UserDeletion,
};

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
    let mut edits: Vec<Edit<'_>> = Vec::new();
    let mut withdrawn: Option<(TimestampMs, Option<&String>)> = None;
    let mut deleted: Option<(TimestampMs, Option<&String>)> = None;
    let mut deleted_for: Vec<UserDeletion> = Vec::new();
    let mut stored: Vec<(u64, u32, &str, Option<u64>)> = Vec::new();
    for i in inputs {
        match &i.event.body {
            EventBody::StreamAppend { chunk, offset } => chunks.push((*offset, i.seq, chunk)),
            EventBody::Edit {
                text,
                content_type,
                edited_at,
                text_format,
                source_text,
            } => edits.push(Edit {
                at: edited_at.unwrap_or(i.occurred_at),
                seq: i.seq,
                text,
                content_type: *content_type,
                format: text_format.unwrap_or_default(),
                source: source_text.as_deref(),
            }),
            EventBody::Withdraw { by, at } => {
                let t = at.unwrap_or(i.occurred_at);
                if withdrawn.is_none_or(|(w, _)| t < w) {
                    withdrawn = Some((t, by.as_ref()));
                }
            }
            EventBody::Delete {
                by,
                at,
                scope: DeleteScope::User,
            } => {
                let t = at.unwrap_or(i.occurred_at);
                match deleted_for.iter_mut().find(|d| d.user == *by) {
                    Some(d) => d.at = d.at.min(t),
                    None => deleted_for.push(UserDeletion {
                        user: by.clone(),
                        at: t,
                    }),
                }
            }
            EventBody::Delete {
                by,
                at,
                scope: DeleteScope::Everyone,
            } => {
                let t = at.unwrap_or(i.occurred_at);
                if deleted.is_none_or(|(d, _)| t < d) {
                    deleted = Some((t, by.as_ref()));
                }
            }
            EventBody::AttachmentStored { index, sha256, size } => stored.push((i.seq, *index, sha256, *size)),
            _ => {}
        }
    }
    chunks.sort_by_key(|c| (c.0, c.1));
    edits.sort_by_key(|e| (e.at, e.seq));
    deleted_for.sort_by(|a, b| (a.at, &a.user).cmp(&(b.at, &b.user)));

    let mut text = base.text.clone();
    let mut source_text = base.source_text.clone();
    for (_, _, c) in &chunks {
        text.push_str(c);
        if let Some(s) = source_text.as_mut() {
            s.push_str(c);
        }
    }
    let mut text_format = base.text_format;
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
    for (n, e) in edits.iter().enumerate() {
        text = e.text.to_string();
        if let Some(ct) = e.content_type {
            content_type = ct;
        }
        text_format = e.format;
        source_text = e.source.map(str::to_string);
        revisions.push(Revision {
            revision: n as u32 + 1,
            text: text.clone(),
            at: e.at,
            seq: e.seq,
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
        mut attachments,
        reply_to,
        mentions,
        recipients,
        ..
    } = base.clone();
    stored.sort_by_key(|s| s.0);
    let mut applied = vec![false; attachments.len()];
    for (_, index, sha256, size) in stored {
        let i = index as usize;
        if let (Some(a), Some(done @ false)) = (attachments.get_mut(i), applied.get_mut(i)) {
            *done = true;
            a.sha256 = Some(sha256.to_string());
            if a.size.is_none() {
                a.size = size;
            }
        }
    }
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
        text_format,
        source_text,
        attachments,
        reply_to,
        mentions,
        recipients,
        state,
        revision: edits.len() as u32,
        edited_at: edits.last().map(|e| e.at),
        withdrawn_at: withdrawn.map(|w| w.0),
        withdrawn_by: withdrawn.and_then(|w| w.1.cloned()),
        deleted_at: deleted.map(|d| d.0),
        deleted_by: deleted.and_then(|d| d.1.cloned()),
        deleted_for,
        last_seq,
    };
    (Some(record), revisions)
}

/// An edit as the fold orders and applies it.
struct Edit<'a> {
    at: TimestampMs,
    seq: u64,
    text: &'a str,
    content_type: Option<ContentType>,
    format: TextFormat,
    source: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::{ChatType, Platform};

    fn input(seq: u64, body: EventBody) -> FoldInput {
        FoldInput {
            seq,
            occurred_at: 1_000 + seq as i64,
            received_at: 1_000 + seq as i64,
            event: ChatEvent::message("c", "m", body),
        }
    }

    fn markdown(source: &str, text: &str) -> EventBody {
        EventBody::Message(NewMessage {
            chat_type: ChatType::Bot,
            chat_name: None,
            external: false,
            sender_id: "bot".into(),
            sender_name: None,
            sent_at: 1_000,
            content_type: ContentType::Markdown,
            text: text.into(),
            text_format: TextFormat::Markdown,
            source_text: Some(source.into()),
            attachments: vec![],
            reply_to: None,
            mentions: vec![],
            recipients: vec![],
        })
    }

    fn key() -> MessageKey {
        MessageKey {
            platform: Platform::Yunhu,
            account: "a".into(),
            chat_id: "c".into(),
            msg_id: "m".into(),
        }
    }

    #[test]
    fn markup_follows_stream_chunks_and_edits() {
        let base = input(1, markdown("# 标题", "标题"));
        let chunk = input(
            2,
            EventBody::StreamAppend {
                chunk: "\n**粗**".into(),
                offset: 8,
            },
        );
        let (rec, _) = fold_message(&key(), &[base.clone(), chunk]);
        let rec = rec.unwrap();
        assert_eq!(rec.source_text.as_deref(), Some("# 标题\n**粗**"));
        assert_eq!(rec.text_format, TextFormat::Markdown);

        let plain_edit = input(
            3,
            EventBody::Edit {
                text: "改了".into(),
                content_type: Some(ContentType::Text),
                edited_at: Some(5_000),
                text_format: None,
                source_text: None,
            },
        );
        let (rec, _) = fold_message(&key(), &[base, plain_edit]);
        let rec = rec.unwrap();
        assert_eq!(
            (rec.text_format, rec.source_text, rec.text.as_str()),
            (TextFormat::Plain, None, "改了"),
            "an edit to plain text drops the old markup"
        );
    }

    #[test]
    fn a_deletion_for_one_user_leaves_the_message_visible_to_the_others() {
        let del = |seq, by: &str, scope| {
            input(
                seq,
                EventBody::Delete {
                    by: Some(by.into()),
                    at: None,
                    scope,
                },
            )
        };
        let inputs = [
            input(1, markdown("x", "x")),
            del(2, "u2", DeleteScope::User),
            del(3, "u2", DeleteScope::User),
        ];
        let rec = fold_message(&key(), &inputs).0.unwrap();
        assert_eq!(rec.state, MessageState::Active);
        assert_eq!(
            rec.deleted_for,
            [UserDeletion {
                user: Some("u2".into()),
                at: 1_002
            }],
            "once per user, earliest time"
        );
        let mut all = inputs.to_vec();
        all.push(del(4, "admin", DeleteScope::Everyone));
        let rec = fold_message(&key(), &all).0.unwrap();
        assert_eq!(
            (rec.state, rec.deleted_by.as_deref()),
            (MessageState::Deleted, Some("admin"))
        );
    }

    #[test]
    fn a_later_download_fills_the_attachment_in_whatever_order_it_arrives() {
        let mut base = markdown("x", "x");
        if let EventBody::Message(m) = &mut base {
            m.attachments = vec![proto::Attachment {
                name: Some("合同.pdf".into()),
                url: Some("https://files.example/c.pdf".into()),
                ..Default::default()
            }];
        }
        let stored = |seq, sha: &str| {
            input(
                seq,
                EventBody::AttachmentStored {
                    index: 0,
                    sha256: sha.into(),
                    size: Some(seq),
                },
            )
        };
        let beyond = input(
            4,
            EventBody::AttachmentStored {
                index: 7,
                sha256: "ff".into(),
                size: None,
            },
        );
        let without = fold_message(&key(), &[input(1, base.clone())]).0.unwrap();
        assert_eq!(without.attachments[0].sha256, None);
        // The stored event before its message (arrival order) and a second one for the index.
        let rec = fold_message(&key(), &[stored(3, "bb"), input(1, base), stored(2, "aa"), beyond])
            .0
            .unwrap();
        assert_eq!(rec.attachments.len(), 1, "an index the message lacks adds nothing");
        assert_eq!(
            (rec.attachments[0].sha256.as_deref(), rec.attachments[0].size),
            (Some("aa"), Some(2)),
            "the first stored download of an index wins"
        );
        assert_eq!(rec.attachments[0].name.as_deref(), Some("合同.pdf"));
        assert_eq!(rec.revision, 0, "not an edit");
    }
}
