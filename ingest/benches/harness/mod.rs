//! The stages every WebSocket connector benchmark measures, in one place: a runtime like the
//! pipeline's, the store-only append of already decoded items, the run of a connector against
//! its simulator into the fake store or the real store writer, and the markdown table.
//!
//! Each benchmark (`eoffice.rs`, `goofish.rs`, `yunhu.rs`) only says how its platform's frames
//! are built and decoded and how its simulator and connector are started; `wecom.rs` shares
//! the store-only append.

// Each benchmark compiles this module on its own and uses a subset of it.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chatvault_ingest::{Connector, ConnectorContext};
use proto::{EventBatch, EventKind, Ingested, Platform};
use sim::fake_store::FakeStore;
use tokio::sync::mpsc;

/// Two worker threads, as `chatvault run` has on this class of machine.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// The config holding a simulator's connector section, read as `chatvault` reads its file.
pub fn config(section: &str) -> config::Config {
    config::parse(section, Path::new("bench.toml")).expect("config")
}

/// `n` from the first numeric argument (`cargo bench … -- <n>`), 200,000 by default.
pub fn n_from_args() -> usize {
    std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(200_000)
}

/// Events the payloads of `items` carry.
pub fn events_in(items: &[Ingested]) -> usize {
    items
        .iter()
        .map(|i| match i {
            Ingested::Payload { events, .. } => events.len(),
            Ingested::Rejected { .. } => 0,
        })
        .sum()
}

/// The decode stage's result: the items, the time decoding took and the bytes decoded.
pub struct Decoded {
    pub items: Vec<Ingested>,
    pub took: Duration,
    pub bytes: usize,
}

/// Times `decode` over every frame on this thread (one core).
pub fn decode<T, I>(frames: &[T], decode: impl FnMut(&T) -> I) -> Decoded
where
    T: AsRef<[u8]>,
    I: IntoIterator<Item = Ingested>,
{
    let bytes = frames.iter().map(|f| f.as_ref().len()).sum();
    let started = Instant::now();
    let items = frames.iter().flat_map(decode).collect();
    Decoded {
        items,
        took: started.elapsed(),
        bytes,
    }
}

/// Appends decoded `items` through the real writer in batches of `per_batch` (what the
/// connector gathers from a burst), with at most `in_flight` batches not yet committed
/// (`None`: as many as the channel takes); the time until every batch is committed.
pub async fn store_only(
    platform: Platform,
    items: Vec<Ingested>,
    per_batch: usize,
    in_flight: Option<usize>,
    dir: &Path,
) -> Duration {
    let store = store::Store::open(dir, store::StoreOptions::default()).expect("store opens");
    // Never smaller than the batches allowed in flight, so the channel is not what bounds them.
    let (tx, rx) = mpsc::channel(in_flight.unwrap_or(16).max(16));
    let writer = store::spawn_writer(store, rx, store::WriterOptions::default());
    let started = Instant::now();
    let mut pending = VecDeque::new();
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        let chunk: Vec<Ingested> = items.by_ref().take(per_batch).collect();
        let (batch, notice) = EventBatch::new(platform, "bench", chunk, None);
        tx.send(batch).await.expect("writer running");
        pending.push_back(notice);
        if in_flight.is_some_and(|max| pending.len() >= max)
            && let Some(oldest) = pending.pop_front()
        {
            oldest.await.expect("notice").expect("committed");
        }
    }
    for notice in pending {
        notice.await.expect("notice").expect("committed");
    }
    let elapsed = started.elapsed();
    drop(tx);
    writer.join().await.expect("writer ends");
    elapsed
}

/// The stages after decoding and the fake-store run: the store-only append of the decoded
/// items in batches of `per_batch`, then `real` (the connector into the store writer at the
/// directory it is given), each in its own directory.
pub fn store_stages<F>(
    rt: &tokio::runtime::Runtime,
    platform: Platform,
    per_batch: usize,
    n: usize,
    decoded: Decoded,
    fake: Duration,
    real: impl FnOnce(PathBuf) -> F,
) -> Stages
where
    F: Future<Output = Duration>,
{
    let scratch = tempfile::tempdir().expect("scratch dir");
    let store = rt.block_on(store_only(
        platform,
        decoded.items,
        per_batch,
        None,
        &scratch.path().join("store-only"),
    ));
    let real = rt.block_on(real(scratch.path().join("connector")));
    Stages {
        n,
        decode: decoded.took,
        frame_bytes: decoded.bytes,
        fake,
        store,
        real,
    }
}

/// Runs `conn` (already pointed at a simulator holding `n` messages) into the fake store or,
/// with `store_dir`, the real store writer; returns the time until all `n` messages (plus the
/// `connected` state event) are committed. `resume_from` is the stored cursor it starts from.
pub async fn through_connector<C: Connector>(
    conn: Arc<C>,
    n: usize,
    store_dir: Option<&Path>,
    resume_from: Option<serde_json::Value>,
    timeout: Duration,
) -> Duration {
    let platform = conn.platform();
    let (tx, rx) = mpsc::channel(16);
    let scratch = tempfile::tempdir().expect("scratch dir");
    let cx = ConnectorContext {
        resume_from,
        ..ConnectorContext::new(platform, "bench", tx, scratch.path())
    };
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
    let task = tokio::spawn(conn.run(cx));
    let want = n as u64 + 1;
    if let Some(fake) = &fake {
        fake.wait_for(want, timeout).await;
    }
    if let Some((_, reader)) = &real {
        while reader.head().expect("head").seq < want {
            assert!(started.elapsed() < timeout, "not archived within {timeout:?}");
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
    elapsed
}

/// The four stages' times of one run, on the same `n` messages.
pub struct Stages {
    /// Messages.
    pub n: usize,
    /// Decoding the frames alone (one core).
    pub decode: Duration,
    /// Bytes of the decoded frames.
    pub frame_bytes: usize,
    /// Simulator → connector → fake store.
    pub fake: Duration,
    /// Store append of the decoded items.
    pub store: Duration,
    /// Simulator → connector → store writer.
    pub real: Duration,
}

impl Stages {
    /// Prints the markdown table: `title` heads it, `decode_what` and `frames` name the decode
    /// row and its unit, `fake_note` says what the connector stage sent.
    pub fn print(&self, title: &str, decode_what: &str, frames: &str, fake_note: &str) {
        let rate = |d: Duration| self.n as f64 / d.as_secs_f64();
        println!("\n### {title}\n");
        println!("| stage | time | rate |");
        println!("|---|---|---|");
        println!(
            "| decode: {decode_what} | {:.2} s | {:.0} {frames}/s ({:.1} MB/s) |",
            self.decode.as_secs_f64(),
            rate(self.decode),
            self.frame_bytes as f64 / 1e6 / self.decode.as_secs_f64()
        );
        println!(
            "| sim → connector → fake store{fake_note} | {:.2} s | {:.0} messages/s |",
            self.fake.as_secs_f64(),
            rate(self.fake)
        );
        println!(
            "| store append of the same decoded messages (writer, synchronous=FULL) | {:.2} s | {:.0} messages/s |",
            self.store.as_secs_f64(),
            rate(self.store)
        );
        println!(
            "| sim → connector → store | {:.2} s | {:.0} messages/s |",
            self.real.as_secs_f64(),
            rate(self.real)
        );
        println!(
            "\nend-to-end rate / store-only rate = {:.2}",
            rate(self.real) / rate(self.store)
        );
    }
}
