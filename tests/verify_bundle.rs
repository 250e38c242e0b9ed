//! `chatvault verify-bundle` as the compiled binary: a bundle written from a real archive
//! checks out (exit 0), a damaged one exits 3 naming the damaged file, an unreadable file
//! exits 1, a malformed `--expect-head` exits 2.

use std::path::{Path, PathBuf};

use proto::{Attachment, NewMessage, Platform};
use sha2::{Digest, Sha256};
use testkit::{batch, edit, key, message, payload, text, withdraw};

use crate::support::*;

const T0: i64 = 1_772_344_800_000;
const DOC: &[u8] = b"%PDF-1.4 signed offer letter";

/// An archive with an edited, a withdrawn and an attached message; returns the bundle path
/// of all three and the archive's head.
fn bundle_of_three(a: &ArchiveDir) -> (PathBuf, store::ChainHead) {
    let mut store = a.open_store();
    let sha = testkit::ui::store_blob(&a.data, DOC);
    let items = vec![
        payload(message("c1", "m1", text("offer 三十万", T0)), T0 + 1),
        payload(edit("c1", "m1", "offer 三十五万", T0 + 60_000), T0 + 60_001),
        payload(message("c2", "x", text("another chat", T0 + 1)), T0 + 2),
        payload(message("c1", "m2", text("撤回这条", T0 + 2)), T0 + 3),
        payload(withdraw("c1", "m2", "hr", T0 + 120_000), T0 + 120_001),
        payload(
            message(
                "c1",
                "m3",
                NewMessage {
                    attachments: vec![Attachment {
                        name: Some("offer.pdf".into()),
                        sha256: Some(sha),
                        ..Default::default()
                    }],
                    ..text("附件", T0 + 3)
                },
            ),
            T0 + 4,
        ),
    ];
    store.append(&[&batch(Platform::Wecom, "corp", items)]).unwrap();
    drop(store);
    let reader = store::StoreReader::open(&a.data).unwrap();
    let keys: Vec<_> = ["m1", "m2", "m3"]
        .into_iter()
        .map(|m| key(Platform::Wecom, "corp", "c1", m))
        .collect();
    let path = a.data.parent().unwrap().join("case.zip");
    let file = std::fs::File::create(&path).unwrap();
    bundle::write(
        &reader,
        &bundle::Request {
            keys: &keys,
            created_by: "legal",
            created_at_ms: T0 + 86_400_000,
            origin: serde_json::json!({ "kind": "conversation", "chat": "c1" }),
            blobs_dir: &a.data.join("blobs"),
        },
        file,
    )
    .unwrap();
    (path, reader.head().unwrap())
}

fn run(args: &[&str], file: &Path) -> std::process::Output {
    let mut all = vec!["verify-bundle", file.to_str().unwrap()];
    all.extend_from_slice(args);
    cv_isolated(None, &all)
}

#[test]
fn a_bundle_checks_out_offline_and_a_damaged_one_exits_3_naming_the_file() {
    let a = ArchiveDir::new();
    let (path, head) = bundle_of_three(&a);
    // Offline: the archive is gone, only the file is left.
    std::fs::remove_dir_all(&a.data).unwrap();

    let o = run(&[], &path);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let sha = hex::encode(Sha256::digest(std::fs::read(&path).unwrap()));
    assert!(out.contains(&sha), "{out}");
    assert!(
        out.contains("ok: 3 messages re-folded from their events, 5 event hashes recomputed, 1 attachments re-hashed"),
        "{out}"
    );
    assert!(
        out.contains(&format!("chatvault verify --expect-head {}:{}", head.seq, head.hash)),
        "{out}"
    );

    let o = run(&["--json"], &path);
    assert_eq!(o.status.code(), Some(0));
    let v = &json_lines(&o)[0];
    assert_eq!((v["ok"].as_bool(), v["messages"].as_u64()), (Some(true), Some(3)));
    assert_eq!(v["created_by"], "legal");

    let at = format!("{}:{}", head.seq, head.hash);
    assert_eq!(run(&["--expect-head", &at], &path).status.code(), Some(0));
    let wrong = format!("{}:{}", head.seq, "0".repeat(64));
    let o = run(&["--expect-head", &wrong], &path);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("--expect-head"), "{}", stderr(&o));
    let o = run(&["--expect-head", "not-a-position"], &path);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));

    // One byte of the attachment, stored as is inside the zip, flipped.
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.windows(DOC.len()).position(|w| w == DOC).unwrap();
    bytes[at + 10] ^= 1;
    let bad = path.with_file_name("altered.zip");
    std::fs::write(&bad, &bytes).unwrap();
    let o = run(&[], &bad);
    assert_eq!(o.status.code(), Some(3));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("attachments/{}", hex::encode(Sha256::digest(DOC)))),
        "{err}"
    );
    let o = run(&["--json"], &bad);
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(json_lines(&o)[0]["ok"], false);

    // Not a zip at all, and no file at all.
    let junk = path.with_file_name("junk.zip");
    std::fs::write(&junk, b"hello").unwrap();
    let o = run(&[], &junk);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("not a readable zip"), "{}", stderr(&o));
    let o = run(&[], &path.with_file_name("missing.zip"));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
}
