//! The WeCom receiver against the simulator and against PyPI `wechatpy`: answers of design
//! §3.2, commit before 200, retries recorded once, refusals recorded, API lookups.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use chatvault_ingest::Connector;
use chatvault_ingest::blobs::BlobStore;
use chatvault_ingest::wecom::{Timing, WecomConnector};
use config::Secret;
use proto::{ContentType, EventBody, NewMessage};
use sha2::{Digest, Sha256};
use sim::fake_store::{Committed, FakeStore};
use sim::wecom::{self, FakeApi, Fault, Script, WecomPoster};
use tokio_util::sync::CancellationToken;

use super::PATH;
const MAX_BODY: usize = 256 * 1024;

struct Running {
    store: FakeStore,
    url: String,
    blobs: Arc<BlobStore>,
    poster: WecomPoster,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn fast() -> Timing {
    Timing {
        slot_wait: Duration::from_millis(300),
        answer_within: Duration::from_millis(1500),
        lookup_budget: Duration::from_secs(2),
    }
}

async fn start(cap: usize, timing: Timing, api: Option<&FakeApi>) -> Running {
    let (tx, store) = FakeStore::channel(cap);
    let dir = tempfile::tempdir().unwrap();
    let (cx, blobs) = super::context(tx, dir.path(), MAX_BODY);
    let mut connector = WecomConnector::new(super::config(api)).with_timing(timing);
    if let Some(api) = api {
        connector = connector.with_api(super::api_client(api));
    }
    let shutdown = cx.shutdown.clone();
    let url = super::serve(connector.router(&cx).expect("wecom router"), &shutdown).await;
    let poster = WecomPoster::sim(&url).with_retry_pause(Duration::from_millis(50));
    Running {
        store,
        url,
        blobs,
        poster,
        shutdown,
        _dir: dir,
    }
}

fn msg_ids(store: &FakeStore) -> Vec<String> {
    store.events().iter().filter_map(|c| c.event.msg_id.clone()).collect()
}

/// The messages (not other events) archived in `chat_id`.
fn messages_in(events: &[Committed], chat_id: &str) -> Vec<NewMessage> {
    events
        .iter()
        .filter(|c| c.event.chat_id == chat_id)
        .filter_map(|c| match &c.event.body {
            EventBody::Message(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

/// Asserts that `m` is an approval card whose text names every one of `parts`.
fn assert_card(m: &NewMessage, parts: &[&str]) {
    assert_eq!(m.content_type, ContentType::Card);
    for part in parts {
        assert!(m.text.contains(part), "{part} missing from {}", m.text);
    }
}

#[tokio::test]
async fn url_verification_answers_the_decrypted_echostr() {
    let r = start(8, fast(), None).await;
    let a = r.poster.verify_url("1616140317555161061").await;
    assert_eq!((a.status, a.body.as_str()), (200, "1616140317555161061"));
    // A signature for another token is refused and recorded.
    let other = WecomPoster::new(&r.url, "another-token", wecom::ENCODING_AES_KEY, wecom::CORP_ID).unwrap();
    assert_eq!(other.verify_url("x").await.status, 403);
    assert_eq!(r.store.rejects().len(), 1);
}

#[tokio::test]
async fn the_demo_day_is_archived_and_every_ack_follows_its_commit() {
    let r = start(8, fast(), None).await;
    r.store.set_delay(Duration::from_millis(20));
    let callbacks = Script::DemoDay.callbacks(wecom::CORP_ID);
    assert!((15..=40).contains(&callbacks.len()));
    for (i, cb) in callbacks.iter().enumerate() {
        let a = r.poster.deliver(cb).await;
        assert!(a.acked(), "{} answered {} {}", cb.kind, a.status, a.body);
        // Acknowledged ⇒ already committed, checked at the moment the answer arrived.
        assert_eq!(r.store.events().len(), i + 1, "{} acked before its commit", cb.kind);
        if let Some(id) = &cb.msg_id {
            assert!(msg_ids(&r.store).contains(id));
        }
    }
    let events = r.store.events();
    let kinds: Vec<String> = events.iter().map(|c| c.event.kind().to_string()).collect();
    for k in [
        "message",
        "contact_changed",
        "group_created",
        "member_join",
        "member_leave",
        "group_dissolved",
        "other",
    ] {
        assert!(kinds.iter().any(|x| x == k), "no {k} event");
    }
    let text = events
        .iter()
        .find_map(|c| match &c.event.body {
            EventBody::Message(m) if m.text.contains("农业局项目") => Some((c.event.chat_id.clone(), m.clone())),
            _ => None,
        })
        .expect("the 农业局 message");
    assert_eq!(text.0, "1000002:zhangsan");
    assert_eq!(text.1.sender_id, "zhangsan");
    assert_eq!(text.1.sent_at, (wecom::DEMO_DAY_START + 120) * 1000);
    let joined = events.iter().find_map(|c| match &c.event.body {
        EventBody::MemberJoin { members, .. } => Some(members.iter().map(|m| m.id.clone()).collect::<Vec<_>>()),
        _ => None,
    });
    assert_eq!(joined.unwrap(), vec!["wmOgQhDgAAuXFJGwbve4g4iQknfOAAAA", "lisi"]);
    assert!(
        events
            .iter()
            .any(|c| matches!(&c.event.body, EventBody::Other { subtype, .. } if subtype == "sys_approval_change"))
    );
    assert!(r.store.rejects().is_empty());
}

#[tokio::test]
async fn a_retry_of_the_same_payload_is_recorded_once() {
    let r = start(8, fast(), None).await;
    let cb = wecom::text(wecom::CORP_ID, "lisi", wecom::DEMO_DAY_START, 42, "报销单已提交");
    let signed = r.poster.sign(&cb.xml, None);
    for n in 1..=3 {
        assert!(r.poster.send(&cb, &signed, n, None).await.acked());
    }
    assert_eq!(r.store.events().len(), 1);
    assert_eq!(r.store.duplicates(), 2);
    // An event (no MsgId) retried is recognised the same way, through its derived id.
    let ev = &Script::DemoDay.callbacks(wecom::CORP_ID)[0];
    let signed = r.poster.sign(&ev.xml, None);
    assert!(r.poster.send(ev, &signed, 1, None).await.acked());
    assert!(r.poster.send(ev, &signed, 2, None).await.acked());
    assert_eq!(r.store.events().len(), 2);
}

#[tokio::test]
async fn a_slow_store_gets_503_and_the_wecom_retry_is_recorded_once() {
    let timing = Timing {
        answer_within: Duration::from_millis(300),
        ..fast()
    };
    let r = start(8, timing, None).await;
    r.store.set_delay(Duration::from_millis(700));
    let cb = wecom::text(wecom::CORP_ID, "wangwu", wecom::DEMO_DAY_START, 77, "合同原件我带着");
    let signed = r.poster.sign(&cb.xml, None);
    let first = r.poster.send(&cb, &signed, 1, None).await;
    assert_eq!(first.status, 503, "{}", first.body);
    assert!(first.answered_at - first.sent_at < Duration::from_millis(600));
    r.store.set_delay(Duration::ZERO);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let retry = r.poster.send(&cb, &signed, 2, None).await;
    assert!(retry.acked());
    assert_eq!(r.store.events().len(), 1);
    assert_eq!(r.store.duplicates(), 1);
}

#[tokio::test]
async fn a_full_channel_answers_503_quickly_instead_of_hanging() {
    let timing = Timing {
        slot_wait: Duration::from_millis(100),
        answer_within: Duration::from_millis(400),
        ..fast()
    };
    let r = start(1, timing, None).await;
    r.store.set_delay(Duration::from_secs(3));
    let callbacks = Script::Bulk(4).callbacks(wecom::CORP_ID);
    let mut tasks = Vec::new();
    for cb in callbacks {
        let p = r.poster.clone();
        tasks.push(tokio::spawn(async move {
            let s = p.sign(&cb.xml, None);
            p.send(&cb, &s, 1, None).await
        }));
    }
    for t in tasks {
        let a = t.await.unwrap();
        assert_eq!(a.status, 503);
        assert!(a.answered_at - a.sent_at < Duration::from_secs(1));
    }
}

#[tokio::test]
async fn refused_callbacks_get_their_status_and_a_reject_row() {
    let r = start(8, fast(), None).await;
    let cb = wecom::text(wecom::CORP_ID, "zhangsan", wecom::DEMO_DAY_START, 9, "会议纪要");
    let cases = [
        (Fault::BadSignature, 403, "msg_signature"),
        (Fault::WrongCorpId, 403, "receive id"),
        (Fault::TruncatedXml, 400, "message XML"),
        (Fault::Oversized(MAX_BODY + 10), 413, "larger than"),
        (Fault::MissingParams, 400, "missing msg_signature"),
    ];
    for (i, (fault, status, reason)) in cases.into_iter().enumerate() {
        let a = r.poster.deliver_with(&cb, Some(fault)).await;
        assert_eq!(a.status, status, "{fault:?}");
        assert_eq!(a.attempt, 1, "a 4xx is not retried");
        let rejects = r.store.rejects();
        assert_eq!(rejects.len(), i + 1, "{fault:?} not recorded");
        assert!(rejects[i].0.contains(reason), "{fault:?}: {}", rejects[i].0);
        assert!(!rejects[i].0.contains(wecom::TOKEN) && !rejects[i].0.contains(wecom::ENCODING_AES_KEY));
    }
    let (_, head) = &r.store.rejects()[3];
    assert_eq!(head.len(), 64 * 1024, "an oversized body keeps its first 64 KiB");
    assert!(r.store.events().is_empty());
    // Not XML at all (with a current timestamp: an old one is refused before the body).
    let resp = reqwest::Client::new()
        .post(format!(
            "{}?msg_signature=a&timestamp={}&nonce=2",
            r.url,
            proto::time::now_ms() / 1000
        ))
        .body(vec![0xffu8, 0x00, 0x13])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    // The receiver still works afterwards.
    assert!(r.poster.deliver(&cb).await.acked());
}

#[tokio::test]
async fn names_groups_and_media_are_looked_up_when_a_secret_is_set() {
    let api = FakeApi::start(0, wecom::SECRET).await.unwrap();
    let r = start(8, fast(), Some(&api)).await;
    let callbacks = Script::DemoDay.callbacks(wecom::CORP_ID);
    // The token dies after the first lookups: the connector fetches a new one and goes on.
    for (i, cb) in callbacks.iter().enumerate() {
        if i == 4 {
            api.expire_token(1);
        }
        assert!(r.poster.deliver(cb).await.acked());
    }
    let events = r.store.events();
    let image = events
        .iter()
        .find_map(|c| match &c.event.body {
            EventBody::Message(m) if m.content_type == ContentType::Image => Some(m.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(image.sender_name.as_deref(), Some("李四"));
    let bytes = wecom::media_bytes("MEDIA_receipt_001");
    let sha = hex::encode(Sha256::digest(&bytes));
    assert_eq!(image.attachments[0].sha256.as_deref(), Some(sha.as_str()));
    assert_eq!(r.blobs.get(&sha).unwrap(), bytes);
    assert!(
        events
            .iter()
            .any(|c| matches!(&c.event.body, EventBody::GroupRenamed { name, .. } if name == "农业局项目对接群"))
    );
    assert!(
        events
            .iter()
            .any(|c| matches!(&c.event.body, EventBody::GroupCreated { name: Some(n), .. } if n == "农业局项目对接群"))
    );
    assert_eq!(api.gettoken_calls(), 2, "one fetch, one refresh after 42001");
}

#[tokio::test]
async fn approvals_are_read_through_their_detail_and_customers_get_their_names() {
    let api = FakeApi::start(0, wecom::SECRET).await.unwrap();
    let r = start(8, fast(), Some(&api)).await;
    for cb in &Script::DemoDay.callbacks(wecom::CORP_ID) {
        assert!(r.poster.deliver(cb).await.acked());
    }
    let events = r.store.events();
    // Each status change of the approval is a readable message in the approval's chat, with
    // what `oa/getapprovaldetail` answered; the callback's own event keeps the whole detail.
    let approval = messages_in(&events, &format!("approval:{}", wecom::APPROVAL_SP_NO));
    assert_eq!(approval.len(), 2, "{approval:?}");
    for m in &approval {
        assert_card(
            m,
            &[
                "报销",
                "1280.00",
                "农业局项目现场调研差旅费",
                "李四 (lisi)",
                "同意，注意保留发票",
            ],
        );
        assert_eq!(m.sender_name.as_deref(), Some("李四"));
    }
    assert!(approval[0].text.contains("审批中"), "{}", approval[0].text);
    assert!(approval[1].text.contains("已通过"), "{}", approval[1].text);
    assert!(events.iter().any(|c| matches!(&c.event.body,
        EventBody::Other { subtype, detail } if subtype == "sys_approval_change" && detail["approval_detail"]["sp_no"] == wecom::APPROVAL_SP_NO)));

    // Customers by name (`externalcontact/get`): on the contact event and as group members.
    let (customer, name) = wecom::CUSTOMERS[0];
    assert!(events.iter().any(|c| matches!(&c.event.body,
        EventBody::ContactChanged { change, user_id, detail }
            if change == "add_external_contact" && user_id == customer && detail["external_contact"]["name"] == name)));
    let joined = events
        .iter()
        .find_map(|c| match &c.event.body {
            EventBody::MemberJoin { members, .. } => Some(members.clone()),
            _ => None,
        })
        .unwrap();
    let names: Vec<_> = joined.iter().map(|m| (m.id.as_str(), m.name.as_deref())).collect();
    assert_eq!(names, [(customer, Some(name)), ("lisi", Some("李四"))]);
}

#[tokio::test]
async fn a_retry_keeps_the_events_of_its_first_attempt_even_if_lookups_now_succeed() {
    let api = FakeApi::start(0, wecom::SECRET).await.unwrap();
    let r = start(8, fast(), Some(&api)).await;
    let cb = wecom::text(wecom::CORP_ID, "zhaoliu", wecom::DEMO_DAY_START, 555, "发票明天寄出");
    let signed = r.poster.sign(&cb.xml, None);
    api.busy(1000);
    assert!(r.poster.send(&cb, &signed, 1, None).await.acked());
    api.busy(0);
    assert!(r.poster.send(&cb, &signed, 2, None).await.acked());
    assert_eq!(r.store.events().len(), 1);
    assert_eq!(r.store.duplicates(), 1);
}

// ---- hostile traffic and replays ----------------------------------------------------------

/// A callback body and query signed with `timestamp`.
fn signed_at(xml: &str, timestamp: i64) -> (String, String) {
    use chatvault_ingest::wecom::crypto::WecomCrypto;
    let c = WecomCrypto::new(wecom::TOKEN, wecom::ENCODING_AES_KEY, wecom::CORP_ID).unwrap();
    let encrypt = c.encrypt_with_random(xml.as_bytes(), b"0123456789abcdef");
    let ts = timestamp.to_string();
    let sig = c.signature(&ts, "4242", &encrypt);
    let body = format!(
        "<xml><ToUserName><![CDATA[{}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>",
        wecom::CORP_ID
    );
    (format!("msg_signature={sig}&timestamp={ts}&nonce=4242"), body)
}

#[tokio::test]
async fn a_signed_request_with_an_old_timestamp_is_refused_as_a_replay() {
    let r = start(8, fast(), None).await;
    let cb = wecom::text(wecom::CORP_ID, "lisi", wecom::DEMO_DAY_START, 4711, "旧的请求");
    let http = reqwest::Client::new();
    let now = proto::time::now_ms() / 1000;
    let (query, body) = signed_at(&cb.xml, now - 2 * 3600);
    let a = http.post(format!("{}?{query}", r.url)).body(body).send().await.unwrap();
    assert_eq!(a.status(), 403);
    assert!(r.store.events().is_empty(), "a replayed request was archived");
    let rejects = r.store.rejects();
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    assert!(rejects[0].0.contains("timestamp"), "{}", rejects[0].0);
    // The same message signed now is taken: only the timestamp made the difference.
    let (query, body) = signed_at(&cb.xml, now);
    let a = http.post(format!("{}?{query}", r.url)).body(body).send().await.unwrap();
    assert_eq!(a.status(), 200);
    assert_eq!(msg_ids(&r.store), ["4711"]);
}

#[tokio::test]
async fn a_large_unsigned_post_leaves_only_its_head_size_and_hash() {
    let r = start(8, fast(), None).await;
    let body: Vec<u8> = (0..200 * 1024u32).map(|i| b'a' + (i % 26) as u8).collect();
    let a = reqwest::Client::new()
        .post(format!("{}?timestamp=1", r.url))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(a.status(), 400);
    let bad_sig = reqwest::Client::new()
        .post(format!(
            "{}?msg_signature=00&timestamp={}&nonce=1",
            r.url,
            proto::time::now_ms() / 1000
        ))
        .body(format!("<xml><Encrypt>{}</Encrypt></xml>", "A".repeat(150 * 1024)))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_sig.status(), 403);
    let rejects = r.store.rejects();
    assert_eq!(rejects.len(), 2, "{rejects:?}");
    for (reason, raw) in &rejects {
        assert!(raw.len() <= 64 * 1024, "a refused body kept {} bytes", raw.len());
        assert!(reason.contains("sha256"), "{reason}");
    }
    assert!(rejects[0].0.contains(&body.len().to_string()), "{}", rejects[0].0);
    assert!(
        rejects[0].0.contains(&hex::encode(Sha256::digest(&body))),
        "{}",
        rejects[0].0
    );
}

#[tokio::test]
async fn two_updates_of_one_member_in_one_second_are_two_events() {
    // With API lookups on, callbacks are remembered so that a retry gets the same events;
    // two different callbacks sharing chat and derived id must not be taken for a retry.
    let api = FakeApi::start(0, wecom::SECRET).await.unwrap();
    let r = start(8, fast(), Some(&api)).await;
    let update = |field: &str| sim::wecom::Callback {
        kind: "event:change_contact".into(),
        msg_id: None,
        xml: format!(
            "<xml><ToUserName><![CDATA[{}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>\
             <CreateTime>{}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_contact]]></Event>\
             <ChangeType>update_user</ChangeType><UserID>emily</UserID>{field}</xml>",
            wecom::CORP_ID,
            wecom::DEMO_DAY_START
        ),
    };
    let a = update("<Mobile>13800000000</Mobile>");
    let b = update("<Position><![CDATA[经理]]></Position>");
    assert!(r.poster.deliver(&a).await.acked());
    assert!(r.poster.deliver(&b).await.acked());
    let events = r.store.events();
    assert_eq!(
        events.len(),
        2,
        "{:?}",
        events.iter().map(|c| &c.event).collect::<Vec<_>>()
    );
    // A true retry of either is still recorded once.
    assert!(r.poster.deliver(&b).await.acked());
    assert_eq!(r.store.events().len(), 2);
}

// ---- interoperability with PyPI wechatpy -------------------------------------------------

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn python() -> PathBuf {
    let py = workspace_root().join(".venv/bin/python");
    assert!(
        py.exists(),
        "{} is missing: create it with `python3 -m venv .venv && .venv/bin/pip install -r tests/requirements.txt` \
         in the workspace root (the wechatpy interoperability test needs it)",
        py.display()
    );
    py
}

#[tokio::test]
async fn payloads_signed_and_encrypted_by_wechatpy_are_accepted() {
    let py = python();
    let r = start(8, fast(), None).await;
    let url = r.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(py)
            .arg(workspace_root().join("tests/interop/wecom_post.py"))
            .args([
                "--url",
                &url,
                "--token",
                wecom::TOKEN,
                "--key",
                wecom::ENCODING_AES_KEY,
                "--corp-id",
                wecom::CORP_ID,
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "wecom_post.py failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let status = |case: &str| {
        results
            .iter()
            .find(|v| v["case"] == case)
            .unwrap_or_else(|| panic!("no case {case}"))["status"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(status("echostr"), 200);
    let echo = results.iter().find(|v| v["case"] == "echostr").unwrap();
    assert_eq!(echo["body"], echo["expected"]);
    for case in [
        "text",
        "change_contact",
        "change_external_contact",
        "change_external_chat",
        "sys_approval_change",
        "text_retry",
    ] {
        assert_eq!(status(case), 200, "{case}");
        assert_eq!(results.iter().find(|v| v["case"] == case).unwrap()["body"], "success");
    }
    assert_eq!(status("bad_signature"), 403);
    let events = r.store.events();
    assert_eq!(events.len(), 5, "the retry is recorded once");
    assert_eq!(r.store.duplicates(), 1);
    assert!(
        events
            .iter()
            .any(|c| matches!(&c.event.body, EventBody::Message(m) if m.text == "wechatpy 你好 & <ok>"))
    );
    assert!(
        events
            .iter()
            .any(|c| matches!(&c.event.body, EventBody::ContactChanged { change, .. } if change == "create_user"))
    );
    assert!(events.iter().any(
        |c| matches!(&c.event.body, EventBody::ContactChanged { change, .. } if change == "add_external_contact")
    ));
    assert!(
        events
            .iter()
            .any(|c| matches!(c.event.body, EventBody::GroupCreated { .. }))
    );
    assert_eq!(r.store.rejects().len(), 1);
}

#[test]
fn the_simulators_config_section_is_a_valid_config() {
    let toml = wecom::config_toml("corp", PATH, Some("http://127.0.0.1:18080"));
    let cfg = config::parse(&toml, Path::new("chatvault.toml")).unwrap_or_else(|e| panic!("{e}\n{toml}"));
    let w = &cfg.wecom[0];
    assert_eq!(
        (w.name.as_str(), w.corp_id.as_str(), w.path.as_str()),
        ("corp", wecom::CORP_ID, PATH)
    );
    assert_eq!(w.token.expose(), wecom::TOKEN);
    assert_eq!(w.secret.as_ref().map(Secret::expose), Some(wecom::SECRET));
    assert_eq!(w.api_base, "http://127.0.0.1:18080");
}

#[tokio::test]
async fn self_built_approvals_are_read_through_their_open_data_and_kept_raw_when_it_fails() {
    let api = FakeApi::start(0, wecom::SECRET).await.unwrap();
    let r = start(8, fast(), Some(&api)).await;
    let t = wecom::DEMO_DAY_START + 600;
    let cb = wecom::open_approval_change(wecom::CORP_ID, t, wecom::OPEN_APPROVAL_THIRD_NO, 2);
    assert!(r.poster.deliver(&cb).await.acked());
    // An approval the secret's app cannot read: the callback stays a raw event, archived.
    let unknown = wecom::open_approval_change(wecom::CORP_ID, t + 60, "OTHER-APP-0001", 1);
    assert!(r.poster.deliver(&unknown).await.acked());

    let events = r.store.events();
    let chat = format!("approval:open:{}", wecom::OPEN_APPROVAL_THIRD_NO);
    let cards = messages_in(&events, &chat);
    assert_eq!(cards.len(), 1, "{events:?}");
    let m = &cards[0];
    assert_card(
        m,
        &[
            "[审批] 付款 · 已通过",
            "李四 (lisi)",
            "张三 (zhangsan): 已同意「同意付款，合同已归档」",
            "抄送: 王五",
        ],
    );
    assert_eq!(m.sent_at, t * 1000);
    let raw: Vec<_> = events
        .iter()
        .filter_map(|c| match &c.event.body {
            EventBody::Other { subtype, detail } if subtype == "open_approval_change" => Some(detail.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(raw.len(), 2, "both callbacks are archived as events");
    assert_eq!(raw[0]["open_approval_data"]["ThirdNo"], wecom::OPEN_APPROVAL_THIRD_NO);
    assert_eq!(raw[1].get("open_approval_data"), None, "not readable: kept as it came");
    assert!(!events.iter().any(|c| c.event.chat_id.contains("OTHER-APP-0001")));
}
