//! Posting a list of callbacks the way a platform does: one after another, or as a burst
//! with a bounded number in flight, and the standalone run around it. The WeCom and WorkTool
//! posters differ only in how one callback is posted.

use std::sync::Arc;
use std::time::Duration;

/// A poster of one platform's callbacks.
pub(crate) trait Deliver: Clone + Send + Sync + 'static {
    /// One callback of the platform.
    type Callback: Clone + Send + Sync + 'static;

    /// Posts `cb` (with the platform's retries); whether it was acknowledged in the end.
    fn deliver_acked(&self, cb: &Self::Callback) -> impl Future<Output = bool> + Send;
}

/// Posts `callbacks` one after another; how many were acknowledged.
pub(crate) async fn in_order<P: Deliver>(poster: &P, callbacks: &[P::Callback]) -> usize {
    let mut acked = 0;
    for cb in callbacks {
        if poster.deliver_acked(cb).await {
            acked += 1;
        }
    }
    acked
}

/// The standalone poster's run: asks `answers` every 2 s until the receiver at `url` answers,
/// then runs `post`, then waits for Ctrl-C (which also ends a wait for a receiver that never
/// comes).
pub(crate) async fn post_when_up(
    url: &str,
    mut answers: impl AsyncFnMut() -> bool,
    post: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let run = async {
        eprintln!("waiting for a receiver at {url} …");
        while !answers().await {
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        post.await;
        std::future::pending::<()>().await;
    };
    tokio::select! {
        _ = run => Ok(()),
        r = tokio::signal::ctrl_c() => r,
    }
}

/// Posts `callbacks` in order with up to `concurrency` (at least one) in flight; how many
/// were acknowledged.
pub(crate) async fn burst<P: Deliver>(poster: &P, callbacks: &[P::Callback], concurrency: usize) -> usize {
    let sem = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut tasks = Vec::with_capacity(callbacks.len());
    for cb in callbacks {
        // Owned: the spawned task outlives this borrow.
        let cb = cb.clone();
        let Ok(permit) = sem.clone().acquire_owned().await else {
            break;
        };
        let me = poster.clone();
        tasks.push(tokio::spawn(async move {
            let acked = me.deliver_acked(&cb).await;
            drop(permit);
            acked
        }));
    }
    let mut acked = 0;
    for t in tasks {
        if t.await.unwrap_or(false) {
            acked += 1;
        }
    }
    acked
}
