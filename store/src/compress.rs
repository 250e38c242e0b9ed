//! Compression of the two large stored blobs: raw payloads (`raw.bytes`) and event envelopes
//! (`events.payload`). What is hashed — into the chain, into `sha256(raw bytes)` — is always
//! the uncompressed bytes; compression is only how they sit on disk, and every read hands out
//! the uncompressed bytes.
//!
//! # Stored form
//! Each compressed column has a `zdict` column beside it:
//! - `NULL`: the bytes as they are (rows written before schema version 3, and blobs that
//!   compression would not make smaller);
//! - `0`: one zstd frame, no dictionary;
//! - `n > 0`: one zstd frame made with dictionary `n` of the `dicts` table.
//!
//! # Dictionaries
//! A chat platform sends the same frame layout with a few changing fields thousands of times;
//! one payload alone (a few hundred bytes) has little for zstd to find, so each frame would
//! mostly pay for its own field names. A dictionary per (blob kind, platform), trained on that
//! platform's first [`SAMPLES`] blobs, holds those names. Measured on the simulator's Goofish
//! chat items (`examples/goofish_size.rs`, 922 bytes each as received): 508 bytes stored when
//! compressed alone, 89 with the dictionary; their envelopes 386 and 75. Until a dictionary
//! exists, blobs are compressed without one. Dictionaries are immutable
//! once written (a row's `zdict` names the one it needs, forever) and few (one per blob kind
//! and platform), so readers cache them for the life of their connection. A dictionary row is
//! inserted in the transaction of the first row that uses it, so neither exists without the
//! other.
//!
//! Volatile figures: [`SAMPLES`] blobs train a dictionary of at most [`DICT_BYTES`]; frames
//! are written at [`LEVEL`]. Compression runs in the writer's prepare threads, not on the
//! commit thread.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension};
use zstd::dict::{DecoderDictionary, EncoderDictionary};
use zstd::zstd_safe::{CCtx, DCtx};

use crate::{Result, StoreError};

/// Blobs of one kind and platform that train its dictionary.
pub(crate) const SAMPLES: usize = 256;
/// Largest dictionary trained.
pub(crate) const DICT_BYTES: usize = 16 * 1024;
/// zstd level. On blobs of a few hundred bytes the dictionary does most of the work: measured
/// with `examples/goofish_size.rs` (30k messages), level 6 stored 748 bytes per message and
/// level 1 756, with about a tenth less append time.
pub(crate) const LEVEL: i32 = 1;

/// Which column a blob lives in; each has dictionaries of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Blob {
    /// `raw.bytes`.
    Raw,
    /// `events.payload`.
    Event,
}

impl Blob {
    fn as_str(self) -> &'static str {
        match self {
            Blob::Raw => "raw",
            Blob::Event => "event",
        }
    }

    fn parse(s: &str) -> Option<Blob> {
        match s {
            "raw" => Some(Blob::Raw),
            "event" => Some(Blob::Event),
            _ => None,
        }
    }
}

/// A trained dictionary, ready for both directions.
pub(crate) struct Dict {
    pub id: i64,
    pub blob: Blob,
    pub platform: String,
    pub bytes: Vec<u8>,
    enc: EncoderDictionary<'static>,
}

impl Dict {
    fn new(id: i64, blob: Blob, platform: &str, bytes: Vec<u8>) -> Dict {
        Dict {
            id,
            blob,
            platform: platform.to_string(),
            enc: EncoderDictionary::copy(&bytes, LEVEL),
            bytes,
        }
    }
}

/// A blob as stored: the column value and its `zdict`; `dict` is the dictionary it needs (the
/// commit writes its row if the archive does not hold it yet).
pub(crate) struct Packed {
    pub bytes: Vec<u8>,
    pub zdict: Option<i64>,
    pub dict: Option<Arc<Dict>>,
}

enum Slot {
    /// Samples so far, for the dictionary.
    Learning(Vec<Vec<u8>>),
    Ready(Arc<Dict>),
}

/// The writer's dictionaries: the archive's latest per (blob kind, platform), and the samples
/// of those not trained yet. Shared by the prepare threads.
pub(crate) struct Codebook {
    slots: Mutex<Book>,
}

