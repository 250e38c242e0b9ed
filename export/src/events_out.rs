//! The `events` table: the log appended as new `part-<from>-<to>.parquet` files, partitioned by
//! the local date of `received_at`. Files are never rewritten (except by `--full`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use store::StoredEvent;

use crate::atomic::Staged;
use crate::columns::events_batch;
use crate::error::Result;
use crate::manifest::FileEntry;
use crate::parquet_out::ParquetFile;
use crate::partition::{DayMapper, PartitionKey, partition_dir};
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

/// Writers of the event partitions touched by one export.
pub struct EventFiles<'a> {
    out: &'a Path,
    days: DayMapper,
    open: HashMap<PartitionKey, OpenFile>,
    tick: u64,
    done: Vec<(Staged, FileEntry)>,
    encode: Duration,
    rows: u64,
}

impl<'a> EventFiles<'a> {
    /// Writers under `out/events`.
    pub fn new(out: &'a Path, tz: chrono_tz::Tz) -> Self {
        EventFiles {
            out,
            days: DayMapper::new(tz),
            open: HashMap::new(),
            tick: 0,
            done: Vec::new(),
            encode: Duration::ZERO,
            rows: 0,
        }
    }

    /// Appends events (in seq order) to their partitions' files.
    pub fn add(&mut self, events: &[&StoredEvent]) -> Result<()> {
        let mut groups: BTreeMap<PartitionKey, Vec<&StoredEvent>> = BTreeMap::new();
        for e in events {
            let key = PartitionKey {
                platform: e.platform,
                date: self.days.date(e.received_at),
            };
            groups.entry(key).or_default().push(e);
        }
        for (key, rows) in groups {
            self.tick += 1;
            if !self.open.contains_key(&key) {
                if self.open.len() >= MAX_OPEN {
                    self.close_least_recent()?;
                }
                let dir = partition_dir(self.out, EVENTS_TABLE, &key);
                let first = rows[0].seq;
                let file = ParquetFile::create(&dir.join(format!("part-{first}.parquet")), events_schema())?;
                self.open.insert(
                    key,
                    OpenFile {
                        file,
                        dir,
                        min_seq: first,
                        max_seq: first,
                        last_use: 0,
                    },
                );
            }
            let Some(f) = self.open.get_mut(&key) else {
                continue;
            };
            let t = Instant::now();
            let batch = events_batch(&rows)?;
            f.file.add_encode_time(t.elapsed());
            f.file.write(&batch)?;
            f.max_seq = rows[rows.len() - 1].seq;
            f.last_use = self.tick;
            self.rows += rows.len() as u64;
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
        let written = staged.written().clone();
        self.done.push((
            staged,
            FileEntry {
                path: format!(
                    "{EVENTS_TABLE}/{}/{name}",
                    key.rel_dir().to_string_lossy().replace('\\', "/")
                ),
                table: EVENTS_TABLE.into(),
                platform: key.platform.to_string(),
                date: key.date.format("%Y-%m-%d").to_string(),
                rows,
                bytes: written.bytes,
                sha256: written.sha256,
                min_seq: Some(f.min_seq),
                max_seq: Some(f.max_seq),
            },
        ));
        Ok(())
    }

    /// Events written so far.
    pub fn rows(&self) -> u64 {
        self.rows
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
