//! Checking a bundle offline, with nothing but the file: every file against the manifest,
//! every event's hash recomputed from the hash before it and the bytes the chain hashed, every
//! message re-folded from its events and compared with what `messages.jsonl` says, every
//! attachment against its name. The first thing that does not hold is reported, named.
//!
//! What this proves: each event's bytes are the ones its recorded hash covers, and that hash
//! follows the recorded hash of the event before it (`sha256(prev ‖ seq ‖ payload ‖
//! sha256(raw))`, as the archive's chain computes it); the messages' states are what those
//! events fold to; nothing in the bundle changed after the manifest was written. What it
//! cannot prove alone: that those hashes are the live archive's. The chain is linear, so the
//! bundle carries no path from its events to the head without every event in between (which
//! would leak messages outside the reader's scope); `chatvault verify --expect-head SEQ:HASH`
//! on the archive, or an anchor kept off the box, ties a recorded position to the chain.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Seek};
use std::path::Path;

use proto::MessageKey;
use serde::Serialize;
use sha2::{Digest, Sha256};
use store::{Envelope, FoldInput};
use zip::ZipArchive;

use crate::format::{
    ATTACHMENTS, EVENTS, EventLine, FORMAT, MANIFEST, MESSAGES, Manifest, MessageLine, Position, VERSION,
};
use crate::{BundleError, json};

/// A chain position the bundle must record (`--expect-head`): with a seq, the bundle's head
/// or its event at that seq must have `hash`; without, its head or one of its events must.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// Log position, when given.
    pub seq: Option<u64>,
    /// Hex sha256, lower case.
    pub hash: String,
}

/// The first thing in a bundle that does not check out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// What it is in (`messages.jsonl`, `events.jsonl seq 12`, `message yunhu/team/c1/m3`,
    /// `attachments/ab12…`, `manifest.json` …).
    pub item: String,
    /// What is wrong with it.
    pub what: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.item, self.what)
    }
}

/// What a check found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Everything checked out.
    pub ok: bool,
    /// Hex sha256 of the whole bundle file (the access log records it when the UI makes one).
    pub bundle_sha256: String,
    /// The first problem, if any.
    pub problem: Option<Problem>,
    /// Who made it and when, from where (from the manifest, when it reads).
    pub created_by: Option<String>,
    /// When.
    pub created_at: Option<String>,
    /// Where the selection came from.
    pub origin: Option<serde_json::Value>,
    /// The chain head it records.
    pub chain_head: Option<Position>,
    /// Messages re-folded.
    pub messages: u64,
    /// Events whose hash was recomputed.
    pub events: u64,
    /// Attachments re-hashed.
    pub attachments: u64,
    /// `--expect-head` positions that matched.
    pub positions_checked: u64,
}

/// Checks the bundle file at `path`. `Err` only when the file cannot be read at all; a bundle
/// that reads but does not check out is a report with `ok: false`.
pub fn check_file(path: &Path, expect: &[Expected]) -> Result<Report, BundleError> {
    let io = |e: std::io::Error| BundleError::Io {
        context: format!("reading `{}`", path.display()),
        source: e,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let (sha, _) = sha256_of(&mut f).map_err(io)?;
    f.rewind().map_err(io)?;
    Ok(check(f, sha, expect))
}

/// The hex sha256 and the size of what `r` reads to its end, read in pieces (a bundle with
/// its attachments can be large): what a bundle file is known by, in a report and in the
/// reviewer UI's access log.
pub fn sha256_of(mut r: impl Read) -> std::io::Result<(String, u64)> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hex::encode(h.finalize()), size))
}

/// Checks a bundle read from `r`, whose sha256 is `bundle_sha256`.
pub fn check<R: Read + Seek>(r: R, bundle_sha256: String, expect: &[Expected]) -> Report {
    let mut report = Report {
        ok: false,
        bundle_sha256,
        problem: None,
        created_by: None,
        created_at: None,
        origin: None,
        chain_head: None,
        messages: 0,
        events: 0,
        attachments: 0,
        positions_checked: 0,
    };
    match run(r, expect, &mut report) {
        Ok(()) => report.ok = true,
        Err(p) => report.problem = Some(p),
    }
    report
}

fn problem(item: impl Into<String>, what: impl Into<String>) -> Problem {
    Problem {
        item: item.into(),
        what: what.into(),
    }
}

type Checked<T> = Result<T, Problem>;

