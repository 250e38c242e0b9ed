//! Rows → Arrow record batches for the two tables ([`messages_batch`], [`events_batch`]).
//! Column order and types follow [`crate::schema`] exactly.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Int64Array, Int64Builder, ListArray, RecordBatch, StringArray, StringBuilder,
    StructArray, TimestampMillisecondArray,
};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field};
use proto::MessageRecord;
use store::StoredEvent;

use crate::error::Result;
use crate::schema::{attachment_fields, events_schema, messages_schema};

/// One `messages` batch from current-state records.
pub fn messages_batch(rows: &[MessageRecord]) -> Result<RecordBatch> {
    let n = rows.len();
    let str_col = |f: &dyn Fn(&MessageRecord) -> &str| -> ArrayRef {
        let bytes = rows.iter().map(|r| f(r).len()).sum();
        let mut b = StringBuilder::with_capacity(n, bytes);
        for r in rows {
            b.append_value(f(r));
        }
        Arc::new(b.finish())
    };
    let opt_str_col = |f: &dyn Fn(&MessageRecord) -> Option<&str>| -> ArrayRef {
        Arc::new(rows.iter().map(f).collect::<StringArray>())
    };
    let ts_col = |f: &dyn Fn(&MessageRecord) -> Option<i64>| -> ArrayRef {
        Arc::new(
            rows.iter()
                .map(f)
                .collect::<TimestampMillisecondArray>()
                .with_timezone("UTC"),
        )
    };
    let int_col = |f: &dyn Fn(&MessageRecord) -> i64| -> ArrayRef {
        let mut b = Int64Builder::with_capacity(n);
        for r in rows {
            b.append_value(f(r));
        }
        Arc::new(b.finish())
    };
    let mut external = BooleanBuilder::with_capacity(n);
    for r in rows {
        external.append_value(r.external);
    }

    let columns: Vec<ArrayRef> = vec![
        str_col(&|r| &r.key.account),
        str_col(&|r| &r.key.chat_id),
        str_col(&|r| &r.key.msg_id),
        str_col(&|r| r.chat_type.as_str()),
        opt_str_col(&|r| r.chat_name.as_deref()),
        Arc::new(external.finish()),
        str_col(&|r| &r.sender_id),
        opt_str_col(&|r| r.sender_name.as_deref()),
        ts_col(&|r| Some(r.sent_at)),
        ts_col(&|r| Some(r.received_at)),
        str_col(&|r| r.content_type.as_str()),
        str_col(&|r| &r.text),
        attachments(rows),
        opt_str_col(&|r| r.reply_to.as_deref()),
        string_list(rows, |r| &r.mentions),
        string_list(rows, |r| &r.recipients),
        str_col(&|r| r.state.as_str()),
        int_col(&|r| i64::from(r.revision)),
        ts_col(&|r| r.edited_at),
        ts_col(&|r| r.withdrawn_at),
        opt_str_col(&|r| r.withdrawn_by.as_deref()),
        ts_col(&|r| r.deleted_at),
        opt_str_col(&|r| r.deleted_by.as_deref()),
        int_col(&|r| seq_i64(r.last_seq)),
    ];
    Ok(RecordBatch::try_new(messages_schema(), columns)?)
}

/// One `events` batch from log rows. `payload` is the stored JSON as text.
pub fn events_batch(rows: &[&StoredEvent]) -> Result<RecordBatch> {
    let n = rows.len();
    let str_col = |f: &dyn Fn(&StoredEvent) -> &str| -> ArrayRef {
        let bytes = rows.iter().map(|r| f(r).len()).sum();
        let mut b = StringBuilder::with_capacity(n, bytes);
        for r in rows {
            b.append_value(f(r));
        }
        Arc::new(b.finish())
    };
    let ts_col = |f: &dyn Fn(&StoredEvent) -> i64| -> ArrayRef {
        Arc::new(TimestampMillisecondArray::from_iter_values(rows.iter().map(|r| f(r))).with_timezone("UTC"))
    };
    let payload: StringArray = rows.iter().map(|r| Some(String::from_utf8_lossy(&r.payload))).collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| seq_i64(r.seq)))),
        str_col(&|r| &r.account),
        str_col(&|r| &r.chat_id),
        Arc::new(rows.iter().map(|r| r.msg_id.as_deref()).collect::<StringArray>()),
        str_col(&|r| r.kind.as_str()),
        ts_col(&|r| r.occurred_at),
        ts_col(&|r| r.received_at),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| seq_i64(r.raw_id)))),
        str_col(&|r| &r.hash),
        Arc::new(payload),
    ];
    Ok(RecordBatch::try_new(events_schema(), columns)?)
}

/// Sequence numbers are `u64` in the store and `INT64` in the files (Spark and Power BI read
/// unsigned 64-bit columns badly); a log would need 2⁶³ events to tell the difference.
fn seq_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn offsets(lengths: impl Iterator<Item = usize>) -> OffsetBuffer<i32> {
    OffsetBuffer::from_lengths(lengths)
}

fn string_list(rows: &[MessageRecord], f: impl Fn(&MessageRecord) -> &Vec<String>) -> ArrayRef {
    let values: StringArray = rows
        .iter()
        .flat_map(|r| f(r).iter().map(|s| Some(s.as_str())))
        .collect();
    let field = Arc::new(Field::new("item", DataType::Utf8, true));
    Arc::new(ListArray::new(
        field,
        offsets(rows.iter().map(|r| f(r).len())),
        Arc::new(values),
        None,
    ))
}

fn attachments(rows: &[MessageRecord]) -> ArrayRef {
    let all = || rows.iter().flat_map(|r| r.attachments.iter());
    let children: Vec<ArrayRef> = vec![
        Arc::new(all().map(|a| a.name.as_deref()).collect::<StringArray>()),
        Arc::new(all().map(|a| a.mime.as_deref()).collect::<StringArray>()),
        Arc::new(all().map(|a| a.size.map(seq_i64)).collect::<Int64Array>()),
        Arc::new(all().map(|a| a.url.as_deref()).collect::<StringArray>()),
        Arc::new(all().map(|a| a.sha256.as_deref()).collect::<StringArray>()),
    ];
    let values = StructArray::new(attachment_fields(), children, None);
    let field = Arc::new(Field::new("item", DataType::Struct(attachment_fields()), true));
    Arc::new(ListArray::new(
        field,
        offsets(rows.iter().map(|r| r.attachments.len())),
        Arc::new(values),
        None,
    ))
}
