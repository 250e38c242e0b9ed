//! Reconnect delays shared by every connector: one retry policy, parameterised per platform.

use std::time::Duration;

use rand::Rng;
// The runtime's clock, so the healthy period is measured on the same clock as the delays
// (and tests with a paused clock see it pass).
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Exponential backoff with jitter and a cap, optionally preceded by fixed-delay attempts
/// (Goofish: 3 s × 5, then exponential), reset once a connection stayed healthy long enough.
#[derive(Debug, Clone)]
pub struct Backoff {
    /// First exponential delay.
    pub initial: Duration,
    /// Cap.
    pub max: Duration,
    /// Growth factor per attempt.
    pub multiplier: f64,
    /// Fraction of each delay that is randomised (0.0–1.0): the delay is drawn from
    /// `[d·(1−jitter), d]`, so many clients do not reconnect in lockstep.
    pub jitter: f64,
    /// A connection that stayed up this long resets the attempt counter.
    pub reset_after: Duration,
    /// Optional `(delay, count)` fixed attempts before the exponential part.
    pub fixed: Option<(Duration, u32)>,
    attempt: u32,
    connected_at: Option<Instant>,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(Duration::from_secs(1), Duration::from_secs(60))
    }
}

impl Backoff {
    /// Exponential from `initial` to `max`, factor 2, jitter 0.5, reset after 60 s healthy.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max,
            multiplier: 2.0,
            jitter: 0.5,
            reset_after: Duration::from_secs(60),
            fixed: None,
            attempt: 0,
            connected_at: None,
        }
    }

    /// Adds `count` fixed attempts of `delay` before the exponential part.
    pub fn with_fixed(mut self, delay: Duration, count: u32) -> Self {
        self.fixed = Some((delay, count));
        self
    }

    /// Sets the healthy period after which the attempt counter resets.
    pub fn with_reset_after(mut self, d: Duration) -> Self {
        self.reset_after = d;
        self
    }

    /// Sets the jitter fraction.
    pub fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter.clamp(0.0, 1.0);
        self
    }

    /// Call when a connection is established.
    pub fn connected(&mut self) {
        self.connected_at = Some(Instant::now());
    }

    /// Number of failed attempts since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// The delay before the next attempt (and counts the attempt).
    pub fn next_delay(&mut self) -> Duration {
        if let Some(at) = self.connected_at.take()
            && at.elapsed() >= self.reset_after
        {
            self.attempt = 0;
        }
        let n = self.attempt;
        self.attempt = self.attempt.saturating_add(1);
        let base = match self.fixed {
            Some((d, count)) if n < count => return d,
            Some((_, count)) => self.exp(n - count),
            None => self.exp(n),
        };
        if self.jitter <= 0.0 {
            return base;
        }
        let lo = base.as_secs_f64() * (1.0 - self.jitter);
        let secs = rand::rng().random_range(lo..=base.as_secs_f64());
        Duration::from_secs_f64(secs)
    }

    fn exp(&self, n: u32) -> Duration {
        let f = self.multiplier.powi(n.min(30) as i32);
        let d = self.initial.as_secs_f64() * f;
        Duration::from_secs_f64(d.min(self.max.as_secs_f64()))
    }

    /// Sleeps for the next delay; returns `false` if shutdown fired first.
    pub async fn wait(&mut self, shutdown: &CancellationToken) -> bool {
        let d = self.next_delay();
        tokio::select! {
            _ = tokio::time::sleep(d) => true,
            _ = shutdown.cancelled() => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_to_the_cap_without_jitter() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(10)).with_jitter(0.0);
        let d: Vec<u64> = (0..6).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(d, vec![1, 2, 4, 8, 10, 10]);
    }

    #[test]
    fn fixed_attempts_come_first() {
        let mut b = Backoff::new(Duration::from_secs(2), Duration::from_secs(60))
            .with_fixed(Duration::from_secs(3), 5)
            .with_jitter(0.0);
        let d: Vec<u64> = (0..8).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(d, vec![3, 3, 3, 3, 3, 2, 4, 8]);
    }

    #[test]
    fn jitter_stays_within_bounds() {
        let mut b = Backoff::new(Duration::from_secs(8), Duration::from_secs(8));
        for _ in 0..100 {
            let d = b.next_delay();
            assert!(d >= Duration::from_secs(4) && d <= Duration::from_secs(8), "{d:?}");
        }
    }

    #[test]
    fn healthy_connection_resets_attempts() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60))
            .with_jitter(0.0)
            .with_reset_after(Duration::ZERO);
        b.next_delay();
        b.next_delay();
        assert_eq!(b.attempts(), 2);
        b.connected();
        assert_eq!(b.next_delay(), Duration::from_secs(1));
    }
}
