//! e-office ingest throughput, each figure measured in the same run on the same messages:
//! 1. decode: frames/s through Engine.IO → Socket.IO → e-office codec (AES-128 decryption);
//! 2. `sim eoffice` → WebSocket → connector → fake store (connector cost without SQLite);
//! 3. store append of the same messages, already decoded, through the real store writer;
//! 4. `sim eoffice` → connector → the real store writer.
//!
//! 4 / 3 is the connector's own overhead on top of archiving. Prints a markdown table.
//!
//! `cargo bench -p chatvault-ingest --bench eoffice [-- <n>]` (default n = 200000).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chatvault_ingest::eoffice::EofficeConnector;
use chatvault_ingest::eoffice::codec::Codec;
use chatvault_ingest::eoffice::crypto::ContentKey;
use chatvault_ingest::eoffice::engineio;
use chatvault_ingest::eoffice::socketio::{self, Packet};
use chatvault_ingest::{Connector, ConnectorContext};
use proto::{EventBatch, EventKind, Ingested, Platform, RawPayload, batch::media};
use sim::eoffice::script::bulk;
use sim::eoffice::{EofficeSim, SIM_AES_IV, SIM_AES_KEY, Script, SimOptions};
use sim::fake_store::FakeStore;
use tokio::sync::mpsc;

/// Frames per batch in the store-only stage: what the connector gathers from a burst.
const FRAMES_PER_BATCH: usize = 256;

fn main() {
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(200_000);
    let key = ContentKey::new(SIM_AES_KEY, SIM_AES_IV).expect("sim key");
    let frames: Vec<String> = bulk(n, Some(&key))
        .live
        .into_iter()
        .map(|p| Packet::event(&p.event, vec![p.body], None).to_frame())
        .collect();
    let bytes: usize = frames.iter().map(String::len).sum();
    let codec = Codec::new(Some(key));

    let started = Instant::now();
    let items: Vec<Ingested> = frames.iter().map(|f| decode(&codec, f)).collect();
    let decode_time = started.elapsed();
    assert_eq!(
        items
            .iter()
            .map(|i| if let Ingested::Payload { events, .. } = i {
                events.len()
            } else {
                0
            })
            .sum::<usize>(),
        n
    );
    drop(frames);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let scratch = tempfile::tempdir().expect("scratch dir");
    let (fake_time, frames_sent) = rt.block_on(through_connector(n, None));
    let store_time = rt.block_on(store_only(items, &scratch.path().join("store-only")));
    let (real_time, _) = rt.block_on(through_connector(n, Some(&scratch.path().join("connector"))));

    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    println!(
        "\n### e-office ingest, {n} messages (AES-128 `message_content`, corpus seed 42, one message per frame)\n"
    );
    println!("| stage | time | rate |");
    println!("|---|---|---|");
    println!(
        "| decode: engine.io + socket.io + codec + AES | {:.2} s | {:.0} frames/s ({:.1} MB/s) |",
        decode_time.as_secs_f64(),
        rate(decode_time),
        bytes as f64 / 1e6 / decode_time.as_secs_f64()
    );
    println!(
        "| sim → connector → fake store ({frames_sent} frames) | {:.2} s | {:.0} messages/s |",
        fake_time.as_secs_f64(),
        rate(fake_time)
    );
    println!(
        "| store append of the same decoded messages (writer, synchronous=FULL) | {:.2} s | {:.0} messages/s |",
        store_time.as_secs_f64(),
        rate(store_time)
    );
    println!(
        "| sim → connector → store | {:.2} s | {:.0} messages/s |",
        real_time.as_secs_f64(),
        rate(real_time)
    );
    println!(
        "\nend-to-end rate / store-only rate = {:.2}",
        rate(real_time) / rate(store_time)
    );
}

fn decode(codec: &Codec, frame: &str) -> Ingested {
    let engineio::Packet::Message(m) = engineio::decode(frame).expect("engine.io frame") else {
        panic!("not a message")
    };
    let p = socketio::decode(m).expect("socket.io packet");
    let (name, args) = p.event_parts().expect("event");
    let events = codec.decode(name, args, proto::time::now_ms()).expect("decodes").events;
    Ingested::Payload {
        raw: RawPayload::now(media::TEXT, frame.to_string()),
        events,
    }
}

/// Appends decoded items through the real writer in connector-sized batches.
async fn store_only(items: Vec<Ingested>, dir: &Path) -> Duration {
    let store = store::Store::open(dir, store::StoreOptions::default()).expect("store opens");
    let (tx, rx) = mpsc::channel(16);
    let writer = store::spawn_writer(store, rx, store::WriterOptions::default());
    let started = Instant::now();
    let mut notices = Vec::new();
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        let chunk: Vec<Ingested> = items.by_ref().take(FRAMES_PER_BATCH).collect();
        let (batch, notice) = EventBatch::new(Platform::Eoffice, "bench", chunk, None);
        tx.send(batch).await.expect("writer running");
        notices.push(notice);
    }
    for notice in notices {
        notice.await.expect("notice").expect("committed");
    }
    let elapsed = started.elapsed();
    drop(tx);
    writer.join().await.expect("writer ends");
    elapsed
}

/// Runs the connector against `sim eoffice` pushing `Bulk(n)`, into the fake store or, with
/// `store_dir`, the real store writer; returns the time until all n messages are committed.
async fn through_connector(n: usize, store_dir: Option<&Path>) -> (Duration, u64) {
    let sim = EofficeSim::start(SimOptions::new(Script::Bulk(n)))
        .await
        .expect("sim starts");
    let cfg = config::parse(&sim.config_section("bench"), Path::new("bench.toml"))
        .expect("config")
        .eoffice[0]
        .clone();
    let (tx, rx) = mpsc::channel(16);
    let scratch = tempfile::tempdir().expect("scratch dir");
    let cx = ConnectorContext::new(Platform::Eoffice, "bench", tx, scratch.path());
    let shutdown = cx.shutdown.clone();
    // The sink is ready before the clock starts.
    let (fake, real) = match store_dir {
        None => (Some(FakeStore::spawn(rx)), None),
        Some(dir) => {
            let store = store::Store::open(dir, store::StoreOptions::default()).expect("store opens");
            let writer = store::spawn_writer(store, rx, store::WriterOptions::default());
            (
                None,
                Some((writer, store::StoreReader::open(dir).expect("reader opens"))),
            )
        }
    };
    let started = Instant::now();
    let task = tokio::spawn(Arc::new(EofficeConnector::new(cfg)).run(cx));
    // n messages plus the `connected` state event.
    let want = n as u64 + 1;
    if let Some(fake) = &fake {
        fake.wait_for(want, Duration::from_secs(600)).await;
    }
    if let Some((_, reader)) = &real {
        while reader.head().expect("head").seq < want {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let elapsed = started.elapsed();
    if let Some(fake) = &fake {
        let messages = fake
            .events()
            .iter()
            .filter(|c| c.event.kind() == EventKind::Message)
            .count();
        assert_eq!(messages, n, "all messages archived");
    }
    shutdown.cancel();
    let _ = task.await;
    if let Some((writer, _)) = real {
        writer.join().await.expect("writer ends");
    }
    (elapsed, sim.frames_sent())
}