fn run<R: Read + Seek>(r: R, expect: &[Expected], report: &mut Report) -> Checked<()> {
    let mut zip = ZipArchive::new(r).map_err(|e| problem("the bundle", format!("is not a readable zip file: {e}")))?;
    let mut names = BTreeSet::new();
    for (i, name) in zip.file_names().enumerate() {
        let name = name
            .map_err(|e| problem("the bundle", format!("the name of entry {i} does not read: {e}")))?
            .into_owned();
        if !names.insert(name.clone()) {
            return Err(problem(name, "is in the bundle twice"));
        }
    }
    let manifest: Manifest = {
        let bytes = read(&mut zip, MANIFEST)?;
        serde_json::from_slice(&bytes).map_err(|e| problem(MANIFEST, format!("does not parse: {e}")))?
    };
    if manifest.format != FORMAT || manifest.version != VERSION {
        return Err(problem(
            MANIFEST,
            format!(
                "is `{}` version {}, this chatvault reads `{FORMAT}` version {VERSION}",
                manifest.format, manifest.version
            ),
        ));
    }
    report.created_by = Some(manifest.created_by.clone());
    report.created_at = Some(manifest.created_at.clone());
    report.origin = Some(manifest.origin.clone());
    report.chain_head = Some(manifest.chain_head.clone());

    // Every file against the manifest, and no file it does not list.
    let mut contents: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for f in &manifest.files {
        if !names.contains(&f.path) {
            return Err(problem(&f.path, "is listed in the manifest but not in the bundle"));
        }
        let bytes = read(&mut zip, &f.path)?;
        let sha = hex::encode(Sha256::digest(&bytes));
        if sha != f.sha256 || bytes.len() as u64 != f.size {
            return Err(problem(
                &f.path,
                format!(
                    "its bytes ({} bytes, sha256 {sha}) are not the ones the manifest lists ({} bytes, sha256 {})",
                    bytes.len(),
                    f.size,
                    f.sha256
                ),
            ));
        }
        contents.insert(f.path.clone(), bytes);
    }
    for n in &names {
        if n != MANIFEST && !contents.contains_key(n) {
            return Err(problem(n, "is in the bundle but not in the manifest"));
        }
    }

    let attachments = check_attachments(&contents)?;
    report.attachments = attachments.len() as u64;
    let events = check_events(&contents, &manifest)?;
    report.events = events.len() as u64;
    report.messages = check_messages(&contents, &manifest, &events, &attachments)?;
    report.positions_checked = check_expected(expect, &manifest)?;
    Ok(())
}

fn read<R: Read + Seek>(zip: &mut ZipArchive<R>, name: &str) -> Checked<Vec<u8>> {
    let mut f = zip
        .by_name(name)
        .map_err(|e| problem(name, format!("is missing or unreadable: {e}")))?;
    let mut buf = Vec::new();
    // The zip layer's own CRC check fails here on a damaged entry.
    f.read_to_end(&mut buf)
        .map_err(|e| problem(name, format!("does not read back: {e}")))?;
    Ok(buf)
}

/// Each `attachments/<sha256>` hashes to its name. Returns the names.
fn check_attachments(contents: &BTreeMap<String, Vec<u8>>) -> Checked<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    for (path, bytes) in contents {
        let Some(name) = path.strip_prefix(ATTACHMENTS) else {
            if path != MESSAGES && path != EVENTS {
                return Err(problem(path, "is not part of the bundle format"));
            }
            continue;
        };
        let sha = hex::encode(Sha256::digest(bytes));
        if sha != name {
            return Err(problem(path, format!("its bytes hash to {sha}, not to its name")));
        }
        out.insert(name.to_string());
    }
    Ok(out)
}

