//! `verify`: recompute the hash chain, check it passes through every recorded chain position,
//! re-fold every message, chat and member list from the log, and check the bookkeeping that
//! decides what the writer does next (`dedup`, `cursors`) against the log.
//!
//! Everything is read in one read transaction, so a live archive is checked as one snapshot:
//! events appended meanwhile are neither half-seen nor reported as mismatches. Anchors are read
//! before the snapshot starts, so each of them names a seq the snapshot holds.
//!
//! - `chain.rs`: the walk in seq order (chain links, row columns, chain positions, which
//!   `dedup` entries an event accounts for, the chat-level events);
//! - `projection.rs`: the walk by message identity (`messages`, `revisions`, and the chat
//!   counts that follow from them);
//! - `state.rs`: `chats`, `members`, `dedup` and `cursors` against what the walks found.

mod chain;
mod projection;
mod state;

use std::collections::HashMap;

use crate::Result;
use crate::anchors::{self, Anchor};
use crate::reader::StoreReader;
use crate::types::VerifyReport;

/// Most mismatches listed per kind; the count of the rest is given.
const LISTED: usize = 20;

/// A chain position `verify` must find: "the event at `seq` still has hash `hash`". Without a
/// seq, the event whose stored hash is `hash` is looked for and then checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    /// Log position, when known.
    pub seq: Option<u64>,
    /// Hex sha256, lower case.
    pub hash: String,
    /// Where it comes from, for the failure message (`--expect-head`, `anchors line 3` …).
    pub source: String,
}

impl Expectation {
    /// An expectation of `anchor` from `source`.
    pub fn at(anchor: &Anchor, source: impl Into<String>) -> Expectation {
        Expectation {
            seq: Some(anchor.seq),
            hash: anchor.hash.clone(),
            source: source.into(),
        }
    }
}

impl StoreReader {
    /// Verifies the archive: the hash chain, every anchor in the data directory's anchors
    /// file, the projections and the bookkeeping. `progress` gets the seq reached.
    pub fn verify(&self, progress: &mut dyn FnMut(u64)) -> Result<VerifyReport> {
        self.verify_with(&[], progress)
    }

    /// [`StoreReader::verify`], and also each of `expect`.
    pub fn verify_with(&self, expect: &[Expectation], progress: &mut dyn FnMut(u64)) -> Result<VerifyReport> {
        let mut all: Vec<Expectation> = expect.to_vec();
        let mut failures = Vec::new();
        // Read before the snapshot starts: every anchor then names a committed seq it holds.
        for (line, parsed) in anchors::read(&self.dir)? {
            match parsed {
                Ok(a) => all.push(Expectation::at(
                    &a,
                    format!("anchor ({} line {line})", anchors::ANCHORS_FILE),
                )),
                Err(why) => failures.push(format!("the anchors file is damaged: {why}")),
            }
        }
        let tx = self.conn.unchecked_transaction()?;
        let mut unpacker = self.unpacker.borrow_mut();
        let mut dedup = state::load_dedup(&tx)?;
        let walk = chain::walk(&tx, &mut unpacker, &all, &mut dedup, progress)?;
        let mut mismatches = Vec::new();
        let folded = projection::walk(&tx, self.scheme, &mut unpacker, &mut mismatches)?;
        state::check_chats(&tx, &folded.chats, &walk.chat_names, &mut mismatches)?;
        state::check_members(&tx, &walk.members, &mut mismatches)?;
        let mut bookkeeping = Vec::new();
        state::report_dedup(&dedup, &mut bookkeeping);
        state::check_cursors(&tx, walk.head.seq, &mut bookkeeping)?;
        failures.extend(check_expectations(&all, &walk));
        drop(tx);
        let ok = walk.first_bad.is_none() && mismatches.is_empty() && bookkeeping.is_empty() && failures.is_empty();
        Ok(VerifyReport {
            events: walk.events,
            messages: folded.messages,
            ok,
            head: walk.head,
            first_bad_seq: walk.first_bad,
            projection_mismatches: mismatches,
            bookkeeping_mismatches: bookkeeping,
            positions_checked: all.len() as u64,
            position_failures: failures,
        })
    }
}

/// Each expectation against the recomputed hashes the chain walk found.
fn check_expectations(all: &[Expectation], walk: &chain::Walk) -> Vec<String> {
    let mut out = Vec::new();
    for (i, e) in all.iter().enumerate() {
        let found = walk.found.get(&i);
        // Seq 0 is the empty log, whose hash is all zeros: on every chain.
        if e.seq == Some(0) && e.hash == hex::encode(crate::chain::ZERO) {
            continue;
        }
        let line = match (e.seq, found) {
            (_, Some(chain::Found { seq, hash: Some(h) })) if *h == e.hash => continue,
            (_, Some(chain::Found { seq, hash: Some(h) })) => format!(
                "{}: the event at seq {seq} now hashes to {h}, expected {}: the log up to seq {seq} was \
                 rewritten since that position was recorded",
                e.source, e.hash
            ),
            (_, Some(chain::Found { seq, hash: None })) => format!(
                "{}: the event at seq {seq} does not decode, so the log cannot show hash {}",
                e.source, e.hash
            ),
            (Some(seq), None) => format!(
                "{}: seq {seq} is past the end of the log (seq {}): events recorded at {seq}:{} were \
                 removed since",
                e.source, walk.head.seq, e.hash
            ),
            (None, None) => format!(
                "{}: no event of the log has hash {}: the event it named was removed or rewritten \
                 (give SEQ:HASH to name the position)",
                e.source, e.hash
            ),
        };
        out.push(line);
    }
    out
}

/// Pushes `line` unless [`LISTED`] lines are there already.
fn push_listed(list: &mut Vec<String>, line: String) {
    if list.len() < LISTED {
        list.push(line);
    }
}

/// Expectations by seq, and those without a seq by hash (indexes into the expectation list).
type Wanted = (HashMap<u64, Vec<usize>>, HashMap<String, Vec<usize>>);

fn wanted(all: &[Expectation]) -> Wanted {
    let (mut by_seq, mut by_hash): Wanted = Default::default();
    for (i, e) in all.iter().enumerate() {
        match e.seq {
            Some(s) => by_seq.entry(s).or_default().push(i),
            None => by_hash.entry(e.hash.clone()).or_default().push(i),
        }
    }
    (by_seq, by_hash)
}
