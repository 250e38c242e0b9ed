//! Checks shared by the fuzz targets.

use proto::ChatEvent;
use serde::Deserialize;

/// The receive time the targets give decoders: fixed, so that a crash reproduces.
pub const RECEIVED_AT: i64 = 1_772_413_260_000;

/// The store's envelope, as deep as the real one (envelope → event → body → detail).
#[derive(Deserialize)]
struct Envelope {
    #[allow(dead_code)]
    event: ChatEvent,
}

/// An event a decoder emits must serialize and read back from its store envelope: serde_json
/// refuses documents nested deeper than 128 levels, and an event the store cannot read
/// breaks `verify`, `show` and export.
pub fn reads_back(e: &ChatEvent) {
    let env = serde_json::json!({ "v": 1, "event": e });
    let bytes = serde_json::to_vec(&env).expect("event serializes");
    if let Err(err) = serde_json::from_slice::<Envelope>(&bytes) {
        panic!("stored event does not read back: {err}");
    }
}