/// Every line of `events.jsonl`: in seq order, each hash recomputed from the previous hash and
/// the hashed bytes, consecutive events linked, the manifest's list and chain head agreeing.
/// Returns each event's envelope by seq.
fn check_events(contents: &BTreeMap<String, Vec<u8>>, manifest: &Manifest) -> Checked<BTreeMap<u64, Envelope>> {
    let bytes = contents
        .get(EVENTS)
        .ok_or_else(|| problem(EVENTS, "is not in the bundle"))?;
    let text = std::str::from_utf8(bytes).map_err(|_| problem(EVENTS, "is not UTF-8"))?;
    let mut out = BTreeMap::new();
    let mut last: Option<EventLine> = None;
    let mut lines: Vec<Position> = Vec::new();
    let head = &manifest.chain_head;
    for (n, line) in text.lines().enumerate() {
        let at = |what: &str| format!("{EVENTS} line {}{what}", n + 1);
        let l: EventLine = serde_json::from_str(line).map_err(|e| problem(at(""), format!("does not parse: {e}")))?;
        let item = at(&format!(" (seq {})", l.seq));
        if let Some(p) = &last
            && l.seq <= p.seq
        {
            return Err(problem(
                item,
                format!("comes after seq {}: events are not in log order", p.seq),
            ));
        }
        let prev = hash32(&l.prev_hash).ok_or_else(|| problem(&item, "its prev_hash is not a sha256"))?;
        let raw_sha = hash32(&l.raw_sha256).ok_or_else(|| problem(&item, "its raw_sha256 is not a sha256"))?;
        if l.seq == 0 {
            return Err(problem(item, "seq 0 is not an event"));
        }
        if l.seq == 1 && prev != [0u8; 32] {
            return Err(problem(
                item,
                "the first event of a log follows no hash, yet prev_hash is set",
            ));
        }
        if let Some(p) = &last
            && p.seq + 1 == l.seq
            && p.hash != l.prev_hash
        {
            return Err(problem(
                item,
                format!(
                    "its prev_hash {} is not the hash {} of seq {}, the event before it",
                    l.prev_hash, p.hash, p.seq
                ),
            ));
        }
        let hash = hex::encode(store::chain_link(&prev, l.seq, l.payload.as_bytes(), &raw_sha));
        if hash != l.hash {
            return Err(problem(
                item,
                format!(
                    "its bytes hash to {hash} after prev_hash, not to its recorded hash {}: the event was changed",
                    l.hash
                ),
            ));
        }
        if l.seq > head.seq || (l.seq == head.seq && l.hash != head.hash) {
            return Err(problem(
                item,
                format!(
                    "does not fit the chain head the manifest records ({}:{})",
                    head.seq, head.hash
                ),
            ));
        }
        let env: Envelope = serde_json::from_str(&l.payload)
            .map_err(|e| problem(&item, format!("its payload is not an event envelope: {e}")))?;
        out.insert(l.seq, env);
        lines.push(Position {
            seq: l.seq,
            hash: l.hash.clone(),
        });
        last = Some(l);
    }
    // The manifest lists the same events with the same (recomputed) hashes, in the same order.
    for i in 0..manifest.events.len().max(lines.len()) {
        let (item, what) = match (manifest.events.get(i), lines.get(i)) {
            (Some(a), Some(b)) if a == b => continue,
            (Some(a), Some(b)) if a.seq == b.seq => (
                format!("{EVENTS} seq {}", a.seq),
                format!("has hash {}, the manifest lists {}", b.hash, a.hash),
            ),
            (Some(a), Some(b)) => (
                format!("{EVENTS} seq {}", a.seq),
                format!(
                    "is listed in the manifest but {EVENTS} holds seq {} in its place: an event was dropped or added",
                    b.seq
                ),
            ),
            (Some(a), None) => (
                format!("{EVENTS} seq {}", a.seq),
                format!("is listed in the manifest but missing from {EVENTS}"),
            ),
            (None, Some(b)) => (
                format!("{EVENTS} seq {}", b.seq),
                "is not listed in the manifest".into(),
            ),
            (None, None) => continue,
        };
        return Err(problem(item, what));
    }
    Ok(out)
}

