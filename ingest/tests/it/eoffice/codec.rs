//! Golden tests of the e-office decoding path: each line of `fixtures/eoffice/<name>.frames`
//! is one WebSocket text frame as the server sends it; the frame goes through Engine.IO,
//! Socket.IO and the e-office codec (AES key below; ciphertexts made with `openssl enc`), and
//! the outcome must equal `<name>.expected.json` (the [`golden`] convention).

use chatvault_ingest::eoffice::codec::Codec;
use chatvault_ingest::eoffice::crypto::ContentKey;
use chatvault_ingest::eoffice::{engineio, socketio};
use serde_json::{Value, json};

use crate::support::golden;

/// Receive time given to the codec (only presence events use it).
const RX: i64 = 1_795_400_000_000;

fn outcome(codec: &Codec, frame: &str) -> Value {
    let m = match engineio::decode(frame) {
        Ok(engineio::Packet::Message(m)) => m,
        Ok(other) => return json!({ "engineio": format!("{other:?}") }),
        Err(e) => return json!({ "error": e.to_string() }),
    };
    let p = match socketio::decode(m) {
        Ok(p) => p,
        Err(e) => return json!({ "error": e.to_string() }),
    };
    let Some((name, args)) = p.event_parts() else {
        return json!({ "socketio": format!("{:?}", p.kind), "ack_id": p.id, "message": p.error_message() });
    };
    match codec.decode(name, args, RX) {
        Ok(d) => json!({
            "event": name,
            "ack_id": p.id,
            "events": d.events,
            "rejects": d.rejects.iter().map(|(raw, why)| json!({ "raw": raw, "reason": why })).collect::<Vec<_>>(),
            "aes_fallbacks": d.aes_fallbacks,
            "unknown": d.unknown,
            "kicked": d.kicked,
        }),
        Err(e) => json!({ "event": name, "ack_id": p.id, "error": e.to_string() }),
    }
}

fn check(name: &str) {
    let case = golden::case("eoffice", name, "frames");
    let codec = Codec::new(Some(ContentKey::new("0123456789abcdef", "fedcba9876543210").unwrap()));
    let got: Vec<Value> = case
        .text()
        .lines()
        .filter(|l| !l.is_empty())
        .map(|f| outcome(&codec, f))
        .collect();
    golden::check(&case, &Value::Array(got));
}

#[test]
fn live_events() {
    check("live");
}

#[test]
fn offline_batches() {
    check("offline");
}

#[test]
fn malformed_frames() {
    check("malformed");
}
