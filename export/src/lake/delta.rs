//! Delta Lake transaction log for the `messages` and `events` tables: each export that
//! changes a table appends one commit (`<table>/_delta_log/<version>.json`) that removes the
//! replaced files and adds the new ones, so Spark, Trino, Databricks and DuckDB's
//! `delta_scan` see whole snapshots and can go back to any earlier one.
//!
//! Written by hand from the Delta protocol (PROTOCOL.md: `protocol`, `metaData`, `add`,
//! `remove`, `commitInfo` actions, one JSON object per line): the `deltalake` crate pins an
//! older arrow than the workspace's, and `delta_kernel` 0.30 has no public API to create a
//! table; pulling either in would also add a second large dependency tree to build. The
//! subset needed here (append-only log of add/remove, no checkpoints, no deletion vectors,
//! reader 1 / writer 2) is small and read back by DuckDB's delta extension in the tests.
//!
//! Commits never overwrite each other: a version is created with a conditional put (S3
//! `If-None-Match: *`, an exclusive create on a local disk), and a writer that loses the
//! race gets [`ExportError::DeltaConflict`] instead of replacing the other's commit.

use std::collections::BTreeSet;

use arrow_schema::{DataType, Field, Schema, TimeUnit};
use serde_json::{Value, json};

use super::objects::Objects;
use crate::error::{ExportError, Result};

/// The table's directory of commits.
pub const DELTA_LOG: &str = "_delta_log";

/// A table's current state, folded from its log.
#[derive(Debug, Default)]
pub struct TableState {
    /// Latest version; `None` = the table does not exist yet.
    pub version: Option<u64>,
    /// Data files of the latest version, relative to the table root.
    pub files: BTreeSet<String>,
}

/// A data file to add, relative to the table root.
#[derive(Debug, Clone)]
pub struct AddFile {
    /// `platform=…/date=…/part-….parquet`.
    pub path: String,
    /// Partition value.
    pub platform: String,
    /// Partition value.
    pub date: String,
    /// Bytes.
    pub size: u64,
    /// Rows (written as the file's `numRecords` statistic).
    pub rows: u64,
}

fn commit_name(table: &str, version: u64) -> String {
    format!("{table}/{DELTA_LOG}/{version:020}.json")
}

/// Reads `table`'s log and folds it (adds minus removes). The log is read commit by commit;
/// with one commit per export this stays small.
pub async fn read_state(objects: &Objects, table: &str) -> Result<TableState> {
    let mut versions: Vec<u64> = objects
        .list(&format!("{table}/{DELTA_LOG}"))
        .await?
        .iter()
        .filter_map(|p| p.rsplit('/').next()?.strip_suffix(".json")?.parse().ok())
        .collect();
    versions.sort_unstable();
    let mut state = TableState::default();
    for v in versions {
        let name = commit_name(table, v);
        let Some(bytes) = objects.get(&name).await? else {
            continue;
        };
        for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let action: Value = serde_json::from_slice(line).map_err(|e| ExportError::Remote {
                target: objects.target().to_string(),
                op: "parse".into(),
                object: name.clone(),
                reason: e.to_string(),
            })?;
            if let Some(p) = action.pointer("/add/path").and_then(Value::as_str) {
                state.files.insert(p.to_string());
            }
            if let Some(p) = action.pointer("/remove/path").and_then(Value::as_str) {
                state.files.remove(p);
            }
        }
        state.version = Some(v);
    }
    Ok(state)
}

