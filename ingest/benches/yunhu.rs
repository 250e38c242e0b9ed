//! Yunhu ingest throughput, each figure measured in the same run on the same messages:
//! 1. decode: protobuf frames/s through the Yunhu codec (cmd peek + full decode + normalize);
//! 2. `sim yunhu` → WebSocket → connector → fake store (connector cost without SQLite);
//! 3. store append of the same messages, already decoded, through the real store writer;
//! 4. `sim yunhu` → connector → the real store writer.
//!
//! Prints a markdown table.
//!
//! `cargo bench -p chatvault-ingest --bench yunhu [-- <n>]` (default n = 200000).

mod harness;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chatvault_ingest::yunhu::YunhuConnector;
use chatvault_ingest::yunhu::codec::{decode, frame_events};
use chatvault_ingest::yunhu::cursor::Position;
use proto::{Ingested, Platform, RawPayload, batch::media};
use sim::yunhu::{Script, YunhuSim};

/// Frames per batch in the store-only stage: what the connector gathers from a burst.
const FRAMES_PER_BATCH: usize = 512;

fn main() {
    let n = harness::n_from_args();
    let rt = harness::runtime();

    // The exact frames the simulator pushes: run it once against the fake store and keep them.
    let (fake, frames) = rt.block_on(through_connector(n, None));

    let mut pos = Position::default();
    let decoded = harness::decode(&frames, |f| {
        let frame = decode(f).expect("sim frame decodes");
        let events = frame_events(&frame, &mut pos, proto::time::now_ms());
        [Ingested::Payload {
            raw: RawPayload::now(media::PROTOBUF, f.clone()),
            events,
        }]
    });
    drop(frames);

    harness::store_stages(
        &rt,
        Platform::Yunhu,
        FRAMES_PER_BATCH,
        n,
        decoded,
        fake,
        |dir| async move { through_connector(n, Some(&dir)).await.0 },
    )
    .print(
        &format!("Yunhu ingest, {n} messages (protobuf push_message, corpus seed 42, one message per frame)"),
        "cmd peek + protobuf + normalize",
        "frames",
        "",
    );
}

/// The connector against `sim yunhu` pushing `Bulk(n)`; the time and the frames pushed.
async fn through_connector(n: usize, store_dir: Option<&Path>) -> (Duration, Vec<bytes::Bytes>) {
    let sim = YunhuSim::start(Script::Bulk(n)).await.expect("sim starts");
    let cfg = harness::config(&sim.config_toml("bench")).yunhu[0].clone();
    let conn = Arc::new(YunhuConnector::new(cfg));
    let elapsed = harness::through_connector(conn, n, store_dir, None, Duration::from_secs(600)).await;
    (elapsed, sim.sent().into_iter().map(|f| f.bytes).collect())
}
