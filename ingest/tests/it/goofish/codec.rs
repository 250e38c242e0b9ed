//! Golden tests of the Goofish codec against fixtures built from the documented wire shapes
//! (`fixtures/goofish/README.md`): every `<case>.json` frame (a `/s/sync` push or a history
//! page) decodes to its `<case>.expected.json` (the [`golden`] convention), and the tests
//! below pin the fields the protocol notes document.

use chatvault_ingest::goofish::codec::decode_sync_push;
use chatvault_ingest::goofish::frame::Frame;
use chatvault_ingest::goofish::message::from_history;
use proto::{ChatEvent, ContentType, EventBody, Ingested, NewMessage};
use serde_json::{Value, json};

use crate::support::golden;

fn fixture(name: &str) -> Frame {
    let name = name.strip_suffix(".json").unwrap_or(name);
    Frame::parse(&golden::case("goofish", name, "json").text()).unwrap()
}

fn item(i: &Ingested) -> Value {
    match i {
        Ingested::Payload { raw, events } => json!({ "media_type": raw.media_type, "events": events }),
        Ingested::Rejected { raw, reason } => {
            json!({ "rejected": reason, "raw": String::from_utf8_lossy(&raw.bytes) })
        }
    }
}

/// A push: its position and items; a history page: each entry's event or refusal.
fn outcome(frame: &Frame) -> Value {
    if let Some(models) = frame.body.get("userMessageModels").and_then(Value::as_array) {
        let history: Vec<Value> = models
            .iter()
            .map(|m| match from_history(m) {
                Ok(e) => json!({ "event": e }),
                Err(reason) => json!({ "rejected": reason }),
            })
            .collect();
        return json!({ "history": history });
    }
    match decode_sync_push(&frame.body, 1) {
        Ok(d) => json!({
            "position": { "pts": d.position.pts, "high_pts": d.position.high_pts, "seq": d.position.seq },
            "messages": d.messages,
            "items": d.items.iter().map(item).collect::<Vec<_>>(),
        }),
        Err(e) => json!({ "error": e.to_string() }),
    }
}

#[test]
fn every_fixture_decodes_to_its_golden_outcome() {
    golden::check_every("goofish", "json", 4, |case| {
        outcome(&Frame::parse(&case.text()).unwrap())
    });
}

fn events(item: &Ingested) -> &[ChatEvent] {
    match item {
        Ingested::Payload { events, .. } => events,
        Ingested::Rejected { reason, .. } => panic!("unexpected reject: {reason}"),
    }
}

fn message(e: &ChatEvent) -> &NewMessage {
    match &e.body {
        EventBody::Message(m) => m,
        other => panic!("not a message: {other:?}"),
    }
}

#[test]
fn text_push_maps_the_documented_fields() {
    let push = fixture("push_text.json");
    let d = decode_sync_push(&push.body, 1).unwrap();
    assert_eq!(d.position.pts, 1_700_000_000_000_123);
    assert_eq!(d.position.seq, 9);
    assert_eq!(d.items.len(), 1);
    let Ingested::Payload { raw, events } = &d.items[0] else {
        panic!()
    };
    assert_eq!(raw.media_type, "application/msgpack");
    let e = &events[0];
    assert_eq!(e.chat_id, "48011000001");
    assert_eq!(e.msg_id.as_deref(), Some("4263141580162.PNM"));
    assert_eq!(e.occurred_at, Some(1_795_395_600_000));
    let m = message(e);
    assert_eq!(m.sender_id, "2200087654321");
    assert_eq!(m.sender_name.as_deref(), Some("王采购"));
    assert_eq!(m.content_type, ContentType::Text);
    assert_eq!(m.text, "你好，这台 ThinkPad X1 还在吗？");
    assert!(m.external);
    assert!(e.validate().is_ok());
}

