//! Waiting for something a connector does in the background, with a limit.

use std::time::Duration;

/// Polls `cond` every 10 ms until it holds or `limit` passed; returns whether it held. Under
/// paused tokio time the polls advance the clock, so a limit is also a virtual deadline.
pub async fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cond()
}
