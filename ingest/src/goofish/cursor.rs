//! The Goofish connector's resume position, committed with the batches (through the
//! runtime's window, so a stored position never passes a batch that failed to commit).
//!
//! Stored as JSON `{"pts": i64, "high_pts": i64, "seq": i64, "backfilled": bool, "convs":
//! {cid: ms}}`:
//! - `pts` / `high_pts` / `seq`: the sync stream position (`maxPts`, `maxHighPts`, `endSeq`) of
//!   the newest committed `/s/sync` push, sent in `/r/SyncStatus/ackDiff` on reconnect. No
//!   source says the server then replays what arrived after it ([XAA]/[XYA] send their own
//!   `pts`, [GC] echoes `getState`), so nothing relies on it: see `recover.rs`.
//! - `convs`: per conversation, the high-water mark: the create time (ms) of the newest
//!   message archived, from live pushes, backfill and recovery. After every reconnect the
//!   conversations whose newest message is past it are paged back to it (`recover.rs`).
//! - `groups`: conversations the list calls groups, so live pushes are labelled right.
//! - `backfilled`: history backfill finished once; a restart does not repeat it unless
//!   `chatvault run --backfill` asks for it.
//!
//! A cursor with `pts == 0` means "no sync position yet": the connector then acknowledges the
//! server's own state from `/r/SyncStatus/getState` and relies on backfill for older history.

use std::collections::{BTreeMap, BTreeSet};

use proto::Cursor;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::codec::SyncPosition;

/// The resume position.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncCursor {
    /// Newest committed `maxPts`.
    #[serde(default)]
    pub pts: i64,
    /// Newest committed `maxHighPts`.
    #[serde(default)]
    pub high_pts: i64,
    /// Newest committed `endSeq`.
    #[serde(default)]
    pub seq: i64,
    /// Backfill completed.
    #[serde(default)]
    pub backfilled: bool,
    /// Conversation id → create time (ms) of its newest archived message.
    #[serde(default)]
    pub convs: BTreeMap<String, i64>,
    /// Conversations the conversation list calls groups (`conversationType` 2): live pushes
    /// carry no such field, so their messages are labelled from this.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub groups: BTreeSet<String>,
}

impl SyncCursor {
    /// From the stored cursor; anything unreadable is a fresh start (logged by the caller).
    pub fn from_stored(c: Option<&Cursor>) -> Option<SyncCursor> {
        c.and_then(|c| serde_json::from_value(c.clone()).ok())
    }

    /// As stored.
    pub fn to_json(&self) -> Cursor {
        // Plain integers and a bool: serializing cannot fail.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Whether a sync position is known.
    pub fn has_position(&self) -> bool {
        self.pts > 0
    }

    /// Moves forward to `p` (never backwards).
    pub fn advance(&mut self, p: SyncPosition) {
        if p.pts > self.pts {
            self.pts = p.pts;
            self.high_pts = self.high_pts.max(p.high_pts);
            self.seq = self.seq.max(p.seq);
        }
    }

    /// Notes that a message of `cid` created at `at` (ms) is archived (never goes back).
    pub fn saw(&mut self, cid: &str, at: i64) {
        if cid.is_empty() || at <= 0 {
            return;
        }
        // A known conversation (nearly every message) is updated without allocating its key.
        match self.convs.get_mut(cid) {
            Some(e) => *e = (*e).max(at),
            None => {
                self.convs.insert(cid.to_string(), at);
            }
        }
    }

    /// Remembers which listed conversations are groups.
    pub fn learn_groups(&mut self, convs: &[super::backfill::Conv]) {
        for c in convs {
            if c.group {
                self.groups.insert(c.cid.clone());
            } else {
                self.groups.remove(&c.cid);
            }
        }
    }

    /// The high-water mark of a conversation.
    pub fn mark(&self, cid: &str) -> Option<i64> {
        self.convs.get(cid).copied()
    }

    /// Takes the position from a `getState` answer (first start).
    pub fn adopt_state(&mut self, state: &Value) {
        let get = |k: &str| state.get(k).and_then(super::content::as_i64).unwrap_or(0);
        self.advance(SyncPosition {
            pts: get("pts"),
            high_pts: get("highPts"),
            seq: get("seq"),
        });
    }

    /// The `/r/SyncStatus/ackDiff` argument for this position (the \[XAA\] shape).
    pub fn ack_diff_arg(&self, now: i64) -> Value {
        json!({
            "pipeline": "sync",
            "tooLong2Tag": "PNM,1",
            "channel": "sync",
            "topic": "sync",
            "highPts": self.high_pts,
            "pts": self.pts,
            "seq": self.seq,
            "timestamp": now,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_moves_backwards_and_round_trips() {
        let mut c = SyncCursor::default();
        c.advance(SyncPosition {
            pts: 10,
            high_pts: 1,
            seq: 3,
        });
        c.advance(SyncPosition {
            pts: 7,
            high_pts: 9,
            seq: 9,
        });
        assert_eq!((c.pts, c.seq), (10, 3));
        c.backfilled = true;
        c.saw("c1", 50);
        c.saw("c1", 40);
        assert_eq!(c.mark("c1"), Some(50));
        assert_eq!(SyncCursor::from_stored(Some(&c.to_json())), Some(c));
        assert_eq!(SyncCursor::from_stored(Some(&json!("garbage"))), None);
    }
}
