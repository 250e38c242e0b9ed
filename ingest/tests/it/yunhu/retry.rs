//! Yunhu attachments whose first download failed: the message is archived at once without
//! the bytes, the download is retried (across a restart: the retry list is on disk), and
//! once it succeeds an `attachment_stored` event links the stored bytes to the message; a
//! file host that never recovers ends in one `rejects` row.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chatvault_ingest::blobs::BlobStore;
use chatvault_ingest::refetch::RetryPolicy;
use chatvault_ingest::yunhu::YunhuConnector;
use proto::{ChatEvent, EventBody};
use sha2::{Digest, Sha256};
use sim::fake_store::FakeStore;
use sim::yunhu::{Received, Script, Step, YunhuSim, post};

use super::connector::{Running, WAIT, tuning};
use crate::support::{Rig, eventually};

const PDF: &[u8] = "%PDF-1.7 会议纪要 第三季度".as_bytes();

fn policy(first_ms: u64, attempts: u32) -> RetryPolicy {
    RetryPolicy {
        first: Duration::from_millis(first_ms),
        max_pause: Duration::from_millis(first_ms * 2),
        attempts,
    }
}

async fn sim_with_file() -> YunhuSim {
    let sim = YunhuSim::start_with(|api| {
        let mut p = post("f-0002", ("g-minutes", 2), ("u1", "张三"), 4, "", 1);
        p.content.file_name = "会议纪要.pdf".into();
        p.content.file_url = format!("{api}/files/minutes.pdf");
        p.content.file_size = PDF.len() as u64;
        Script::Steps(vec![Step::Post(p)])
    })
    .await
    .unwrap();
    sim.add_file("minutes.pdf", PDF);
    sim
}

fn start(
    sim: &YunhuSim,
    store: &FakeStore,
    tx: &tokio::sync::mpsc::Sender<proto::EventBatch>,
    dir: &Path,
    p: RetryPolicy,
) -> Running {
    let cfg = config::parse(&sim.config_toml("team"), Path::new("yunhu-test.toml")).unwrap();
    let dir = dir.to_path_buf();
    Running(Rig::start_on(
        YunhuConnector::new(cfg.yunhu[0].clone())
            .with_tuning(tuning())
            .with_attachment_retry(p),
        tx,
        store,
        |cx| {
            cx.blobs = Arc::new(BlobStore::new(dir.join("blobs"), 1 << 20));
            cx.data_dir = dir;
        },
    ))
}

fn stored(events: &[ChatEvent]) -> Vec<(u32, String, Option<u64>)> {
    events
        .iter()
        .filter(|e| e.msg_id.as_deref() == Some("f-0002") && e.chat_id == "g-minutes")
        .filter_map(|e| match &e.body {
            EventBody::AttachmentStored { index, sha256, size } => Some((*index, sha256.clone(), *size)),
            _ => None,
        })
        .collect()
}

fn downloads(sim: &YunhuSim) -> usize {
    sim.received()
        .iter()
        .filter(|r| matches!(r, Received::Api { path, .. } if path == "/files"))
        .count()
}

fn message_sha(run: &Running) -> Option<Option<String>> {
    run.events().into_iter().find_map(|e| match e.body {
        EventBody::Message(m) if e.msg_id.as_deref() == Some("f-0002") => Some(m.attachments[0].sha256.clone()),
        _ => None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_first_download_is_retried_after_a_restart_and_linked_to_its_message() {
    let sim = sim_with_file().await;
    sim.faults().fail_files.store(2, std::sync::atomic::Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let (tx, store) = FakeStore::channel(8);

    let first = start(&sim, &store, &tx, dir.path(), policy(1_500, 6));
    assert!(eventually(WAIT, || first.message_ids().contains(&"f-0002".to_string())).await);
    assert_eq!(message_sha(&first), Some(None), "archived at once, without the bytes");
    first.stop().await;
    assert_eq!(downloads(&sim), 1, "stopped before the first retry was due");
    assert!(stored(&store.events().into_iter().map(|c| c.event).collect::<Vec<_>>()).is_empty());

    // The retry list survived the restart: the next run fetches again (one more 503, then
    // the file) and links the bytes to the message already archived.
    let second = start(&sim, &store, &tx, dir.path(), policy(1_500, 6));
    let want = hex::encode(Sha256::digest(PDF));
    assert!(
        eventually(Duration::from_secs(15), || !stored(&second.events()).is_empty()).await,
        "the bytes arrive later; downloads {}",
        downloads(&sim)
    );
    assert_eq!(stored(&second.events()), [(0, want.clone(), Some(PDF.len() as u64))]);
    assert_eq!(std::fs::read(dir.path().join("blobs").join(&want)).unwrap(), PDF);
    assert_eq!(
        downloads(&sim),
        3,
        "one failed first download, one failed retry, one success"
    );
    assert_eq!(
        second.message_ids(),
        ["f-0002"],
        "the message itself is recorded once, as first seen"
    );
    // Stored once: no further download or linking event.
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    assert_eq!(downloads(&sim), 3);
    assert_eq!(stored(&second.events()).len(), 1);
    assert!(store.rejects().is_empty(), "{:?}", store.rejects());
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_host_that_never_recovers_ends_in_one_reject_row() {
    let sim = sim_with_file().await;
    sim.faults()
        .fail_files
        .store(1_000, std::sync::atomic::Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let (tx, store) = FakeStore::channel(8);
    let run = start(&sim, &store, &tx, dir.path(), policy(100, 3));
    assert!(
        eventually(WAIT, || !store.rejects().is_empty()).await,
        "given up visibly"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    let rejects = store.rejects();
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    let reason = &rejects[0].0;
    assert!(
        reason.contains("f-0002") && reason.contains("after 3 attempts") && reason.contains("HTTP 503"),
        "{reason}"
    );
    assert!(
        !reason.contains("/files/"),
        "the reason does not carry the URL: {reason}"
    );
    assert_eq!(downloads(&sim), 3, "bounded");
    assert!(stored(&run.events()).is_empty());
    assert_eq!(message_sha(&run), Some(None));
    run.stop().await;
}
