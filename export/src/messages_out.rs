//! The `messages` table: one `data.parquet` per `(platform, date of sent_at)` partition holding
//! the current state of its messages, rewritten whole (and atomically) when any of them changed.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use store::StoreReader;

use crate::atomic::Staged;
use crate::columns::messages_batch;
use crate::error::{ExportError, Result};
use crate::manifest::FileEntry;
use crate::parquet_out::ParquetFile;
use crate::partition::{DayMapper, PartitionKey, day_range, partition_dir};
use crate::schema::messages_schema;

/// Table directory name.
pub const MESSAGES_TABLE: &str = "messages";

/// Rows read from the store per chunk (bounded memory; large enough to encode efficiently).
const CHUNK: usize = 16 * 1024;

/// Partitions holding a message changed after `after_seq` (0 = every partition).
pub fn touched_partitions(reader: &StoreReader, after_seq: u64, tz: chrono_tz::Tz) -> Result<BTreeSet<PartitionKey>> {
    let mut days = DayMapper::new(tz);
    let mut keys = BTreeSet::new();
    reader.messages_touched_since(after_seq, &mut |platform, sent_at| {
        keys.insert(PartitionKey {
            platform,
            date: days.date(sent_at),
        });
    })?;
    Ok(keys)
}

/// A partition file written by [`write_partition`]; `None` = the partition is empty.
pub struct PartitionOutcome {
    /// The staged file and its manifest entry, if the partition has rows.
    pub file: Option<(Staged, FileEntry)>,
    /// Time spent building Arrow batches and encoding Parquet.
    pub encode: Duration,
}

/// Rewrites one partition from the store, calling `on_rows` after each chunk.
pub fn write_partition(
    reader: &StoreReader,
    out: &Path,
    key: &PartitionKey,
    tz: chrono_tz::Tz,
    on_rows: &mut dyn FnMut(u64),
) -> Result<PartitionOutcome> {
    let dir = partition_dir(out, MESSAGES_TABLE, key);
    let path = dir.join("data.parquet");
    let mut file = ParquetFile::create(&path, messages_schema())?;
    let (from, to) = day_range(key.date, tz);
    // The store's callback can only fail with a store error; keep ours aside and stop it.
    let mut failed: Option<ExportError> = None;
    let read = reader.messages_in_range(key.platform, from, to, CHUNK, &mut |chunk| {
        let t = Instant::now();
        let step = messages_batch(&chunk).and_then(|batch| {
            file.add_encode_time(t.elapsed());
            file.write(&batch)
        });
        match step {
            Ok(()) => {
                on_rows(chunk.len() as u64);
                Ok(())
            }
            Err(e) => {
                failed = Some(e);
                Err(store::StoreError::Io {
                    context: "export stopped".into(),
                    source: std::io::Error::other("write failed"),
                })
            }
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    read?;
    let rows = file.rows();
    if rows == 0 {
        // Dropping the writer removes its temporary file; the caller drops the partition.
        return Ok(PartitionOutcome {
            file: None,
            encode: file.encode_time(),
        });
    }
    let (staged, encode) = file.finish(None)?;
    let written = staged.written().clone();
    Ok(PartitionOutcome {
        file: Some((
            staged,
            FileEntry {
                path: format!(
                    "{MESSAGES_TABLE}/{}/data.parquet",
                    key.rel_dir().to_string_lossy().replace('\\', "/")
                ),
                table: MESSAGES_TABLE.into(),
                platform: key.platform.to_string(),
                date: key.date.format("%Y-%m-%d").to_string(),
                rows,
                bytes: written.bytes,
                sha256: written.sha256,
                min_seq: None,
                max_seq: None,
            },
        )),
        encode,
    })
}
