//! Yunhu attachments into the blob store: a message archived live and again from history is
//! recorded once with its attachment stored once, whether the download worked or failed the
//! first time (the first outcome is remembered per URL, across a restart), and a file over
//! the blob cap is never downloaded.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chatvault_ingest::blobs::BlobStore;
use chatvault_ingest::yunhu::YunhuConnector;
use proto::{Attachment, EventBody};
use serde_json::json;
use sha2::{Digest, Sha256};
use sim::fake_store::FakeStore;
use sim::yunhu::{Script, Step, YunhuSim, post};

use super::connector::{Running, WAIT, tuning};
use crate::support::{Rig, eventually};

const CHAT: (&str, u64) = ("g-files", 2);
const PDF: &[u8] = "%PDF-1.7 contract v2: 农业局项目合同".as_bytes();

/// A file host: answers 500 to the first `fail_first` requests, then the bytes.
#[derive(Clone, Default)]
struct Host {
    requests: Arc<AtomicU32>,
    fail_first: Arc<AtomicU32>,
}

async fn serve_file(State(h): State<Host>) -> axum::response::Response {
    let n = h.requests.fetch_add(1, Ordering::SeqCst);
    if n < h.fail_first.load(Ordering::SeqCst) {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    PDF.to_vec().into_response()
}

async fn host(fail_first: u32) -> (Host, String) {
    let h = Host::default();
    h.fail_first.store(fail_first, Ordering::SeqCst);
    let app = axum::Router::new()
        .route("/f/contract.pdf", axum::routing::get(serve_file))
        .with_state(h.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/f/contract.pdf", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    (h, url)
}

fn file_post(url: &str, size: u64) -> Step {
    let mut p = post("f-0001", CHAT, ("u1", "张三"), 4, "", 1);
    p.content.file_name = "农业局项目合同_v2.pdf".into();
    p.content.file_url = url.into();
    p.content.file_size = size;
    Step::Post(p)
}

fn attachments(run: &Running) -> Vec<Attachment> {
    run.events()
        .into_iter()
        .filter_map(|e| match e.body {
            EventBody::Message(m) if e.msg_id.as_deref() == Some("f-0001") => Some(m.attachments),
            _ => None,
        })
        .flatten()
        .collect()
}

/// Runs the connector once on `store` with `data_dir` (blobs capped at `cap`) until the
/// message is archived; `history` resumes from a position before it, so the catch-up reads
/// it from history.
async fn run_once(
    sim: &YunhuSim,
    tx: &tokio::sync::mpsc::Sender<proto::EventBatch>,
    store: &FakeStore,
    data_dir: &Path,
    cap: u64,
    history: bool,
) -> Running {
    let cfg = config::parse(&sim.config_toml("team"), Path::new("yunhu-test.toml")).unwrap();
    let dir = data_dir.to_path_buf();
    // The committed cursor, as if the push had been ahead of the chat's fetched history
    // (`live` past `seq`): the catch-up reads the message again.
    let resume = history.then(|| {
        let mut c = store.last_cursor("team").unwrap_or_else(|| json!({ "chats": {} }));
        c["chats"][CHAT.0] = json!({ "t": 2, "seq": 0, "live": 1 });
        c
    });
    let run = Running(Rig::start_on(
        YunhuConnector::new(cfg.yunhu[0].clone()).with_tuning(tuning()),
        tx,
        store,
        |cx| {
            cx.blobs = Arc::new(BlobStore::new(dir.join("blobs"), cap));
            cx.data_dir = dir;
            if let Some(c) = resume {
                cx.resume_from = Some(c);
            }
        },
    ));
    assert!(
        eventually(WAIT, || run.message_ids().contains(&"f-0001".to_string())).await,
        "f-0001 archived"
    );
    run
}

async fn live_then_history(fail_first: u32, cap: u64) -> (Host, FakeStore, Running, tempfile::TempDir) {
    let (h, url) = host(fail_first).await;
    let sim = YunhuSim::start(Script::Steps(vec![file_post(&url, PDF.len() as u64)]))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (tx, store) = FakeStore::channel(8);
    // Live: the push.
    let first = run_once(&sim, &tx, &store, dir.path(), cap, false).await;
    first.stop().await;
    // A restart that re-reads the chat's history: the same message again.
    let dups = store.duplicates();
    let second = run_once(&sim, &tx, &store, dir.path(), cap, true).await;
    assert!(
        eventually(WAIT, || store.duplicates() > dups).await,
        "the history copy reached the store: {:?} {:?} {:?}",
        second.message_ids(),
        attachments(&second),
        second.states()
    );
    (h, store, second, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_live_and_from_history_is_recorded_once_with_its_file_stored_once() {
    let (h, _store, run, dir) = live_then_history(0, 1 << 20).await;
    assert_eq!(run.message_ids(), ["f-0001"], "recorded once");
    let a = attachments(&run);
    assert_eq!(a.len(), 1);
    let sha = hex::encode(Sha256::digest(PDF));
    assert_eq!(a[0].sha256.as_deref(), Some(sha.as_str()));
    assert_eq!(a[0].name.as_deref(), Some("农业局项目合同_v2.pdf"));
    assert_eq!(std::fs::read(dir.path().join("blobs").join(&sha)).unwrap(), PDF);
    assert_eq!(h.requests.load(Ordering::SeqCst), 1, "downloaded once");
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_that_failed_first_keeps_both_copies_identical() {
    // The live copy's download fails; the history copy, after a restart, must not differ.
    let (h, _store, run, _dir) = live_then_history(1, 1 << 20).await;
    assert_eq!(run.message_ids(), ["f-0001"], "recorded once");
    let a = attachments(&run);
    assert_eq!(a[0].sha256, None, "{a:?}");
    assert_eq!(a[0].url.as_deref().map(|u| u.ends_with("contract.pdf")), Some(true));
    assert_eq!(
        h.requests.load(Ordering::SeqCst),
        1,
        "the failed download is not repeated"
    );
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_over_the_blob_cap_is_not_downloaded() {
    let (h, _store, run, _dir) = live_then_history(0, 8).await;
    assert_eq!(run.message_ids(), ["f-0001"]);
    let a = attachments(&run);
    assert_eq!((a[0].sha256.as_deref(), a[0].size), (None, Some(PDF.len() as u64)));
    assert_eq!(h.requests.load(Ordering::SeqCst), 0);
    run.stop().await;
}
