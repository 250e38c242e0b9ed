//! [`StoreReader`]: the read side (search, export, CLI). Opens its own read-only connection;
//! many readers work beside the one writer (WAL).

use std::path::Path;

use proto::{ChatType, ContentType, Cursor, EventKind, MessageKey, MessageRecord, MessageState, Platform, TimestampMs};

use crate::types::*;
use crate::{Result, StoreError};

/// One `messages` row as [`StoreReader::visit_messages_in_range`] hands it to its callback:
/// the fields of a [`MessageRecord`] borrowed from SQLite's row buffer, so a bulk reader
/// (export) copies each value once, into its own columns, instead of into a record first.
/// The list columns are decoded only when asked for ([`MessageRow::attachments`],
/// [`MessageRow::mentions`], [`MessageRow::recipients`]); [`MessageRow::to_record`] makes an
/// owned copy.
#[derive(Debug, Clone, Copy)]
pub struct MessageRow<'a> {
    /// Platform.
    pub platform: Platform,
    /// Account (connector name).
    pub account: &'a str,
    /// Chat id.
    pub chat_id: &'a str,
    /// Message id.
    pub msg_id: &'a str,
    /// Chat kind.
    pub chat_type: ChatType,
    /// Chat display name.
    pub chat_name: Option<&'a str>,
    /// External chat flag.
    pub external: bool,
    /// Sender id.
    pub sender_id: &'a str,
    /// Sender display name.
    pub sender_name: Option<&'a str>,
    /// Platform send time.
    pub sent_at: TimestampMs,
    /// Archive receive time.
    pub received_at: TimestampMs,
    /// Content kind.
    pub content_type: ContentType,
    /// Current text.
    pub text: &'a str,
    pub(crate) attachments_json: Option<&'a str>,
    /// Message replied to.
    pub reply_to: Option<&'a str>,
    pub(crate) mentions_json: Option<&'a str>,
    pub(crate) recipients_json: Option<&'a str>,
    /// Lifecycle state.
    pub state: MessageState,
    /// Number of edits.
    pub revision: u32,
    /// Last edit time.
    pub edited_at: Option<TimestampMs>,
    /// Withdrawal time.
    pub withdrawn_at: Option<TimestampMs>,
    /// Who withdrew it.
    pub withdrawn_by: Option<&'a str>,
    /// Deletion time.
    pub deleted_at: Option<TimestampMs>,
    /// Who deleted it.
    pub deleted_by: Option<&'a str>,
    /// Seq of the last event folded into this state.
    pub last_seq: u64,
}

/// One `events` row as [`StoreReader::visit_events`] hands it to its callback, borrowed like
/// [`MessageRow`]; the owned form is [`StoredEvent`].
#[derive(Debug, Clone, Copy)]
pub struct EventRow<'a> {
    /// Position in the log.
    pub seq: u64,
    /// Platform.
    pub platform: Platform,
    /// Account (connector name).
    pub account: &'a str,
    /// Chat id.
    pub chat_id: &'a str,
    /// Message id, for message-level events.
    pub msg_id: Option<&'a str>,
    /// Kind.
    pub kind: EventKind,
    /// When it happened (platform time, else receive time).
    pub occurred_at: TimestampMs,
    /// When the archive received the payload.
    pub received_at: TimestampMs,
    /// The normalized event as stored (JSON).
    pub payload: &'a [u8],
    /// The raw payload row it came from.
    pub raw_id: u64,
    /// The chain hash (32 bytes; [`StoredEvent::hash`] is its hex).
    pub hash: &'a [u8],
}

/// A read-only view of the archive.
pub struct StoreReader {
    pub(crate) conn: rusqlite::Connection,
}

impl StoreReader {
    /// Opens the archive in `data_dir` read-only. Fails with [`crate::StoreError::NotFound`] if
    /// there is none, [`crate::StoreError::Foreign`] if the file is not a chatvault database.
    pub fn open(data_dir: &Path) -> Result<Self> {
        crate::store::open_reader(data_dir)
    }

    /// Sets this connection's page cache to `mib` MiB. [`StoreReader::open`] sizes it for
    /// random lookups; a reader that streams the archive once in index order (export) reads
    /// each page once and needs only a few MB, which it then does not hold for its whole run.
    pub fn set_cache_mib(&self, mib: u32) -> Result<()> {
        self.conn.pragma_update(None, "cache_size", -(i64::from(mib) * 1024))?;
        Ok(())
    }

    /// Events with `seq > after_seq`, in order, at most `limit`.
    pub fn events_since(&self, after_seq: u64, limit: usize) -> Result<Vec<StoredEvent>> {
        crate::queries::q_events_since(&self.conn, after_seq, limit)
    }

