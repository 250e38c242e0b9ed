//! Case bundles over real HTTP: a POST with the session's CSRF token makes one (a GET never
//! does), it checks out offline, it holds only what the user's scopes allow, and it is in the
//! access log with its sha256 before the bytes arrive.

#[allow(dead_code)]
mod support;

use std::collections::BTreeMap;
use std::io::Cursor;

use sha2::{Digest, Sha256};
use support::{Client, PASSWORD, Res, Ui};
use testkit::ui::{ATTACHMENT, T0};

/// The bundle checks out; its files by name.
fn open(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    assert!(
        bytes.starts_with(b"PK\x03\x04"),
        "not a zip: {}",
        String::from_utf8_lossy(bytes)
    );
    let r = bundle::check(Cursor::new(bytes), hex::encode(Sha256::digest(bytes)), &[]);
    assert!(r.ok, "{r:?}");
    testkit::ui::bundle_files(bytes)
}

/// The message ids in `messages.jsonl`.
fn ids(files: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    String::from_utf8(files["messages.jsonl"].clone())
        .unwrap()
        .lines()
        .map(|l| {
            let m: bundle::MessageLine = serde_json::from_str(l).unwrap();
            m.key.msg_id
        })
        .collect()
}

fn search_form<'a>(q: &'a str, csrf: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![("q", q), ("csrf", csrf), ("platform", ""), ("chat", ""), ("state", "")]
}

/// The results page of 农业, which must show `note` (`why` says where).
async fn farm_results_show(c: &mut Client, note: &str, why: &str) {
    let page = c.get("/search?q=%E5%86%9C%E4%B8%9A").await;
    assert!(page.body.contains(note), "{why}");
}

/// Presses the download button under the results of `q` (a POST with the session's CSRF
/// token), which must answer `status`.
async fn bundle_search(c: &mut Client, q: &str, status: u16) -> Res {
    let csrf = c.session_csrf().await;
    c.post_expecting("/bundle/search", &search_form(q, &csrf), status).await
}

#[tokio::test]
async fn a_search_exports_all_its_results_and_the_log_holds_the_bundles_hash() {
    let (ui, mut c) = Ui::start_as("admin").await;
    farm_results_show(&mut c, "action=\"/bundle/search\"", "a download form under the results").await;
    let r = bundle_search(&mut c, "农业", 200).await;
    let files = open(&r.bytes);
    let mut got = ids(&files);
    got.sort();
    assert_eq!(got, ["m1", "m2", "s1"]);

    let entry = ui
        .log("admin")
        .into_iter()
        .rev()
        .find(|e| e.action == "case_bundle")
        .unwrap();
    assert_eq!(entry.outcome, "ok");
    assert_eq!(entry.detail["sha256"], hex::encode(Sha256::digest(&r.bytes)));
    assert_eq!(entry.detail["messages"].as_array().unwrap().len(), 3);
    let manifest: bundle::Manifest = serde_json::from_slice(&files["manifest.json"]).unwrap();
    assert_eq!(
        (manifest.created_by.as_str(), manifest.origin["q"].as_str()),
        ("admin", Some("农业"))
    );
}

#[tokio::test]
async fn a_scoped_reviewers_bundle_holds_nothing_outside_the_scope() {
    let (ui, mut c) = Ui::start_as("reviewer").await;
    let csrf = c.session_csrf().await;
    // Every message the reviewer may search (an empty query lists them all).
    let r = c.post_expecting("/bundle/search", &search_form("", &csrf), 200).await;
    let files = open(&r.bytes);
    let mut got = ids(&files);
    got.sort();
    assert_eq!(got, ["m1", "m2", "m3", "m4", "m5"]);
    for (name, bytes) in &files {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text.contains("机密") && !text.contains("\"c2\""),
            "{name} leaks chat c2"
        );
    }
    // The attachment of m5 is in (its bytes are also s2's, out of scope: only m5 names it).
    let sha = hex::encode(Sha256::digest(ATTACHMENT));
    assert_eq!(files[&format!("attachments/{sha}")], ATTACHMENT);

    // The out-of-scope chat, posted with a valid token: refused and logged, no bytes.
    let r = c
        .post_expecting("/bundle/chat/yunhu/team/c2", &[("csrf", &csrf)], 403)
        .await;
    assert!(!r.bytes.starts_with(b"PK"));
    // An out-of-scope message id smuggled into the in-scope chat's form.
    let r = c
        .post_expecting(
            "/bundle/chat/yunhu/team/c1",
            &[("csrf", &csrf), ("msg", "m1"), ("msg", "s1")],
            404,
        )
        .await;
    assert!(!r.bytes.starts_with(b"PK") && !r.body.contains("机密"));
    let denied: Vec<_> = ui
        .log("reviewer")
        .into_iter()
        .filter(|e| e.action == "case_bundle" && e.outcome == "denied")
        .map(|e| (e.target, e.detail))
        .collect();
    assert_eq!(denied.len(), 2, "{denied:?}");
    assert_eq!(denied[0].0, "/bundle/chat/yunhu/team/c2");
    assert_eq!(denied[0].1["reason"], "out of scope");
    assert_eq!(denied[1].1["msg"], "s1");
}

