//! e-office WebSocket text frames: Engine.IO packet → Socket.IO packet → event mapping (with
//! AES content decryption), the same chain the connector runs on every frame it reads.

#![no_main]

use chatvault_fuzz::{RECEIVED_AT, reads_back};
use ingest::eoffice::codec::Codec;
use ingest::eoffice::crypto::ContentKey;
use ingest::eoffice::engineio::{self, Packet as Eio};
use ingest::eoffice::socketio;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // WebSocket text frames are UTF-8 by the time they reach the decoder.
    let Ok(frame) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(packet) = engineio::decode(frame) else {
        return;
    };
    // Every packet but the handshake re-encodes to the frame it came from.
    if !matches!(packet, Eio::Open(_)) {
        assert_eq!(engineio::encode(&packet), frame);
    }
    let Eio::Message(m) = packet else {
        return;
    };
    let Ok(sio) = socketio::decode(m) else {
        return;
    };
    // What the encoder writes, the decoder reads back as the same packet. (Not compared: the
    // JSON data, whose floats serde_json may print one digit differently on the way back;
    // the archive keeps the frame's own bytes, so nothing of it is lost.)
    let again = socketio::decode(&socketio::encode(&sio)).expect("re-encoded packet decodes");
    assert_eq!(
        (again.kind, &again.nsp, again.id, again.attachments),
        (sio.kind, &sio.nsp, sio.id, sio.attachments)
    );
    let _ = sio.error_message();
    if let Some((name, args)) = sio.event_parts() {
        let key = ContentKey::new("0123456789abcdef", "fedcba9876543210").expect("valid key");
        for codec in [Codec::new(Some(key)), Codec::new(None)] {
            if let Ok(d) = codec.decode(name, args, RECEIVED_AT) {
                d.events.iter().for_each(reads_back);
            }
        }
    }
});
