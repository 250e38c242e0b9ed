//! e-office event payloads → canonical events. The first byte picks the event name (every
//! name the codec maps, plus an unknown one), the rest is the JSON argument list; this
//! reaches the mapping directly, without first having to build a valid Socket.IO frame.

#![no_main]

use chatvault_fuzz::{RECEIVED_AT, reads_back};
use ingest::eoffice::codec::Codec;
use ingest::eoffice::crypto::ContentKey;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const NAMES: &[&str] = &[
    "private message",
    "group message",
    "user offline info",
    "group offline info",
    "message have read",
    "withdraw msg",
    "delete msg",
    "user add group",
    "group delete user",
    "create group",
    "delete group",
    "online user change",
    "change work status",
    "sync chat list",
    "refresh page",
    "hello",
    "not in the catalogue",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let name = NAMES[pick as usize % NAMES.len()];
    let Ok(v) = serde_json::from_slice::<Value>(rest) else {
        return;
    };
    let args = match v {
        Value::Array(a) => a,
        other => vec![other],
    };
    let key = ContentKey::new("0123456789abcdef", "fedcba9876543210").expect("valid key");
    for codec in [Codec::new(Some(key)), Codec::new(None)] {
        if let Ok(d) = codec.decode(name, &args, RECEIVED_AT) {
            // Every event must serialize: the store hashes the serialized body.
            d.events.iter().for_each(reads_back);
        }
    }
});
