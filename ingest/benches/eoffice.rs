//! e-office ingest throughput, each figure measured in the same run on the same messages:
//! 1. decode: frames/s through Engine.IO → Socket.IO → e-office codec (AES-128 decryption);
//! 2. `sim eoffice` → WebSocket → connector → fake store (connector cost without SQLite);
//! 3. store append of the same messages, already decoded, through the real store writer;
//! 4. `sim eoffice` → connector → the real store writer.
//!
//! 4 / 3 is the connector's own overhead on top of archiving. Prints a markdown table.
//!
//! `cargo bench -p chatvault-ingest --bench eoffice [-- <n>]` (default n = 200000).

mod harness;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chatvault_ingest::eoffice::EofficeConnector;
use chatvault_ingest::eoffice::codec::Codec;
use chatvault_ingest::eoffice::crypto::ContentKey;
use chatvault_ingest::eoffice::engineio;
use chatvault_ingest::eoffice::socketio::{self, Packet};
use proto::{Ingested, Platform, RawPayload, batch::media};
use sim::eoffice::script::bulk;
use sim::eoffice::{EofficeSim, SIM_AES_IV, SIM_AES_KEY, Script, SimOptions};

/// Frames per batch in the store-only stage: what the connector gathers from a burst.
const FRAMES_PER_BATCH: usize = 256;

fn main() {
    let n = harness::n_from_args();
    let key = ContentKey::new(SIM_AES_KEY, SIM_AES_IV).expect("sim key");
    let frames: Vec<String> = bulk(n, Some(&key))
        .live
        .into_iter()
        .map(|p| Packet::event(&p.event, vec![p.body], None).to_frame())
        .collect();
    let codec = Codec::new(Some(key));
    let decoded = harness::decode(&frames, |f| [decode(&codec, f)]);
    assert_eq!(harness::events_in(&decoded.items), n);
    drop(frames);

    let rt = harness::runtime();
    let (fake, frames_sent) = rt.block_on(through_connector(n, None));
    harness::store_stages(
        &rt,
        Platform::Eoffice,
        FRAMES_PER_BATCH,
        n,
        decoded,
        fake,
        |dir| async move { through_connector(n, Some(&dir)).await.0 },
    )
    .print(
        &format!("e-office ingest, {n} messages (AES-128 `message_content`, corpus seed 42, one message per frame)"),
        "engine.io + socket.io + codec + AES",
        "frames",
        &format!(" ({frames_sent} frames)"),
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

/// The connector against `sim eoffice` pushing `Bulk(n)`; the time and the frames sent.
async fn through_connector(n: usize, store_dir: Option<&Path>) -> (Duration, u64) {
    let sim = EofficeSim::start(SimOptions::new(Script::Bulk(n)))
        .await
        .expect("sim starts");
    let cfg = harness::config(&sim.config_section("bench")).eoffice[0].clone();
    let conn = Arc::new(EofficeConnector::new(cfg));
    let elapsed = harness::through_connector(conn, n, store_dir, None, Duration::from_secs(600)).await;
    (elapsed, sim.frames_sent())
}
