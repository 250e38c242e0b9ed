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

mod harness;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chatvault_ingest::goofish::GoofishConnector;
use chatvault_ingest::goofish::codec::decode_sync_push;
use chatvault_ingest::goofish::frame::Frame;
use proto::Platform;
use sim::goofish::{GoofishSim, Script, SimOptions, wire};

/// Items per batch in the store-only stage: what a burst of pushes amounts to.
const ITEMS_PER_BATCH: usize = 256;

fn main() {
    let n = harness::n_from_args();
    let (_, msgs) = Script::Bulk(n).build();
    let frames: Vec<String> = msgs
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let pts = 1_700_000_000_000_000 + i as i64 + 1;
            let item = wire::push_item_raw(&wire::chat_item(m));
            wire::sync_push(&format!("{i} 0"), "bench", &[&item], pts, pts, m.sent_at)
        })
        .collect();
    drop(msgs);

    let decoded = harness::decode(&frames, |f| {
        let frame = Frame::parse(f).expect("frame");
        decode_sync_push(&frame.body, proto::time::now_ms())
            .expect("push")
            .items
    });
    assert_eq!(
        harness::events_in(&decoded.items),
        n,
        "every push decodes to one message"
    );
    drop(frames);

    let rt = harness::runtime();
    let (fake, pushes) = rt.block_on(through_connector(n, None));
    harness::store_stages(
        &rt,
        Platform::Goofish,
        ITEMS_PER_BATCH,
        n,
        decoded,
        fake,
        |dir| async move { through_connector(n, Some(&dir)).await.0 },
    )
    .print(
        &format!("Goofish ingest, {n} messages (corpus seed 42, one MessagePack item per `/s/sync` push)"),
        "LWP JSON + Base64 + MessagePack + mapping",
        "pushes",
        &format!(" ({pushes} pushes, each acked after commit)"),
    );
}

/// The connector against `sim goofish` pushing `Bulk(n)`; the time and the pushes sent.
async fn through_connector(n: usize, store_dir: Option<&Path>) -> (Duration, usize) {
    let sim = GoofishSim::start(SimOptions::new(Script::Bulk(n)))
        .await
        .expect("sim starts");
    let cfg = harness::config(&sim.config_section("bench")).goofish[0].clone();
    // Backfill done earlier: this measures the live push path only.
    let resume = Some(serde_json::json!({"backfilled": true}));
    let conn = Arc::new(GoofishConnector::new(cfg));
    let elapsed = harness::through_connector(conn, n, store_dir, resume, Duration::from_secs(900)).await;
    (elapsed, sim.pushes().len())
}
