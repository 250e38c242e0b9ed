//! The `messages` table: one `data.parquet` per `(platform, date of sent_at)` partition holding
//! the current state of its messages, rewritten whole (and atomically) when any of them changed.
//!
//! This thread steps through SQLite and copies the rows into Arrow columns; an encoder thread
//! turns the batches into Parquet files ([`pipeline`]).

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender};
use std::time::Duration;

use arrow_array::RecordBatch;
use proto::Platform;
use store::StoreReader;

use crate::atomic::Staged;
use crate::columns::MessageColumns;
use crate::error::Result;
use crate::manifest::FileEntry;
use crate::parquet_out::ParquetFile;
use crate::partition::{DayMapper, PartitionKey, day_range, partition_dir};
use crate::pipeline::{pipeline, send};
use crate::schema::messages_schema;

/// Table directory name.
pub const MESSAGES_TABLE: &str = "messages";

/// Rows per batch handed to the encoder (bounded memory; large enough to encode efficiently).
const CHUNK: usize = 16 * 1024;

/// Batches queued for the encoder at most: enough to absorb a stall of either side, few
/// enough that the queue stays a few tens of MB.
const QUEUE: usize = 2;

/// Partitions holding a message changed after `after_seq` (0 = every partition).
pub fn touched_partitions(reader: &StoreReader, after_seq: u64, tz: chrono_tz::Tz) -> Result<BTreeSet<PartitionKey>> {
    let mut keys = BTreeSet::new();
    if after_seq == 0 {
        // Every partition: step through each platform's days on the (platform, sent_at)
        // index, one probe per partition instead of one row lookup per message.
        let mut days = DayMapper::new(tz);
        for &platform in Platform::ALL {
            let mut next = reader.first_message_time(platform, i64::MIN)?;
            while let Some(ms) = next {
                let date = days.date(ms);
                keys.insert(PartitionKey { platform, date });
                let (_, end) = day_range(date, tz);
                next = if end > ms {
                    reader.first_message_time(platform, end)?
                } else {
                    None
                };
            }
        }
        return Ok(keys);
    }
    let mut days = DayMapper::new(tz);
    reader.messages_touched_since(after_seq, &mut |platform, sent_at| {
        keys.insert(PartitionKey {
            platform,
            date: days.date(sent_at),
        });
    })?;
    Ok(keys)
}

/// A partition file written by [`write_partitions`]; `file` is `None` when the partition is
/// empty (its messages are gone).
pub struct PartitionOutcome {
    /// The partition.
    pub key: PartitionKey,
    /// The staged file and its manifest entry, if the partition has rows.
    pub file: Option<(Staged, FileEntry)>,
}

/// What [`write_partitions`] did.
pub struct MessagesOutcome {
    /// One per partition, in the order given.
    pub partitions: Vec<PartitionOutcome>,
    /// Time the encoder spent turning Arrow batches into Parquet files (encoding, compressing,
    /// writing; not the final fsync).
    pub encode: Duration,
}

enum Job {
    Open(PartitionKey),
    Rows(RecordBatch),
    Close,
}

/// Rewrites the given partitions from the store. `on_rows(partitions_done, rows_read)` is
/// called after each batch and each partition.
pub fn write_partitions(
    reader: &StoreReader,
    out: &Path,
    keys: &BTreeSet<PartitionKey>,
    tz: chrono_tz::Tz,
    on_rows: &mut dyn FnMut(u64, u64),
) -> Result<MessagesOutcome> {
    pipeline(
        QUEUE,
        |tx| read_partitions(reader, keys, tz, tx, on_rows),
        |rx| encode_partitions(out, rx),
    )
}

/// The reading side: every partition's rows, in batches, then `Close`.
fn read_partitions(
    reader: &StoreReader,
    keys: &BTreeSet<PartitionKey>,
    tz: chrono_tz::Tz,
    tx: &SyncSender<Job>,
    on_rows: &mut dyn FnMut(u64, u64),
) -> Result<()> {
    let send = |job: Job| send(tx, job);
    let mut cols = MessageColumns::new(CHUNK);
    let mut rows = 0u64;
    for (done, key) in keys.iter().enumerate() {
        send(Job::Open(*key))?;
        cols.read_range(reader, key.platform, day_range(key.date, tz), CHUNK, &mut |batch| {
            rows += batch.num_rows() as u64;
            send(Job::Rows(batch))?;
            on_rows(done as u64, rows);
            Ok(())
        })?;
        if cols.len() > 0 {
            rows += cols.len() as u64;
            send(Job::Rows(cols.finish()?))?;
        }
        send(Job::Close)?;
        on_rows(done as u64 + 1, rows);
    }
    Ok(())
}

/// The encoding side: one file per `Open`…`Close`.
fn encode_partitions(out: &Path, rx: Receiver<Job>) -> Result<MessagesOutcome> {
    let mut partitions = Vec::new();
    let mut encode = Duration::ZERO;
    let mut current: Option<(PartitionKey, ParquetFile)> = None;
    for job in rx {
        match job {
            Job::Open(key) => {
                let path = partition_dir(out, MESSAGES_TABLE, &key).join("data.parquet");
                current = Some((key, ParquetFile::create(&path, messages_schema())?));
            }
            Job::Rows(batch) => {
                if let Some((_, file)) = current.as_mut() {
                    file.write(&batch)?;
                }
            }
            Job::Close => {
                let Some((key, file)) = current.take() else { continue };
                let rows = file.rows();
                if rows == 0 {
                    // Dropping the writer removes its temporary file; the caller drops the
                    // partition.
                    encode += file.encode_time();
                    partitions.push(PartitionOutcome { key, file: None });
                    continue;
                }
                let (staged, took) = file.finish(None)?;
                encode += took;
                let entry = FileEntry::new(MESSAGES_TABLE, &key, "data.parquet", rows, staged.written(), None);
                partitions.push(PartitionOutcome {
                    key,
                    file: Some((staged, entry)),
                });
            }
        }
    }
    Ok(MessagesOutcome { partitions, encode })
}
