//! The `events` table: the log appended as new `part-<from>-<to>.parquet` files, partitioned by
//! the local date of `received_at`. Files are never rewritten (except by `--full`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender};
use std::time::Duration;

use arrow_array::RecordBatch;
use store::StoreReader;

use crate::atomic::Staged;
use crate::columns::EventColumns;
use crate::error::{ExportError, Result};
use crate::manifest::FileEntry;
use crate::parquet_out::ParquetFile;
use crate::partition::{DayMapper, PartitionKey, partition_dir};
use crate::pipeline::{pipeline, send};
use crate::schema::events_schema;

/// Table directory name.
pub const EVENTS_TABLE: &str = "events";

/// Open files at most: receive times advance with `seq`, so only the partitions of the
/// current day (one per platform) are normally open; an old day reappearing (a late offline
/// feed) gets a file of its own rather than keeping every day open.
const MAX_OPEN: usize = 12;

struct OpenFile {
    file: ParquetFile,
    dir: PathBuf,
    min_seq: u64,
    max_seq: u64,
    last_use: u64,
}

/// Rows buffered on the reading side (over all partitions) before they go to the encoder.
const CHUNK: usize = 16 * 1024;

/// Batches queued for the encoder at most.
const QUEUE: usize = 4;

/// Memory the open files may hold in unfinished row groups, together. Each open file would
/// otherwise buffer up to a whole row group of JSON payloads (tens of MB); past this, the
/// fullest one writes its row group out early.
const BUFFER_BYTES: usize = 16 << 20;

/// Writers of the event partitions touched by one export.
pub struct EventFiles<'a> {
    out: &'a Path,
    open: HashMap<PartitionKey, OpenFile>,
    tick: u64,
    done: Vec<(Staged, FileEntry)>,
    encode: Duration,
}

impl<'a> EventFiles<'a> {
    /// Writers under `out/events`.
    pub fn new(out: &'a Path) -> Self {
        EventFiles {
            out,
            open: HashMap::new(),
            tick: 0,
            done: Vec::new(),
            encode: Duration::ZERO,
        }
    }

    /// Appends a batch of one partition's events, `first_seq..=last_seq` in seq order, to
    /// that partition's open file (opening one, and closing the least recently used if too
    /// many are open).
    pub fn add(&mut self, key: PartitionKey, first_seq: u64, last_seq: u64, batch: &RecordBatch) -> Result<()> {
        self.tick += 1;
        if !self.open.contains_key(&key) {
            if self.open.len() >= MAX_OPEN {
                self.close_least_recent()?;
            }
            let dir = partition_dir(self.out, EVENTS_TABLE, &key);
            let file = ParquetFile::create(&dir.join(format!("part-{first_seq}.parquet")), events_schema())?;
            self.open.insert(
                key,
                OpenFile {
                    file,
                    dir,
                    min_seq: first_seq,
                    max_seq: first_seq,
                    last_use: 0,
                },
            );
        }
        let Some(f) = self.open.get_mut(&key) else {
            return Ok(());
        };
        f.file.write(batch)?;
        f.max_seq = last_seq;
        f.last_use = self.tick;
        let buffered: usize = self.open.values().map(|f| f.file.buffered_bytes()).sum();
        if buffered > BUFFER_BYTES
            && let Some(fullest) = self.open.values_mut().max_by_key(|f| f.file.buffered_bytes())
        {
            fullest.file.flush_row_group()?;
        }
        Ok(())
    }

    fn close_least_recent(&mut self) -> Result<()> {
        let Some(key) = self.open.iter().min_by_key(|(_, f)| f.last_use).map(|(k, _)| *k) else {
            return Ok(());
        };
        self.close(key)
    }

    fn close(&mut self, key: PartitionKey) -> Result<()> {
        let Some(f) = self.open.remove(&key) else {
            return Ok(());
        };
        let rows = f.file.rows();
        let name = format!("part-{}-{}.parquet", f.min_seq, f.max_seq);
        let (staged, encode) = f.file.finish(Some(&f.dir.join(&name)))?;
        self.encode += encode;
        let entry = FileEntry::new(
            EVENTS_TABLE,
            &key,
            &name,
            rows,
            staged.written(),
            Some((f.min_seq, f.max_seq)),
        );
        self.done.push((staged, entry));
        Ok(())
    }

