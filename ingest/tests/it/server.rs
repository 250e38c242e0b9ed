//! The shared callback server (health, metrics, body limits, route conflicts, bind errors,
//! shutdown) and the spool's replay against a fake store.

use chatvault_ingest as ingest;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::post;
use ingest::EventSender;
use ingest::server::body::read_limited;
use ingest::server::spool::Spool;
use ingest::server::{Health, ServerError, ServerOptions, serve};
use ingest::state::{StateRegistry, StateReporter};
use proto::{ChatEvent, ConnectorStatus, EventBody, Ingested, Platform, RawPayload, batch::media};
use sim::fake_store::FakeStore;
use tokio_util::sync::CancellationToken;

fn opts() -> ServerOptions {
    ServerOptions::new("127.0.0.1:0".parse().unwrap(), 8 * 1024 * 1024)
}

fn health(ready: bool, registry: StateRegistry) -> (Health, Arc<AtomicBool>) {
    let flag = Arc::new(AtomicBool::new(ready));
    (
        Health::new(registry, flag.clone(), Arc::new(|| "chatvault_up 1\n".to_string())),
        flag,
    )
}

#[tokio::test]
async fn healthz_reports_readiness_and_connector_state() {
    let registry = StateRegistry::new();
    let (tx, _store) = FakeStore::channel(4);
    let out = EventSender::new(Platform::Worktool, "robot1", tx);
    let reporter = StateReporter::new("robot1", Platform::Worktool, registry.clone(), out);
    reporter
        .set(ConnectorStatus::RobotOffline, Some("robot offline callback".into()))
        .await;
    let (h, flag) = health(false, registry);
    let token = CancellationToken::new();
    let server = serve(opts(), vec![], h, token.clone()).await.unwrap();
    let base = format!("http://{}", server.local_addr());
    let r = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(r.status(), 503);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["ready"], false);
    assert_eq!(v["connectors"]["robot1"]["platform"], "worktool");
    assert_eq!(v["connectors"]["robot1"]["status"], "robot_offline");
    assert_eq!(v["connectors"]["robot1"]["detail"], "robot offline callback");
    assert!(v["connectors"]["robot1"]["since"].as_i64().unwrap() > 0);
    flag.store(true, Ordering::Release);
    let r = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(r.status(), 200);
    let m = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert!(m.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    assert_eq!(m.text().await.unwrap(), "chatvault_up 1\n");
    token.cancel();
    server.join().await.unwrap();
}

#[tokio::test]
async fn bodies_above_two_megabytes_reach_the_handler() {
    let route = Router::new().route(
        "/cb/big",
        post(|body: Body| async move {
            match read_limited(body, 6 * 1024 * 1024).await {
                Ok(b) => (axum::http::StatusCode::OK, b.len().to_string()),
                Err(_) => (axum::http::StatusCode::PAYLOAD_TOO_LARGE, String::new()),
            }
        }),
    );
    let token = CancellationToken::new();
    let server = serve(opts(), vec![route], health(true, StateRegistry::new()).0, token.clone())
        .await
        .unwrap();
    let url = format!("http://{}/cb/big", server.local_addr());
    let client = reqwest::Client::new();
    let post = |len: usize| client.post(&url).body(vec![b'x'; len]).send();
    let r = post(3 * 1024 * 1024).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), (3 * 1024 * 1024).to_string());
    let r = post(7 * 1024 * 1024).await.unwrap();
    assert_eq!(r.status(), 413);
    token.cancel();
    server.join().await.unwrap();
}

#[tokio::test]
async fn duplicate_paths_and_busy_ports_are_errors() {
    let a = Router::new().route("/callback/x", post(|| async { "a" }));
    let b = Router::new().route("/callback/x", post(|| async { "b" }));
    let err = serve(
        opts(),
        vec![a, b],
        health(true, StateRegistry::new()).0,
        CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ServerError::RouteConflict(_)), "{err}");
    assert!(err.to_string().contains("/callback/x"), "{err}");

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddr = taken.local_addr().unwrap();
    let err = serve(
        ServerOptions::new(addr, 1024),
        vec![],
        health(true, StateRegistry::new()).0,
        CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ServerError::Bind { .. }));
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
}

