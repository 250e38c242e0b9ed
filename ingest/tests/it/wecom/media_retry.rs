//! WeCom media whose `media/get` failed while the callback was answered: the image message is
//! archived at once without its bytes, and the running connector fetches the media again and
//! links it to the message with an `attachment_stored` event.

use std::sync::Arc;
use std::time::Duration;

use chatvault_ingest::Connector;
use chatvault_ingest::refetch::RetryPolicy;
use chatvault_ingest::wecom::WecomConnector;
use proto::{ContentType, EventBody};
use sha2::{Digest, Sha256};
use sim::fake_store::FakeStore;
use sim::wecom::{self, FakeApi, Script, WecomPoster};

use crate::support::eventually;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_whose_download_failed_are_fetched_again_and_linked() {
    let api = FakeApi::start(0, wecom::SECRET).await.unwrap();
    let (tx, store) = FakeStore::channel(8);
    let dir = tempfile::tempdir().unwrap();
    let (cx, blobs) = super::context(tx, dir.path(), 256 * 1024);
    let connector = Arc::new(
        WecomConnector::new(super::config(Some(&api)))
            .with_api(super::api_client(&api))
            .with_attachment_retry(RetryPolicy {
                first: Duration::from_millis(200),
                max_pause: Duration::from_millis(400),
                attempts: 5,
            }),
    );
    let shutdown = cx.shutdown.clone();
    let url = super::serve(connector.router(&cx).expect("wecom router"), &shutdown).await;
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
