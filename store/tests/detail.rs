//! A platform value nested deeper than serde_json reads back is bounded where events enter the
//! store, whichever connector sent it: the event is stored, reads back, and verifies.

mod common;

use common::goofish::*;
use common::{T0, temp_store};
use proto::{ChatEvent, EventBody};
use serde_json::{Value, json};

fn nested(levels: usize) -> Value {
    (0..levels).fold(json!("底"), |inner, n| {
        if n % 2 == 0 {
            json!([inner])
        } else {
            json!({"k": inner})
        }
    })
}

fn event(body: EventBody) -> ChatEvent {
    ChatEvent {
        chat_id: "c".into(),
        msg_id: None,
        occurred_at: Some(T0),
        body,
    }
}

/// A platform item the connector keeps only as its `detail`.
fn sync_item(detail: Value) -> ChatEvent {
    event(EventBody::Other {
        subtype: "sync_item".into(),
        detail,
    })
}

#[test]
fn an_over_deep_detail_is_stored_bounded_and_reads_back() {
    let (_dir, mut s) = temp_store();
    let deep = nested(300);
    let other = sync_item(deep.clone());
    let contact = event(EventBody::ContactChanged {
        change: "add_external_contact".into(),
        user_id: "u1".into(),
        detail: json!({"fields": deep.clone()}),
    });
    let shallow = event(EventBody::Other {
        subtype: "typing".into(),
        detail: json!({"who": [1, {"a": null}]}),
    });
    let info = s
        .append(&[&goofish(vec![
            carried(b"frame-1".to_vec(), vec![other], T0 + 1),
            carried(b"frame-2".to_vec(), vec![contact], T0 + 2),
            carried(b"frame-3".to_vec(), vec![shallow.clone()], T0 + 3),
        ])])
        .unwrap()
        .remove(0);
    assert_eq!(info.appended, 3);

    let r = s.reader().unwrap();
    let events = r.events_since(0, 10).unwrap();
    let details: Vec<Value> = events
        .iter()
        .map(|e| match e.event().expect("every stored event reads back").body {
            EventBody::Other { detail, .. } => detail,
            EventBody::ContactChanged { detail, .. } => detail,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(details[0], chatvault_store::bounded_detail(deep.clone()));
    assert_eq!(details[1], chatvault_store::bounded_detail(json!({"fields": deep})));
    assert_eq!(
        events[2].event().unwrap(),
        shallow,
        "a value within the bound is kept as it is"
    );
    assert!(r.verify(&mut |_| {}).unwrap().ok);
}

#[test]
fn a_bounded_detail_and_its_unbounded_original_are_one_event() {
    let (_dir, mut s) = temp_store();
    let deep = nested(100);
    let raw = sync_item(deep.clone());
    let by_connector = sync_item(chatvault_store::bounded_detail(deep));
    let first = s
        .append(&[&goofish(vec![carried(b"f".to_vec(), vec![by_connector], T0)])])
        .unwrap()
        .remove(0);
    let again = s
        .append(&[&goofish(vec![carried(b"f".to_vec(), vec![raw], T0 + 5)])])
        .unwrap()
        .remove(0);
    assert_eq!((first.appended, again.duplicates), (1, 1));
}
