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

use std::time::Duration;

use chatvault_ingest::ConnectorContext;
use chatvault_ingest::blobs::BlobStore;
use chatvault_ingest::wecom::api::WecomApi;
use config::{Secret, WecomConfig};
use proto::{EventBatch, Platform};
use sim::wecom::{self, FakeApi};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Where the receiver tests serve the callbacks.
pub const PATH: &str = "/callback/wecom/corp";

/// Connector `corp` of the simulator's corp at [`PATH`]; with `api`, its secret and the fake
/// API's address (without, an address nothing answers at).
pub fn config(api: Option<&FakeApi>) -> WecomConfig {
    WecomConfig {
        name: "corp".into(),
        corp_id: wecom::CORP_ID.into(),
        token: Secret::new(wecom::TOKEN),
        encoding_aes_key: Secret::new(wecom::ENCODING_AES_KEY),
        path: PATH.into(),
        secret: api.map(|_| Secret::new(wecom::SECRET)),
        api_base: api
            .map(FakeApi::base_url)
            .unwrap_or_else(|| "http://127.0.0.1:9".into()),
        timestamp_window_secs: 3600,
    }
}

/// A client of the fake API that may fetch a token as often as it likes.
pub fn api_client(api: &FakeApi) -> WecomApi {
    let client = WecomApi::new(&api.base_url(), wecom::CORP_ID, Secret::new(wecom::SECRET)).unwrap();
    client.with_token_min_interval(Duration::ZERO)
}

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
