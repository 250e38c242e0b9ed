//! The durable spool of design §3.2: where a callback goes when the store cannot take it in
//! time, for platforms that never retry (WorkTool).
//!
//! A callback handler calls [`Spool::deliver`]: it waits up to `slot_wait` for a channel slot
//! and then up to `commit_wait` for the commit notice. If either runs out (or the commit
//! failed), the payloads are appended to `data_dir/spool/<connector>.log` and fsynced before
//! the handler answers, so the answer "committed" is true in the durable sense: the request
//! survives a crash from then on. [`Spool::replay`] feeds spooled records into the store in
//! order as soon as the channel has room, and advances past a record only after its commit
//! notice said `Ok`.
//!
//! While records are waiting, new callbacks are spooled too, behind them, so that replay keeps
//! arrival order.
//!
//! # File format
//! `<connector>.log` is a sequence of records `len: u32 LE ‖ check: 8 bytes ‖ payload`, where
//! `check` is the first 8 bytes of sha256(payload) and the payload is the msgpack form of the
//! request's payloads (raw bytes, receive time, normalized events as JSON, or the reject
//! reason). Events are spooled already normalized, ids included, so replaying a record twice
//! produces identical events, which the store records once: replay is at-least-once and that
//! is enough. `<connector>.pos` holds the offset of the first record not yet committed
//! (`offset: u64 LE ‖ 8 check bytes`, written to a temporary file, fsynced and renamed).
//! When replay has caught up, the position is reset to 0 first and the log truncated second,
//! so a crash between the two replays the log again (deduplicated) instead of skipping
//! records that a later append might have placed below a stale position.
//!
//! A torn last record (the process died inside an append, before the fsync that precedes the
//! answer, so the request was never answered) is cut off when the spool is opened; its bytes
//! are moved to `<connector>.torn-<ms>` rather than deleted. A record whose checksum fails in
//! the middle of the file (disk corruption) is handed to the store as a reject, never skipped
//! in silence.
//!
//! Memory stays bounded: the spool lives on disk, replay reads at most [`REPLAY_MAX_RECORDS`]
//! records or [`REPLAY_MAX_BYTES`] bytes at a time. Disk stays bounded too: the log never
//! grows past its cap (`spool_max_bytes`, [`DEFAULT_MAX_BYTES`]); an append that would pass it
//! fails with [`SpoolError::Full`], so the caller answers 503 rather than "success" without
//! durable storage. The gauge `chatvault_spool_bytes{connector}` shows the log's size and
//! `chatvault_spool_full_total{connector}` counts refused appends.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use proto::{ChatEvent, CommitInfo, Ingested, RawPayload, TimestampMs};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::EventSender;
use crate::backoff::Backoff;
use crate::connector::SendTimeout;
use fsutil::create_private_dir;

/// Records read per replay batch, at most.
pub const REPLAY_MAX_RECORDS: usize = 64;
/// Bytes read per replay batch, at most (a single larger record is still read whole).
pub const REPLAY_MAX_BYTES: usize = 8 * 1024 * 1024;
/// The default cap of one connector's spool log.
pub const DEFAULT_MAX_BYTES: u64 = 1024 * 1024 * 1024;
/// Largest record accepted when reading back; anything above is treated as corruption.
const MAX_RECORD_BYTES: u32 = 256 * 1024 * 1024;
const HEADER: usize = 12;

/// A spool failure. Messages name the file, never payload contents.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// Reading or writing a spool file failed.
    #[error("spool {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A payload could not be encoded for the spool.
    #[error("cannot encode a spool record: {0}")]
    Encode(String),
    /// The blocking I/O task did not finish.
    #[error("spool task failed: {0}")]
    Task(String),
    /// The log would grow past its cap.
    #[error("spool {path} is full ({len} bytes, cap {max} bytes)")]
    Full {
        /// The file.
        path: PathBuf,
        /// Its size.
        len: u64,
        /// The cap.
        max: u64,
    },
}

/// What [`Spool::deliver`] did with a callback's payloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The store committed them.
    Committed(CommitInfo),
    /// They are durably in the spool and will be replayed.
    Spooled,
}

/// One connector's spool file and its replay position.
pub struct Spool {
    name: String,
    log_path: PathBuf,
    pos_path: PathBuf,
    inner: Mutex<Inner>,
    /// Records appended but not yet committed by replay.
    pending: AtomicU64,
    wake: Notify,
    max_bytes: u64,
    /// Set while appends are refused (the log line is written once per episode).
    full: AtomicBool,
}