#[tokio::test]
async fn a_conversation_exports_the_ticked_messages_or_the_whole_page() {
    let (_ui, mut c) = Ui::start_as("reviewer").await;
    let page = c.get("/chat/yunhu/team/c1?at=m3").await;
    assert!(page.body.contains("action=\"/bundle/chat/yunhu/team/c1\""));
    assert!(page.body.contains("form=\"case-bundle\" name=\"msg\" value=\"m4\""));
    let csrf = support::Client::csrf_in(&page.body);
    let r = c
        .post_expecting(
            "/bundle/chat/yunhu/team/c1",
            &[("csrf", csrf.as_str()), ("at", "m3"), ("msg", "m3"), ("msg", "m4")],
            200,
        )
        .await;
    let files = open(&r.bytes);
    assert_eq!(ids(&files), ["m3", "m4"]);
    let messages = String::from_utf8(files["messages.jsonl"].clone()).unwrap();
    assert!(messages.contains("合同金额是一百万") && messages.contains("合同金额是两百万"));
    assert!(messages.contains("这条消息说错了") && messages.contains("\"withdrawn\""));

    let r = c
        .post_expecting("/bundle/chat/yunhu/team/c1", &[("csrf", csrf.as_str())], 200)
        .await;
    assert_eq!(ids(&open(&r.bytes)).len(), 5, "nothing ticked: the whole page");
}

#[tokio::test]
async fn no_bundle_without_the_sessions_csrf_token_or_by_get() {
    let (ui, mut c) = Ui::start_as("admin").await;
    let refused = [
        c.post("/bundle/search", &search_form("农业", "")).await,
        c.post("/bundle/search", &search_form("农业", &"0".repeat(64))).await,
        c.post("/bundle/chat/yunhu/team/c1", &[("msg", "m1")]).await,
    ];
    for r in &refused {
        assert_eq!(r.status, 403);
        assert!(!r.bytes.starts_with(b"PK"));
    }
    let r = c.get("/bundle/search?q=%E5%86%9C%E4%B8%9A").await;
    assert_eq!(r.status, 405, "a GET never makes a bundle");
    assert!(!r.bytes.starts_with(b"PK"));
    let mut anon = ui.client();
    anon.post_expecting("/bundle/search", &search_form("农业", ""), 401)
        .await;

    let entries = ui.log("admin");
    let denied: Vec<_> = entries
        .iter()
        .filter(|e| e.action == "case_bundle")
        .map(|e| (e.outcome.as_str(), e.detail["reason"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(denied, [("denied", "csrf"); 3]);
}

#[tokio::test]
async fn more_than_1000_results_are_refused_with_a_page_that_says_so() {
    use proto::Platform;
    use testkit::{batch, message, payload, text};
    let ui = Ui::start().await;
    let dir = ui.dir.path();
    let mut store = support::open_store(dir);
    let t = T0 + 100_000;
    let items = (0..1000)
        .map(|i| {
            payload(
                message("c1", &format!("n{i}"), text(&format!("农业 第{i}条"), t + i)),
                t + i + 1,
            )
        })
        .collect();
    store.append(&[&batch(Platform::Yunhu, "team", items)]).unwrap();
    drop(store);
    support::index(dir);

    let mut c = ui.client();
    c.lang = "en";
    c.login("admin", PASSWORD).await;
    farm_results_show(
        &mut c,
        "More than 1000 results: narrow the query.",
        "the button says so",
    )
    .await;
    let r = bundle_search(&mut c, "农业", 422).await;
    assert!(r.body.contains("at most 1000 messages"), "{}", r.body);
    assert!(!r.bytes.starts_with(b"PK"));
    let last = ui.log("admin").pop().unwrap();
    assert_eq!((last.action.as_str(), last.outcome.as_str()), ("case_bundle", "denied"));
    // Narrowed to one day's messages of the original chat: 1000 exactly is fine.
    let r = bundle_search(&mut c, "第", 200).await;
    assert_eq!(ids(&open(&r.bytes)).len(), 1000);
}
