//! Goofish sync items: arbitrary bytes as the decoded item (JSON or concatenated
//! MessagePack maps) and as the item's Base64 text, through the same `decode_item` the
//! push decoder calls for every `data[]` entry.

#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chatvault_fuzz::{RECEIVED_AT, reads_back};
use ingest::goofish::codec::{decode_bytes, decode_item};
use ingest::goofish::content::{decode_b64, decode_b64_json};
use libfuzzer_sys::fuzz_target;
use proto::Ingested;
use serde_json::json;

fn check(item: &serde_json::Value) {
    match decode_item(item, RECEIVED_AT) {
        Ingested::Payload { events, .. } => {
            events.iter().for_each(reads_back);
        }
        Ingested::Rejected { reason, .. } => assert!(!reason.is_empty()),
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = decode_bytes(data);
    // The bytes as the item's payload, in both alphabets Goofish uses.
    check(&json!({ "data": STANDARD.encode(data) }));
    check(&json!({ "data": URL_SAFE_NO_PAD.encode(data) }));
    // The bytes as the Base64 text itself.
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = decode_b64(s);
        let _ = decode_b64_json(s);
        check(&json!({ "data": s }));
    }
});