fn message_item(i: u32) -> Ingested {
    let ev = ChatEvent::message(
        "群",
        format!("m{i}"),
        EventBody::Other {
            subtype: "probe".into(),
            detail: serde_json::json!({ "i": i }),
        },
    );
    // `Other` with a message id keeps the test independent of the message model.
    let ev = ChatEvent {
        msg_id: ev.msg_id,
        chat_id: ev.chat_id,
        occurred_at: None,
        body: ev.body,
    };
    Ingested::Payload {
        raw: RawPayload::now(media::JSON, format!("{{\"i\":{i}}}")),
        events: vec![ev],
    }
}

fn committed_order(store: &FakeStore) -> Vec<u32> {
    store
        .events()
        .iter()
        .filter_map(|c| match &c.event.body {
            EventBody::Other { detail, .. } => detail["i"].as_u64().map(|i| i as u32),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn spool_replays_in_order_after_a_torn_tail_and_failed_commits() {
    let dir = tempfile::tempdir().unwrap();
    {
        let spool = Spool::open(dir.path(), "robot1").unwrap();
        for i in 0..100 {
            spool.append(&[message_item(i)]).unwrap();
        }
    }
    // A crash inside the 101st append.
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("robot1.log"))
            .unwrap();
        f.write_all(&[200, 0, 0, 0, 1, 2, 3]).unwrap();
    }
    let spool = Arc::new(Spool::open(dir.path(), "robot1").unwrap());
    assert_eq!(spool.pending(), 100);
    let (tx, store) = FakeStore::channel(1);
    store.fail_next(2);
    let out = EventSender::new(Platform::Worktool, "robot1", tx);
    let token = CancellationToken::new();
    let replay = tokio::spawn(spool.clone().replay(out, token.clone()));
    assert_eq!(store.wait_for(100, Duration::from_secs(20)).await, 100);
    assert_eq!(
        committed_order(&store),
        (0..100).collect::<Vec<_>>(),
        "in order, each once"
    );
    // Caught up: the log is emptied and a restart has nothing to replay.
    for _ in 0..100 {
        if spool.pending() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(spool.pending(), 0);
    assert_eq!(std::fs::metadata(spool.path()).unwrap().len(), 0);
    token.cancel();
    replay.await.unwrap();
    assert_eq!(Spool::open(dir.path(), "robot1").unwrap().pending(), 0);
}

#[tokio::test]
async fn a_crash_mid_replay_loses_nothing() {
    // Many more records than the replay keeps in flight (64 per chunk, a channel of 1), so a
    // cancellation after the first commits is always part-way.
    const N: u32 = 2000;
    let dir = tempfile::tempdir().unwrap();
    let spool = Arc::new(Spool::open(dir.path(), "robot1").unwrap());
    for i in 0..N {
        spool.append(&[message_item(i)]).unwrap();
    }
    // First run: the store is slow, the process "dies" (replay cancelled) part-way.
    let (tx, store) = FakeStore::channel(1);
    store.set_delay(Duration::from_millis(30));
    let token = CancellationToken::new();
    let replay = tokio::spawn(
        spool
            .clone()
            .replay(EventSender::new(Platform::Worktool, "robot1", tx), token.clone()),
    );
    store.wait_for(64, Duration::from_secs(20)).await;
    token.cancel();
    replay.await.unwrap();
    let first = committed_order(&store);
    assert!(
        first.len() < N as usize,
        "cancelled part-way ({} committed)",
        first.len()
    );
    drop(spool);

    // Second run from disk into the same store: everything arrives, nothing twice.
    let spool = Arc::new(Spool::open(dir.path(), "robot1").unwrap());
    assert!(spool.pending() > 0 && spool.pending() <= u64::from(N) - 64);
    let (tx2, mut rx2) = tokio::sync::mpsc::channel(1);
    let token = CancellationToken::new();
    let replay = tokio::spawn(
        spool
            .clone()
            .replay(EventSender::new(Platform::Worktool, "robot1", tx2), token.clone()),
    );
    // Forward into a fresh fake store that already holds the first run's events.
    let (tx3, store2) = FakeStore::channel(1);
    for i in &first {
        let (b, _rx) = proto::EventBatch::new(Platform::Worktool, "robot1", vec![message_item(*i)], None);
        tx3.send(b).await.unwrap();
    }
    let fwd = tokio::spawn(async move {
        while let Some(b) = rx2.recv().await {
            if tx3.send(b).await.is_err() {
                break;
            }
        }
    });
    assert_eq!(
        store2.wait_for(u64::from(N), Duration::from_secs(60)).await,
        u64::from(N)
    );
    let mut all = committed_order(&store2);
    all.sort();
    assert_eq!(all, (0..N).collect::<Vec<_>>());
    token.cancel();
    replay.await.unwrap();
    fwd.abort();
}
