//! Yunhu markdown (content type 3) and HTML (content type 8) → plain text for search:
//! hand-written string slicing, so arbitrary text must never cut a character in half.

#![no_main]

use ingest::yunhu::markup::{html_to_text, markdown_to_text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = html_to_text(s);
    let _ = markdown_to_text(s);
});
