//! A bundle from a real archive checks out offline, and every kind of tampering with it is
//! caught and named: a message's text, an event's bytes, an attachment, a dropped event,
//! events out of order, a damaged zip entry, a head that was not recorded.

use std::io::{Cursor, Write};
use std::path::Path;

use chatvault_bundle as bundle;

use bundle::format::{EVENTS, MANIFEST, MESSAGES};
use bundle::{Expected, Manifest, Report};
use proto::{Attachment, MessageKey, NewMessage, Platform};
use sha2::{Digest, Sha256};
use testkit::ui::bundle_files;
use testkit::{batch, edit, key, message, payload, stream_append, text, withdraw};

const T0: i64 = 1_760_000_000_000;
const PDF: &[u8] = b"%PDF-1.4 the contract";

fn k(id: &str) -> MessageKey {
    key(Platform::Yunhu, "team", "c1", id)
}

/// Messages of chat c1 (plain, edited, withdrawn, with an attachment, streamed, with a
/// metadata-only attachment) interleaved with messages of chat c2, so the bundle's events are
/// not contiguous in the log.
fn archive(dir: &Path) -> String {
    let mut store = store::Store::open(
        dir,
        store::StoreOptions {
            synchronous_full: false,
            cache_mib: 4,
        },
    )
    .unwrap();
    let sha = testkit::ui::store_blob(dir, PDF);
    let other = |id: &str, at: i64| payload(message("c2", id, text("别的群：不在案卷里", at)), at + 1);
    let items = vec![
        payload(message("c1", "m1", text("农业局下发了新的补贴通知", T0)), T0 + 1),
        other("x1", T0 + 500),
        payload(message("c1", "m2", text("合同金额是一百万", T0 + 1000)), T0 + 1001),
        other("x2", T0 + 1500),
        payload(edit("c1", "m2", "合同金额是两百万", T0 + 2000), T0 + 2001),
        payload(message("c1", "m3", text("报价八十万", T0 + 3000)), T0 + 3001),
        payload(withdraw("c1", "m3", "u1", T0 + 4000), T0 + 4001),
        payload(
            message(
                "c1",
                "m4",
                NewMessage {
                    attachments: vec![
                        Attachment {
                            name: Some("合同.pdf".into()),
                            mime: Some("application/pdf".into()),
                            size: Some(PDF.len() as u64),
                            sha256: Some(sha.clone()),
                            ..Default::default()
                        },
                        Attachment {
                            name: Some("链接.txt".into()),
                            url: Some("https://example.invalid/f".into()),
                            ..Default::default()
                        },
                    ],
                    ..text("附件：合同", T0 + 5000)
                },
            ),
            T0 + 5001,
        ),
        payload(message("c1", "m5", text("机器人：", T0 + 6000)), T0 + 6001),
        other("x3", T0 + 6500),
        payload(stream_append("c1", "m5", "第一段", 9), T0 + 7001),
        payload(stream_append("c1", "m5", "第二段", 18), T0 + 7002),
        other("x4", T0 + 8000),
    ];
    store.append(&[&batch(Platform::Yunhu, "team", items)]).unwrap();
    sha
}

fn ids() -> Vec<MessageKey> {
    ["m1", "m2", "m3", "m4", "m5"].into_iter().map(k).collect()
}

/// A fresh archive (its directory and the attachment's sha256) and the bundle of m1 to m5.
fn bundle_of_all() -> (tempfile::TempDir, String, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let sha = archive(dir.path());
    let bytes = make(dir.path(), &ids());
    (dir, sha, bytes)
}

fn make(dir: &Path, keys: &[MessageKey]) -> Vec<u8> {
    let reader = store::StoreReader::open(dir).unwrap();
    let mut out = Cursor::new(Vec::new());
    bundle::write(
        &reader,
        &bundle::Request {
            keys,
            created_by: "reviewer",
            created_at_ms: T0 + 86_400_000,
            origin: serde_json::json!({ "kind": "search", "q": "农业" }),
            blobs_dir: &dir.join("blobs"),
        },
        &mut out,
    )
    .unwrap();
    out.into_inner()
}

fn check(bytes: &[u8], expect: &[Expected]) -> Report {
    bundle::check(Cursor::new(bytes), hex::encode(Sha256::digest(bytes)), expect)
}

