//! WeCom XML: the tree parser on arbitrary text, and the inner-message mapping on arbitrary
//! bytes (what a correctly signed and decrypted callback may still contain).

#![no_main]

use chatvault_fuzz::reads_back;
use ingest::wecom::{codec, xml};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = xml::parse(s);
    }
    let _ = codec::parse_envelope(data);
    if let Ok(d) = codec::decode(data) {
        assert_eq!(d.events.len(), 1, "one callback, one event");
        d.events.iter().for_each(reads_back);
    }
});
