//! WeCom: the codec against golden XML, the API client, the callback receiver, and the
//! published crypto vectors.
//!
//! The receiver tests run connector `corp` behind a real HTTP listener; this module starts it.

mod api;
mod codec;
mod media_retry;
mod receiver;
mod vectors;

use std::path::Path;
use std::sync::Arc;

use chatvault_ingest::ConnectorContext;
use chatvault_ingest::blobs::BlobStore;
use proto::{EventBatch, Platform};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Where the receiver tests serve the callbacks.
pub const PATH: &str = "/callback/wecom/corp";

/// The context of connector `corp` sending to `tx`, with a body limit of `max_body_bytes` and
/// its attachments under `dir/blobs` (1 MiB each at most); the blob store, for the test to
/// read back.
pub fn context(tx: mpsc::Sender<EventBatch>, dir: &Path, max_body_bytes: usize) -> (ConnectorContext, Arc<BlobStore>) {
    let blobs = Arc::new(BlobStore::new(dir.join("blobs"), 1 << 20));
    let cx = ConnectorContext {
        blobs: blobs.clone(),
        max_body_bytes,
        ..ConnectorContext::new(Platform::Wecom, "corp", tx, dir)
    };
    (cx, blobs)
}

/// Serves `router` on a free loopback port until `shutdown`; the callback URL.
pub async fn serve(router: axum::Router, shutdown: &CancellationToken) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}{PATH}", listener.local_addr().unwrap());
    let stop = shutdown.clone();
    tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await
            .unwrap();
    });
    url
}
