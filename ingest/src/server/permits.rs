//! Per-route concurrency: how many requests of one callback route read and process a body at
//! once, with a wait bounded by the platform's answer deadline.
//!
//! A request takes its permit only after the cheap checks that need no body (WorkTool's key,
//! WeCom's query parameters and timestamp), so unauthenticated clients cannot take the permits
//! of real callbacks; and it never waits for one past the moment it must be answered: a
//! request that cannot get a permit in time is answered 503 at once instead of after the
//! platform gave up (WorkTool never retries, WeCom does).

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

/// Requests of one route processed at once (each may hold up to `max_body_bytes`).
pub const ROUTE_CONCURRENCY: usize = 64;

/// The permits of one route.
#[derive(Debug)]
pub struct RoutePermits {
    sem: Semaphore,
}

impl Default for RoutePermits {
    fn default() -> Self {
        Self::new(ROUTE_CONCURRENCY)
    }
}

impl RoutePermits {
    /// `n` permits.
    pub fn new(n: usize) -> Self {
        RoutePermits {
            sem: Semaphore::new(n.max(1)),
        }
    }

    /// A permit, or `None` if none came free before `deadline`.
    pub async fn acquire_by(&self, deadline: Instant) -> Option<SemaphorePermit<'_>> {
        match tokio::time::timeout_at(deadline, self.sem.acquire()).await {
            Ok(Ok(p)) => Some(p),
            _ => None,
        }
    }
}
