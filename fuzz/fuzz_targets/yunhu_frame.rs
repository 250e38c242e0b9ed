//! Yunhu binary WebSocket frames: protobuf → frame by `cmd` → canonical events, advancing a
//! resume position that must still serialize as a cursor. Each input is decoded twice
//! against the same position, as a redelivered frame would be.

#![no_main]

use chatvault_fuzz::{RECEIVED_AT, reads_back};
use ingest::yunhu::codec::{decode, frame_events};
use ingest::yunhu::cursor::Position;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(frame) = decode(data) else {
        return;
    };
    let mut pos = Position::default();
    for _ in 0..2 {
        frame_events(&frame, &mut pos, RECEIVED_AT).iter().for_each(reads_back);
    }
    let cursor = pos.to_cursor();
    let (back, warning) = Position::from_cursor(Some(&cursor));
    assert!(warning.is_none(), "own cursor reads back");
    assert_eq!(back, pos);
});
