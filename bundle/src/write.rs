//! Writing a bundle: the selected messages' current state, every one of their events with the
//! bytes the chain hashed and the hash before each, their attachments, and a manifest with
//! every file's sha256, every event's position and the chain head — all read in one snapshot
//! of the archive, so they agree with each other while `run` keeps appending.
//!
//! The caller decides what may enter (the reviewer UI passes only messages in the user's
//! scope); an attachment enters only as an attachment of a selected message, read from the
//! blob store by the hash that message names and re-hashed before it is written.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Seek, Write};
use std::path::Path;

use proto::MessageKey;
use serde_json::Value;
use sha2::{Digest, Sha256};
use store::{StoreReader, StoredEvent};
use zip::CompressionMethod;
use zip::write::{SimpleFileOptions, ZipWriter};

use crate::format::{
    ATTACHMENTS, EVENTS, EventLine, FORMAT, FileEntry, LeftOut, MANIFEST, MESSAGES, Manifest, MessageLine, Position,
    VERSION,
};
use crate::{BundleError, json};

/// What to put in a bundle.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The messages, in the order they were chosen (repeats are written once).
    pub keys: &'a [MessageKey],
    /// The archive user making it.
    pub created_by: &'a str,
    /// Now, UTC ms.
    pub created_at_ms: i64,
    /// Where the selection came from (recorded as is in the manifest).
    pub origin: Value,
    /// The archive's blob store (`data_dir/blobs`).
    pub blobs_dir: &'a Path,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Messages.
    pub messages: usize,
    /// Events.
    pub events: usize,
    /// Attachment files.
    pub attachments: usize,
    /// Attachments named but left out (metadata only, or missing from the blob store).
    pub attachments_left_out: usize,
    /// The chain head recorded.
    pub chain_head: Position,
}

/// One message as read from the archive.
struct Read {
    key: MessageKey,
    record: proto::MessageRecord,
    revisions: Vec<store::Revision>,
    events: Vec<StoredEvent>,
    /// raw id → (media type, hex sha256 of the bytes).
    raws: HashMap<u64, (String, String)>,
}

/// Writes the bundle of `req` to `out` (a file or a buffer: zip needs to seek back to write
/// each entry's header).
pub fn write<W: Write + Seek>(reader: &StoreReader, req: &Request<'_>, out: W) -> Result<Written, BundleError> {
    let mut seen = BTreeSet::new();
    let keys: Vec<&MessageKey> = req.keys.iter().filter(|k| seen.insert((*k).clone())).collect();
    let (messages, lines, head) = reader.snapshot(|r| read_all(r, &keys))?;

    let mut zip = ZipWriter::new(out);
    // Texts compress well; attachments are mostly compressed already (images, PDFs, office
    // files), so they are stored as they are.
    let deflated = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    let mut files = Vec::new();
    let mut put = |zip: &mut ZipWriter<W>, path: String, bytes: &[u8], opts: SimpleFileOptions| {
        let ctx = |e: std::io::Error| BundleError::Io {
            context: format!("writing {path} into the bundle"),
            source: e,
        };
        zip.start_file(path.as_str(), opts)?;
        zip.write_all(bytes).map_err(ctx)?;
        files.push(FileEntry {
            sha256: hex::encode(Sha256::digest(bytes)),
            size: bytes.len() as u64,
            path,
        });
        Ok::<(), BundleError>(())
    };

    let mut events_jsonl = Vec::new();
    for l in &lines {
        push_line(&mut events_jsonl, l, "an event line")?;
    }
    put(&mut zip, EVENTS.into(), &events_jsonl, deflated)?;
    drop(events_jsonl);

    let mut messages_jsonl = Vec::new();
    for m in &messages {
        let line = MessageLine {
            key: m.key.clone(),
            record: json::record(&m.record),
            revisions: json::revisions(&m.revisions),
            events: m.events.iter().map(|e| e.seq).collect(),
        };
        push_line(&mut messages_jsonl, &line, "a message line")?;
    }
    put(&mut zip, MESSAGES.into(), &messages_jsonl, deflated)?;
    drop(messages_jsonl);

    let mut left_out = Vec::new();
    let mut written_blobs = BTreeSet::new();
    for m in &messages {
        for (index, a) in m.record.attachments.iter().enumerate() {
            let leave = |reason: &str| LeftOut {
                message: m.key.clone(),
                index,
                sha256: a.sha256.clone(),
                reason: reason.into(),
            };
            let Some(sha) = a.sha256.as_deref().map(str::to_ascii_lowercase) else {
                left_out.push(leave("metadata only: the archive never held the bytes"));
                continue;
            };
            if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
                left_out.push(leave("the message names no valid sha256"));
                continue;
            }
            if written_blobs.contains(&sha) {
                continue;
            }
            let bytes = match std::fs::read(req.blobs_dir.join(&sha)) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    left_out.push(leave("not in the blob store"));
                    continue;
                }
                Err(e) => {
                    return Err(BundleError::Io {
                        context: format!("reading blob {sha}"),
                        source: e,
                    });
                }
            };
            // A damaged blob is left out and said so, never shipped under a name it does not
            // hash to.
            if hex::encode(Sha256::digest(&bytes)) != sha {
                left_out.push(leave("the stored blob does not match its hash"));
                continue;
            }
            put(&mut zip, format!("{ATTACHMENTS}{sha}"), &bytes, stored)?;
            written_blobs.insert(sha);
        }
    }

    let manifest = Manifest {
        format: FORMAT.into(),
        version: VERSION,
        created_at: json::utc(req.created_at_ms),
        created_by: req.created_by.into(),
        origin: req.origin.clone(),
        files,
        events: lines
            .iter()
            .map(|l| Position {
                seq: l.seq,
                hash: l.hash.clone(),
            })
            .collect(),
        chain_head: head.clone(),
        messages: messages.len() as u64,
        attachments_left_out: left_out,
    };
    let bytes = serde_json::to_vec_pretty(&manifest).map_err(|e| BundleError::Json {
        what: "the manifest".into(),
        source: e,
    })?;
    zip.start_file(MANIFEST, deflated)?;
    zip.write_all(&bytes).map_err(|e| BundleError::Io {
        context: "writing the manifest into the bundle".into(),
        source: e,
    })?;
    zip.finish()?;
    Ok(Written {
        messages: messages.len(),
        events: lines.len(),
        attachments: written_blobs.len(),
        attachments_left_out: manifest.attachments_left_out.len(),
        chain_head: head,
    })
}