struct Book {
    /// Few platforms: a short list, searched without building a key per lookup.
    slots: Vec<(Blob, String, Slot)>,
    next_id: i64,
}

impl Book {
    fn slot(&mut self, blob: Blob, platform: &str) -> &mut Slot {
        let pos = match self.slots.iter().position(|(b, p, _)| *b == blob && p == platform) {
            Some(pos) => pos,
            None => {
                self.slots
                    .push((blob, platform.to_string(), Slot::Learning(Vec::new())));
                self.slots.len() - 1
            }
        };
        &mut self.slots[pos].2
    }
}

thread_local! {
    static CCTX: std::cell::RefCell<CCtx<'static>> = std::cell::RefCell::new(CCtx::create());
}

impl Codebook {
    /// The dictionaries `conn`'s archive holds (the latest of each kind and platform).
    pub fn load(conn: &Connection) -> Result<Codebook> {
        let mut book = Book {
            slots: Vec::new(),
            next_id: 1,
        };
        let mut st = conn.prepare("SELECT id, blob, platform, bytes FROM dicts ORDER BY id")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            let blob = Blob::parse(&r.get::<_, String>(1)?)
                .ok_or_else(|| StoreError::Corrupt(format!("dictionary {id} is of an unknown kind")))?;
            let platform: String = r.get(2)?;
            let dict = Dict::new(id, blob, &platform, r.get(3)?);
            *book.slot(blob, &platform) = Slot::Ready(Arc::new(dict));
            book.next_id = id + 1;
        }
        Ok(Codebook {
            slots: Mutex::new(book),
        })
    }

    /// `data` as it is to be stored in a `blob` column of `platform`, learning from it while
    /// that platform has no dictionary.
    pub fn pack(&self, blob: Blob, platform: &str, data: &[u8]) -> Result<Packed> {
        let dict = self.dict_for(blob, platform, data);
        pack_with(data, dict)
    }

    /// [`Codebook::pack`] with the dictionaries there are, learning nothing.
    pub fn pack_known(&self, blob: Blob, platform: &str, data: &[u8]) -> Result<Packed> {
        let mut book = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let dict = match book.slot(blob, platform) {
            Slot::Ready(d) => Some(Arc::clone(d)),
            Slot::Learning(_) => None,
        };
        drop(book);
        pack_with(data, dict)
    }

    /// A dictionary for `blob` and `platform` trained from `samples`, used from now on.
    pub fn learn(&self, blob: Blob, platform: &str, samples: &[Vec<u8>]) -> Arc<Dict> {
        let mut book = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let dict = Arc::new(Dict::new(book.next_id, blob, platform, train(samples)));
        book.next_id += 1;
        *book.slot(blob, platform) = Slot::Ready(Arc::clone(&dict));
        dict
    }

    /// The dictionary to use, learning from `data` while there is none.
    fn dict_for(&self, blob: Blob, platform: &str, data: &[u8]) -> Option<Arc<Dict>> {
        // A poisoned lock only means another prepare thread panicked; the map is still whole.
        let mut book = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let next_id = book.next_id;
        let slot = book.slot(blob, platform);
        match slot {
            Slot::Ready(d) => Some(Arc::clone(d)),
            Slot::Learning(samples) => {
                samples.push(data.to_vec());
                if samples.len() < SAMPLES {
                    return None;
                }
                let dict = Arc::new(Dict::new(next_id, blob, platform, train(samples)));
                *slot = Slot::Ready(Arc::clone(&dict));
                book.next_id += 1;
                Some(dict)
            }
        }
    }
}

/// A dictionary from `samples`; if zstd cannot train one (too few or too alike), their
/// concatenation serves as a raw-content dictionary.
pub(crate) fn train(samples: &[Vec<u8>]) -> Vec<u8> {
    match zstd::dict::from_samples(samples, DICT_BYTES) {
        Ok(d) if !d.is_empty() => d,
        _ => {
            let mut d: Vec<u8> = samples.iter().rev().flatten().copied().take(DICT_BYTES).collect();
            d.reverse();
            d
        }
    }
}

