//! Goofish LWP WebSocket text frames: frame JSON → kind, ack, failure text, and for
//! `/s/sync` pushes the whole push (every `data[]` item: Base64 → JSON or MessagePack →
//! events); any JSON object is also tried as a history-page message model (backfill).

#![no_main]

use chatvault_fuzz::{RECEIVED_AT, reads_back};
use ingest::goofish::codec::decode_sync_push;
use ingest::goofish::frame::{Frame, FrameKind, SYNC_PUSH};
use ingest::goofish::message::from_history;
use libfuzzer_sys::fuzz_target;
use proto::Ingested;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(frame) = Frame::parse(text) else {
        return;
    };
    let _ = frame.mid();
    let _ = frame.is_flow_control();
    let _ = frame.failure();
    // What we send back must parse as a frame again.
    Frame::parse(&frame.ack().to_text()).expect("ack parses");
    // Re-serialized frames (kept raw for pushes without messages) parse back to the same
    // path, code and headers. Bodies are not compared: serde_json may print a float one
    // digit differently on the way back.
    let again = Frame::parse(&frame.to_text()).expect("re-serialized frame parses");
    assert_eq!(
        (&again.lwp, again.code, again.headers.len()),
        (&frame.lwp, frame.code, frame.headers.len())
    );
    if frame.kind() == FrameKind::Push && frame.lwp.as_deref() == Some(SYNC_PUSH) {
        if let Ok(push) = decode_sync_push(&frame.body, RECEIVED_AT) {
            assert!(push.messages <= push.items.len());
            for item in &push.items {
                if let Ingested::Payload { events, .. } = item {
                    events.iter().for_each(reads_back);
                }
            }
        }
    }
    if let Ok(e) = from_history(&frame.body) {
        reads_back(&e);
    }
});