/// Every line of `messages.jsonl`: its events are exactly those of `events.jsonl` that carry
/// its identity, and the fold of them equals the state and revisions the line gives. Returns
/// the number of messages.
fn check_messages(
    contents: &BTreeMap<String, Vec<u8>>,
    manifest: &Manifest,
    events: &BTreeMap<u64, Envelope>,
    attachments: &BTreeSet<String>,
) -> Checked<u64> {
    let bytes = contents
        .get(MESSAGES)
        .ok_or_else(|| problem(MESSAGES, "is not in the bundle"))?;
    let text = std::str::from_utf8(bytes).map_err(|_| problem(MESSAGES, "is not UTF-8"))?;
    // Which message each event belongs to, by its envelope.
    let mut by_key: BTreeMap<MessageKey, Vec<u64>> = BTreeMap::new();
    for (seq, env) in events {
        let Some(msg_id) = env.event.msg_id.clone() else {
            return Err(problem(
                format!("{EVENTS} seq {seq}"),
                "is not a message event, so it belongs to no message of the bundle",
            ));
        };
        by_key
            .entry(MessageKey {
                platform: env.platform,
                account: env.account.clone(),
                chat_id: env.event.chat_id.clone(),
                msg_id,
            })
            .or_default()
            .push(*seq);
    }
    let mut seen = BTreeSet::new();
    let mut named_blobs = BTreeSet::new();
    let mut n = 0u64;
    for (i, line) in text.lines().enumerate() {
        let m: MessageLine = serde_json::from_str(line)
            .map_err(|e| problem(format!("{MESSAGES} line {}", i + 1), format!("does not parse: {e}")))?;
        let item = format!("message {}", m.key);
        if !seen.insert(m.key.clone()) {
            return Err(problem(item, "is in messages.jsonl twice"));
        }
        let mine = by_key.get(&m.key).cloned().unwrap_or_default();
        if let Some(s) = m.events.iter().find(|s| !events.contains_key(s)) {
            return Err(problem(
                item,
                format!("lists event seq {s}, which events.jsonl does not hold"),
            ));
        }
        if m.events != mine {
            let missing: Vec<_> = mine.iter().filter(|s| !m.events.contains(s)).collect();
            let foreign: Vec<_> = m.events.iter().filter(|s| !mine.contains(s)).collect();
            return Err(problem(
                item,
                format!(
                    "its event list {:?} is not the events of this message in events.jsonl {mine:?} \
                     (not listed: {missing:?}; of another message: {foreign:?})",
                    m.events
                ),
            ));
        }
        let inputs: Vec<FoldInput> = mine
            .iter()
            .map(|s| {
                let env = &events[s];
                FoldInput {
                    seq: *s,
                    occurred_at: env.event.occurred_at.unwrap_or(env.received_at),
                    received_at: env.received_at,
                    event: env.event.clone(),
                }
            })
            .collect();
        let (record, revisions) = store::fold_message(&m.key, &inputs);
        let Some(record) = record else {
            return Err(problem(item, "its events hold no `message` event to fold from"));
        };
        let folded = json::record(&record);
        if folded != m.record {
            return Err(problem(
                item,
                format!(
                    "the state messages.jsonl gives differs from the fold of its events in {}",
                    differing_fields(&folded, &m.record)
                ),
            ));
        }
        if json::revisions(&revisions) != m.revisions {
            return Err(problem(item, "its revisions differ from the fold of its events"));
        }
        for (index, a) in record.attachments.iter().enumerate() {
            let Some(sha) = a.sha256.as_deref().map(str::to_ascii_lowercase) else {
                continue;
            };
            named_blobs.insert(sha.clone());
            let left_out = manifest
                .attachments_left_out
                .iter()
                .any(|l| l.message == m.key && l.index == index);
            if !attachments.contains(&sha) && !left_out {
                return Err(problem(
                    format!("{ATTACHMENTS}{sha}"),
                    format!(
                        "attachment {index} of {} is neither in the bundle nor listed as left out",
                        m.key
                    ),
                ));
            }
        }
        n += 1;
    }
    if let Some(k) = by_key.keys().find(|k| !seen.contains(*k)) {
        return Err(problem(
            format!("message {k}"),
            "events.jsonl holds its events but messages.jsonl has no line for it",
        ));
    }
    if let Some(a) = attachments.iter().find(|a| !named_blobs.contains(*a)) {
        return Err(problem(
            format!("{ATTACHMENTS}{a}"),
            "no message of the bundle names this attachment",
        ));
    }
    if n != manifest.messages {
        return Err(problem(
            MANIFEST,
            format!("says {} messages, messages.jsonl holds {n}", manifest.messages),
        ));
    }
    Ok(n)
}

/// The top-level fields in which two records differ, for the report.
fn differing_fields(a: &serde_json::Value, b: &serde_json::Value) -> String {
    match (a.as_object(), b.as_object()) {
        (Some(a), Some(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            keys.into_iter()
                .filter(|k| a.get(*k) != b.get(*k))
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        }
        _ => "its shape".into(),
    }
}

/// Each expected position against the head and events the manifest records (whose hashes
/// were all recomputed by now). Returns how many were checked.
fn check_expected(expect: &[Expected], manifest: &Manifest) -> Checked<u64> {
    let head = &manifest.chain_head;
    for e in expect {
        let item = match e.seq {
            Some(s) => format!("--expect-head {s}:{}", e.hash),
            None => format!("--expect-head {}", e.hash),
        };
        let recorded = std::iter::once(head).chain(&manifest.events);
        let ok = match e.seq {
            Some(seq) => match recorded.clone().find(|p| p.seq == seq) {
                Some(p) if p.hash == e.hash => true,
                Some(p) => {
                    return Err(problem(
                        item,
                        format!("the bundle records hash {} at seq {seq}", p.hash),
                    ));
                }
                None => false,
            },
            None => recorded.clone().any(|p| p.hash == e.hash),
        };
        if !ok {
            return Err(problem(
                item,
                format!(
                    "the bundle records no such position (its chain head is {}:{}, its events are seqs {})",
                    head.seq,
                    head.hash,
                    manifest
                        .events
                        .iter()
                        .map(|p| p.seq.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    Ok(expect.len() as u64)
}

fn hash32(hex_s: &str) -> Option<[u8; 32]> {
    hex::decode(hex_s).ok()?.try_into().ok()
}