fn pack_with(data: &[u8], dict: Option<Arc<Dict>>) -> Result<Packed> {
    Ok(match compress(data, dict.as_deref())? {
        Some(bytes) => Packed {
            bytes,
            zdict: Some(dict.as_ref().map_or(0, |d| d.id)),
            dict,
        },
        None => Packed {
            bytes: data.to_vec(),
            zdict: None,
            dict: None,
        },
    })
}

/// One zstd frame of `data`, or `None` if it would not be smaller.
fn compress(data: &[u8], dict: Option<&Dict>) -> Result<Option<Vec<u8>>> {
    let mut out = Vec::with_capacity(zstd::zstd_safe::compress_bound(data.len()));
    let written = CCTX.with(|c| {
        let mut c = c.borrow_mut();
        match dict {
            Some(d) => c.compress_using_cdict(&mut out, data, d.enc.as_cdict()),
            None => c.compress(&mut out, data, LEVEL),
        }
    });
    let written = written.map_err(|code| {
        StoreError::Corrupt(format!(
            "zstd cannot compress a blob: {}",
            zstd::zstd_safe::get_error_name(code)
        ))
    })?;
    Ok((written < data.len()).then_some(out))
}

/// Decompression for one connection, with the dictionaries it has needed so far.
pub(crate) struct Unpacker {
    dctx: DCtx<'static>,
    dicts: HashMap<i64, DecoderDictionary<'static>>,
}

impl Default for Unpacker {
    fn default() -> Self {
        Unpacker {
            dctx: DCtx::create(),
            dicts: HashMap::new(),
        }
    }
}

impl Unpacker {
    /// The stored `bytes` (with their `zdict`) as they were before compression, written into
    /// `out` (cleared first). `what` names the row in an error.
    pub fn unpack_into(
        &mut self,
        conn: &Connection,
        bytes: &[u8],
        zdict: Option<i64>,
        out: &mut Vec<u8>,
        what: &dyn Fn() -> String,
    ) -> Result<()> {
        out.clear();
        let Some(zdict) = zdict else {
            out.extend_from_slice(bytes);
            return Ok(());
        };
        let corrupt = |why: String| StoreError::Corrupt(format!("{} does not decompress: {why}", what()));
        let size = zstd::zstd_safe::get_frame_content_size(bytes)
            .ok()
            .flatten()
            .ok_or_else(|| corrupt("no frame size".into()))?;
        out.reserve(usize::try_from(size).map_err(|_| corrupt("frame too large".into()))?);
        let done = if zdict == 0 {
            self.dctx.decompress(out, bytes)
        } else {
            let dict = match self.dicts.entry(zdict) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    let d: Option<Vec<u8>> = conn
                        .prepare_cached("SELECT bytes FROM dicts WHERE id = ?1")?
                        .query_row([zdict], |r| r.get(0))
                        .optional()?;
                    let d = d.ok_or_else(|| corrupt(format!("dictionary {zdict} is missing")))?;
                    e.insert(DecoderDictionary::copy(&d))
                }
            };
            self.dctx.decompress_using_ddict(out, bytes, dict.as_ddict())
        };
        let n = done.map_err(|code| corrupt(zstd::zstd_safe::get_error_name(code).to_string()))?;
        if n as u64 != size {
            return Err(corrupt(format!("{n} bytes instead of {size}")));
        }
        Ok(())
    }

    /// [`Unpacker::unpack_into`] into a new buffer.
    pub fn unpack(
        &mut self,
        conn: &Connection,
        bytes: Vec<u8>,
        zdict: Option<i64>,
        what: &dyn Fn() -> String,
    ) -> Result<Vec<u8>> {
        if zdict.is_none() {
            return Ok(bytes);
        }
        let mut out = Vec::new();
        self.unpack_into(conn, &bytes, zdict, &mut out, what)?;
        Ok(out)
    }
}

/// Inserts `dict` into `dicts` (the transaction of the first row that needs it).
pub(crate) fn insert_dict(conn: &Connection, dict: &Dict) -> Result<()> {
    conn.prepare_cached("INSERT OR IGNORE INTO dicts(id, blob, platform, bytes) VALUES (?1, ?2, ?3, ?4)")?
        .execute(rusqlite::params![
            dict.id,
            dict.blob.as_str(),
            dict.platform,
            dict.bytes
        ])?;
    Ok(())
}
