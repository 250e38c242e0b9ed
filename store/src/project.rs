//! The projections, updated in the transaction of the events they fold: `messages` and
//! `revisions` (each message's current state, `fold.rs`), `chats` (names and message counts)
//! and `members`.
//!
//! The common event — the first `message` event of a new identity — inserts its row directly,
//! with no fold. A stream chunk that extends the text, an edit newer than the latest, a
//! withdrawal or deletion is applied on top of the row as it stands (`project_step.rs`), so
//! a message's thousandth chunk costs what its first did; only events that land inside the
//! history (a chunk before the end of the text, an edit older than the latest) re-fold the
//! message from the log. Chat message
//! counts of a transaction are summed in memory and written once per chat at the end
//! ([`Projector::flush`]) instead of one upsert per message.

use std::collections::HashMap;

use proto::{ChatEvent, EventBody, Identity, MessageKey, MessageRecord, NewMessage, Platform, TextFormat};
use rusqlite::{CachedStatement, Connection, params};
use serde::Serialize;

use crate::compress::Unpacker;
use crate::dedup::ExistingRow;
use crate::fold::{FoldInput, fold_message};
use crate::types::{Envelope, Revision};
use crate::{Result, StoreError};

const MESSAGE_SQL: &str = "INSERT INTO messages(mkey, platform, account, chat_id, msg_id, has_message, msg_seq, chat_type, chat_name, external,
       sender_id, sender_name, sent_at, received_at, content_type, text, attachments, reply_to, mentions, recipients,
       state, revision, last_seq, msg_key, text_format, source_text, stream_end)
     VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, 'active', 0, ?6, ?20, ?21, ?22, -1)";

/// The projection side of one transaction.
pub(crate) struct Projector<'t> {
    tx: &'t Connection,
    /// Taken from the statement cache once per transaction: a cache lookup hashes the whole
    /// SQL text, which per event was a measurable part of the append.
    insert_message: CachedStatement<'t>,
    chats: ChatCounts,
    unpacker: Unpacker,
    tails: crate::project_step::Tails,
}

/// Where an event lands in `messages`: its identity, the identity's row key and the row as it
/// was before the event.
pub(crate) struct Target {
    pub key: MessageKey,
    pub row_key: i64,
    pub row: Option<ExistingRow>,
}

