//! The in-flight window: batches handed to the store writer without waiting for their
//! commits, and what each one releases (platform acks, a resume position) once it is
//! committed.
//!
//! Invariant 1 lives here: a release comes out of [`Window::next`] only after its batch's
//! commit notice said `Ok`, and strictly in send order (a later batch that committed first
//! waits for the earlier one). A failed or lost notice ends the window: that batch and every
//! batch sent after it are forgotten unreleased, so the platform redelivers them after the
//! reconnect. The window is bounded in batches and in raw payload bytes; a connector stops
//! reading while it is full ([`Window::has_room`]), TCP pushes back, and the platform holds
//! its data until acks free room.
//!
//! Resume positions follow the same rule. A batch is sent with the position of the newest
//! batch *released* so far, never with its own: the store may commit a later batch after
//! failing an earlier one (another group), and a position carried by the later batch would
//! then pass messages that are not in the archive, which a restart would skip for good. So
//! the stored position lags what is in flight by at most one window (a restart re-reads that
//! much; the store records duplicates once), and [`Window::settle_cursor`] stores the newest
//! released position once nothing is in flight (shutdown, idle).
//!
//! A batch may also carry no position: one that grows with the account (Yunhu's lists every
//! chat) would cost a serialization and a store write of all of it per batch, so such a
//! connector gives its position with a batch only now and then, and hands the exact one to
//! [`Window::settle_at`] once nothing is in flight. A position is compared with the stored
//! one only when a batch releases it, never per batch sent.

use std::collections::VecDeque;

use proto::{CommitError, CommitInfo, Cursor, Ingested};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::batch::raw_len;
use crate::state::StateReporter;
use crate::{ConnectorContext, ConnectorError, EventSender};

/// How much may be in flight at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowLimits {
    max_batches: usize,
    max_bytes: usize,
}

impl Default for WindowLimits {
    /// 32 batches or 64 MiB of raw payloads. Every batch in flight is held decoded (and, at
    /// the writer, prepared): several KiB an event, while the byte bound counts raw payloads
    /// only. At the batch bound (512 items) 32 batches are up to 16,384 events a connector,
    /// about one of the writer's groups, which keeps it fed; 256 batches let a connector that
    /// pushes one message a frame hold 190–460 MiB more at its peak for no faster run
    /// (docs/performance.md, "Memory"). Fewer in flight also bounds what a crash makes the
    /// platform redeliver.
    fn default() -> Self {
        WindowLimits::new(32, 64 << 20)
    }
}

impl WindowLimits {
    /// At most `max_batches` batches and `max_bytes` raw bytes (a single batch always fits).
    pub fn new(max_batches: usize, max_bytes: usize) -> Self {
        WindowLimits {
            max_batches: max_batches.max(1),
            max_bytes: max_bytes.max(1),
        }
    }
}

type Notice = oneshot::Receiver<Result<CommitInfo, CommitError>>;

struct InFlight<R> {
    notice: Notice,
    release: R,
    bytes: usize,
    /// The position after this batch, stored only once the batch is released.
    cursor: Option<Cursor>,
}

/// Batches in flight, in send order, each with what it releases.
pub struct Window<R> {
    out: EventSender,
    state: StateReporter,
    account: String,
    pending: VecDeque<InFlight<R>>,
    bytes: usize,
    limits: WindowLimits,
    /// The position after the newest released batch: everything up to it is committed.
    released: Option<Cursor>,
    /// The newest position handed to the store with a batch or on its own.
    sent: Option<Cursor>,
    /// `released` differs from `sent`: the next batch carries it.
    unsent: bool,
}

impl<R> Window<R> {
    /// An empty window sending on the context's channel.
    pub fn new(cx: &ConnectorContext, limits: WindowLimits) -> Self {
        Window {
            out: cx.out.clone(),
            state: cx.state.clone(),
            account: cx.name.clone(),
            pending: VecDeque::new(),
            bytes: 0,
            limits,
            released: None,
            sent: None,
            unsent: false,
        }
    }