    /// Events with `after_seq < seq <= upto_seq`, in order, each borrowed for the duration of
    /// `f` (one query: no per-chunk re-seek, no per-row allocation). `f`'s error stops the scan
    /// and is returned as is.
    pub fn visit_events<E: From<StoreError>>(
        &self,
        after_seq: u64,
        upto_seq: u64,
        f: &mut dyn FnMut(&EventRow<'_>) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        crate::queries::q_visit_events(&self.conn, after_seq, upto_seq, f)
    }

    /// `(platform, sent_at)` of every message whose state changed after `after_seq`, streamed
    /// to `f` (export maps them to date partitions without loading them all).
    pub fn messages_touched_since(&self, after_seq: u64, f: &mut dyn FnMut(Platform, TimestampMs)) -> Result<()> {
        crate::queries::q_touched(&self.conn, after_seq, f)
    }

    /// Messages of `platform` with `from_ms <= sent_at < to_ms`, ordered by `sent_at`, handed
    /// to `f` in chunks of at most `chunk` (bounded memory).
    pub fn messages_in_range(
        &self,
        platform: Platform,
        from_ms: TimestampMs,
        to_ms: TimestampMs,
        chunk: usize,
        f: &mut dyn FnMut(Vec<MessageRecord>) -> Result<()>,
    ) -> Result<()> {
        crate::queries::q_messages_in_range(&self.conn, platform, from_ms, to_ms, chunk, f)
    }

    /// Messages of `platform` with `from_ms <= sent_at < to_ms`, in `sent_at` order, each
    /// borrowed for the duration of `f` (see [`MessageRow`]). `f`'s error stops the scan and is
    /// returned as is.
    pub fn visit_messages_in_range<E: From<StoreError>>(
        &self,
        platform: Platform,
        from_ms: TimestampMs,
        to_ms: TimestampMs,
        f: &mut dyn FnMut(&MessageRow<'_>) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        crate::queries::q_visit_messages_in_range(&self.conn, platform, from_ms, to_ms, f)
    }

    /// The earliest `sent_at >= from_ms` of a message of `platform`, if any: one index probe,
    /// so a caller can step from day to day without reading the messages in between.
    pub fn first_message_time(&self, platform: Platform, from_ms: TimestampMs) -> Result<Option<TimestampMs>> {
        crate::queries::q_first_message_time(&self.conn, platform, from_ms)
    }

    /// Current state of the given messages (missing ones are skipped).
    pub fn messages_by_keys(&self, keys: &[MessageKey]) -> Result<Vec<MessageRecord>> {
        crate::queries::q_messages_by_keys(&self.conn, keys)
    }

    /// Every text a message has had (empty if never edited: its text is the record's).
    pub fn revisions(&self, key: &MessageKey) -> Result<Vec<Revision>> {
        crate::queries::q_revisions(&self.conn, key)
    }

    /// Messages matching `platform`/`chat_id`/`msg_id` in any account (for `show`).
    pub fn find_keys(
        &self,
        platform: Platform,
        chat_id: &str,
        msg_id: &str,
        account: Option<&str>,
    ) -> Result<Vec<MessageKey>> {
        crate::queries::q_find_keys(&self.conn, platform, chat_id, msg_id, account)
    }

    /// One message with its full event history and raw payloads (`show`).
    pub fn message(&self, key: &MessageKey) -> Result<Option<MessageHistory>> {
        crate::queries::q_message(&self.conn, key)
    }

    /// Changed messages matching `filter`, oldest first, streamed to `f`.
    pub fn audit(&self, filter: &AuditFilter, f: &mut dyn FnMut(AuditEntry) -> Result<()>) -> Result<()> {
        crate::queries::q_audit(&self.conn, filter, f)
    }

    /// Periods connectors were not archiving, from `connector_state` events.
    pub fn gaps(
        &self,
        since: Option<TimestampMs>,
        until: Option<TimestampMs>,
        platform: Option<Platform>,
    ) -> Result<Vec<Gap>> {
        crate::queries::q_gaps(&self.conn, since, until, platform)
    }

    /// Every known chat with its latest name.
    pub fn chats(&self) -> Result<Vec<ChatRow>> {
        crate::queries::q_chats(&self.conn)
    }

    /// A connector's committed cursor.
    pub fn cursor(&self, platform: Platform, account: &str) -> Result<Option<Cursor>> {
        crate::queries::q_cursor(&self.conn, platform, account)
    }

    /// Rejected payloads, newest first.
    pub fn rejects(&self, limit: usize) -> Result<Vec<RejectRow>> {
        crate::queries::q_rejects(&self.conn, limit)
    }

    /// The end of the hash chain.
    pub fn head(&self) -> Result<ChainHead> {
        crate::queries::q_head(&self.conn)
    }

    /// Counts for `stats`.
    pub fn stats(&self) -> Result<Stats> {
        crate::queries::q_stats(&self.conn)
    }

    /// Recomputes the hash chain and re-folds every message; `progress` gets the seq reached.
    pub fn verify(&self, progress: &mut dyn FnMut(u64)) -> Result<VerifyReport> {
        crate::verify::verify(&self.conn, progress)
    }
}

#[cfg(test)]
mod tests {
    use proto::{
        Attachment, ChatEvent, ChatType, ContentType, EventBatch, EventBody, Ingested, NewMessage, RawPayload,
        batch::media,
    };

    use super::*;
    use crate::{Store, StoreOptions};

    const T0: i64 = 1_760_000_000_000;

    fn message(id: &str, sent_at: i64, mentions: Vec<String>, attachments: Vec<Attachment>) -> Ingested {
        let ev = ChatEvent::message(
            "c1",
            id,
            EventBody::Message(NewMessage {
                chat_type: ChatType::Group,
                chat_name: Some("群".into()),
                external: false,
                sender_id: "u1".into(),
                sender_name: None,
                sent_at,
                content_type: ContentType::Text,
                text: format!("好的收到 {id}"),
                attachments,
                reply_to: None,
                mentions,
                recipients: vec![],
            }),
        );
        Ingested::Payload {
            raw: RawPayload {
                received_at: sent_at + 1,
                media_type: media::JSON.into(),
                bytes: serde_json::to_vec(&ev).unwrap_or_default().into(),
            },
            events: vec![ev],
        }
    }

    /// m3 and m1 share a send time (m3 arrived first), m2 is a day later; m1's list values
    /// need JSON escapes, so they cannot be borrowed from the stored text.
    fn archive(dir: &Path) -> StoreReader {
        let mut store = Store::open(
            dir,
            StoreOptions {
                synchronous_full: false,
                cache_mib: 4,
            },
        )
        .unwrap();
        let attachment = Attachment {
            name: Some("合同.pdf".into()),
            size: Some(12),
            ..Default::default()
        };
        let items = vec![
            message("m3", T0, vec!["plain".into()], vec![]),
            message("m1", T0, vec!["say \"hi\"".into(), "a\\b".into()], vec![attachment]),
            message("m2", T0 + 86_400_000, vec![], vec![]),
        ];
        let batch = EventBatch::new(Platform::Yunhu, "team", items, None).0;
        store.append(&[&batch]).unwrap();
        drop(store);
        StoreReader::open(dir).unwrap()
    }

    #[test]
    fn visited_rows_match_the_owned_records_in_send_then_arrival_order() {
        let dir = tempfile::tempdir().unwrap();
        let reader = archive(dir.path());
        let mut owned = Vec::new();
        reader
            .messages_in_range(Platform::Yunhu, T0, T0 + 1, 1, &mut |chunk| {
                owned.extend(chunk);
                Ok(())
            })
            .unwrap();
        let mut seen = Vec::new();
        reader
            .visit_messages_in_range(Platform::Yunhu, T0, T0 + 1, &mut |row| {
                let mentions: Vec<String> = row.mentions()?.into_iter().map(|m| m.into_owned()).collect();
                seen.push((
                    row.msg_id.to_string(),
                    mentions,
                    row.attachments()?.len(),
                    row.to_record()?,
                ));
                Ok::<(), StoreError>(())
            })
            .unwrap();
        let ids: Vec<&str> = seen.iter().map(|s| s.0.as_str()).collect();
        assert_eq!(ids, ["m3", "m1"]);
        assert_eq!(seen[1].1, ["say \"hi\"", "a\\b"]);
        assert_eq!((seen[0].2, seen[1].2), (0, 1));
        let records: Vec<MessageRecord> = seen.into_iter().map(|s| s.3).collect();
        assert_eq!(records, owned);
        assert_eq!(records[1].attachments[0].name.as_deref(), Some("合同.pdf"));
    }

    #[test]
    fn first_message_time_steps_from_day_to_day() {
        let dir = tempfile::tempdir().unwrap();
        let reader = archive(dir.path());
        assert_eq!(reader.first_message_time(Platform::Yunhu, i64::MIN).unwrap(), Some(T0));
        assert_eq!(
            reader.first_message_time(Platform::Yunhu, T0 + 1).unwrap(),
            Some(T0 + 86_400_000)
        );
        assert_eq!(
            reader.first_message_time(Platform::Yunhu, T0 + 86_400_001).unwrap(),
            None
        );
        assert_eq!(reader.first_message_time(Platform::Wecom, i64::MIN).unwrap(), None);
    }

    #[test]
    fn visited_events_cover_the_range_and_a_callback_error_stops_the_scan() {
        let dir = tempfile::tempdir().unwrap();
        let reader = archive(dir.path());
        let owned = reader.events_since(0, 10).unwrap();
        assert_eq!(owned.len(), 3);
        let mut seen = Vec::new();
        reader
            .visit_events(1, 3, &mut |e| {
                seen.push((
                    e.seq,
                    hex::encode(e.hash),
                    e.payload.to_vec(),
                    e.msg_id.map(str::to_string),
                ));
                Ok::<(), StoreError>(())
            })
            .unwrap();
        let want: Vec<_> = owned[1..]
            .iter()
            .map(|e| (e.seq, e.hash.clone(), e.payload.clone(), e.msg_id.clone()))
            .collect();
        assert_eq!(seen, want);

        #[derive(Debug)]
        enum Stop {
            Here(u64),
            Store,
        }
        impl From<StoreError> for Stop {
            fn from(_: StoreError) -> Self {
                Stop::Store
            }
        }
        let mut calls = 0;
        let got = reader.visit_events(0, 3, &mut |e| {
            calls += 1;
            Err(Stop::Here(e.seq))
        });
        assert!(matches!(got, Err(Stop::Here(1))), "{got:?}");
        assert_eq!(calls, 1);
    }
}
