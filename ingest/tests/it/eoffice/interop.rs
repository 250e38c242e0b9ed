//! Interoperability with the reference Socket.IO implementation (npm `socket.io` and
//! `socket.io-client` 4.8.4, installed with `npm ci --prefix tests/interop`):
//! - the e-office connector against a server built on `socket.io`;
//! - `socket.io-client`, used as the e-office documentation shows, against `sim eoffice`.
//!
//! These tests fail (never skip) when the node packages are missing.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use chatvault_ingest::backoff::Backoff;
use chatvault_ingest::blobs::BlobStore;
use chatvault_ingest::eoffice::EofficeConnector;
use chatvault_ingest::runtime::Tuning;
use chatvault_ingest::{Connector, ConnectorContext};
use proto::{ConnectorStatus, EventBody, EventKind, Platform};
use serde_json::Value;
use sim::eoffice::{EofficeSim, Script, SimEvent, SimOptions};
use sim::fake_store::FakeStore;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(20);

fn interop_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/interop");
    assert!(
        dir.join("node_modules/socket.io/package.json").exists()
            && dir.join("node_modules/socket.io-client/package.json").exists(),
        "the reference socket.io packages are not installed: run `npm ci --prefix tests/interop`"
    );
    dir
}

fn node(script: &str, args: &[&str]) -> Child {
    let dir = interop_dir();
    Command::new("node")
        .arg(dir.join(script))
        .args(args)
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("node is installed (v20 or later)")
}

async fn next_json(lines: &mut Lines<BufReader<ChildStdout>>) -> Value {
    let line = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .expect("node peer answered in time")
        .expect("node peer stdout readable")
        .expect("node peer still running");
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("node peer printed {line:?}: {e}"))
}

