//! Goofish ingest throughput, each figure measured in the same run on the same messages:
//! 1. decode: `/s/sync` pushes/s through LWP frame parsing → Base64 → MessagePack → events;
//! 2. `sim goofish` → WebSocket → connector → fake store (connector cost without SQLite);
//! 3. store append of the same messages, already decoded, through the real store writer;
//! 4. `sim goofish` → connector → the real store writer.
//!
//! One message per push (as the platform sends chat messages), each acked after its commit.
//! Prints a markdown table.
//!
//! `cargo bench -p chatvault-ingest --bench goofish [-- <n>]` (default n = 200000).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chatvault_ingest::goofish::GoofishConnector;
use chatvault_ingest::goofish::codec::decode_sync_push;
use chatvault_ingest::goofish::frame::Frame;
use chatvault_ingest::{Connector, ConnectorContext};
use proto::{EventBatch, EventKind, Ingested, Platform};
use sim::fake_store::FakeStore;
use sim::goofish::{GoofishSim, Script, SimOptions, wire};
use tokio::sync::mpsc;

/// Items per batch in the store-only stage: what a burst of pushes amounts to.
const ITEMS_PER_BATCH: usize = 256;

fn main() {
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(200_000);
    let (_, msgs) = Script::Bulk(n).build();
    let frames: Vec<String> = msgs
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let pts = 1_700_000_000_000_000 + i as i64 + 1;
            let item = wire::push_item(&wire::chat_item(m));
            wire::sync_push(&format!("{i} 0"), "bench", vec![item], pts, pts, m.sent_at).to_string()
        })
        .collect();
    drop(msgs);
    let bytes: usize = frames.iter().map(String::len).sum();

    let started = Instant::now();
    let items: Vec<Ingested> = frames
        .iter()
        .flat_map(|f| {
            let frame = Frame::parse(f).expect("frame");
            decode_sync_push(&frame.body, proto::time::now_ms())
                .expect("push")
                .items
        })
        .collect();
    let decode_time = started.elapsed();
    let decoded: usize = items
        .iter()
        .map(|i| {
            if let Ingested::Payload { events, .. } = i {
                events.len()
            } else {
                0
            }
        })
        .sum();
    assert_eq!(decoded, n, "every push decodes to one message");
    drop(frames);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let scratch = tempfile::tempdir().expect("scratch dir");
    let (fake_time, pushes) = rt.block_on(through_connector(n, None));
    let store_time = rt.block_on(store_only(items, &scratch.path().join("store-only")));
    let (real_time, _) = rt.block_on(through_connector(n, Some(&scratch.path().join("connector"))));

    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    println!("\n### Goofish ingest, {n} messages (corpus seed 42, one MessagePack item per `/s/sync` push)\n");
    println!("| stage | time | rate |");
    println!("|---|---|---|");
    println!(
        "| decode: LWP JSON + Base64 + MessagePack + mapping | {:.2} s | {:.0} pushes/s ({:.1} MB/s) |",
        decode_time.as_secs_f64(),
        rate(decode_time),
        bytes as f64 / 1e6 / decode_time.as_secs_f64()
    );
    println!(
        "| sim → connector → fake store ({pushes} pushes, each acked after commit) | {:.2} s | {:.0} messages/s |",
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

/// Appends decoded items through the real writer in batches.
async fn store_only(items: Vec<Ingested>, dir: &Path) -> Duration {
    let store = store::Store::open(dir, store::StoreOptions::default()).expect("store opens");
    let (tx, rx) = mpsc::channel(16);
    let writer = store::spawn_writer(store, rx, store::WriterOptions::default());
    let started = Instant::now();
    let mut notices = Vec::new();
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        let chunk: Vec<Ingested> = items.by_ref().take(ITEMS_PER_BATCH).collect();
        let (batch, notice) = EventBatch::new(Platform::Goofish, "bench", chunk, None);
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

/// Runs the connector against `sim goofish` pushing `Bulk(n)`, into the fake store or, with
/// `store_dir`, the real store writer; returns the time until all n messages are committed.
async fn through_connector(n: usize, store_dir: Option<&Path>) -> (Duration, usize) {
    let sim = GoofishSim::start(SimOptions::new(Script::Bulk(n)))
        .await
        .expect("sim starts");
    let cfg = config::parse(&sim.config_section("bench"), Path::new("bench.toml"))
        .expect("config")
        .goofish[0]
        .clone();
    let (tx, rx) = mpsc::channel(16);
    let scratch = tempfile::tempdir().expect("scratch dir");
    let cx = ConnectorContext {
        // Backfill done earlier: this measures the live push path only.
        resume_from: Some(serde_json::json!({"backfilled": true})),
        ..ConnectorContext::new(Platform::Goofish, "bench", tx, scratch.path())
    };
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
    let task = tokio::spawn(Arc::new(GoofishConnector::new(cfg)).run(cx));
    // n messages plus the `connected` state event.
    let want = n as u64 + 1;
    if let Some(fake) = &fake {
        fake.wait_for(want, Duration::from_secs(900)).await;
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
    (elapsed, sim.pushes().len())
}