fn push_line<T: serde::Serialize>(buf: &mut Vec<u8>, v: &T, what: &str) -> Result<(), BundleError> {
    serde_json::to_writer(&mut *buf, v).map_err(|e| BundleError::Json {
        what: what.into(),
        source: e,
    })?;
    buf.push(b'\n');
    Ok(())
}

/// The messages, their events as lines in seq order, and the chain head, from one snapshot.
fn read_all(r: &StoreReader, keys: &[&MessageKey]) -> Result<(Vec<Read>, Vec<EventLine>, Position), BundleError> {
    let mut messages = Vec::with_capacity(keys.len());
    for key in keys {
        let h = r
            .message(key)?
            .ok_or_else(|| BundleError::NoSuchMessage(key.to_string()))?;
        let record = h.record.ok_or_else(|| BundleError::NoSuchMessage(key.to_string()))?;
        let raws = h
            .raws
            .iter()
            .map(|raw| {
                (
                    raw.id,
                    (raw.media_type.clone(), hex::encode(Sha256::digest(&raw.bytes))),
                )
            })
            .collect();
        messages.push(Read {
            key: (*key).clone(),
            record,
            revisions: h.revisions,
            events: h.events,
            raws,
        });
    }
    let mut by_seq: BTreeMap<u64, (&StoredEvent, &(String, String))> = BTreeMap::new();
    for m in &messages {
        for e in &m.events {
            let raw = m.raws.get(&e.raw_id).ok_or_else(|| {
                BundleError::Store(store::StoreError::Corrupt(format!(
                    "event seq {} names raw payload {}, which the archive does not hold",
                    e.seq, e.raw_id
                )))
            })?;
            by_seq.insert(e.seq, (e, raw));
        }
    }
    let mut lines = Vec::with_capacity(by_seq.len());
    for (&seq, (e, (media_type, raw_sha))) in &by_seq {
        let prev_hash = match seq.checked_sub(1) {
            None | Some(0) => hex::encode([0u8; 32]),
            Some(p) => match by_seq.get(&p) {
                Some((before, _)) => before.hash.clone(),
                None => stored_hash(r, p)?,
            },
        };
        lines.push(EventLine {
            seq,
            prev_hash,
            hash: e.hash.clone(),
            payload: String::from_utf8(e.payload.clone()).map_err(|_| {
                BundleError::Store(store::StoreError::Corrupt(format!(
                    "event seq {seq}: its stored envelope is not UTF-8 JSON"
                )))
            })?,
            raw_id: e.raw_id,
            raw_media_type: media_type.clone(),
            raw_sha256: raw_sha.clone(),
        });
    }
    let head = r.head()?;
    Ok((
        messages,
        lines,
        Position {
            seq: head.seq,
            hash: head.hash,
        },
    ))
}

/// The hash the chain holds at `seq`.
fn stored_hash(r: &StoreReader, seq: u64) -> Result<String, BundleError> {
    let e = r.events_since(seq - 1, 1)?;
    match e.first() {
        Some(e) if e.seq == seq => Ok(e.hash.clone()),
        _ => Err(BundleError::Store(store::StoreError::Corrupt(format!(
            "the log has no event at seq {seq}"
        )))),
    }
}
