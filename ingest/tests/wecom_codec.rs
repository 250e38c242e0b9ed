//! Golden tests of the WeCom codec: every `fixtures/wecom/*.xml` (decrypted callback XML)
//! decodes to the events in its `.expected.json`. `UPDATE_EXPECT=1` rewrites the expectations
//! (review the diff before committing it).

use std::path::Path;

use chatvault_ingest::wecom::codec::{self, DecodeError};

#[test]
fn fixtures_decode_to_their_expected_events() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wecom");
    let mut checked = 0;
    let mut names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    for xml_path in names.into_iter().filter(|p| p.extension().is_some_and(|e| e == "xml")) {
        let decoded =
            codec::decode(&std::fs::read(&xml_path).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", xml_path.display()));
        let actual = serde_json::to_string_pretty(&decoded.events).unwrap() + "\n";
        let expected_path = xml_path.with_extension("expected.json");
        if std::env::var_os("UPDATE_EXPECT").is_some() {
            std::fs::write(&expected_path, &actual).unwrap();
        }
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|_| panic!("{} missing; run with UPDATE_EXPECT=1", expected_path.display()));
        assert_eq!(actual, expected, "{}", xml_path.display());
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} fixtures");
}

#[test]
fn a_retry_decodes_to_the_same_ids_and_distinct_events_do_not_collide() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wecom");
    let read = |n: &str| std::fs::read(dir.join(format!("{n}.xml"))).unwrap();
    let a = codec::decode(&read("change_external_chat_create")).unwrap();
    let b = codec::decode(&read("change_external_chat_create")).unwrap();
    assert_eq!(a, b);
    let mut ids: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .map(|p| {
            codec::decode(&std::fs::read(p).unwrap()).unwrap().events[0]
                .msg_id
                .clone()
                .unwrap()
        })
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