impl<'t> Projector<'t> {
    pub fn new(tx: &'t Connection) -> Result<Projector<'t>> {
        Ok(Projector {
            tx,
            insert_message: tx.prepare_cached(MESSAGE_SQL)?,
            chats: ChatCounts::default(),
            tails: Default::default(),
            unpacker: Unpacker::default(),
        })
    }

    /// Projects message-level event `seq` onto its message's row; `content_key` is the event's.
    pub fn message(&mut self, t: Target, seq: u64, received_at: i64, ev: &ChatEvent, content_key: i64) -> Result<()> {
        let Target { key, row_key, row } = t;
        if let (None, EventBody::Message(m)) = (&row, &ev.body) {
            insert_message_row(
                &mut self.insert_message,
                &key,
                row_key,
                seq,
                received_at,
                m,
                content_key,
            )?;
            self.chats.bump(&key, m);
            return Ok(());
        }
        // Chunks gathered for this message land before anything else touches its row.
        if !matches!(ev.body, EventBody::StreamAppend { .. }) {
            self.tails.flush_row(self.tx, row_key)?;
        }
        match (&row, &ev.body) {
            (None, _) => {
                // An edit or withdrawal before its message: a placeholder, folded when the
                // message arrives.
                self.tx
                    .prepare_cached(
                        "INSERT INTO messages(mkey, platform, account, chat_id, msg_id, has_message, last_seq) VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)",
                    )?
                    .execute(params![row_key, key.platform.as_str(), key.account, key.chat_id, key.msg_id, seq as i64])?;
                return Ok(());
            }
            (Some(r), EventBody::Message(m)) if !r.has_message => {
                self.tx
                    .prepare_cached("UPDATE messages SET has_message = 1, msg_seq = ?2, msg_key = ?3 WHERE mkey = ?1")?
                    .execute(params![row_key, seq as i64, content_key])?;
                self.chats.bump(&key, m);
            }
            // Still waiting for its message, or a later version of a known one (the first
            // version wins): the fold is unchanged, only the latest seq moves.
            (Some(r), _) if !r.has_message => return self.touch(row_key, seq),
            (Some(_), EventBody::Message(_)) => return self.touch(row_key, seq),
            (Some(_), _) => {
                let occurred_at = ev.occurred_at.unwrap_or(received_at);
                if crate::project_step::apply(self.tx, &mut self.tails, row_key, seq, occurred_at, ev)? {
                    return Ok(());
                }
            }
        }
        // Anything the step cannot apply on top of the current state (a chunk before the end
        // of the text, an edit older than the latest, a chunk under an edit): fold it all.
        let inputs = self.fold_inputs(row_key)?;
        let (record, revisions) = fold_message(&key, &inputs);
        match record {
            Some(mut rec) => {
                // A later `message` event with other content is not among the fold inputs
                // (the first version wins) but is still the message's latest event.
                rec.last_seq = rec.last_seq.max(seq);
                write_record(self.tx, row_key, &rec, &revisions)?;
                self.tx
                    .prepare_cached("UPDATE messages SET stream_end = ?2 WHERE mkey = ?1")?
                    .execute(params![row_key, crate::project_step::stream_end(&inputs)])?;
                Ok(())
            }
            None => self.touch(row_key, seq),
        }
    }

    /// Moves a message's latest seq.
    fn touch(&self, row_key: i64, seq: u64) -> Result<()> {
        self.tx
            .prepare_cached("UPDATE messages SET last_seq = ?2 WHERE mkey = ?1")?
            .execute(params![row_key, seq as i64])?;
        Ok(())
    }

    /// Projects chat-level event `seq` (names and members).
    pub fn chat(&mut self, platform: Platform, account: &str, seq: u64, ev: &ChatEvent) -> Result<()> {
        if !matches!(
            ev.body,
            EventBody::GroupCreated { .. }
                | EventBody::GroupRenamed { .. }
                | EventBody::MemberJoin { .. }
                | EventBody::MemberLeave { .. }
        ) {
            return Ok(());
        }
        // A rename must land after the counts of the messages before it, which may carry the
        // older name.
        self.chats.flush(self.tx)?;
        let tx = self.tx;
        let set_name = |name: &str| -> Result<()> {
            tx.prepare_cached(
                "INSERT INTO chats(platform, account, chat_id, name) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(platform, account, chat_id) DO UPDATE SET name = excluded.name",
            )?
            .execute(params![platform.as_str(), account, ev.chat_id, name])?;
            Ok(())
        };
        let members = |list: &[Identity], present: bool| -> Result<()> {
            let mut st = tx.prepare_cached(
                "INSERT INTO members(platform, account, chat_id, user_id, name, present, since_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(platform, account, chat_id, user_id) DO UPDATE SET
                 name = coalesce(excluded.name, name), present = excluded.present, since_seq = excluded.since_seq",
            )?;
            for m in list {
                st.execute(params![
                    platform.as_str(),
                    account,
                    ev.chat_id,
                    m.id,
                    m.name,
                    present,
                    seq as i64
                ])?;
            }
            Ok(())
        };
        match &ev.body {
            EventBody::GroupCreated {
                name, members: list, ..
            } => {
                if let Some(n) = name {
                    set_name(n)?;
                }
                members(list, true)
            }
            EventBody::GroupRenamed { name, .. } => set_name(name),
            EventBody::MemberJoin { members: list, .. } => members(list, true),
            EventBody::MemberLeave { members: list, .. } => members(list, false),
            _ => Ok(()),
        }
    }

    /// Writes the transaction's gathered chunks and chat counts (before it commits).
    pub fn flush(&mut self) -> Result<()> {
        self.tails.flush(self.tx)?;
        self.chats.flush(self.tx)
    }

    /// The events of one message for the fold: its first `message` event and every other event.
    fn fold_inputs(&mut self, row_key: i64) -> Result<Vec<FoldInput>> {
        let mut out = Vec::new();
        let mut st = self.tx.prepare_cached(
            "SELECT seq, occurred_at, received_at, payload, zdict FROM events WHERE seq = (SELECT msg_seq FROM messages WHERE mkey = ?1)
             UNION ALL
             SELECT seq, occurred_at, received_at, payload, zdict FROM events WHERE mkey = ?1 AND kind <> 'message'",
        )?;
        let mut rows = st.query([row_key])?;
        let mut payload = Vec::new();
        while let Some(r) = rows.next()? {
            let seq: i64 = r.get(0)?;
            let stored = r.get_ref(3)?.as_blob().map_err(rusqlite::Error::from)?;
            let what = || format!("event seq {seq}");
            self.unpacker
                .unpack_into(self.tx, stored, r.get(4)?, &mut payload, &what)?;
            let env: Envelope = serde_json::from_slice(&payload)
                .map_err(|e| StoreError::Corrupt(format!("event seq {seq} does not decode: {e}")))?;
            out.push(FoldInput {
                seq: seq as u64,
                occurred_at: r.get(1)?,
                received_at: r.get(2)?,
                event: env.event,
            });
        }
        Ok(out)
    }
}

fn insert_message_row(
    insert: &mut rusqlite::Statement<'_>,
    key: &MessageKey,
    row_key: i64,
    seq: u64,
    received_at: i64,
    m: &NewMessage,
    content_key: i64,
) -> Result<()> {
    insert.execute(params![
        row_key,
        key.platform.as_str(),
        key.account,
        key.chat_id,
        key.msg_id,
        seq as i64,
        m.chat_type.as_str(),
        m.chat_name,
        m.external,
        m.sender_id,
        m.sender_name,
        m.sent_at,
        received_at,
        m.content_type.as_str(),
        m.text,
        json_list(&m.attachments),
        m.reply_to,
        json_list(&m.mentions),
        json_list(&m.recipients),
        content_key,
        format_column(m.text_format),
        m.source_text,
    ])?;
    Ok(())
}

/// Writes a folded record and its revisions over the projection row.
fn write_record(tx: &Connection, row_key: i64, rec: &MessageRecord, revisions: &[Revision]) -> Result<()> {
    tx.prepare_cached(
        "UPDATE messages SET chat_type = ?2, chat_name = ?3, external = ?4, sender_id = ?5, sender_name = ?6, sent_at = ?7,
           received_at = ?8, content_type = ?9, text = ?10, attachments = ?11, reply_to = ?12, mentions = ?13, recipients = ?14,
           state = ?15, revision = ?16, edited_at = ?17, withdrawn_at = ?18, withdrawn_by = ?19, deleted_at = ?20,
           deleted_by = ?21, last_seq = ?22, text_format = ?23, source_text = ?24, deleted_for = ?25
         WHERE mkey = ?1",
    )?
    .execute(params![
        row_key,
        rec.chat_type.as_str(),
        rec.chat_name,
        rec.external,
        rec.sender_id,
        rec.sender_name,
        rec.sent_at,
        rec.received_at,
        rec.content_type.as_str(),
        rec.text,
        json_list(&rec.attachments),
        rec.reply_to,
        json_list(&rec.mentions),
        json_list(&rec.recipients),
        rec.state.as_str(),
        rec.revision,
        rec.edited_at,
        rec.withdrawn_at,
        rec.withdrawn_by,
        rec.deleted_at,
        rec.deleted_by,
        rec.last_seq as i64,
        format_column(rec.text_format),
        rec.source_text,
        json_list(&rec.deleted_for),
    ])?;
    tx.prepare_cached("DELETE FROM revisions WHERE mkey = ?1")?
        .execute([row_key])?;
    let mut st =
        tx.prepare_cached("INSERT INTO revisions(mkey, revision, text, at, seq) VALUES (?1, ?2, ?3, ?4, ?5)")?;
    for r in revisions {
        st.execute(params![row_key, r.revision, r.text, r.at, r.seq as i64])?;
    }
    Ok(())
}

/// `text_format` as stored: NULL for plain text, the common case (schema `v3_to_v4.rs`).
pub(crate) fn format_column(f: TextFormat) -> Option<&'static str> {
    (!f.is_plain()).then(|| f.as_str())
}

