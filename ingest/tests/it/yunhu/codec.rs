//! Golden tests for Yunhu frame decoding: every `tests/fixtures/yunhu/*.bin` is a server frame
//! encoded by hand from the documented field numbers (`make_fixtures.py`, independent of
//! prost); `<case>.expected.json` beside it holds the events it must decode to, or the error
//! (the [`golden`] convention).

use chatvault_ingest::yunhu::codec::{decode, frame_events};
use chatvault_ingest::yunhu::cursor::Position;

use crate::support::golden;

const RECEIVED_AT: i64 = 1_772_413_260_000;

#[test]
fn every_fixture_decodes_to_its_golden_events() {
    golden::check_every("yunhu", "bin", 11, |case| {
        let mut pos = Position::default();
        golden::events_or_error(decode(&case.bytes()).map(|frame| frame_events(&frame, &mut pos, RECEIVED_AT)))
    });
}

#[test]
fn push_advances_the_chat_position_and_recall_does_not_move_it_back() {
    let mut pos = Position::default();
    for name in ["push_file", "push_recall", "push_text"] {
        let frame = decode(&golden::case("yunhu", name, "bin").bytes()).unwrap();
        frame_events(&frame, &mut pos, RECEIVED_AT);
    }
    assert_eq!(pos.seq("g-fin"), 42);
    assert_eq!(pos.chats["g-fin"].chat_type, 2);
}

#[test]
fn every_prefix_of_a_frame_is_an_error_or_events_never_a_panic() {
    for case in golden::cases("yunhu", "bin") {
        let bytes = case.bytes();
        for cut in 0..bytes.len() {
            let mut pos = Position::default();
            if let Ok(frame) = decode(&bytes[..cut]) {
                frame_events(&frame, &mut pos, RECEIVED_AT);
            }
        }
    }
}
