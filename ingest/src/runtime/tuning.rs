//! [`Tuning`]: every timer and bound of a WebSocket connector in one value.
//!
//! Each connector starts from its platform's defaults ([`Tuning::for_platform`]); tests and
//! benchmarks shorten them with the builder methods and hand the result to the connector's
//! `with_tuning`. Defaults are what production runs with.

use std::time::Duration;

use proto::Platform;

use super::batch::BatchLimits;
use super::window::WindowLimits;
use crate::backoff::Backoff;

/// Timers and bounds of a WebSocket connector.
#[derive(Debug, Clone)]
pub struct Tuning {
    pub(crate) backoff: Backoff,
    pub(crate) window: WindowLimits,
    pub(crate) batch: BatchLimits,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) heartbeat: Duration,
    pub(crate) heartbeat_timeout: Duration,
    pub(crate) login_timeout: Duration,
    pub(crate) max_frame_bytes: Option<usize>,
    pub(crate) flow_control_pauses: Vec<Duration>,
}

impl Default for Tuning {
    /// Reconnect 1 s doubling to 60 s (jitter 0.5), 20 s to connect or answer a request, a
    /// heartbeat every 15 s, and the shared window and batch bounds.
    fn default() -> Self {
        Tuning {
            backoff: Backoff::new(Duration::from_secs(1), Duration::from_secs(60)),
            window: WindowLimits::default(),
            batch: BatchLimits::default(),
            connect_timeout: Duration::from_secs(20),
            request_timeout: Duration::from_secs(20),
            heartbeat: Duration::from_secs(15),
            heartbeat_timeout: Duration::from_secs(30),
            login_timeout: Duration::from_secs(10),
            max_frame_bytes: None,
            flow_control_pauses: Vec::new(),
        }
    }
}

impl Tuning {
    /// What a platform's connector runs with unless told otherwise.
    pub fn for_platform(platform: Platform) -> Self {
        let base = Tuning::default();
        match platform {
            // [GC] heartbeat 10 s, [XAA] 5 s to answer it; reconnect 3 s × 5, then exponential
            // with jitter up to 5 minutes; IM flow control answered with 2 s, 4 s, 6 s pauses.
            Platform::Goofish => base
                .backoff(
                    Backoff::new(Duration::from_secs(3), Duration::from_secs(300))
                        .with_fixed(Duration::from_secs(3), 5),
                )
                .heartbeat(Duration::from_secs(10), Duration::from_secs(5))
                .flow_control_pauses(vec![
                    Duration::from_secs(2),
                    Duration::from_secs(4),
                    Duration::from_secs(6),
                ]),
            // No official interval; clients in the wild use 15 s and reconnect after two
            // missed acks.
            Platform::Yunhu => base.heartbeat(Duration::from_secs(15), Duration::from_secs(30)),
            // e-office: the server pings; its handshake sets the deadline.
            _ => base,
        }
    }

    /// Replaces the reconnect policy.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Bounds what is handed to the store and not yet released: `batches` and `bytes` of raw
    /// payload (each at least one batch, so a single large batch can always go).
    pub fn max_in_flight(mut self, batches: usize, bytes: usize) -> Self {
        self.window = WindowLimits::new(batches, bytes);
        self
    }

    /// Bounds one batch gathered from what is readable: `items`, `bytes` of raw payload, and
    /// time spent gathering (so a steady stream still lets commit notices through).
    pub fn batch(mut self, items: usize, bytes: usize, gather_for: Duration) -> Self {
        self.batch = BatchLimits::new(items, bytes, gather_for);
        self
    }

    /// Time allowed to dial and complete the platform's handshake.
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// Time a request may wait for its response.
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }

    /// Heartbeat period, and how long the connection may stay silent (or the heartbeat
    /// unanswered) before the session counts as dead.
    pub fn heartbeat(mut self, every: Duration, dead_after: Duration) -> Self {
        self.heartbeat = every;
        self.heartbeat_timeout = dead_after;
        self
    }

    /// Time allowed for the platform to prove a login.
    pub fn login_timeout(mut self, d: Duration) -> Self {
        self.login_timeout = d;
        self
    }

    /// Frames above this are rejected (their head kept in `rejects`); default: the
    /// context's `max_body_bytes`.
    pub fn max_frame_bytes(mut self, n: usize) -> Self {
        self.max_frame_bytes = Some(n);
        self
    }

    /// Pauses after the platform's flow control before giving up on a request.
    pub fn flow_control_pauses(mut self, pauses: Vec<Duration>) -> Self {
        self.flow_control_pauses = pauses;
        self
    }

    /// The frame limit given the context's body limit.
    pub(crate) fn frame_limit(&self, max_body_bytes: usize) -> usize {
        self.max_frame_bytes.unwrap_or(max_body_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_defaults_are_the_published_clients_timers() {
        let g = Tuning::for_platform(Platform::Goofish);
        assert_eq!(g.backoff.fixed, Some((Duration::from_secs(3), 5)));
        assert_eq!(g.backoff.max, Duration::from_secs(300));
        assert_eq!(
            (g.heartbeat, g.heartbeat_timeout),
            (Duration::from_secs(10), Duration::from_secs(5))
        );
        assert_eq!(g.flow_control_pauses.len(), 3);
        let y = Tuning::for_platform(Platform::Yunhu);
        assert_eq!(
            (y.heartbeat, y.heartbeat_timeout),
            (Duration::from_secs(15), Duration::from_secs(30))
        );
        let e = Tuning::for_platform(Platform::Eoffice);
        assert_eq!(
            (e.backoff.initial, e.backoff.max),
            (Duration::from_secs(1), Duration::from_secs(60))
        );
        assert_eq!(e.frame_limit(4096), 4096, "frames up to the context's body limit");
        assert_eq!(e.max_frame_bytes(100).frame_limit(4096), 100);
    }
}