    /// Whether another batch may be sent (an empty window always has room).
    pub fn has_room(&self) -> bool {
        self.pending.is_empty() || (self.pending.len() < self.limits.max_batches && self.bytes < self.limits.max_bytes)
    }

    /// Batches in flight.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Nothing in flight.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Hands a batch to the store writer (waiting for a channel slot, the backpressure point)
    /// and queues `release` behind its commit notice. `cursor` is the position after this
    /// batch; the batch itself carries the newest *released* position (see the module docs).
    /// Does not wait for room: callers check [`Window::has_room`] before reading more.
    pub async fn send(
        &mut self,
        items: Vec<Ingested>,
        cursor: Option<Cursor>,
        release: R,
    ) -> Result<(), ConnectorError> {
        let bytes = items.iter().map(raw_len).sum();
        let carried = if self.unsent { self.released.clone() } else { None };
        let notice = self.out.send(items, carried.clone()).await?;
        if carried.is_some() {
            self.sent = carried;
            self.unsent = false;
        }
        self.bytes += bytes;
        self.pending.push_back(InFlight {
            notice,
            release,
            bytes,
            cursor,
        });
        Ok(())
    }

    /// Stores the newest released position on its own when nothing is in flight and the
    /// store does not have it yet (call on shutdown after draining, and when idle). A no-op
    /// otherwise.
    pub async fn settle_cursor(&mut self) -> Result<(), ConnectorError> {
        if !self.pending.is_empty() || !self.unsent {
            return Ok(());
        }
        let cursor = self.released.clone();
        self.out.commit(Vec::new(), cursor.clone()).await?;
        self.sent = cursor;
        self.unsent = false;
        Ok(())
    }

    /// Like [`Window::settle_cursor`], for a connector whose batches do not all carry their
    /// position: `cursor` is the position after the last released batch, taken as released
    /// when nothing is in flight (a no-op otherwise).
    pub async fn settle_at(&mut self, cursor: Cursor) -> Result<(), ConnectorError> {
        if !self.pending.is_empty() {
            return Ok(());
        }
        self.release_cursor(cursor);
        self.settle_cursor().await
    }

    /// Notes the position after the newest released batch.
    fn release_cursor(&mut self, cursor: Cursor) {
        self.unsent = self.sent.as_ref() != Some(&cursor);
        self.released = Some(cursor);
    }

    /// The oldest batch's release, once its commit notice said `Ok`. Pending forever when
    /// nothing is in flight (so it can sit in a `select!`); cancel-safe. On a failed or lost
    /// notice every batch in flight is forgotten unreleased and the error is returned.
    pub async fn next(&mut self) -> Result<R, ConnectorError> {
        let Some(front) = self.pending.front_mut() else {
            return std::future::pending().await;
        };
        let outcome = (&mut front.notice).await;
        let settled = match outcome {
            Ok(Ok(info)) => Ok(info),
            Ok(Err(e)) => Err(ConnectorError::Store(e)),
            Err(_) => Err(ConnectorError::Closed),
        };
        match settled {
            Ok(info) => {
                let done = self.pending.pop_front().expect("the front was awaited");
                self.bytes -= done.bytes;
                if let Some(c) = done.cursor {
                    self.release_cursor(c);
                }
                crate::metrics::committed(&self.account, &info);
                self.state.touch();
                Ok(done.release)
            }
            Err(e) => {
                self.pending.clear();
                self.bytes = 0;
                // The failed batch may have carried the last position sent: send it again.
                self.sent = None;
                self.unsent = self.released.is_some();
                Err(e)
            }
        }
    }

    /// Like [`Window::next`], but `None` once nothing is in flight or `deadline` passed
    /// (shutdown: release what commits in time, leave the rest for redelivery).
    pub async fn next_before(&mut self, deadline: Instant) -> Option<Result<R, ConnectorError>> {
        if self.pending.is_empty() {
            return None;
        }
        tokio::time::timeout_at(deadline, self.next()).await.ok()
    }
}
