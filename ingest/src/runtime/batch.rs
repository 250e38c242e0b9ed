//! Gathering what is readable into one batch: a burst of frames costs the store one batch
//! (one slot in its channel, one share of a group commit), a lone frame goes at once.
//!
//! A connector awaits its first frame, then keeps taking frames that are already readable
//! (`now_or_never`, never waiting for more) until [`Batch::is_full`] says stop: a count of
//! items, a number of raw payload bytes, or a time spent gathering, whichever comes first,
//! so a steady stream still lets commit notices (and the acks behind them) through.

use proto::Ingested;
use tokio::time::{Duration, Instant};

/// When a batch is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    max_items: usize,
    max_bytes: usize,
    gather_for: Duration,
}

impl Default for BatchLimits {
    /// 512 items, 4 MiB, 50 ms: large enough that the store writer sees large groups even on
    /// a busy host where decoding is slow, far below any platform's heartbeat window.
    fn default() -> Self {
        BatchLimits::new(512, 4 << 20, Duration::from_millis(50))
    }
}

impl BatchLimits {
    /// At most `max_items` items (at least one), `max_bytes` raw bytes, `gather_for` spent.
    pub fn new(max_items: usize, max_bytes: usize, gather_for: Duration) -> Self {
        BatchLimits {
            max_items: max_items.max(1),
            max_bytes: max_bytes.max(1),
            gather_for,
        }
    }
}

/// Items gathered for one batch and what to release (acks, a position) once it commits.
#[derive(Debug)]
pub struct Batch<A> {
    items: Vec<Ingested>,
    acks: Vec<A>,
    bytes: usize,
    started: Instant,
    limits: BatchLimits,
}

impl<A> Batch<A> {
    /// An empty batch; its gathering time starts now.
    pub fn new(limits: BatchLimits) -> Self {
        Batch {
            items: Vec::new(),
            acks: Vec::new(),
            bytes: 0,
            started: Instant::now(),
            limits,
        }
    }

    /// Adds an item (a payload or a reject), counting its raw bytes.
    pub fn push(&mut self, item: Ingested) {
        self.bytes += raw_len(&item);
        self.items.push(item);
    }

    /// Adds something to release once the batch committed.
    pub fn ack(&mut self, ack: A) {
        self.acks.push(ack);
    }

    /// Whether to stop gathering: enough items, enough bytes, or gathering took long enough.
    pub fn is_full(&self) -> bool {
        self.items.len() >= self.limits.max_items
            || self.bytes >= self.limits.max_bytes
            || self.started.elapsed() >= self.limits.gather_for
    }

    /// Items gathered so far.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Nothing to store and nothing to release.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty() && self.acks.is_empty()
    }

    /// Raw payload bytes gathered so far.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The items and what to release after they commit.
    pub fn into_parts(self) -> (Vec<Ingested>, Vec<A>) {
        (self.items, self.acks)
    }
}

/// The raw payload size of an item: what the window and the batch count.
pub fn raw_len(item: &Ingested) -> usize {
    match item {
        Ingested::Payload { raw, .. } | Ingested::Rejected { raw, .. } => raw.bytes.len(),
    }
}