/// Re-zips `files` (in the given order), the manifest last.
fn zip_of(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes) in files {
        w.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// Applies `edit` to the bundle's files; with `reseal`, the manifest's sha256 and size of
/// every file are then recomputed (a forger who knows the format), and `manifest` may change
/// the manifest further.
fn tamper(bytes: &[u8], edit: impl Fn(&str, &mut Vec<u8>), reseal: bool, manifest: impl Fn(&mut Manifest)) -> Vec<u8> {
    let mut files = bundle_files(bytes);
    for (name, b) in files.iter_mut() {
        if name != MANIFEST {
            edit(name, b);
        }
    }
    let mut m: Manifest = serde_json::from_slice(&files[MANIFEST]).unwrap();
    if reseal {
        for f in &mut m.files {
            let b = &files[&f.path];
            f.sha256 = hex::encode(Sha256::digest(b));
            f.size = b.len() as u64;
        }
    }
    manifest(&mut m);
    files.insert(MANIFEST.into(), serde_json::to_vec_pretty(&m).unwrap());
    zip_of(&files.into_iter().collect::<Vec<_>>())
}

/// The bundle's manifest.
fn manifest(bytes: &[u8]) -> Manifest {
    serde_json::from_slice(&bundle_files(bytes)[MANIFEST]).unwrap()
}

/// An edit for [`tamper`]: `from` replaced by `to` in file `name`.
fn replace_in(name: &'static str, from: &'static str, to: &'static str) -> impl Fn(&str, &mut Vec<u8>) {
    move |n, b| {
        if n == name {
            *b = String::from_utf8(b.clone()).unwrap().replace(from, to).into_bytes();
        }
    }
}

/// An edit for [`tamper`]: `edit` applied to the lines of file `name`.
fn edit_lines(name: &'static str, edit: impl Fn(&mut Vec<String>)) -> impl Fn(&str, &mut Vec<u8>) {
    move |n, b| {
        if n == name {
            let mut ls = lines(b);
            edit(&mut ls);
            *b = join(&ls);
        }
    }
}

/// What the checker names first in the bundle [`tamper`] makes of `bytes`.
fn caught(
    bytes: &[u8],
    edit: impl Fn(&str, &mut Vec<u8>),
    reseal: bool,
    manifest: impl Fn(&mut Manifest),
) -> (String, String) {
    problem(&check(&tamper(bytes, edit, reseal, manifest), &[]))
}

fn lines(b: &[u8]) -> Vec<String> {
    String::from_utf8(b.to_vec())
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

fn join(lines: &[String]) -> Vec<u8> {
    let mut s = lines.join("\n");
    s.push('\n');
    s.into_bytes()
}

fn problem(r: &Report) -> (String, String) {
    assert!(!r.ok, "tampering went unnoticed: {r:?}");
    let p = r.problem.clone().expect("a problem");
    (p.item, p.what)
}

#[test]
fn a_bundle_checks_out_and_holds_exactly_the_selected_messages() {
    let (dir, sha, bytes) = bundle_of_all();
    let r = check(&bytes, &[]);
    assert!(r.ok, "{r:?}");
    assert_eq!((r.messages, r.events, r.attachments), (5, 9, 1));
    assert_eq!(r.created_by.as_deref(), Some("reviewer"));

    let reader = store::StoreReader::open(dir.path()).unwrap();
    let head = reader.head().unwrap();
    assert_eq!(r.chain_head.as_ref().unwrap().hash, head.hash);
    let files = bundle_files(&bytes);
    assert!(files.contains_key(&format!("attachments/{sha}")));
    let text = String::from_utf8(files[MESSAGES].clone()).unwrap();
    assert!(
        text.contains("合同金额是两百万") && text.contains("合同金额是一百万"),
        "revisions kept"
    );
    assert!(text.contains("机器人：第一段第二段"), "a streamed reply whole");
    assert!(!String::from_utf8_lossy(&bytes).contains("别的群") && !text.contains("别的群"));
    let events = String::from_utf8(files[EVENTS].clone()).unwrap();
    assert!(
        !events.contains("别的群") && !events.contains("x1"),
        "no event of another chat"
    );

    // Each message line is the archive's own record, as `show --json` prints it.
    for line in lines(&files[MESSAGES]) {
        let m: bundle::MessageLine = serde_json::from_str(&line).unwrap();
        let rec = reader
            .messages_by_keys(std::slice::from_ref(&m.key))
            .unwrap()
            .pop()
            .unwrap();
        assert_eq!(m.record, bundle::json::record(&rec));
        assert_eq!(m.record["sent_at"], serde_json::json!(bundle::json::utc(rec.sent_at)));
    }
    // Each event's hash is the archive's at that seq.
    let check_msg = reader.check_message(&k("m2")).unwrap();
    let m: Manifest = serde_json::from_slice(&files[MANIFEST]).unwrap();
    for c in &check_msg {
        assert!(m.events.iter().any(|p| p.seq == c.seq && p.hash == c.stored));
    }
    let m_left: Vec<_> = m
        .attachments_left_out
        .iter()
        .map(|l| (l.message.msg_id.as_str(), l.index))
        .collect();
    assert_eq!(m_left, [("m4", 1)], "the metadata-only attachment is named as left out");
}

#[test]
fn expected_heads_are_checked_against_the_recorded_positions() {
    let (dir, _, bytes) = bundle_of_all();
    let head = store::StoreReader::open(dir.path()).unwrap().head().unwrap();
    let at = |seq, hash: &str| Expected {
        seq,
        hash: hash.to_string(),
    };
    assert!(check(&bytes, &[at(Some(head.seq), &head.hash)]).ok);
    assert!(check(&bytes, &[at(None, &head.hash)]).ok);
    let e = &manifest(&bytes).events[2];
    assert!(check(&bytes, &[at(Some(e.seq), &e.hash)]).ok, "an event's own position");
    let wrong = "ab".repeat(32);
    let (item, what) = problem(&check(&bytes, &[at(Some(head.seq), &wrong)]));
    assert!(
        item.contains("--expect-head") && what.contains(&head.hash),
        "{item}: {what}"
    );
    // seq 2 is x1 of the other chat: the bundle cannot speak for it.
    let (_, what) = problem(&check(&bytes, &[at(Some(2), &wrong)]));
    assert!(what.contains("records no such position"), "{what}");
}

#[test]
fn a_changed_message_text_is_caught_by_its_file_hash_and_by_the_fold() {
    let (_dir, _, bytes) = bundle_of_all();
    let change = replace_in(MESSAGES, "补贴通知", "补贴通告");
    let (item, what) = caught(&bytes, &change, false, |_| {});
    assert_eq!(item, MESSAGES, "{what}");
    // A forger who also rewrites the manifest's file hashes: the fold of the events disagrees.
    let (item, what) = caught(&bytes, &change, true, |_| {});
    assert_eq!(item, "message yunhu/team/c1/m1", "{what}");
    assert!(what.contains("`text`"), "{what}");
}

#[test]
fn a_changed_event_is_caught_at_its_seq() {
    let (_dir, _, bytes) = bundle_of_all();
    let edit_seq = manifest(&bytes).events[2].seq;
    let (item, what) = caught(&bytes, replace_in(EVENTS, "两百万", "三百万"), true, |_| {});
    assert!(item.ends_with(&format!("(seq {edit_seq})")), "{item}: {what}");
    assert!(what.contains("the event was changed"), "{what}");
    // Rewriting its hash too breaks the link to the next event.
    let rehash = edit_lines(EVENTS, |ls| {
        for l in ls {
            let mut e: bundle::EventLine = serde_json::from_str(l).unwrap();
            if e.seq == edit_seq {
                e.payload = e.payload.replace("两百万", "三百万");
                let prev: [u8; 32] = hex::decode(&e.prev_hash).unwrap().try_into().unwrap();
                let raw: [u8; 32] = hex::decode(&e.raw_sha256).unwrap().try_into().unwrap();
                let mut h = Sha256::new();
                h.update(prev);
                h.update(e.seq.to_be_bytes());
                h.update(e.payload.as_bytes());
                h.update(raw);
                e.hash = hex::encode(h.finalize());
                *l = serde_json::to_string(&e).unwrap();
            }
        }
    });
    // The event after it in the log is in the bundle too (m3's message): its
    // prev_hash is the old hash.
    let (item, what) = caught(&bytes, rehash, true, |_| {});
    assert!(item.ends_with(&format!("(seq {})", edit_seq + 1)), "{item}: {what}");
    assert!(what.contains("prev_hash"), "{what}");
}

#[test]
fn a_changed_attachment_is_caught_by_name() {
    let (_dir, sha, bytes) = bundle_of_all();
    let change = |name: &str, b: &mut Vec<u8>| {
        if name.starts_with("attachments/") {
            b[5] ^= 1;
        }
    };
    let want = format!("attachments/{sha}");
    let (item, _) = caught(&bytes, change, false, |_| {});
    assert_eq!(item, want);
    let (item, what) = caught(&bytes, change, true, |_| {});
    assert_eq!(item, want);
    assert!(what.contains("not to its name"), "{what}");
}

#[test]
fn a_dropped_event_is_caught_however_much_is_rewritten() {
    let (_dir, _, bytes) = bundle_of_all();
    // The edit of m2: dropping it would hide that the amount was changed.
    let dropped = manifest(&bytes).events[2].seq;
    let drop_line = edit_lines(EVENTS, |ls| ls.retain(|l| !l.contains(&format!("\"seq\":{dropped},"))));
    let (item, what) = caught(&bytes, &drop_line, true, |_| {});
    assert_eq!(item, format!("{EVENTS} seq {dropped}"), "{what}");
    assert!(what.contains("missing") || what.contains("dropped"), "{what}");

    // Also taken out of the manifest's list: the message still lists it.
    let unlist = |m: &mut Manifest| m.events.retain(|p| p.seq != dropped);
    let (item, what) = caught(&bytes, &drop_line, true, unlist);
    assert_eq!(item, "message yunhu/team/c1/m2", "{what}");
    assert!(what.contains(&format!("seq {dropped}")), "{what}");

    // And out of the message's line: its state no longer folds from what is left.
    let from_its_message = edit_lines(MESSAGES, |ls| {
        for l in ls {
            let mut m: bundle::MessageLine = serde_json::from_str(l).unwrap();
            m.events.retain(|s| *s != dropped);
            *l = serde_json::to_string(&m).unwrap();
        }
    });
    let everywhere = |name: &str, b: &mut Vec<u8>| {
        drop_line(name, b);
        from_its_message(name, b);
    };
    let (item, what) = caught(&bytes, everywhere, true, unlist);
    assert_eq!(item, "message yunhu/team/c1/m2", "{what}");
    assert!(what.contains("`text`") && what.contains("`revision`"), "{what}");
}

#[test]
fn reordered_events_are_caught() {
    let (_dir, _, bytes) = bundle_of_all();
    let (item, what) = caught(&bytes, edit_lines(EVENTS, |ls| ls.swap(3, 4)), true, |_| {});
    assert!(item.starts_with(&format!("{EVENTS} line 5")), "{item}: {what}");
    assert!(what.contains("not in log order"), "{what}");
}

#[test]
fn a_damaged_entry_or_an_extra_file_is_named() {
    let (_dir, sha, mut bytes) = bundle_of_all();
    // An extra file a forger slips in.
    let extra = tamper(&bytes, |_, _| {}, false, |_| {});
    let mut files: Vec<(String, Vec<u8>)> = bundle_files(&extra).into_iter().collect();
    files.push(("notes.txt".into(), b"added later".to_vec()));
    let (item, _) = problem(&check(&zip_of(&files), &[]));
    assert_eq!(item, "notes.txt");
    // One byte flipped inside the stored attachment, the zip left as it is.
    let at = bytes.windows(PDF.len()).position(|w| w == PDF).unwrap();
    bytes[at + 3] ^= 0x20;
    let (item, _) = problem(&check(&bytes, &[]));
    assert_eq!(item, format!("attachments/{sha}"));
}

#[test]
fn a_message_outside_the_selection_never_enters() {
    let dir = tempfile::tempdir().unwrap();
    archive(dir.path());
    let bytes = make(dir.path(), &[k("m1")]);
    let r = check(&bytes, &[]);
    assert!(r.ok, "{r:?}");
    assert_eq!((r.messages, r.events, r.attachments), (1, 1, 0));
    let files = bundle_files(&bytes);
    assert_eq!(files.len(), 3, "{:?}", files.keys());
    assert!(!String::from_utf8_lossy(&files[MESSAGES]).contains("合同"));
}
