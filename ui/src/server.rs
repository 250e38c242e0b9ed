//! [`serve`]: binds the UI's own address and serves until shutdown. For `chatvault serve`
//! (no `run` beside it) it can also keep the search index caught up on a thread of its own;
//! under `run` the pipeline's indexer does that.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::state::{AppState, UiOptions};

/// Why the UI could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The access database could not be opened.
    #[error(transparent)]
    Access(#[from] store::access::AccessError),
    /// The address could not be bound, or serving failed.
    #[error("reviewer UI on {addr}: {source}")]
    Io {
        /// The listen address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
}

/// Serves the UI on `listen` until `shutdown`; `follow_index` also keeps the search index
/// caught up (only where no other process indexes). `bound` receives the bound address.
pub async fn serve(
    opts: UiOptions,
    listen: SocketAddr,
    follow_index: bool,
    shutdown: CancellationToken,
    bound: Option<tokio::sync::oneshot::Sender<SocketAddr>>,
) -> Result<(), ServeError> {
    let state = AppState::new(opts.clone())?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| ServeError::Io { addr: listen, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| ServeError::Io { addr: listen, source })?;
    tracing::info!(%addr, "reviewer UI listening");
    if let Some(tx) = bound {
        let _ = tx.send(addr);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let follower = follow_index.then(|| {
        let (dir, stop) = (opts.data_dir.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            if let Err(e) = search::follow(&dir, stop, Duration::from_secs(1), None) {
                // Another process (run) holds the index: it keeps it current.
                tracing::info!(error = %e, "not indexing from the reviewer UI");
            }
        })
    });
    let app = crate::routes::router(state);
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .map_err(|source| ServeError::Io { addr, source });
    stop.store(true, Ordering::Relaxed);
    if let Some(f) = follower {
        let _ = tokio::task::spawn_blocking(move || f.join()).await;
    }
    result
}