#[test]
fn bad_items_are_rejected_and_the_rest_of_the_push_survives() {
    let push = fixture("push_mixed.json");
    let d = decode_sync_push(&push.body, 1).unwrap();
    assert_eq!(d.items.len(), 6);

    let sys = events(&d.items[0]);
    assert!(matches!(&sys[0].body, EventBody::Other { subtype, .. } if subtype == "system"));
    assert_eq!(sys[0].chat_id, "48011000004");

    let img = message(&events(&d.items[1])[0]);
    assert_eq!(img.content_type, ContentType::Image);
    assert_eq!(img.text, "[图片]");
    assert_eq!(img.sent_at, 1_795_395_660_000, "string create time is read");
    assert_eq!(img.attachments[0].url.as_deref(), Some("https://img.alicdn.com/x1.jpg"));

    let Ingested::Rejected { reason, raw } = &d.items[2] else {
        panic!("not-Base64 item must be rejected")
    };
    assert!(reason.contains("Base64"), "{reason}");
    assert!(
        String::from_utf8_lossy(&raw.bytes).contains("@@not base64@@"),
        "reject keeps the item as received"
    );
    let Ingested::Rejected { reason, .. } = &d.items[3] else {
        panic!("non-MessagePack bytes must be rejected")
    };
    assert!(reason.contains("MessagePack"), "{reason}");

    let legacy = message(&events(&d.items[4])[0]);
    assert_eq!(legacy.text, "能开发票吗？要走报销");

    let notice = message(&events(&d.items[5])[0]);
    assert_eq!(notice.content_type, ContentType::System);
    assert_eq!(notice.text, "[买家已付款，请尽快发货]");
    assert_eq!(d.messages, 3);
}

#[test]
fn recall_typing_and_order_notice() {
    let push = fixture("push_recall_typing_order.json");
    let d = decode_sync_push(&push.body, 1).unwrap();
    let recall = &events(&d.items[0])[0];
    assert_eq!(recall.msg_id.as_deref(), Some("4263141580176.PNM"));
    assert_eq!(recall.chat_id, "48011000003");
    assert_eq!(
        recall.body,
        EventBody::Withdraw {
            by: Some("2200000000001".into()),
            at: Some(1_795_395_800_000)
        }
    );
    assert!(matches!(&events(&d.items[1])[0].body, EventBody::Other { subtype, .. } if subtype == "typing"));
    let order = &events(&d.items[2])[0];
    assert!(matches!(&order.body, EventBody::Other { subtype, .. } if subtype == "notice"));
    assert_eq!(order.chat_id, "48011000001");
}

#[test]
fn history_and_push_normalize_to_the_same_event() {
    let page = fixture("history_page.json");
    let models = page.body["userMessageModels"].as_array().unwrap();
    let image = from_history(&models[0]).unwrap();
    let text = from_history(&models[1]).unwrap();
    assert!(from_history(&models[2]).is_err(), "entry without ids is refused");

    let live_text = decode_sync_push(&fixture("push_text.json").body, 1).unwrap();
    assert_eq!(
        events(&live_text.items[0])[0],
        text,
        "same body ⇒ the store records it once"
    );
    let live_image = decode_sync_push(&fixture("push_mixed.json").body, 1).unwrap();
    assert_eq!(events(&live_image.items[1])[0], image);
}

#[test]
fn a_push_without_a_sync_package_is_an_error_not_a_panic() {
    let f = Frame::parse(r#"{"lwp":"/s/sync","headers":{"mid":"1 0"},"body":{"nope":1}}"#).unwrap();
    assert!(decode_sync_push(&f.body, 1).is_err());
    let f = Frame::parse(
        r#"{"lwp":"/s/sync","headers":{"mid":"1 0"},"body":{"syncPushPackage":{"data":[{"data":""}, 5]}}}"#,
    )
    .unwrap();
    let d = decode_sync_push(&f.body, 1).unwrap();
    assert!(d.items.iter().all(|i| matches!(i, Ingested::Rejected { .. })));
}
