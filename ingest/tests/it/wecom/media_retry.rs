//! WeCom media whose `media/get` failed while the callback was answered: the image message is
//! archived at once without its bytes, and the running connector fetches the media again and
//! links it to the message with an `attachment_stored` event.

use std::sync::Arc;
use std::time::Duration;

use chatvault_ingest::blobs::BlobStore;
use chatvault_ingest::refetch::RetryPolicy;
use chatvault_ingest::state::{StateRegistry, StateReporter};
use chatvault_ingest::wecom::WecomConnector;
use chatvault_ingest::wecom::api::WecomApi;
use chatvault_ingest::{Connector, ConnectorContext, EventSender};
use config::{Secret, WecomConfig};
use proto::{ContentType, EventBody, Platform};
use sha2::{Digest, Sha256};
use sim::fake_store::FakeStore;
use sim::wecom::{self, FakeApi, Script, WecomPoster};
use tokio_util::sync::CancellationToken;

use crate::support::eventually;

const PATH: &str = "/callback/wecom/corp";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_whose_download_failed_are_fetched_again_and_linked() {
    let api = FakeApi::start(0, wecom::SECRET).await.unwrap();
    let (tx, store) = FakeStore::channel(8);
    let out = EventSender::new(Platform::Wecom, "corp", tx);
    let dir = tempfile::tempdir().unwrap();
    let blobs = Arc::new(BlobStore::new(dir.path().join("blobs"), 1 << 20));
    let cfg = WecomConfig {
        name: "corp".into(),
        corp_id: wecom::CORP_ID.into(),
        token: Secret::new(wecom::TOKEN),
        encoding_aes_key: Secret::new(wecom::ENCODING_AES_KEY),
        path: PATH.into(),
        secret: Some(Secret::new(wecom::SECRET)),
        api_base: api.base_url(),
        timestamp_window_secs: 3600,
    };
    let client = WecomApi::new(&api.base_url(), wecom::CORP_ID, Secret::new(wecom::SECRET)).unwrap();
    let connector = Arc::new(
        WecomConnector::new(cfg)
            .with_api(client.with_token_min_interval(Duration::ZERO))
            .with_attachment_retry(RetryPolicy {
                first: Duration::from_millis(200),
                max_pause: Duration::from_millis(400),
                attempts: 5,
            }),
    );
    let shutdown = CancellationToken::new();
    let cx = ConnectorContext {
        name: "corp".into(),
        platform: Platform::Wecom,
        out: out.clone(),
        resume_from: None,
        shutdown: shutdown.clone(),
        state: StateReporter::new("corp", Platform::Wecom, StateRegistry::new(), out),
        blobs: blobs.clone(),
        data_dir: dir.path().to_path_buf(),
        backfill: false,
        max_body_bytes: 256 * 1024,
    };
    let router = connector.router(&cx).expect("wecom router");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}{PATH}", listener.local_addr().unwrap());
    let stop = shutdown.clone();
    tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await
            .unwrap();
    });
    let running = tokio::spawn(connector.clone().run(cx));

    // The first download and the first retry fail.
    api.fail_media(2);
    let image = Script::DemoDay
        .callbacks(wecom::CORP_ID)
        .into_iter()
        .find(|c| c.kind == "image")
        .unwrap();
    let poster = WecomPoster::sim(&url).with_retry_pause(Duration::from_millis(50));
    assert!(poster.deliver(&image).await.acked());
    let message = store
        .events()
        .into_iter()
        .find_map(|c| match c.event.body {
            EventBody::Message(m) if m.content_type == ContentType::Image => Some((c.event.chat_id, c.event.msg_id, m)),
            _ => None,
        })
        .expect("the image message is archived at once");
    assert_eq!(message.2.attachments[0].sha256, None, "without its bytes");

    let linked = || {
        store
            .events()
            .into_iter()
            .filter_map(|c| match c.event.body {
                EventBody::AttachmentStored { index, sha256, .. }
                    if c.event.chat_id == message.0 && c.event.msg_id == message.1 =>
                {
                    Some((index, sha256))
                }
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert!(
        eventually(Duration::from_secs(15), || !linked().is_empty()).await,
        "fetched again"
    );
    let bytes = wecom::media_bytes("MEDIA_receipt_001");
    let sha = hex::encode(Sha256::digest(&bytes));
    assert_eq!(linked(), [(0, sha.clone())]);
    assert_eq!(blobs.get(&sha).unwrap(), bytes);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(linked().len(), 1, "linked once");
    assert!(store.rejects().is_empty(), "{:?}", store.rejects());

    shutdown.cancel();
    running.await.unwrap().unwrap();
}
