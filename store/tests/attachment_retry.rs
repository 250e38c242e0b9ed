//! An attachment stored after its message: the `attachment_stored` event fills the
//! attachment's `sha256` in what readers see, whatever order it arrives in, once however often
//! it is redelivered, and `verify` re-derives the same state.

mod common;

use chatvault_store as store;
use common::*;
use proto::{Attachment, ChatEvent, ContentType, EventBody};
use store::StoreReader;

fn file_msg(id: &str) -> ChatEvent {
    let mut ev = msg("c1", id, "会议纪要.pdf", T0);
    if let EventBody::Message(m) = &mut ev.body {
        m.content_type = ContentType::File;
        m.attachments = vec![Attachment {
            name: Some("会议纪要.pdf".into()),
            url: Some("https://files.example/minutes.pdf".into()),
            ..Default::default()
        }];
    }
    ev
}

fn stored(id: &str, sha: &str) -> ChatEvent {
    ChatEvent::message(
        "c1",
        id,
        EventBody::AttachmentStored {
            index: 0,
            sha256: sha.into(),
            size: Some(42),
        },
    )
}

fn sha_of(r: &StoreReader, id: &str) -> (Option<String>, Option<u64>) {
    let rec = r.messages_by_keys(&[key("c1", id)]).unwrap().pop().unwrap();
    (rec.attachments[0].sha256.clone(), rec.attachments[0].size)
}

#[test]
fn a_later_download_shows_on_the_message_and_verifies() {
    let (_dir, mut s) = temp_store();
    let sha = "ab".repeat(32);
    s.append(&[&batch(vec![payload(file_msg("m1"), T0 + 1)])]).unwrap();
    let r = s.reader().unwrap();
    assert_eq!(sha_of(&r, "m1"), (None, None), "archived without the bytes");

    let info = s
        .append(&[&batch(vec![payload(stored("m1", &sha), T0 + 60_000)])])
        .unwrap();
    assert_eq!(info[0].appended, 1);
    assert_eq!(sha_of(&r, "m1"), (Some(sha.clone()), Some(42)));
    let rec = r.messages_by_keys(&[key("c1", "m1")]).unwrap().pop().unwrap();
    assert_eq!(rec.revision, 0, "not a revision of the text");

    let again = s
        .append(&[&batch(vec![payload(stored("m1", &sha), T0 + 90_000)])])
        .unwrap();
    assert_eq!(again[0].duplicates, 1, "a second commit of it is a duplicate");

    // Before its message: kept and applied when the message arrives.
    s.append(&[&batch(vec![payload(stored("m2", &sha), T0 + 2)])]).unwrap();
    s.append(&[&batch(vec![payload(file_msg("m2"), T0 + 3)])]).unwrap();
    assert_eq!(sha_of(&r, "m2").0, Some(sha));

    assert!(r.verify(&mut |_| {}).unwrap().ok);
}
