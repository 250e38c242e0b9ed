//! WorkTool callback bodies: JSON, urlencoded form or multipart form (the first byte picks
//! the encoding), then classification, the message event, mentions and `fileBase64`.

#![no_main]

use chatvault_fuzz::reads_back;
use ingest::worktool::codec::{self, Callback, MessageCx};
use ingest::worktool::receiver::parse_multipart;
use libfuzzer_sys::fuzz_target;

const BOUNDARY: &str = "wtboundary";

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let fields = match mode % 3 {
        0 => codec::parse_json(body),
        1 => codec::parse_urlencoded(body),
        _ => {
            let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
            rt.block_on(parse_multipart(bytes::Bytes::copy_from_slice(body), BOUNDARY.into()))
        }
    };
    let Ok(fields) = fields else {
        return;
    };
    match codec::classify(&fields) {
        Ok(Callback::Message(m)) => {
            let attachment = m.file_base64.as_deref().map(codec::decode_file);
            let cx = MessageCx {
                received_at: 1_772_413_260_000,
                arrival: 7,
                robot: "robot",
            };
            let ev = codec::message_event(&m, &cx, None);
            assert!(!ev.chat_id.is_empty(), "a message always has a chat");
            reads_back(&ev);
            let _ = attachment;
        }
        Ok(Callback::Other { subtype }) => {
            reads_back(&codec::other_event(&subtype, &fields));
        }
        Ok(_) | Err(_) => {}
    }
    if let Ok(s) = std::str::from_utf8(body) {
        let _ = codec::mentions(s);
        let _ = codec::decode_file(s);
    }
});