fn run_connector(url: &str, token: &str) -> (FakeStore, CancellationToken, tokio::task::JoinHandle<()>) {
    let toml = format!(
        "[[eoffice]]\nname = \"ref\"\nurl = \"{url}\"\ntoken = \"{token}\"\nuser_id = \"admin\"\nconnect_type = \"client\"\n"
    );
    let cfg = config::parse(&toml, Path::new("interop.toml")).unwrap().eoffice[0].clone();
    let connector = EofficeConnector::new(cfg).with_tuning(
        Tuning::for_platform(Platform::Eoffice)
            .backoff(Backoff::new(Duration::from_millis(100), Duration::from_secs(1)).with_jitter(0.0)),
    );
    let (tx, store) = FakeStore::channel(8);
    store.set_delay(Duration::from_millis(20));
    let dir = std::env::temp_dir();
    let cx = ConnectorContext {
        blobs: Arc::new(BlobStore::new(dir.join("chatvault-interop-blobs"), 1 << 20)),
        max_body_bytes: 1 << 20,
        ..ConnectorContext::new(Platform::Eoffice, "ref", tx, dir)
    };
    let shutdown = cx.shutdown.clone();
    let task = tokio::spawn(async move {
        let _ = Arc::new(connector).run(cx).await;
    });
    (store, shutdown, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connector_archives_and_acks_a_reference_socket_io_server() {
    let mut server = node("eoffice_server.js", &["interop-token"]);
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let port = next_json(&mut lines).await["listening"]
        .as_u64()
        .expect("listening line");
    let (store, shutdown, task) = run_connector(&format!("http://127.0.0.1:{port}"), "interop-token");

    let connected = next_json(&mut lines).await;
    assert_eq!(connected["connected"], "admin");
    assert_eq!(connected["connectType"], "client");
    let mut acked = Vec::new();
    while acked.len() < 2 {
        let line = next_json(&mut lines).await;
        if let Some(event) = line["acked"].as_str() {
            assert_eq!(line["args"], serde_json::json!(["success"]), "ack payload for {event}");
            // The server saw the ack, so the batch must already be committed.
            let committed: Vec<String> = store.events().into_iter().filter_map(|c| c.event.msg_id).collect();
            for id in line["ids"].as_array().unwrap() {
                assert!(
                    committed.contains(&id.as_str().unwrap().to_string()),
                    "{id} acked before commit"
                );
            }
            acked.push(event.to_string());
        }
    }
    assert_eq!(acked, ["user offline info", "group offline info"]);

    let s = store.clone();
    let all_in = async move {
        loop {
            let ev = s.events();
            if ev.iter().any(|c| c.event.kind() == EventKind::Withdraw)
                && ev.iter().filter(|c| c.event.kind() == EventKind::Message).count() == 5
            {
                return ev;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let events = tokio::time::timeout(WAIT, all_in).await.expect("live events archived");
    let group = events
        .iter()
        .find_map(|c| match &c.event.body {
            EventBody::Message(m) if c.event.msg_id.as_deref() == Some("ref-live-2") => {
                Some((c.event.chat_id.clone(), m.clone()))
            }
            _ => None,
        })
        .unwrap();
    assert_eq!(group.0, "pub_finance");
    assert_eq!(group.1.mentions, vec!["admin".to_string()]);
    let withdraw = events.iter().find(|c| c.event.kind() == EventKind::Withdraw).unwrap();
    assert_eq!(withdraw.event.msg_id.as_deref(), Some("ref-live-2"));
    assert!(store.rejects().is_empty(), "{:?}", store.rejects());

    // The reference server pings every 2 s with a 2 s timeout: the session must survive it.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let logins = store
        .events()
        .iter()
        .filter(|c| {
            matches!(
                c.event.body,
                EventBody::ConnectorState {
                    status: ConnectorStatus::Connected,
                    ..
                }
            )
        })
        .count();
    assert_eq!(logins, 1, "no reconnect while pings are answered");
    assert!(!store.events().iter().any(|c| matches!(
        c.event.body,
        EventBody::ConnectorState {
            status: ConnectorStatus::Disconnected,
            ..
        }
    )));

    shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    drop(server.stdin.take());
    let _ = tokio::time::timeout(Duration::from_secs(5), server.wait()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_server_refusing_the_token_is_an_auth_failure() {
    let mut server = node("eoffice_server.js", &["interop-token"]);
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let port = next_json(&mut lines).await["listening"].as_u64().unwrap();
    let (store, shutdown, task) = run_connector(&format!("http://127.0.0.1:{port}"), "wrong-token");
    assert_eq!(next_json(&mut lines).await["refused"], "Not authorized");
    let s = store.clone();
    let failed = async move {
        loop {
            let hit = s.events().into_iter().find_map(|c| match c.event.body {
                EventBody::ConnectorState {
                    status: ConnectorStatus::AuthFailed,
                    detail,
                    ..
                } => detail,
                _ => None,
            });
            if let Some(d) = hit {
                return d;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let detail = tokio::time::timeout(WAIT, failed).await.expect("auth failure recorded");
    assert!(detail.contains("Not authorized"), "{detail}");
    assert!(!detail.contains("wrong-token"));
    shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_client_reads_and_acks_the_simulator() {
    let sim = EofficeSim::start(SimOptions::new(Script::DemoDay)).await.unwrap();
    let url = sim.url();
    let client = node("eoffice_client.js", &[&url, sim::eoffice::SIM_TOKEN, "admin", "21"]);
    let output = tokio::time::timeout(WAIT, client.wait_with_output())
        .await
        .expect("client finished")
        .unwrap();
    assert!(output.status.success(), "client exit {:?}", output.status);
    let summary: Value = serde_json::from_slice(&output.stdout).expect("client summary");
    assert_eq!(summary["connected"], true, "{summary}");
    let mut offline: Vec<String> = summary["offline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    offline.sort();
    let mut acked = sim.acked_ids();
    acked.sort();
    assert_eq!(offline.len(), 6);
    assert_eq!(
        offline, acked,
        "every batch the client received was acked with 'success'"
    );
    assert_eq!(summary["acks"], 2);
    assert_eq!(sim.pending_offline(), 0);
    assert!(summary["live"].as_array().unwrap().len() >= 21);
    assert_eq!(summary["withdrawn"].as_array().unwrap().len(), 1);
    let opened = sim.log().into_iter().find_map(|e| match e.event {
        SimEvent::Opened {
            user_id, connect_type, ..
        } => Some((user_id, connect_type)),
        _ => None,
    });
    assert_eq!(opened, Some(("admin".to_string(), "web".to_string())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_client_gets_the_simulators_connect_error() {
    let sim = EofficeSim::start(SimOptions::new(Script::DemoDay)).await.unwrap();
    let client = node("eoffice_client.js", &[&sim.url(), "not-the-token", "admin", "1"]);
    let output = tokio::time::timeout(WAIT, client.wait_with_output())
        .await
        .expect("client finished")
        .unwrap();
    let summary: Value = serde_json::from_slice(&output.stdout).expect("client summary");
    assert_eq!(summary["connect_error"], "Not authorized", "{summary}");
    assert_eq!(summary["connected"], false);
    assert!(sim.log().iter().any(|e| matches!(e.event, SimEvent::Refused { .. })));
}