fn json_list<T: Serialize>(v: &[T]) -> Option<String> {
    if v.is_empty() {
        None
    } else {
        serde_json::to_string(v).ok()
    }
}

/// Per-chat message counts and the latest name and type of the current transaction.
#[derive(Default)]
struct ChatCounts {
    /// Few accounts, many chats: a short list of accounts, each with its chats by id.
    by_account: Vec<(Platform, String, HashMap<String, ChatBump>)>,
}

struct ChatBump {
    messages: i64,
    name: Option<String>,
    chat_type: &'static str,
}

impl ChatCounts {
    fn bump(&mut self, key: &MessageKey, m: &NewMessage) {
        let pos = match self
            .by_account
            .iter()
            .position(|(p, a, _)| *p == key.platform && *a == key.account)
        {
            Some(pos) => pos,
            None => {
                self.by_account
                    .push((key.platform, key.account.clone(), HashMap::new()));
                self.by_account.len() - 1
            }
        };
        let chats = &mut self.by_account[pos].2;
        match chats.get_mut(key.chat_id.as_str()) {
            Some(c) => {
                c.messages += 1;
                if m.chat_name.is_some() {
                    c.name.clone_from(&m.chat_name);
                }
                c.chat_type = m.chat_type.as_str();
            }
            None => {
                chats.insert(
                    key.chat_id.clone(),
                    ChatBump {
                        messages: 1,
                        name: m.chat_name.clone(),
                        chat_type: m.chat_type.as_str(),
                    },
                );
            }
        }
    }

    fn flush(&mut self, tx: &Connection) -> Result<()> {
        if self.by_account.is_empty() {
            return Ok(());
        }
        let mut st = tx.prepare_cached(
            "INSERT INTO chats(platform, account, chat_id, name, chat_type, messages) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(platform, account, chat_id) DO UPDATE SET messages = messages + excluded.messages,
             name = coalesce(excluded.name, name), chat_type = coalesce(excluded.chat_type, chat_type)",
        )?;
        for (platform, account, chats) in self.by_account.drain(..) {
            for (chat_id, c) in chats {
                st.execute(params![
                    platform.as_str(),
                    account,
                    chat_id,
                    c.name,
                    c.chat_type,
                    c.messages
                ])?;
            }
        }
        Ok(())
    }
}
