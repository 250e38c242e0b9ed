//! Golden tests for Yunhu frame decoding: every `tests/fixtures/yunhu/*.bin` is a server frame
//! encoded by hand from the documented field numbers (`make_fixtures.py`, independent of
//! prost); the `.json` beside it holds the events it must decode to, or the error.

use std::path::PathBuf;

use chatvault_ingest::yunhu::codec::{decode, frame_events};
use chatvault_ingest::yunhu::cursor::Position;

const RECEIVED_AT: i64 = 1_772_413_260_000;

fn fixtures() -> Vec<(String, Vec<u8>, serde_json::Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/yunhu");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("bin") {
            continue;
        }
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        let expected = serde_json::from_str(&std::fs::read_to_string(path.with_extension("json")).unwrap()).unwrap();
        out.push((name, bytes, expected));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn every_fixture_decodes_to_its_golden_events() {
    let all = fixtures();
    assert!(all.len() >= 11, "fixtures found: {}", all.len());
    for (name, bytes, expected) in all {
        let mut pos = Position::default();
        let got = match decode(&bytes) {
            Ok(frame) => {
                serde_json::json!({ "events": frame_events(&frame, &mut pos, RECEIVED_AT) })
            }
            Err(e) => serde_json::json!({ "error": e.to_string() }),
        };
        if let Some(prefix) = expected.get("error_prefix").and_then(|p| p.as_str()) {
            let err = got["error"]
                .as_str()
                .unwrap_or_else(|| panic!("{name}: expected an error, got {got}"));
            assert!(err.starts_with(prefix), "{name}: {err}");
        } else {
            assert_eq!(got, expected, "fixture {name}");
        }
    }
}

#[test]
fn push_advances_the_chat_position_and_recall_does_not_move_it_back() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/yunhu");
    let mut pos = Position::default();
    for name in ["push_file", "push_recall", "push_text"] {
        let frame = decode(&std::fs::read(dir.join(format!("{name}.bin"))).unwrap()).unwrap();
        frame_events(&frame, &mut pos, RECEIVED_AT);
    }
    assert_eq!(pos.seq("g-fin"), 42);
    assert_eq!(pos.chats["g-fin"].chat_type, 2);
}

#[test]
fn every_prefix_of_a_frame_is_an_error_or_events_never_a_panic() {
    for (_, bytes, _) in fixtures() {
        for cut in 0..bytes.len() {
            let mut pos = Position::default();
            if let Ok(frame) = decode(&bytes[..cut]) {
                frame_events(&frame, &mut pos, RECEIVED_AT);
            }
        }
    }
}
