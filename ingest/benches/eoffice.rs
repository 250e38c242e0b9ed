//! e-office ingest throughput: frames/s through the pure decoding path (Engine.IO → Socket.IO
//! → e-office codec with AES), and messages/s archived end to end from `sim eoffice` pushing
//! `Bulk(n)` messages through the connector into the fake store. Prints a markdown table.
//!
//! `cargo bench -p chatvault-ingest --bench eoffice [-- <n>]` (default n = 200000).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chatvault_ingest::blobs::BlobStore;
use chatvault_ingest::eoffice::EofficeConnector;
use chatvault_ingest::eoffice::codec::Codec;
use chatvault_ingest::eoffice::crypto::ContentKey;
use chatvault_ingest::eoffice::engineio;
use chatvault_ingest::eoffice::socketio::{self, Packet};
use chatvault_ingest::state::{StateRegistry, StateReporter};
use chatvault_ingest::{Connector, ConnectorContext, EventSender};
use proto::{EventKind, Platform};
use sim::eoffice::script::bulk;
use sim::eoffice::{EofficeSim, SIM_AES_IV, SIM_AES_KEY, Script, SimOptions};
use sim::fake_store::FakeStore;
use tokio_util::sync::CancellationToken;

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(200_000);
    let key = ContentKey::new(SIM_AES_KEY, SIM_AES_IV).expect("sim key");

    // Stage 1: decode only, from frames built exactly as the simulator sends them.
    let frames: Vec<String> = bulk(n, Some(&key))
        .live
        .into_iter()
        .map(|p| Packet::event(&p.event, vec![p.body], None).to_frame())
        .collect();
    let bytes: usize = frames.iter().map(String::len).sum();
    let codec = Codec::new(Some(key));
    let started = Instant::now();
    let mut events = 0usize;
    for f in &frames {
        let engineio::Packet::Message(m) = engineio::decode(f).expect("engine.io frame") else {
            panic!("not a message")
        };
        let p = socketio::decode(m).expect("socket.io packet");
        let (name, args) = p.event_parts().expect("event");
        events += codec
            .decode(name, args, 1_795_395_600_000)
            .expect("decodes")
            .events
            .len();
    }
    let decode = started.elapsed();
    assert_eq!(events, n);
    drop(frames);

    // Stage 2: end to end, simulator → WebSocket → connector → bounded channel → fake store.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (e2e, frames_sent) = rt.block_on(end_to_end(n));

    let secs = |d: Duration| d.as_secs_f64();
    println!("\n### e-office ingest, {n} messages (AES-128 message_content, corpus seed 42)\n");
    println!("| stage | time | rate |");
    println!("|---|---|---|");
    println!(
        "| decode (engine.io + socket.io + codec + AES) | {:.2} s | {:.0} frames/s, {:.1} MB/s |",
        secs(decode),
        n as f64 / secs(decode),
        bytes as f64 / 1e6 / secs(decode)
    );
    println!(
        "| sim → connector → fake store ({frames_sent} frames) | {:.2} s | {:.0} messages/s |",
        secs(e2e),
        n as f64 / secs(e2e)
    );
}

async fn end_to_end(n: usize) -> (Duration, u64) {
    let sim = EofficeSim::start(SimOptions::new(Script::Bulk(n)))
        .await
        .expect("sim starts");
    let cfg = config::parse(
        &sim.config_section("bench"),
        std::path::Path::new("bench.toml"),
    )
    .expect("config")
    .eoffice[0]
        .clone();
    let (tx, store) = FakeStore::channel(16);
    let out = EventSender::new(Platform::Eoffice, "bench", tx);
    let dir = std::env::temp_dir().join("chatvault-eoffice-bench");
    let shutdown = CancellationToken::new();
    let cx = ConnectorContext {
        name: "bench".into(),
        platform: Platform::Eoffice,
        state: StateReporter::new(
            "bench",
            Platform::Eoffice,
            StateRegistry::new(),
            out.clone(),
        ),
        out,
        resume_from: None,
        shutdown: shutdown.clone(),
        blobs: Arc::new(BlobStore::new(dir.join("blobs"), 1 << 20)),
        data_dir: dir,
        backfill: false,
        max_body_bytes: 10 << 20,
    };
    let started = Instant::now();
    let task = tokio::spawn(Arc::new(EofficeConnector::new(cfg)).run(cx));
    // n messages plus the `connected` state event.
    let got = store.wait_for(n as u64 + 1, Duration::from_secs(600)).await;
    let elapsed = started.elapsed();
    let messages = store
        .events()
        .iter()
        .filter(|c| c.event.kind() == EventKind::Message)
        .count();
    assert_eq!(
        messages, n,
        "all messages archived (store saw {got} events)"
    );
    shutdown.cancel();
    let _ = task.await;
    (elapsed, sim.frames_sent())
}
