//! The Arrow schemas of the two exported tables and the Parquet settings they are written
//! with. Defined once here; every writer and test uses these.
//!
//! `platform` and `date` are hive partition columns: they live in the directory names
//! (`platform=wecom/date=2026-03-01`) and not inside the files, so readers that enable hive
//! partitioning see them as columns without the files repeating them.

use std::sync::{Arc, LazyLock};

use arrow_schema::{DataType, Field, FieldRef, Fields, Schema, SchemaRef, TimeUnit};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::schema::types::ColumnPath;

/// Version of the exported layout and schemas, recorded in the manifest and in each file's
/// key-value metadata. Bumped when a column changes meaning or type, or columns are added
/// (2: `text_format`, `source_text`, `deleted_for`), so the next export rewrites the old
/// files instead of mixing two layouts.
pub const EXPORT_SCHEMA_VERSION: u32 = 2;

/// Rows per Parquet row group: large enough for good compression and fast scans, small
/// enough that a writer's buffered row group stays a few tens of MB.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

/// Columns whose values repeat a lot (accounts, chats, senders, enums): dictionary-encoded.
/// Free text, ids and hashes are not, where a dictionary would only cost time and then be
/// abandoned by the writer.
const DICTIONARY_COLUMNS: [&str; 13] = [
    "account",
    "chat_id",
    "chat_type",
    "chat_name",
    "sender_id",
    "sender_name",
    "content_type",
    "state",
    "withdrawn_by",
    "deleted_by",
    "kind",
    "reply_to",
    "text_format",
];

/// Free-text columns: no statistics. Min/max of message texts or event JSON prune nothing (every
/// page spans the alphabet) and cost a comparison per value plus truncated copies in the
/// footer and page index.
const NO_STATISTICS_COLUMNS: [&str; 3] = ["text", "payload", "source_text"];

fn ts() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

fn string_list() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
}

/// Fields of one attachment struct.
pub fn attachment_fields() -> Fields {
    Fields::from(vec![
        Field::new("name", DataType::Utf8, true),
        Field::new("mime", DataType::Utf8, true),
        Field::new("size", DataType::Int64, true),
        Field::new("url", DataType::Utf8, true),
        Field::new("sha256", DataType::Utf8, true),
    ])
}

/// Fields of one per-user deletion struct (`deleted_for`).
pub fn user_deletion_fields() -> Fields {
    Fields::from(vec![
        Field::new("user", DataType::Utf8, true),
        Field::new("at", ts(), false),
    ])
}

/// The item of a list of structs with `fields` (`attachments`, `deleted_for`).
pub fn struct_item(fields: Fields) -> FieldRef {
    Arc::new(Field::new("item", DataType::Struct(fields), true))
}

/// The attachment list type.
pub fn attachments_type() -> DataType {
    DataType::List(struct_item(attachment_fields()))
}

static MESSAGES: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("account", DataType::Utf8, false),
        Field::new("chat_id", DataType::Utf8, false),
        Field::new("msg_id", DataType::Utf8, false),
        Field::new("chat_type", DataType::Utf8, false),
        Field::new("chat_name", DataType::Utf8, true),
        Field::new("external", DataType::Boolean, false),
        Field::new("sender_id", DataType::Utf8, false),
        Field::new("sender_name", DataType::Utf8, true),
        Field::new("sent_at", ts(), false),
        Field::new("received_at", ts(), false),
        Field::new("content_type", DataType::Utf8, false),
        Field::new("text", DataType::Utf8, false),
        Field::new("attachments", attachments_type(), false),
        Field::new("reply_to", DataType::Utf8, true),
        Field::new("mentions", string_list(), false),
        Field::new("recipients", string_list(), false),
        Field::new("state", DataType::Utf8, false),
        Field::new("revision", DataType::Int64, false),
        Field::new("edited_at", ts(), true),
        Field::new("withdrawn_at", ts(), true),
        Field::new("withdrawn_by", DataType::Utf8, true),
        Field::new("deleted_at", ts(), true),
        Field::new("deleted_by", DataType::Utf8, true),
        Field::new("last_seq", DataType::Int64, false),
        // `plain` | `markdown` | `html`; `source_text` is the markup as sent (null for plain).
        Field::new("text_format", DataType::Utf8, false),
        Field::new("source_text", DataType::Utf8, true),
        // Users who removed the message from their own view only; `state` stays as it was.
        Field::new(
            "deleted_for",
            DataType::List(struct_item(user_deletion_fields())),
            false,
        ),
    ]))
});

static EVENTS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("seq", DataType::Int64, false),
        Field::new("account", DataType::Utf8, false),
        Field::new("chat_id", DataType::Utf8, false),
        Field::new("msg_id", DataType::Utf8, true),
        Field::new("kind", DataType::Utf8, false),
        Field::new("occurred_at", ts(), false),
        Field::new("received_at", ts(), false),
        Field::new("raw_id", DataType::Int64, false),
        Field::new("hash", DataType::Utf8, false),
        Field::new("payload", DataType::Utf8, false),
    ]))
});

/// Schema of `messages/platform=<p>/date=<d>/data.parquet`: one row per message, its current
/// state.
pub fn messages_schema() -> SchemaRef {
    MESSAGES.clone()
}

/// Schema of `events/platform=<p>/date=<d>/part-<from>-<to>.parquet`: one row per event of the
/// log; `payload` is the stored JSON (the bytes the hash chain covers).
pub fn events_schema() -> SchemaRef {
    EVENTS.clone()
}

/// Parquet settings shared by both tables: zstd, dictionaries only where they pay, row groups
/// of [`ROW_GROUP_ROWS`], page-level statistics for predicate push-down (except on free text).
pub fn writer_properties(schema: &Schema) -> WriterProperties {
    let mut b = WriterProperties::builder()
        .set_writer_version(WriterVersion::PARQUET_1_0)
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_dictionary_enabled(false)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_created_by(format!("chatvault {}", env!("CARGO_PKG_VERSION")))
        .set_key_value_metadata(Some(vec![parquet::file::metadata::KeyValue::new(
            "chatvault.schema_version".to_string(),
            EXPORT_SCHEMA_VERSION.to_string(),
        )]));
    for f in schema.fields() {
        if DICTIONARY_COLUMNS.contains(&f.name().as_str()) {
            b = b.set_column_dictionary_enabled(ColumnPath::from(f.name().as_str()), true);
        }
        if NO_STATISTICS_COLUMNS.contains(&f.name().as_str()) {
            b = b.set_column_statistics_enabled(ColumnPath::from(f.name().as_str()), EnabledStatistics::None);
        }
    }
    b.build()
}
