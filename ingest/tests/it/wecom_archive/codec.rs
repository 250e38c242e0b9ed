//! Golden tests of the 会话存档 codec: every `fixtures/wecom_archive/<case>.json` (a decrypted
//! message as `DecryptData` returns it) decodes to its `<case>.expected.json`.

use chatvault_ingest::wecom_archive::codec;
use serde_json::Value;

use crate::support::golden;

#[test]
fn messages_decode_to_their_golden_events() {
    golden::check_every("wecom_archive", "json", 35, |case| {
        golden::events_or_error(codec::decode(&case.bytes()))
    });
}

#[test]
fn a_direct_chat_has_one_id_whatever_the_direction() {
    let there = codec::chat_of("", "zhangsan", &["lisi".to_string()]);
    let back = codec::chat_of("", "lisi", &["zhangsan".to_string()]);
    assert_eq!(there, back);
    assert_eq!(there.0, "lisi|zhangsan");
    assert_eq!(codec::chat_of("wrRoom", "lisi", &[]).0, "wrRoom");
}

#[test]
fn every_listed_type_has_a_content_type_other_than_other() {
    for case in golden::cases("wecom_archive", "json") {
        let v: Value = match serde_json::from_slice(&case.bytes()) {
            Ok(v) => v,
            Err(_) => continue,
        };
        let Ok(events) = codec::decode(&case.bytes()) else {
            continue;
        };
        let kind = serde_json::to_value(&events[0]).unwrap();
        if kind["kind"] == "message" && v["msgtype"] != "future_type" {
            assert_ne!(kind["content_type"], "other", "{}", case.name);
        }
    }
}
