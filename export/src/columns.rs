//! Rows → Arrow record batches for the two tables: [`MessageColumns`] and [`EventColumns`]
//! take the store's borrowed rows one at a time, so each value is copied once, from SQLite's
//! row buffer into its column. Column order and types follow [`crate::schema`] exactly.

use std::sync::Arc;

use arrow_array::builder::{
    ArrayBuilder, BooleanBuilder, Int64Builder, ListBuilder, StringBuilder, TimestampMillisecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch, StructArray};
use arrow_buffer::{NullBuffer, OffsetBuffer};
use arrow_schema::Fields;
use proto::{Platform, TimestampMs};
use store::StoreReader;

use crate::error::Result;
use crate::schema::{attachment_fields, events_schema, messages_schema, struct_item, user_deletion_fields};

/// Sequence numbers are `u64` in the store and `INT64` in the files (Spark and Power BI read
/// unsigned 64-bit columns badly); a log would need 2⁶³ events to tell the difference.
fn seq_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Takes a finished column out of `b`, leaving a builder sized like it: consecutive chunks
/// are alike, so the next one fills without regrowing (and re-copying) its buffers.
fn take_strings(b: &mut StringBuilder) -> ArrayRef {
    let fresh = StringBuilder::with_capacity(b.len(), b.values_slice().len());
    Arc::new(std::mem::replace(b, fresh).finish())
}

fn take_ints(b: &mut Int64Builder) -> ArrayRef {
    let fresh = Int64Builder::with_capacity(b.len());
    Arc::new(std::mem::replace(b, fresh).finish())
}

fn take_times(b: &mut TimestampMillisecondBuilder) -> ArrayRef {
    let fresh = ts_builder(b.len());
    Arc::new(std::mem::replace(b, fresh).finish())
}

fn ts_builder(rows: usize) -> TimestampMillisecondBuilder {
    TimestampMillisecondBuilder::with_capacity(rows).with_timezone("UTC")
}

fn take_string_list(b: &mut ListBuilder<StringBuilder>) -> ArrayRef {
    let fresh = ListBuilder::with_capacity(
        StringBuilder::with_capacity(b.values_ref().len(), b.values_ref().values_slice().len()),
        b.len(),
    );
    Arc::new(std::mem::replace(b, fresh).finish())
}

/// A finished list-of-structs column: each row's list length from `lengths` (left empty, sized
/// like it, for the next chunk) over the struct `children` of every row's items in turn.
fn take_struct_list(lengths: &mut Vec<usize>, fields: Fields, children: Vec<ArrayRef>) -> ArrayRef {
    let rows = lengths.len();
    let lengths = std::mem::replace(lengths, Vec::with_capacity(rows));
    let item = struct_item(fields.clone());
    let values = StructArray::new(fields, children, None);
    Arc::new(arrow_array::ListArray::new(
        item,
        OffsetBuffer::from_lengths(lengths),
        Arc::new(values),
        None::<NullBuffer>,
    ))
}

/// Appends one row's strings to a list column.
fn push_strings(b: &mut ListBuilder<StringBuilder>, values: impl IntoIterator<Item = impl AsRef<str>>) {
    for v in values {
        b.values().append_value(v);
    }
    b.append(true);
}

/// The `deleted_for` column (a list of `{user, at}` structs), built like [`Attachments`].
struct UserDeletions {
    lengths: Vec<usize>,
    user: StringBuilder,
    at: TimestampMillisecondBuilder,
}

impl Default for UserDeletions {
    fn default() -> Self {
        UserDeletions {
            lengths: Vec::new(),
            user: StringBuilder::new(),
            // The schema's times are UTC; a builder's default has no zone.
            at: ts_builder(0),
        }
    }
}

impl UserDeletions {
    fn push(&mut self, list: &[proto::UserDeletion]) {
        for d in list {
            self.user.append_option(d.user.as_deref());
            self.at.append_value(d.at);
        }
        self.lengths.push(list.len());
    }

    fn finish(&mut self) -> ArrayRef {
        let children: Vec<ArrayRef> = vec![take_strings(&mut self.user), take_times(&mut self.at)];
        take_struct_list(&mut self.lengths, user_deletion_fields(), children)
    }
}

/// The `attachments` column (a list of structs), built from its children directly: rows
/// without attachments only add an offset.
#[derive(Default)]
struct Attachments {
    lengths: Vec<usize>,
    name: StringBuilder,
    mime: StringBuilder,
    size: Int64Builder,
    url: StringBuilder,
    sha256: StringBuilder,
}

impl Attachments {
    fn push(&mut self, list: &[proto::Attachment]) {
        for a in list {
            self.name.append_option(a.name.as_deref());
            self.mime.append_option(a.mime.as_deref());
            self.size.append_option(a.size.map(seq_i64));
            self.url.append_option(a.url.as_deref());
            self.sha256.append_option(a.sha256.as_deref());
        }
        self.lengths.push(list.len());
    }

