//! [`run_export`]: one export, incremental from the previous manifest's watermark.
//!
//! Order of work, chosen so that a crash at any point leaves a readable export and the next
//! run finishes the job:
//! 1. take the lock; read the previous manifest and the archive's chain head (the new
//!    watermark);
//! 2. write each `messages` partition touched since the old watermark, and `events` files for
//!    `old watermark < seq <= head`, all under temporary names (fsynced);
//! 3. rename them all into place (each replacement atomic);
//! 4. write the manifest atomically: only now does the watermark move;
//! 5. remove files the new manifest no longer lists (event files of a crashed run, partitions
//!    from before a `--full` rewrite).
//!
//! A failure in step 2 (disk full, unwritable directory) changes nothing a reader sees. A
//! crash in step 3 can leave some files replaced; the old manifest still stands, so the next
//! run starts from the old watermark, first removes event files the old manifest does not
//! list (they would show events twice), and rewrites the rest.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use chrono_tz::Tz;
use store::StoreReader;

use crate::atomic::is_temporary;
use crate::error::{ExportError, Result};
use crate::events_out::{EVENTS_TABLE, write_events};
use crate::lock::ExportLock;
use crate::manifest::{FileEntry, Manifest, ManifestHead};
use crate::messages_out::{MESSAGES_TABLE, touched_partitions, write_partitions};
use crate::schema::EXPORT_SCHEMA_VERSION;

/// SQLite page cache of the export's reader: both tables are read in index order, each page
/// once, so a large cache would only add to the export's memory.
const READ_CACHE_MIB: u32 = 8;

/// What to export, where.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// The archive's data directory (holds `chatvault.db`).
    pub data_dir: PathBuf,
    /// The export directory (`messages/`, `events/`, `_manifest.json` go here).
    pub out_dir: PathBuf,
    /// Time zone of the `date=` partitions.
    pub tz: Tz,
    /// Rewrite everything instead of continuing from the last export.
    pub full: bool,
    /// Permissions of the files written (`[export] file_mode`), set exactly rather than left
    /// to the umask; [`DEFAULT_FILE_MODE`] unless configured.
    pub file_mode: u32,
}

/// Default permissions of export files: the owner writes, the owner's group (a BI service
/// account) reads, nobody else.
pub const DEFAULT_FILE_MODE: u32 = 0o640;

impl ExportOptions {
    /// The export directory for a configured `[export] dir`: relative paths are under the data
    /// directory; none = `<data_dir>/export`.
    pub fn resolve_out_dir(data_dir: &Path, configured: Option<&Path>) -> PathBuf {
        match configured {
            Some(p) if p.is_absolute() => p.to_path_buf(),
            Some(p) => data_dir.join(p),
            None => data_dir.join("export"),
        }
    }
}

/// Which part of the export is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Finding the partitions to rewrite.
    Scanning,
    /// Rewriting `messages` partitions (`done`/`total` count partitions).
    Messages,
    /// Appending `events` files (`done`/`total` count events).
    Events,
    /// Writing the manifest and removing replaced files.
    Finishing,
    /// Sending files to a lake target (`done`/`total` count bytes, `rows` counts files).
    Uploading,
}

/// Progress report passed to the caller's callback.
#[derive(Debug, Clone)]
pub struct Progress {
    /// Stage.
    pub stage: Stage,
    /// Units done in this stage.
    pub done: u64,
    /// Units in this stage.
    pub total: u64,
    /// Rows written so far in this stage.
    pub rows: u64,
}

