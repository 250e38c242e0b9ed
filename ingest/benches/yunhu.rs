//! Yunhu ingest throughput, each figure measured in the same run on the same messages:
//! 1. decode: protobuf frames/s through the Yunhu codec (cmd peek + full decode + normalize);
//! 2. `sim yunhu` → WebSocket → connector → fake store (connector cost without SQLite);
//! 3. store append of the same messages, already decoded, through the real store writer;
//! 4. `sim yunhu` → connector → the real store writer.
//!
//! Prints a markdown table.
//!
//! `cargo bench -p chatvault-ingest --bench yunhu [-- <n>]` (default n = 200000).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chatvault_ingest::yunhu::YunhuConnector;
use chatvault_ingest::yunhu::codec::{decode, frame_events};
use chatvault_ingest::yunhu::cursor::Position;
use chatvault_ingest::{Connector, ConnectorContext};
use proto::{EventBatch, EventKind, Ingested, Platform, RawPayload, batch::media};
use sim::fake_store::FakeStore;
use sim::yunhu::{Script, YunhuSim};
use tokio::sync::mpsc;

/// Frames per batch in the store-only stage: what the connector gathers from a burst.
const FRAMES_PER_BATCH: usize = 512;

fn main() {
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(200_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");

    // The exact frames the simulator pushes: run it once against the fake store and keep them.
    let (fake_time, frames) = rt.block_on(through_connector(n, None));
    let bytes: usize = frames.iter().map(|f| f.len()).sum();

    let started = Instant::now();
    let mut pos = Position::default();
    let items: Vec<Ingested> = frames
        .iter()
        .map(|f| {
            let frame = decode(f).expect("sim frame decodes");
            let events = frame_events(&frame, &mut pos, proto::time::now_ms());
            Ingested::Payload {
                raw: RawPayload::now(media::PROTOBUF, f.clone()),
                events,
            }
        })
        .collect();
    let decode_time = started.elapsed();
    drop(frames);

    let scratch = tempfile::tempdir().expect("scratch dir");
    let store_time = rt.block_on(store_only(items, &scratch.path().join("store-only")));
    let (real_time, _) = rt.block_on(through_connector(n, Some(&scratch.path().join("connector"))));

    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    println!("\n### Yunhu ingest, {n} messages (protobuf push_message, corpus seed 42, one message per frame)\n");
    println!("| stage | time | rate |");
    println!("|---|---|---|");
    println!(
        "| decode: cmd peek + protobuf + normalize | {:.2} s | {:.0} frames/s ({:.1} MB/s) |",
        decode_time.as_secs_f64(),
        rate(decode_time),
        bytes as f64 / 1e6 / decode_time.as_secs_f64()
    );
    println!(
        "| sim → connector → fake store | {:.2} s | {:.0} messages/s |",
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
        let (batch, notice) = EventBatch::new(Platform::Yunhu, "bench", chunk, None);
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

/// Runs the connector against `sim yunhu` pushing `Bulk(n)`, into the fake store or, with
/// `store_dir`, the real store writer; returns the time until all n messages are committed
/// and the frames the simulator pushed.
async fn through_connector(n: usize, store_dir: Option<&Path>) -> (Duration, Vec<bytes::Bytes>) {
    let sim = YunhuSim::start(Script::Bulk(n)).await.expect("sim starts");
    let cfg = config::parse(&sim.config_toml("bench"), Path::new("bench.toml"))
        .expect("config")
        .yunhu[0]
        .clone();
    let (tx, rx) = mpsc::channel(16);
    let scratch = tempfile::tempdir().expect("scratch dir");
    let cx = ConnectorContext::new(Platform::Yunhu, "bench", tx, scratch.path());
    let shutdown = cx.shutdown.clone();
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
    let task = tokio::spawn(Arc::new(YunhuConnector::new(cfg)).run(cx));
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
    (elapsed, sim.sent().into_iter().map(|f| f.bytes).collect())
}