struct Inner {
    log: File,
    reader: File,
    len: u64,
    read_pos: u64,
}

/// A spooled payload (the serialized form of [`Ingested`]).
#[derive(Serialize, Deserialize)]
struct Item {
    received_at: TimestampMs,
    media_type: String,
    #[serde(with = "serde_bytes_compat")]
    raw: Vec<u8>,
    /// JSON array of [`ChatEvent`]s (JSON because it is the events' canonical form).
    #[serde(with = "serde_bytes_compat")]
    events_json: Vec<u8>,
    /// Set for a reject.
    reason: Option<String>,
}

/// msgpack `bin` for byte vectors (serde would otherwise write an array of integers).
mod serde_bytes_compat {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        Ok(bytes::Bytes::deserialize(d)?.to_vec())
    }
}

impl Spool {
    /// Opens (creating if needed) `dir/<connector>.log`, cuts a torn last record, and counts
    /// what is waiting to be replayed.
    pub fn open(dir: &Path, connector: &str) -> Result<Spool, SpoolError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| SpoolError::Io { path, source }
        };
        create_private_dir(dir).map_err(io(dir))?;
        let safe: String = connector
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let log_path = dir.join(format!("{safe}.log"));
        let pos_path = dir.join(format!("{safe}.pos"));
        let log = open_append(&log_path).map_err(io(&log_path))?;
        let mut reader = File::open(&log_path).map_err(io(&log_path))?;
        let mut len = log.metadata().map_err(io(&log_path))?.len();
        let mut read_pos = read_pos_file(&pos_path);
        if read_pos > len {
            read_pos = 0;
        }
        let (valid_end, records) = scan(&mut reader, read_pos, len).map_err(io(&log_path))?;
        if valid_end < len {
            let torn = dir.join(format!("{safe}.torn-{}", proto::time::now_ms()));
            save_tail(&mut reader, valid_end, len, &torn).map_err(io(&torn))?;
            log.set_len(valid_end).map_err(io(&log_path))?;
            log.sync_all().map_err(io(&log_path))?;
            tracing::warn!(connector, torn = %torn.display(), bytes = len - valid_end,
                "spool ended in a torn record (never answered); its bytes were set aside");
            len = valid_end;
        }
        if records > 0 {
            tracing::info!(connector, records, "spooled callbacks waiting for replay");
        }
        Ok(Spool {
            name: connector.to_string(),
            log_path,
            pos_path,
            inner: Mutex::new(Inner {
                log,
                reader,
                len,
                read_pos,
            }),
            pending: AtomicU64::new(records),
            wake: Notify::new(),
            max_bytes: DEFAULT_MAX_BYTES,
            full: AtomicBool::new(false),
        })
    }

    /// Caps the log at `max_bytes` (see the module docs).
    pub fn with_max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// Whether the last append was refused for want of room.
    pub fn is_full(&self) -> bool {
        self.full.load(Ordering::Acquire)
    }

    fn publish_size(&self, len: u64) {
        metrics::gauge!("chatvault_spool_bytes", "connector" => self.name.clone()).set(len as f64);
    }

    /// The spool file.
    pub fn path(&self) -> &Path {
        &self.log_path
    }

    /// Records waiting to be replayed.
    pub fn pending(&self) -> u64 {
        self.pending.load(Ordering::Acquire)
    }

    /// Appends one callback's payloads and fsyncs (blocking I/O: call from a blocking context
    /// or use [`Spool::append_async`]).
    pub fn append(&self, items: &[Ingested]) -> Result<(), SpoolError> {
        let payload = encode(items)?;
        let mut record = Vec::with_capacity(HEADER + payload.len());
        record.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        record.extend_from_slice(&checksum(&payload));
        record.extend_from_slice(&payload);
        let mut g = self.lock();
        let io = |source| SpoolError::Io {
            path: self.log_path.clone(),
            source,
        };
        if g.len.saturating_add(record.len() as u64) > self.max_bytes {
            let len = g.len;
            drop(g);
            metrics::counter!("chatvault_spool_full_total", "connector" => self.name.clone()).increment(1);
            if !self.full.swap(true, Ordering::AcqRel) {
                tracing::error!(
                    connector = %self.name,
                    spool = %self.log_path.display(),
                    bytes = len,
                    cap = self.max_bytes,
                    "spool full: callbacks the store cannot take in time are answered 503 until replay drains it (raise `spool_max_bytes` or fix the store)"
                );
            }
            return Err(SpoolError::Full {
                path: self.log_path.clone(),
                len,
                max: self.max_bytes,
            });
        }
        let written = g.log.write_all(&record).and_then(|_| g.log.sync_data());
        if let Err(e) = written {
            // Leave no half record behind a failed append: the next append would land after it.
            let _ = g.log.set_len(g.len);
            return Err(io(e));
        }
        g.len += record.len() as u64;
        let len = g.len;
        drop(g);
        self.publish_size(len);
        if self.full.swap(false, Ordering::AcqRel) {
            tracing::info!(connector = %self.name, "spool has room again");
        }
        self.pending.fetch_add(1, Ordering::AcqRel);
        crate::metrics::noticed(&self.name, "spooled");
        self.wake.notify_one();
        Ok(())
    }

    /// [`Spool::append`] on the blocking pool.
    pub async fn append_async(self: &Arc<Self>, items: Vec<Ingested>) -> Result<(), SpoolError> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.append(&items))
            .await
            .map_err(|e| SpoolError::Task(e.to_string()))?
    }

    /// Hands a callback's payloads to the store, spooling them when the store cannot take
    /// them in time (see the module docs): at most `slot_wait` for a channel slot, and until
    /// `answer_by` for the commit notice. `Ok` means committed or durably spooled: the
    /// platform may be told "success".
    pub async fn deliver(
        self: &Arc<Self>,
        out: &EventSender,
        items: Vec<Ingested>,
        slot_wait: Duration,
        answer_by: tokio::time::Instant,
    ) -> Result<Delivery, SpoolError> {
        if self.pending() > 0 {
            self.append_async(items).await?;
            return Ok(Delivery::Spooled);
        }
        let slot_wait = slot_wait.min(answer_by.saturating_duration_since(tokio::time::Instant::now()));
        // Items are cheap to clone (raw bytes are reference-counted) and must survive a failed
        // or late commit so they can be spooled.
        let rx = match out.send_timeout(items.clone(), None, slot_wait).await {
            Ok(rx) => rx,
            Err(SendTimeout::Full(items) | SendTimeout::Closed(items)) => {
                self.append_async(items).await?;
                return Ok(Delivery::Spooled);
            }
        };
        match tokio::time::timeout_at(answer_by, rx).await {
            Ok(Ok(Ok(info))) => {
                crate::metrics::committed(&self.name, &info);
                Ok(Delivery::Committed(info))
            }
            outcome => {
                if let Ok(Ok(Err(e))) = &outcome {
                    tracing::warn!(connector = %self.name, error = %e, "commit failed; spooling the callback");
                }
                // A late commit may still land; the replayed copy is then recorded once.
                self.append_async(items).await?;
                Ok(Delivery::Spooled)
            }
        }
    }

    /// Replays spooled records into the store, in order, until `shutdown` fires. A record is
    /// passed only after its batch's commit notice said `Ok`; a failed commit is retried after
    /// a backoff.
    pub async fn replay(self: Arc<Self>, out: EventSender, shutdown: CancellationToken) {
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(30));
        loop {
            if self.pending() == 0 {
                tokio::select! {
                    _ = self.wake.notified() => continue,
                    _ = shutdown.cancelled() => return,
                }
            }
            let me = self.clone();
            let chunk = match tokio::task::spawn_blocking(move || me.read_chunk()).await {
                Ok(Ok(c)) => c,
                Ok(Err(e)) => {
                    tracing::error!(connector = %self.name, error = %e, "cannot read the spool");
                    if !backoff.wait(&shutdown).await {
                        return;
                    }
                    continue;
                }
                Err(e) => {
                    tracing::error!(connector = %self.name, error = %e, "spool read task failed");
                    return;
                }
            };
            if chunk.records == 0 {
                // Counted records that are not on disk (cannot happen unless the file was
                // changed behind our back): resynchronise instead of spinning.
                self.pending.store(0, Ordering::Release);
                continue;
            }
            let rx = tokio::select! {
                r = out.send(chunk.items, None) => r,
                _ = shutdown.cancelled() => return,
            };
            let committed = match rx {
                Ok(rx) => rx
                    .await
                    .map_err(|_| "store writer closed".to_string())
                    .and_then(|r| r.map_err(|e| e.to_string())),
                Err(e) => Err(e.to_string()),
            };
            match committed {
                Ok(info) => {
                    crate::metrics::committed(&self.name, &info);
                    let me = self.clone();
                    let advanced = tokio::task::spawn_blocking(move || me.advance(chunk.end, chunk.records)).await;
                    match advanced {
                        Ok(Ok(())) => backoff.connected(),
                        Ok(Err(e)) => {
                            // Committed but not recorded as passed: it will be replayed again and
                            // deduplicated by the store.
                            tracing::error!(connector = %self.name, error = %e, "cannot advance the spool position");
                            if !backoff.wait(&shutdown).await {
                                return;
                            }
                        }
                        Err(e) => {
                            tracing::error!(connector = %self.name, error = %e, "spool task failed")
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(connector = %self.name, error = %e, "spool replay not committed; will retry");
                    if !backoff.wait(&shutdown).await {
                        return;
                    }
                }
            }
        }
    }

    /// Reads the next records after the replay position (blocking).
    fn read_chunk(&self) -> Result<Chunk, SpoolError> {
        let mut g = self.lock();
        let (start, len) = (g.read_pos, g.len);
        let io = |source| SpoolError::Io {
            path: self.log_path.clone(),
            source,
        };
        g.reader.seek(SeekFrom::Start(start)).map_err(io)?;
        let mut chunk = Chunk {
            items: Vec::new(),
            end: start,
            records: 0,
        };
        let mut bytes = 0usize;
        while chunk.end < len && chunk.records < REPLAY_MAX_RECORDS && (chunk.records == 0 || bytes < REPLAY_MAX_BYTES)
        {
            let remaining = len - chunk.end;
            match read_record(&mut g.reader, remaining).map_err(io)? {
                Record::Ok(payload) => {
                    bytes += payload.len();
                    chunk.end += (HEADER + payload.len()) as u64;
                    match decode(&payload) {
                        Ok(items) => chunk.items.extend(items),
                        Err(reason) => chunk.items.push(corrupt(payload, reason)),
                    }
                }
                Record::BadChecksum(payload) => {
                    chunk.end += (HEADER + payload.len()) as u64;
                    chunk
                        .items
                        .push(corrupt(payload, "spool record failed its checksum".into()));
                }
                Record::Truncated => {
                    // A length that runs past the end: everything left is one unreadable record.
                    let mut rest = Vec::new();
                    g.reader.seek(SeekFrom::Start(chunk.end)).map_err(io)?;
                    (&mut g.reader)
                        .take(remaining.min(crate::server::body::REJECT_HEAD_BYTES as u64))
                        .read_to_end(&mut rest)
                        .map_err(io)?;
                    chunk.end = len;
                    chunk
                        .items
                        .push(corrupt(rest, "spool record with an impossible length".into()));
                }
            }
            chunk.records += 1;
        }
        Ok(chunk)
    }

    /// Records that everything before `end` is committed (blocking).
    fn advance(&self, end: u64, records: usize) -> Result<(), SpoolError> {
        let mut g = self.lock();
        let pos_io = |source| SpoolError::Io {
            path: self.pos_path.clone(),
            source,
        };
        if end >= g.len {
            // Caught up: position first, then truncate (see the module docs for why).
            write_pos_file(&self.pos_path, 0).map_err(pos_io)?;
            g.log
                .set_len(0)
                .and_then(|_| g.log.sync_all())
                .map_err(|source| SpoolError::Io {
                    path: self.log_path.clone(),
                    source,
                })?;
            g.len = 0;
            g.read_pos = 0;
            self.publish_size(0);
        } else {
            write_pos_file(&self.pos_path, end).map_err(pos_io)?;
            g.read_pos = end;
        }
        drop(g);
        let _ = self.pending.fetch_update(Ordering::AcqRel, Ordering::Acquire, |p| {
            Some(p.saturating_sub(records as u64))
        });
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The guarded state is only offsets and file handles, consistent after every step.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct Chunk {
    items: Vec<Ingested>,
    end: u64,
    records: usize,
}

enum Record {
    Ok(Vec<u8>),
    BadChecksum(Vec<u8>),
    Truncated,
}

fn read_record(r: &mut File, remaining: u64) -> std::io::Result<Record> {
    if remaining < HEADER as u64 {
        return Ok(Record::Truncated);
    }
    let mut head = [0u8; HEADER];
    r.read_exact(&mut head)?;
    let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
    if len > MAX_RECORD_BYTES || HEADER as u64 + len as u64 > remaining {
        return Ok(Record::Truncated);
    }
    let mut payload = vec![0u8; len as usize];
    r.read_exact(&mut payload)?;
    if checksum(&payload) != head[4..] {
        return Ok(Record::BadChecksum(payload));
    }
    Ok(Record::Ok(payload))
}

/// Walks records from `from` to `len`; returns the end of the last valid record and how many
/// records there are up to it. A bad checksum on the last record is a torn append; in the
/// middle it is corruption, kept and replayed as a reject.
fn scan(r: &mut File, from: u64, len: u64) -> std::io::Result<(u64, u64)> {
    r.seek(SeekFrom::Start(from))?;
    let (mut at, mut n) = (from, 0);
    while at < len {
        let (size, good) = match read_record(r, len - at)? {
            Record::Ok(p) => (p.len(), true),
            Record::BadChecksum(p) => (p.len(), false),
            Record::Truncated => break,
        };
        let end = at + (HEADER + size) as u64;
        if !good && end == len {
            break;
        }
        at = end;
        n += 1;
    }
    Ok((at, n))
}

fn save_tail(r: &mut File, from: u64, to: u64, dest: &Path) -> std::io::Result<()> {
    r.seek(SeekFrom::Start(from))?;
    let mut tail = Vec::new();
    r.take(to - from).read_to_end(&mut tail)?;
    let mut f = crate::blobs::open_private(dest)?;
    f.write_all(&tail)?;
    f.sync_all()
}

fn checksum(payload: &[u8]) -> [u8; 8] {
    let d = Sha256::digest(payload);
    let mut c = [0u8; 8];
    c.copy_from_slice(&d[..8]);
    c
}

fn encode(items: &[Ingested]) -> Result<Vec<u8>, SpoolError> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        out.push(match item {
            Ingested::Payload { raw, events } => Item {
                received_at: raw.received_at,
                media_type: raw.media_type.to_string(),
                raw: raw.bytes.to_vec(),
                events_json: serde_json::to_vec(events).map_err(|e| SpoolError::Encode(e.to_string()))?,
                reason: None,
            },
            Ingested::Rejected { raw, reason } => Item {
                received_at: raw.received_at,
                media_type: raw.media_type.to_string(),
                raw: raw.bytes.to_vec(),
                events_json: Vec::new(),
                reason: Some(reason.clone()),
            },
        });
    }
    rmp_serde::to_vec_named(&out).map_err(|e| SpoolError::Encode(e.to_string()))
}