    /// Closes every open file; returns the staged files and the time spent encoding.
    pub fn finish(mut self) -> Result<(Vec<(Staged, FileEntry)>, Duration)> {
        let mut keys: Vec<PartitionKey> = self.open.keys().copied().collect();
        keys.sort();
        for k in keys {
            self.close(k)?;
        }
        Ok((self.done, self.encode))
    }
}

/// What [`write_events`] did.
pub struct EventsOutcome {
    /// The staged files with their manifest entries.
    pub files: Vec<(Staged, FileEntry)>,
    /// Time the encoder spent turning Arrow batches into Parquet files.
    pub encode: Duration,
}

/// One partition's events, `first_seq..=last_seq`.
struct Part {
    key: PartitionKey,
    first_seq: u64,
    last_seq: u64,
    batch: RecordBatch,
}

/// Writes the events `after_seq < seq <= upto_seq` to their partitions, reading on this thread
/// and encoding on another ([`pipeline`]). `on_rows(seq_reached, rows)` is called after each
/// batch.
pub fn write_events(
    reader: &StoreReader,
    out: &Path,
    after_seq: u64,
    upto_seq: u64,
    tz: chrono_tz::Tz,
    on_rows: &mut dyn FnMut(u64, u64),
) -> Result<EventsOutcome> {
    pipeline(
        QUEUE,
        |tx| read_events(reader, after_seq, upto_seq, tz, tx, on_rows),
        |rx| encode_events(out, rx),
    )
}

/// A partition's rows not yet handed to the encoder.
struct Pending {
    key: PartitionKey,
    first_seq: u64,
    last_seq: u64,
    cols: EventColumns,
}

fn read_events(
    reader: &StoreReader,
    after_seq: u64,
    upto_seq: u64,
    tz: chrono_tz::Tz,
    tx: &SyncSender<Part>,
    on_rows: &mut dyn FnMut(u64, u64),
) -> Result<()> {
    let mut days = DayMapper::new(tz);
    // Receive times advance with seq, so this holds one entry per platform of the current day.
    let mut pending: Vec<Pending> = Vec::new();
    let mut buffered = 0usize;
    let mut rows = 0u64;
    let flush = |pending: &mut Vec<Pending>| -> Result<()> {
        // Partitions that received nothing since the last flush are done with: drop them.
        pending.retain(|p| p.cols.len() > 0);
        for p in pending.iter_mut() {
            let part = Part {
                key: p.key,
                first_seq: p.first_seq,
                last_seq: p.last_seq,
                batch: p.cols.finish()?,
            };
            send(tx, part)?;
        }
        Ok(())
    };
    reader.visit_events(after_seq, upto_seq, &mut |e| {
        let key = PartitionKey {
            platform: e.platform,
            date: days.date(e.received_at),
        };
        let i = match pending.iter().position(|p| p.key == key) {
            Some(i) => i,
            None => {
                pending.push(Pending {
                    key,
                    first_seq: e.seq,
                    last_seq: e.seq,
                    cols: EventColumns::new(CHUNK / 4),
                });
                pending.len() - 1
            }
        };
        let p = &mut pending[i];
        if p.cols.len() == 0 {
            p.first_seq = e.seq;
        }
        p.last_seq = e.seq;
        p.cols.push(e);
        buffered += 1;
        if buffered >= CHUNK {
            rows += buffered as u64;
            buffered = 0;
            flush(&mut pending)?;
            on_rows(e.seq, rows);
        }
        Ok::<(), ExportError>(())
    })?;
    rows += buffered as u64;
    flush(&mut pending)?;
    on_rows(upto_seq, rows);
    Ok(())
}

fn encode_events(out: &Path, rx: Receiver<Part>) -> Result<EventsOutcome> {
    let mut files = EventFiles::new(out);
    for part in rx {
        files.add(part.key, part.first_seq, part.last_seq, &part.batch)?;
    }
    let (files, encode) = files.finish()?;
    Ok(EventsOutcome { files, encode })
}
