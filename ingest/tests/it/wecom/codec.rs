//! Golden tests of the WeCom codec: every `fixtures/wecom/*.xml` (decrypted callback XML)
//! decodes to the events in its `.expected.json` (the [`golden`] convention).

use chatvault_ingest::wecom::codec::{self, DecodeError};

use crate::support::golden;

#[test]
fn fixtures_decode_to_their_expected_events() {
    golden::check_every("wecom", "xml", 15, |case| {
        let decoded = codec::decode(&case.bytes()).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        serde_json::to_value(&decoded.events).unwrap()
    });
}

#[test]
fn a_retry_decodes_to_the_same_ids_and_distinct_events_do_not_collide() {
    let read = || golden::case("wecom", "change_external_chat_create", "xml").bytes();
    let a = codec::decode(&read()).unwrap();
    let b = codec::decode(&read()).unwrap();
    assert_eq!(a, b);
    let mut ids: Vec<String> = golden::cases("wecom", "xml")
        .iter()
        .map(|c| codec::decode(&c.bytes()).unwrap().events[0].msg_id.clone().unwrap())
        .collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "derived ids collide");
}

#[test]
fn bad_payloads_are_errors() {
    assert!(matches!(
        codec::decode(b"<xml><MsgType>text</MsgType><CreateTime>1"),
        Err(DecodeError::Xml(_))
    ));
    assert_eq!(
        codec::decode(b"<xml><CreateTime>1</CreateTime></xml>"),
        Err(DecodeError::Missing("MsgType"))
    );
    assert!(matches!(
        codec::decode(b"<xml><MsgType>text</MsgType><CreateTime>soon</CreateTime></xml>"),
        Err(DecodeError::Field {
            field: "CreateTime",
            ..
        })
    ));
    assert_eq!(codec::decode(b"<html></html>"), Err(DecodeError::Root("html".into())));
    assert_eq!(codec::decode(&[0xff, 0xfe]), Err(DecodeError::Utf8));
    assert_eq!(
        codec::parse_envelope(b"<xml><ToUserName>x</ToUserName></xml>"),
        Err(DecodeError::Missing("Encrypt"))
    );
}