fn decode(payload: &[u8]) -> Result<Vec<Ingested>, String> {
    let items: Vec<Item> = rmp_serde::from_slice(payload).map_err(|e| format!("unreadable spool record: {e}"))?;
    items
        .into_iter()
        .map(|it| {
            let raw = RawPayload {
                received_at: it.received_at,
                media_type: it.media_type.into(),
                bytes: Bytes::from(it.raw),
            };
            Ok(match it.reason {
                Some(reason) => Ingested::Rejected { raw, reason },
                None => {
                    let events: Vec<ChatEvent> = serde_json::from_slice(&it.events_json)
                        .map_err(|e| format!("unreadable events in a spool record: {e}"))?;
                    Ingested::Payload { raw, events }
                }
            })
        })
        .collect()
}

fn corrupt(bytes: Vec<u8>, reason: String) -> Ingested {
    let mut bytes = bytes;
    bytes.truncate(crate::server::body::REJECT_HEAD_BYTES);
    Ingested::Rejected {
        raw: RawPayload::now(proto::batch::media::OCTETS, bytes),
        reason,
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    let mut o = std::fs::OpenOptions::new();
    o.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

fn read_pos_file(path: &Path) -> u64 {
    // A missing or damaged position file means "replay from the start": safe, because the
    // store records replayed events once.
    match std::fs::read(path) {
        Ok(b) if b.len() == 16 => {
            let pos: [u8; 8] = b[..8].try_into().unwrap_or_default();
            if checksum(&pos) == b[8..] {
                u64::from_le_bytes(pos)
            } else {
                0
            }
        }
        _ => 0,
    }
}

fn write_pos_file(path: &Path, pos: u64) -> std::io::Result<()> {
    let tmp = path.with_extension("pos.tmp");
    {
        let mut f = crate::blobs::open_private(&tmp)?;
        let b = pos.to_le_bytes();
        f.write_all(&b)?;
        f.write_all(&checksum(&b))?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        // The rename itself must reach the disk before the log is truncated.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(text: &str) -> Ingested {
        Ingested::Rejected {
            raw: RawPayload::now(proto::batch::media::JSON, text.as_bytes().to_vec()),
            reason: text.into(),
        }
    }

    #[test]
    fn records_round_trip_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let s = Spool::open(dir.path(), "robot1").unwrap();
        s.append(&[item("a")]).unwrap();
        s.append(&[item("b"), item("c")]).unwrap();
        assert_eq!(s.pending(), 2);
        drop(s);
        let s = Spool::open(dir.path(), "robot1").unwrap();
        assert_eq!(s.pending(), 2);
        let chunk = s.read_chunk().unwrap();
        assert_eq!(chunk.records, 2);
        let reasons: Vec<_> = chunk
            .items
            .iter()
            .map(|i| match i {
                Ingested::Rejected { reason, .. } => reason.clone(),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(reasons, ["a", "b", "c"]);
        s.advance(chunk.end, chunk.records).unwrap();
        assert_eq!(s.pending(), 0);
        assert_eq!(
            std::fs::metadata(s.path()).unwrap().len(),
            0,
            "caught up: log truncated"
        );
    }

    #[test]
    fn a_torn_last_record_is_set_aside_and_earlier_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let s = Spool::open(dir.path(), "robot1").unwrap();
        s.append(&[item("kept")]).unwrap();
        let good_len = std::fs::metadata(s.path()).unwrap().len();
        drop(s);
        // A crash inside the next append: header promises 100 bytes, 3 arrived.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("robot1.log"))
            .unwrap();
        f.write_all(&100u32.to_le_bytes()).unwrap();
        f.write_all(&[0u8; 8]).unwrap();
        f.write_all(b"abc").unwrap();
        drop(f);
        let s = Spool::open(dir.path(), "robot1").unwrap();
        assert_eq!(s.pending(), 1);
        assert_eq!(std::fs::metadata(s.path()).unwrap().len(), good_len);
        let torn: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("robot1.torn-"))
            .collect();
        assert_eq!(torn.len(), 1);
        assert_eq!(std::fs::metadata(torn[0].path()).unwrap().len(), 15);
    }

    #[test]
    fn the_log_never_grows_past_its_cap() {
        let dir = tempfile::tempdir().unwrap();
        let one = (HEADER + encode(&[item("0123456789")]).unwrap().len()) as u64;
        let s = Spool::open(dir.path(), "r").unwrap().with_max_bytes(2 * one + 1);
        s.append(&[item("0123456789")]).unwrap();
        s.append(&[item("0123456789")]).unwrap();
        assert!(!s.is_full());
        let err = s.append(&[item("0123456789")]).unwrap_err();
        assert!(matches!(err, SpoolError::Full { .. }), "{err}");
        assert!(s.is_full());
        assert_eq!(std::fs::metadata(s.path()).unwrap().len(), 2 * one);
        assert_eq!(s.pending(), 2);
        // Replay drains it; appends are taken again.
        let c = s.read_chunk().unwrap();
        s.advance(c.end, c.records).unwrap();
        s.append(&[item("0123456789")]).unwrap();
        assert!(!s.is_full());
    }

    #[test]
    fn a_damaged_position_file_replays_from_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let s = Spool::open(dir.path(), "r").unwrap();
        s.append(&[item("1")]).unwrap();
        s.append(&[item("2")]).unwrap();
        let c = s.read_chunk().unwrap();
        // Pretend only the first record was committed.
        let first_end = (HEADER + encode(&[item("1")]).unwrap().len()) as u64;
        s.advance(first_end, 1).unwrap();
        assert!(c.records == 2);
        drop(s);
        assert_eq!(Spool::open(dir.path(), "r").unwrap().pending(), 1);
        std::fs::write(dir.path().join("r.pos"), b"garbage").unwrap();
        assert_eq!(Spool::open(dir.path(), "r").unwrap().pending(), 2);
    }
}