    fn finish(&mut self) -> ArrayRef {
        let children: Vec<ArrayRef> = vec![
            take_strings(&mut self.name),
            take_strings(&mut self.mime),
            take_ints(&mut self.size),
            take_strings(&mut self.url),
            take_strings(&mut self.sha256),
        ];
        take_struct_list(&mut self.lengths, attachment_fields(), children)
    }
}

/// Builds `messages` batches row by row.
pub struct MessageColumns {
    rows: usize,
    account: StringBuilder,
    chat_id: StringBuilder,
    msg_id: StringBuilder,
    chat_type: StringBuilder,
    chat_name: StringBuilder,
    external: BooleanBuilder,
    sender_id: StringBuilder,
    sender_name: StringBuilder,
    sent_at: TimestampMillisecondBuilder,
    received_at: TimestampMillisecondBuilder,
    content_type: StringBuilder,
    text: StringBuilder,
    attachments: Attachments,
    reply_to: StringBuilder,
    mentions: ListBuilder<StringBuilder>,
    recipients: ListBuilder<StringBuilder>,
    state: StringBuilder,
    revision: Int64Builder,
    edited_at: TimestampMillisecondBuilder,
    withdrawn_at: TimestampMillisecondBuilder,
    withdrawn_by: StringBuilder,
    deleted_at: TimestampMillisecondBuilder,
    deleted_by: StringBuilder,
    last_seq: Int64Builder,
    text_format: StringBuilder,
    source_text: StringBuilder,
    deleted_for: UserDeletions,
}

impl MessageColumns {
    /// Empty columns for about `rows` rows.
    pub fn new(rows: usize) -> Self {
        let s = || StringBuilder::with_capacity(rows, rows * 8);
        let list = || ListBuilder::with_capacity(StringBuilder::new(), rows);
        MessageColumns {
            rows: 0,
            account: s(),
            chat_id: s(),
            msg_id: s(),
            chat_type: s(),
            chat_name: s(),
            external: BooleanBuilder::with_capacity(rows),
            sender_id: s(),
            sender_name: s(),
            sent_at: ts_builder(rows),
            received_at: ts_builder(rows),
            content_type: s(),
            text: StringBuilder::with_capacity(rows, rows * 256),
            attachments: Attachments::default(),
            reply_to: s(),
            mentions: list(),
            recipients: list(),
            state: s(),
            revision: Int64Builder::with_capacity(rows),
            edited_at: ts_builder(rows),
            withdrawn_at: ts_builder(rows),
            withdrawn_by: s(),
            deleted_at: ts_builder(rows),
            deleted_by: s(),
            last_seq: Int64Builder::with_capacity(rows),
            text_format: s(),
            source_text: s(),
            deleted_for: UserDeletions::default(),
        }
    }

    /// Rows added since the last [`MessageColumns::finish`].
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Reads the messages of `platform` with `from_ms <= sent_at < to_ms` into the columns,
    /// handing a batch to `on_batch` each time `chunk` rows are in. Rows left over stay for
    /// the caller's [`MessageColumns::finish`].
    pub fn read_range(
        &mut self,
        reader: &StoreReader,
        platform: Platform,
        (from_ms, to_ms): (TimestampMs, TimestampMs),
        chunk: usize,
        on_batch: &mut dyn FnMut(RecordBatch) -> Result<()>,
    ) -> Result<()> {
        reader.visit_messages_in_range(platform, from_ms, to_ms, &mut |r| {
            self.account.append_value(r.account);
            self.chat_id.append_value(r.chat_id);
            self.msg_id.append_value(r.msg_id);
            self.chat_type.append_value(r.chat_type.as_str());
            self.chat_name.append_option(r.chat_name);
            self.external.append_value(r.external);
            self.sender_id.append_value(r.sender_id);
            self.sender_name.append_option(r.sender_name);
            self.sent_at.append_value(r.sent_at);
            self.received_at.append_value(r.received_at);
            self.content_type.append_value(r.content_type.as_str());
            self.text.append_value(r.text);
            self.attachments.push(&r.attachments()?);
            self.reply_to.append_option(r.reply_to);
            push_strings(&mut self.mentions, r.mentions()?);
            push_strings(&mut self.recipients, r.recipients()?);
            self.state.append_value(r.state.as_str());
            self.revision.append_value(i64::from(r.revision));
            self.edited_at.append_option(r.edited_at);
            self.withdrawn_at.append_option(r.withdrawn_at);
            self.withdrawn_by.append_option(r.withdrawn_by);
            self.deleted_at.append_option(r.deleted_at);
            self.deleted_by.append_option(r.deleted_by);
            self.last_seq.append_value(seq_i64(r.last_seq));
            self.text_format.append_value(r.text_format.as_str());
            self.source_text.append_option(r.source_text);
            self.deleted_for.push(&r.deleted_for()?);
            self.rows += 1;
            if self.rows >= chunk {
                on_batch(self.finish()?)?;
            }
            Ok(())
        })
    }

