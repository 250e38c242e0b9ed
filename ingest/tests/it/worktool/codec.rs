//! Golden tests of the WorkTool codec: every `fixtures/worktool/<case>.json` (a JSON callback
//! body) or `<case>.form` (the same fields form-encoded) decodes to its
//! `<case>.expected.json` (the [`golden`] convention): what the callback is, and the event
//! the receiver would record for it.

use chatvault_ingest::worktool::codec::{self, Callback, MessageCx};
use serde_json::{Value, json};

use crate::support::golden;

/// Receive time and arrival number given to message events (WorkTool sends no time).
const RX: i64 = 1_772_413_260_000;
const ROBOT: &str = "wt-robot-1";

/// The URL `event` a case is posted with: cases named `robot_online*` / `robot_offline*` are
/// posted to the URLs bound to WorkTool's callback types 5 and 6 (`&event=online|offline`).
fn event_of(case: &str) -> Option<&'static str> {
    if case.starts_with("robot_online") {
        Some("online")
    } else if case.starts_with("robot_offline") {
        Some("offline")
    } else {
        None
    }
}

fn outcome(fields: Result<serde_json::Map<String, Value>, codec::DecodeError>, event: Option<&str>) -> Value {
    let callback = match fields.and_then(|f| codec::classify_with(&f, event).map(|c| (c, f))) {
        Ok(c) => c,
        Err(e) => return json!({ "error": e.to_string() }),
    };
    match callback {
        (Callback::Message(m), _) => {
            let cx = MessageCx {
                received_at: RX,
                arrival: 1,
                robot: ROBOT,
            };
            let image = m
                .file_base64
                .as_deref()
                .map(|b| codec::decode_file(b).map(|bytes| bytes.len()));
            json!({
                "callback": "message",
                "event": codec::message_event(&m, &cx, None),
                "image_bytes": image.map(|r| r.unwrap_or_else(|e| panic!("fileBase64: {e}"))),
            })
        }
        (Callback::RobotOnline, fields) => {
            json!({ "callback": "robot_online", "event": codec::robot_state_event(true, &fields, RX) })
        }
        (Callback::RobotOffline, fields) => {
            json!({ "callback": "robot_offline", "event": codec::robot_state_event(false, &fields, RX) })
        }
        (Callback::Other { subtype }, fields) => {
            json!({ "callback": "other", "event": codec::other_event(&subtype, &fields) })
        }
    }
}

#[test]
fn json_callbacks_decode_to_their_golden_outcome() {
    golden::check_every("worktool", "json", 6, |case| {
        outcome(codec::parse_json(&case.bytes()), event_of(&case.name))
    });
}

#[test]
fn form_callbacks_decode_to_their_golden_outcome() {
    golden::check_every("worktool", "form", 1, |case| {
        outcome(codec::parse_urlencoded(&case.bytes()), event_of(&case.name))
    });
}
