//! Back-pressure from the search index: the writer holds its next commit while the index is
//! more than `max_lag` events behind the log, so the archive never runs far ahead of what can
//! be searched (and the indexer's reads stay small).
//!
//! Archiving must never depend on a derived index, so a hold is short: at most `max_hold`
//! per commit, after which the commit goes ahead whatever the lag (an index being rebuilt
//! from scratch, or a dead indexer, then costs each commit `max_hold` of latency, while the
//! groups grow to the writer's limits). Until an indexer reports its position, and once it
//! has stopped, there is no hold at all.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Not reported yet (no indexer, or one still opening).
const UNKNOWN: u64 = u64::MAX;

/// The seq up to which the search indexer has taken in the log (searchable at its next
/// commit), shared by the indexer (who sets it) and the writer's [`IndexGate`] (who reads it).
#[derive(Debug, Clone)]
pub struct IndexProgress(Arc<AtomicU64>);

impl Default for IndexProgress {
    fn default() -> Self {
        IndexProgress(Arc::new(AtomicU64::new(UNKNOWN)))
    }
}

impl IndexProgress {
    /// The indexer has taken in every event up to `seq`.
    pub fn set(&self, seq: u64) {
        self.0.store(seq, Ordering::Relaxed);
    }

    /// The indexer stopped (an error, a panic, shutdown): no more holds for it, so a dead
    /// indexer never delays commits.
    pub fn clear(&self) {
        self.0.store(UNKNOWN, Ordering::Relaxed);
    }

    /// The last seq reported, if any.
    pub fn get(&self) -> Option<u64> {
        Some(self.0.load(Ordering::Relaxed)).filter(|&s| s != UNKNOWN)
    }
}

/// When the writer holds a commit for the index (see the module doc).
#[derive(Debug, Clone)]
pub struct IndexGate {
    /// What the indexer reports.
    pub progress: IndexProgress,
    /// Events the index may be behind the log before a commit is held.
    pub max_lag: u64,
    /// Longest hold of one commit.
    pub max_hold: Duration,
}

impl IndexGate {
    /// A gate on `progress` with the defaults `run` uses: commits are held while the indexer
    /// has more than 40,000 events left to take in, for 2 s at most. The searchable lag then
    /// stays under 100,000: 40,000, plus one full group of 20,000, plus what the indexer takes
    /// in before its next commit (every 0.5 s while busy: half a second of the archive's rate).
    /// `bench pipeline --n 1000000` saw 72,270 and 74,217 at most with this bound; 25,000 held
    /// commits for 16–19 % of the run, 50,000 let the lag reach 84,703 (docs/performance.md).
    pub fn new(progress: IndexProgress) -> IndexGate {
        IndexGate {
            progress,
            max_lag: 40_000,
            max_hold: Duration::from_secs(2),
        }
    }

    /// Whether the commit that could start now, with the log at `head`, waits; `since` is
    /// when this commit's hold began (kept by the caller, reset when a commit starts).
    pub(super) fn holds(&self, head: u64, since: &mut Option<Instant>, now: Instant) -> bool {
        let behind = self.progress.get().map(|indexed| head.saturating_sub(indexed));
        if behind.is_none_or(|b| b <= self.max_lag) {
            *since = None;
            return false;
        }
        now.duration_since(*since.get_or_insert(now)) < self.max_hold
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(max_lag: u64, hold_ms: u64) -> IndexGate {
        IndexGate {
            progress: IndexProgress::default(),
            max_lag,
            max_hold: Duration::from_millis(hold_ms),
        }
    }

    #[test]
    fn no_hold_until_an_indexer_reports_nor_after_it_stopped() {
        let g = gate(10, 1000);
        let mut since = None;
        assert!(!g.holds(1_000_000, &mut since, Instant::now()));
        g.progress.set(0);
        assert!(g.holds(1_000_000, &mut since, Instant::now()));
        g.progress.clear();
        assert!(!g.holds(1_000_000, &mut since, Instant::now()));
    }

    #[test]
    fn a_commit_waits_while_the_index_is_too_far_behind_but_never_longer_than_the_hold() {
        let g = gate(10, 1000);
        g.progress.set(100);
        let t0 = Instant::now();
        let mut since = None;
        assert!(!g.holds(110, &mut since, t0), "10 behind is within the bound");
        assert!(g.holds(111, &mut since, t0));
        assert!(g.holds(111, &mut since, t0 + Duration::from_millis(999)));
        assert!(
            !g.holds(111, &mut since, t0 + Duration::from_millis(1000)),
            "the hold ends"
        );
        // The index catching up ends a hold at once and starts the next one afresh.
        let mut since = None;
        assert!(g.holds(500, &mut since, t0));
        g.progress.set(495);
        assert!(!g.holds(500, &mut since, t0 + Duration::from_millis(1)));
        assert_eq!(since, None);
    }
}