    /// The rows added so far as one batch; the columns start empty again.
    pub fn finish(&mut self) -> Result<RecordBatch> {
        let external = BooleanBuilder::with_capacity(self.rows);
        let columns: Vec<ArrayRef> = vec![
            take_strings(&mut self.account),
            take_strings(&mut self.chat_id),
            take_strings(&mut self.msg_id),
            take_strings(&mut self.chat_type),
            take_strings(&mut self.chat_name),
            Arc::new(std::mem::replace(&mut self.external, external).finish()),
            take_strings(&mut self.sender_id),
            take_strings(&mut self.sender_name),
            take_times(&mut self.sent_at),
            take_times(&mut self.received_at),
            take_strings(&mut self.content_type),
            take_strings(&mut self.text),
            self.attachments.finish(),
            take_strings(&mut self.reply_to),
            take_string_list(&mut self.mentions),
            take_string_list(&mut self.recipients),
            take_strings(&mut self.state),
            take_ints(&mut self.revision),
            take_times(&mut self.edited_at),
            take_times(&mut self.withdrawn_at),
            take_strings(&mut self.withdrawn_by),
            take_times(&mut self.deleted_at),
            take_strings(&mut self.deleted_by),
            take_ints(&mut self.last_seq),
            take_strings(&mut self.text_format),
            take_strings(&mut self.source_text),
            self.deleted_for.finish(),
        ];
        self.rows = 0;
        Ok(RecordBatch::try_new(messages_schema(), columns)?)
    }
}

/// Builds `events` batches row by row. `payload` is the stored JSON as text, `hash` its hex.
pub struct EventColumns {
    rows: usize,
    seq: Int64Builder,
    account: StringBuilder,
    chat_id: StringBuilder,
    msg_id: StringBuilder,
    kind: StringBuilder,
    occurred_at: TimestampMillisecondBuilder,
    received_at: TimestampMillisecondBuilder,
    raw_id: Int64Builder,
    hash: StringBuilder,
    payload: StringBuilder,
}

impl EventColumns {
    /// Empty columns for about `rows` rows.
    pub fn new(rows: usize) -> Self {
        let s = || StringBuilder::with_capacity(rows, rows * 8);
        EventColumns {
            rows: 0,
            seq: Int64Builder::with_capacity(rows),
            account: s(),
            chat_id: s(),
            msg_id: s(),
            kind: s(),
            occurred_at: ts_builder(rows),
            received_at: ts_builder(rows),
            raw_id: Int64Builder::with_capacity(rows),
            hash: StringBuilder::with_capacity(rows, rows * 64),
            payload: StringBuilder::with_capacity(rows, rows * 256),
        }
    }

    /// Rows added since the last [`EventColumns::finish`].
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Appends one event.
    pub fn push(&mut self, e: &store::EventRow<'_>) {
        self.seq.append_value(seq_i64(e.seq));
        self.account.append_value(e.account);
        self.chat_id.append_value(e.chat_id);
        self.msg_id.append_option(e.msg_id);
        self.kind.append_value(e.kind.as_str());
        self.occurred_at.append_value(e.occurred_at);
        self.received_at.append_value(e.received_at);
        self.raw_id.append_value(seq_i64(e.raw_id));
        // Chain hashes are 32 bytes: hex them on the stack; anything else the slow way.
        let mut buf = [0u8; 64];
        let hex = <&[u8; 32]>::try_from(e.hash)
            .ok()
            .and_then(|h| hex::encode_to_slice(h, &mut buf).ok())
            .and_then(|()| std::str::from_utf8(&buf).ok());
        match hex {
            Some(h) => self.hash.append_value(h),
            None => self.hash.append_value(hex::encode(e.hash)),
        }
        // The store writes payloads as JSON text; a payload that is not UTF-8 (a damaged
        // archive) is still exported, with replacement characters. Payloads are most of the
        // bytes read, mostly CJK, where the SIMD validator is several times faster than std's.
        match simdutf8::basic::from_utf8(e.payload) {
            Ok(s) => self.payload.append_value(s),
            Err(_) => self.payload.append_value(String::from_utf8_lossy(e.payload)),
        }
        self.rows += 1;
    }

    /// The rows added so far as one batch; the columns start empty again.
    pub fn finish(&mut self) -> Result<RecordBatch> {
        let columns: Vec<ArrayRef> = vec![
            take_ints(&mut self.seq),
            take_strings(&mut self.account),
            take_strings(&mut self.chat_id),
            take_strings(&mut self.msg_id),
            take_strings(&mut self.kind),
            take_times(&mut self.occurred_at),
            take_times(&mut self.received_at),
            take_ints(&mut self.raw_id),
            take_strings(&mut self.hash),
            take_strings(&mut self.payload),
        ];
        self.rows = 0;
        Ok(RecordBatch::try_new(events_schema(), columns)?)
    }
}