/// What an export did.
#[derive(Debug, Clone)]
pub struct ExportSummary {
    /// Export directory.
    pub out_dir: PathBuf,
    /// Whether everything was rewritten (asked for, or forced by a time-zone or schema change).
    pub full: bool,
    /// Previous watermark.
    pub from_seq: u64,
    /// New watermark (the chain head exported).
    pub to_seq: u64,
    /// Chain head hash at the watermark.
    pub head_hash: String,
    /// `messages` partitions rewritten.
    pub partitions_written: usize,
    /// Rows in those partitions.
    pub message_rows_written: u64,
    /// `events` files added.
    pub event_files_written: usize,
    /// Events added.
    pub event_rows_written: u64,
    /// Bytes of the files written by this run.
    pub bytes_written: u64,
    /// Files removed (replaced or orphaned).
    pub files_removed: usize,
    /// Totals of the export as it now stands.
    pub total_files: usize,
    /// Messages in the export.
    pub total_messages: u64,
    /// Events in the export.
    pub total_events: u64,
    /// Bytes of all files.
    pub total_bytes: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Time the encoder threads spent turning Arrow batches into Parquet (encoding,
    /// compressing, writing; not the final fsync). It overlaps the reading of the archive, on
    /// another thread, so it is a measure of work, not a part of `elapsed`.
    pub encode_time: Duration,
    /// Wall time of the `messages` stage (read, encode, stage files).
    pub messages_time: Duration,
    /// Encoder time of the `messages` stage (as for `encode_time`).
    pub messages_encode_time: Duration,
    /// Wall time of the `events` stage.
    pub events_time: Duration,
    /// Nothing changed since the last export; no file was touched.
    pub up_to_date: bool,
}

/// Runs one export. Takes the export lock itself: a second concurrent export on the same
/// directory fails with [`ExportError::Locked`].
pub fn run_export(opts: &ExportOptions, progress: &mut dyn FnMut(&Progress)) -> Result<ExportSummary> {
    let started = Instant::now();
    let out = opts.out_dir.as_path();
    let _lock = ExportLock::acquire(out)?;
    let reader = StoreReader::open(&opts.data_dir)?;
    reader.set_cache_mib(READ_CACHE_MIB)?;
    let tz_name = opts.tz.name().to_string();

    let previous = if opts.full {
        Manifest::load(out).ok().flatten()
    } else {
        Manifest::load(out)?
    };
    let head = reader.head()?;
    let mut full = opts.full;
    if let Some(m) = &previous {
        if m.timezone != tz_name || m.schema_version != EXPORT_SCHEMA_VERSION {
            tracing::info!(was = %m.timezone, now = %tz_name, "time zone or schema changed since the last export; rewriting everything");
            full = true;
        } else if m.seq > head.seq {
            tracing::warn!(
                exported = m.seq,
                archive = head.seq,
                "the archive is behind the last export (restored from a backup?); rewriting everything"
            );
            full = true;
        }
    }
    let kept: Vec<FileEntry> = match (&previous, full) {
        (Some(m), false) => m.files.clone(),
        _ => Vec::new(),
    };
    let leftovers = remove_unlisted(out, previous.as_ref().filter(|_| !full).map(|m| m.files.as_slice()))?;

    let from_seq = if full {
        0
    } else {
        previous.as_ref().map_or(0, |m| m.seq)
    };
    if !full && previous.is_some() && from_seq == head.seq {
        let m = previous.as_ref().map(|m| summarize(m, out));
        return Ok(ExportSummary {
            from_seq,
            to_seq: head.seq,
            head_hash: head.hash,
            elapsed: started.elapsed(),
            up_to_date: true,
            ..m.unwrap_or_else(|| empty_summary(out, full))
        });
    }

    let mut files: BTreeMap<String, FileEntry> = kept.into_iter().map(|f| (f.path.clone(), f)).collect();
    let mut summary = empty_summary(out, full);
    summary.from_seq = from_seq;
    summary.to_seq = head.seq;
    summary.head_hash = head.hash.clone();

    // Messages.
    let stage_started = Instant::now();
    progress(&Progress {
        stage: Stage::Scanning,
        done: 0,
        total: 0,
        rows: 0,
    });
    let keys = touched_partitions(&reader, from_seq, opts.tz)?;
    // Complete files under temporary names; none is visible until all are written.
    let mut staged = Vec::new();
    let total = keys.len() as u64;
    let written = write_partitions(&reader, out, &keys, opts.tz, &mut |done, rows| {
        progress(&Progress {
            stage: Stage::Messages,
            done,
            total,
            rows,
        });
    })?;
    summary.messages_encode_time = written.encode;
    for outcome in written.partitions {
        let rel = format!(
            "{MESSAGES_TABLE}/{}/data.parquet",
            outcome.key.rel_dir().to_string_lossy().replace('\\', "/")
        );
        match outcome.file {
            Some((file, entry)) => {
                summary.partitions_written += 1;
                summary.message_rows_written += entry.rows;
                summary.bytes_written += entry.bytes;
                staged.push(file);
                files.insert(rel, entry);
            }
            None => {
                files.remove(&rel);
            }
        }
    }

    summary.messages_time = stage_started.elapsed();
    summary.encode_time = summary.messages_encode_time;

    // Events.
    let stage_started = Instant::now();
    let total = head.seq - from_seq;
    let events = write_events(&reader, out, from_seq, head.seq, opts.tz, &mut |seq, rows| {
        progress(&Progress {
            stage: Stage::Events,
            done: seq - from_seq,
            total,
            rows,
        });
    })?;
    summary.encode_time += events.encode;
    summary.events_time = stage_started.elapsed();
    for (file, f) in events.files {
        summary.event_files_written += 1;
        summary.event_rows_written += f.rows;
        summary.bytes_written += f.bytes;
        staged.push(file);
        files.insert(f.path.clone(), f);
    }

    // Publish, manifest, cleanup.
    progress(&Progress {
        stage: Stage::Finishing,
        done: 0,
        total: 1,
        rows: 0,
    });
    for file in staged {
        file.set_mode(opts.file_mode)?;
        file.publish()?;
    }
    let manifest = Manifest {
        schema_version: EXPORT_SCHEMA_VERSION,
        chatvault_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        timezone: tz_name,
        seq: head.seq,
        head: ManifestHead {
            seq: head.seq,
            hash: head.hash,
        },
        files: files.into_values().collect(),
    };
    manifest.save_with_mode(out, opts.file_mode)?;
    summary.files_removed = leftovers + remove_unlisted(out, Some(&manifest.files))?;
    progress(&Progress {
        stage: Stage::Finishing,
        done: 1,
        total: 1,
        rows: 0,
    });

    let totals = summarize(&manifest, out);
    summary.total_files = totals.total_files;
    summary.total_messages = totals.total_messages;
    summary.total_events = totals.total_events;
    summary.total_bytes = totals.total_bytes;
    summary.elapsed = started.elapsed();
    tracing::info!(
        from_seq = summary.from_seq,
        to_seq = summary.to_seq,
        partitions = summary.partitions_written,
        event_files = summary.event_files_written,
        ms = summary.elapsed.as_millis() as u64,
        "export finished"
    );
    Ok(summary)
}

fn empty_summary(out: &Path, full: bool) -> ExportSummary {
    ExportSummary {
        out_dir: out.to_path_buf(),
        full,
        from_seq: 0,
        to_seq: 0,
        head_hash: String::new(),
        partitions_written: 0,
        message_rows_written: 0,
        event_files_written: 0,
        event_rows_written: 0,
        bytes_written: 0,
        files_removed: 0,
        total_files: 0,
        total_messages: 0,
        total_events: 0,
        total_bytes: 0,
        elapsed: Duration::ZERO,
        encode_time: Duration::ZERO,
        messages_time: Duration::ZERO,
        messages_encode_time: Duration::ZERO,
        events_time: Duration::ZERO,
        up_to_date: false,
    }
}

fn summarize(m: &Manifest, out: &Path) -> ExportSummary {
    ExportSummary {
        total_files: m.files.len(),
        total_messages: m.rows(MESSAGES_TABLE),
        total_events: m.rows(EVENTS_TABLE),
        total_bytes: m.files.iter().map(|f| f.bytes).sum(),
        ..empty_summary(out, false)
    }
}

/// Removes our temporaries everywhere, and, when `listed` is given, every data file in a
/// partition directory that it does not list. Only `<table>/platform=*/date=*/` is touched, so
/// nothing else a user keeps in the directory is at risk. Returns the data files removed.
fn remove_unlisted(out: &Path, listed: Option<&[FileEntry]>) -> Result<usize> {
    let listed: Option<std::collections::HashSet<&str>> = listed.map(|l| l.iter().map(|f| f.path.as_str()).collect());
    let mut removed = 0;
    for table in [MESSAGES_TABLE, EVENTS_TABLE] {
        for platform_dir in hive_dirs(&out.join(table), "platform=")? {
            for date_dir in hive_dirs(&platform_dir, "date=")? {
                let entries = fs::read_dir(&date_dir).map_err(|e| ExportError::io(&date_dir, e))?;
                for entry in entries {
                    let entry = entry.map_err(|e| ExportError::io(&date_dir, e))?;
                    let name = entry.file_name().to_string_lossy().into_owned();
                    let path = entry.path();
                    let rel = path
                        .strip_prefix(out)
                        .unwrap_or(&path)
                        .to_string_lossy()
                        .replace('\\', "/");
                    let stale = is_temporary(&name)
                        || (name.ends_with(".parquet") && listed.as_ref().is_some_and(|l| !l.contains(rel.as_str())));
                    if stale {
                        fs::remove_file(&path).map_err(|e| ExportError::io(&path, e))?;
                        removed += usize::from(!is_temporary(&name));
                    }
                }
                // An emptied partition directory would show up as a partition with no files.
                let _ = fs::remove_dir(&date_dir);
            }
            let _ = fs::remove_dir(&platform_dir);
        }
    }
    Ok(removed)
}

fn hive_dirs(dir: &Path, prefix: &str) -> Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ExportError::io(dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| ExportError::io(dir, e))?;
        if entry.file_name().to_string_lossy().starts_with(prefix) && entry.path().is_dir() {
            out.push(entry.path());
        }
    }
    Ok(out)
}