/// Appends the commit that takes `table` from `state` to exactly `wanted`; returns the new
/// version, or `None` when nothing changed. `seq` (the archive's watermark) is recorded in
/// the commit info.
pub async fn commit(
    objects: &Objects,
    table: &str,
    schema: &Schema,
    state: &TableState,
    wanted: &[AddFile],
    seq: u64,
    now_ms: i64,
) -> Result<Option<u64>> {
    let wanted_paths: BTreeSet<&str> = wanted.iter().map(|f| f.path.as_str()).collect();
    let adds: Vec<&AddFile> = wanted.iter().filter(|f| !state.files.contains(&f.path)).collect();
    let removes: Vec<&String> = state
        .files
        .iter()
        .filter(|p| !wanted_paths.contains(p.as_str()))
        .collect();
    if state.version.is_some() && adds.is_empty() && removes.is_empty() {
        return Ok(None);
    }
    let version = state.version.map_or(0, |v| v + 1);
    let mut lines = Vec::new();
    lines.push(json!({"commitInfo": {
        "timestamp": now_ms,
        "operation": "WRITE",
        "operationParameters": {"mode": "Overwrite partitions"},
        "engineInfo": format!("chatvault/{}", env!("CARGO_PKG_VERSION")),
        "isBlindAppend": removes.is_empty(),
        "chatvault.seq": seq,
    }}));
    if version == 0 {
        lines.push(json!({"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}}));
        lines.push(json!({"metaData": {
            "id": uuid_like(table, now_ms),
            "name": table,
            "format": {"provider": "parquet", "options": {}},
            "schemaString": schema_string(schema).to_string(),
            "partitionColumns": ["platform", "date"],
            "configuration": {},
            "createdTime": now_ms,
        }}));
    }
    for p in removes {
        let (platform, date) = partition_values(p);
        lines.push(json!({"remove": {
            "path": p,
            "deletionTimestamp": now_ms,
            "dataChange": true,
            "extendedFileMetadata": false,
            "partitionValues": {"platform": platform, "date": date},
        }}));
    }
    for f in adds {
        lines.push(json!({"add": {
            "path": f.path,
            "partitionValues": {"platform": f.platform, "date": f.date},
            "size": f.size,
            "modificationTime": now_ms,
            "dataChange": true,
            "stats": json!({"numRecords": f.rows}).to_string(),
        }}));
    }
    let mut body = Vec::new();
    for l in lines {
        body.extend_from_slice(l.to_string().as_bytes());
        body.push(b'\n');
    }
    if !objects.put_new(&commit_name(table, version), body).await? {
        return Err(ExportError::DeltaConflict {
            target: objects.target().to_string(),
            table: table.to_string(),
            version,
        });
    }
    Ok(Some(version))
}

/// `platform=wecom/date=2026-03-01/…` → (`wecom`, `2026-03-01`).
fn partition_values(path: &str) -> (String, String) {
    let mut platform = String::new();
    let mut date = String::new();
    for seg in path.split('/') {
        if let Some(v) = seg.strip_prefix("platform=") {
            platform = v.to_string();
        } else if let Some(v) = seg.strip_prefix("date=") {
            date = v.to_string();
        }
    }
    (platform, date)
}

/// A table id in UUID form, derived from the table and its creation time (the protocol asks
/// for a unique id; nothing reads it back as a UUID of a particular version).
fn uuid_like(table: &str, now_ms: i64) -> String {
    use sha2::{Digest, Sha256};
    let h = hex::encode(Sha256::digest(format!("{table}:{now_ms}:{}", std::process::id())));
    format!(
        "{}-{}-4{}-8{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// The table schema in Delta's JSON form: the file columns, then the partition columns.
pub fn schema_string(schema: &Schema) -> Value {
    let mut fields: Vec<Value> = schema.fields().iter().map(|f| field(f)).collect();
    fields.push(json!({"name": "platform", "type": "string", "nullable": false, "metadata": {}}));
    fields.push(json!({"name": "date", "type": "date", "nullable": false, "metadata": {}}));
    json!({"type": "struct", "fields": fields})
}

fn field(f: &Field) -> Value {
    json!({"name": f.name(), "type": delta_type(f.data_type()), "nullable": f.is_nullable(), "metadata": {}})
}

fn delta_type(t: &DataType) -> Value {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 => json!("string"),
        DataType::Boolean => json!("boolean"),
        DataType::Int64 => json!("long"),
        DataType::Int32 => json!("integer"),
        DataType::Float64 => json!("double"),
        DataType::Binary | DataType::LargeBinary => json!("binary"),
        DataType::Date32 => json!("date"),
        DataType::Timestamp(TimeUnit::Millisecond | TimeUnit::Microsecond, Some(_)) => json!("timestamp"),
        DataType::Timestamp(_, _) => json!("timestamp_ntz"),
        DataType::List(item) | DataType::LargeList(item) => json!({
            "type": "array",
            "elementType": delta_type(item.data_type()),
            "containsNull": item.is_nullable(),
        }),
        DataType::Struct(fields) => json!({
            "type": "struct",
            "fields": fields.iter().map(|f| field(f)).collect::<Vec<_>>(),
        }),
        other => json!(other.to_string().to_lowercase()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_exported_column_has_a_delta_type() {
        for schema in [crate::schema::messages_schema(), crate::schema::events_schema()] {
            let s = schema_string(&schema).to_string();
            for t in ["\"string\"", "\"long\"", "\"timestamp\""] {
                assert!(s.contains(t), "{s}");
            }
            // Only the types Delta defines; anything else would make readers refuse the table.
            let v = schema_string(&schema);
            fn walk(v: &Value, out: &mut Vec<String>) {
                match v {
                    Value::Object(m) => {
                        if let Some(Value::String(t)) = m.get("type").or(m.get("elementType")) {
                            out.push(t.clone());
                        }
                        m.values().for_each(|x| walk(x, out));
                    }
                    Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
                    _ => {}
                }
            }
            let mut types = Vec::new();
            walk(&v, &mut types);
            for t in types {
                assert!(
                    ["string", "boolean", "long", "timestamp", "date", "struct", "array"].contains(&t.as_str()),
                    "{t}"
                );
            }
        }
    }

    #[test]
    fn partition_values_come_from_the_path() {
        assert_eq!(
            partition_values("platform=wecom/date=2026-03-01/part-1.parquet"),
            ("wecom".into(), "2026-03-01".into())
        );
    }
}
