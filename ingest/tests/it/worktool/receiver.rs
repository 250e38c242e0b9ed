//! WorkTool receiver against the WorkTool simulator: every field mapped, both body
//! encodings, the id rule, attachments, the key check, bad input, answer-after-commit (also
//! under a burst), the spool when the store is slow, and the robot status poll.

use chatvault_ingest as ingest;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use config::{Secret, WorktoolConfig};
use ingest::blobs::BlobStore;
use ingest::server::{Health, ServerHandle, ServerOptions, serve};
use ingest::state::StateRegistry;
use ingest::worktool::{Timing, WorktoolConnector};
use ingest::{Connector, ConnectorContext};
use proto::Platform;
use sim::fake_store::FakeStore;
use tokio_util::sync::CancellationToken;

use crate::support::eventually;

pub const NAME: &str = "robot1";
pub const PATH: &str = "/callback/worktool/robot1";

pub struct Rig {
    pub store: FakeStore,
    // Kept so the callback server lives as long as the rig.
    pub _server: ServerHandle,
    pub shutdown: CancellationToken,
    pub blobs: Arc<BlobStore>,
    pub registry: StateRegistry,
    pub dir: tempfile::TempDir,
    pub url: String,
}

pub struct Opts {
    pub channel: usize,
    pub timing: Timing,
    pub max_body: usize,
    pub api_base: Option<String>,
    pub status_interval: Duration,
    pub settings_interval: Duration,
    pub spool_max_bytes: u64,
}

impl Opts {
    /// One batch in flight and short waits: a stalled store is seen within 50 ms and each
    /// callback answered (spooled) within 150 ms, so a test can stall it and go on posting.
    pub fn stalling() -> Opts {
        Opts {
            channel: 1,
            timing: Timing {
                slot_wait: Duration::from_millis(50),
                answer_within: Duration::from_millis(150),
            },
            ..Opts::default()
        }
    }
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            channel: 8,
            timing: Timing::default(),
            max_body: 1024 * 1024,
            api_base: None,
            status_interval: Duration::from_secs(60),
            settings_interval: Duration::from_secs(3600),
            spool_max_bytes: 1024 * 1024 * 1024,
        }
    }
}

pub async fn rig(opts: Opts) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let (tx, store) = FakeStore::channel(opts.channel);
    let blobs = Arc::new(BlobStore::new(dir.path().join("blobs"), 1 << 20));
    let cx = ConnectorContext {
        blobs: blobs.clone(),
        max_body_bytes: opts.max_body,
        ..ConnectorContext::new(Platform::Worktool, NAME, tx, dir.path())
    };
    let registry = cx.state.registry().clone();
    let shutdown = cx.shutdown.clone();
    let cfg = WorktoolConfig {
        name: NAME.into(),
        robot_id: opts.api_base.as_ref().map(|_| sim::worktool::ROBOT_ID.to_string()),
        path: PATH.into(),
        key: Secret::new(sim::worktool::KEY),
        api_base: opts.api_base.clone().unwrap_or_else(|| "http://127.0.0.1:9".into()),
        api_key: None,
        spool_max_bytes: opts.spool_max_bytes,
    };
    let conn = Arc::new(
        WorktoolConnector::new(cfg)
            .with_timing(opts.timing)
            .with_status_interval(opts.status_interval)
            .with_settings_interval(opts.settings_interval),
    );
    let router = conn.router(&cx).expect("a callback connector has routes");
    let health = Health::new(registry.clone(), Arc::new(AtomicBool::new(true)), Arc::new(String::new));
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = serve(
        ServerOptions::new(listen, opts.max_body),
        vec![router],
        health,
        shutdown.clone(),
    )
    .await
    .unwrap();
    let url = format!("http://{}{PATH}", server.local_addr());
    tokio::spawn(conn.run(cx));
    Rig {
        store,
        _server: server,
        shutdown,
        blobs,
        registry,
        dir,
        url,
    }
}

use proto::{ChatEvent, ChatType, ConnectorStatus, ContentType, EventBody, NewMessage};
use sim::worktool::{Callback, Encoding, Fault, Script, WorktoolPoster, room};

pub fn messages(store: &FakeStore) -> Vec<(ChatEvent, NewMessage)> {
    store
        .events()
        .into_iter()
        .filter_map(|c| match &c.event.body {
            EventBody::Message(m) => Some((c.event.clone(), m.clone())),
            _ => None,
        })
        .collect()
}

pub fn states(store: &FakeStore) -> Vec<ConnectorStatus> {
    store
        .events()
        .into_iter()
        .filter_map(|c| match c.event.body {
            EventBody::ConnectorState { status, .. } => Some(status),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_day_maps_every_field() {
    let rig = rig(Opts::default()).await;
    let script = Script::DemoDay.callbacks();
    let poster = WorktoolPoster::sim(&rig.url);
    let acked = poster.run(&script).await;
    assert_eq!(
        acked,
        script.len(),
        "{:?}",
        poster
            .log()
            .iter()
            .map(|a| (a.status, a.body.clone()))
            .collect::<Vec<_>>()
    );
    let sent: Vec<&Callback> = script.iter().filter(|c| c.is_message()).collect();
    let msgs = messages(&rig.store);
    assert_eq!(msgs.len(), sent.len(), "one message per message callback");

    // Texts in order, including both identical "好的" (two requests = two messages).
    let texts: Vec<&str> = msgs.iter().map(|(_, m)| m.text.as_str()).collect();
    assert_eq!(texts.iter().filter(|t| **t == "好的").count(), 2);
    let ids: std::collections::HashSet<_> = msgs.iter().map(|(e, _)| e.msg_id.clone().unwrap()).collect();
    assert_eq!(ids.len(), msgs.len(), "every message has its own id");

    // Group chat: id = group name, internal, @mention parsed, robot mention from atMe.
    let (ev, m) = msgs.iter().find(|(_, m)| m.text.contains("待处理的报销单")).unwrap();
    assert_eq!(ev.chat_id, sim::worktool::DEMO_GROUP);
    assert_eq!((m.chat_type, m.external), (ChatType::Group, false));
    // The robot's own remark for the group is its name; the id stays the group name.
    assert_eq!(
        m.chat_name.as_deref(),
        Some(format!("{}(备注)", sim::worktool::DEMO_GROUP).as_str())
    );
    assert_eq!(m.sender_id, "李四");
    assert_eq!(m.sender_name.as_deref(), Some("李四"));
    assert!(
        m.mentions.contains(&"小助手".to_string()) && m.mentions.contains(&NAME.to_string()),
        "{:?}",
        m.mentions
    );
    assert_eq!(m.sent_at, ev.occurred_at.unwrap(), "sent_at is the receive time");
    let (_, m) = msgs.iter().find(|(_, m)| m.text.starts_with("@张三")).unwrap();
    assert_eq!(m.mentions, ["张三"]);

    // External group and direct chats.
    let (ev, m) = msgs.iter().find(|(_, m)| m.text.contains("农业局的报告")).unwrap();
    assert_eq!(
        (ev.chat_id.as_str(), m.chat_type, m.external),
        (sim::worktool::DEMO_EXTERNAL_GROUP, ChatType::Group, true)
    );
    let (ev, m) = msgs.iter().find(|(_, m)| m.text.contains("付款节点")).unwrap();
    assert_eq!(
        (ev.chat_id.as_str(), m.chat_type, m.external),
        ("dm:李经理", ChatType::Direct, true)
    );
    let (ev, m) = msgs.iter().find(|(_, m)| m.text.contains("上个月的报销进度")).unwrap();
    assert_eq!(
        (ev.chat_id.as_str(), m.chat_type, m.external),
        ("dm:王芳", ChatType::Direct, false)
    );

    // Content types of every textType in the script.
    let types: std::collections::HashSet<ContentType> = msgs.iter().map(|(_, m)| m.content_type).collect();
    for t in [
        ContentType::Text,
        ContentType::Image,
        ContentType::File,
        ContentType::Voice,
        ContentType::Video,
        ContentType::Link,
        ContentType::MiniProgram,
        ContentType::Merged,
    ] {
        assert!(types.contains(&t), "{t} missing");
    }
    let (_, voice) = msgs.iter().find(|(_, m)| m.content_type == ContentType::Voice).unwrap();
    assert_eq!(voice.text, "[语音]");

    // Images: stored once in the blob store, readable, referenced from both messages.
    let images: Vec<_> = msgs
        .iter()
        .filter(|(_, m)| m.content_type == ContentType::Image)
        .collect();
    assert_eq!(images.len(), 2);
    let png = base64_decode(sim::worktool::PNG_BASE64);
    for (_, m) in &images {
        let a = &m.attachments[0];
        assert_eq!(a.mime.as_deref(), Some("image/png"));
        assert_eq!(a.size, Some(png.len() as u64));
        assert_eq!(rig.blobs.get(a.sha256.as_deref().unwrap()).unwrap(), png);
    }
    assert_eq!(
        std::fs::read_dir(rig.blobs.dir()).unwrap().count(),
        1,
        "same bytes stored once"
    );

    // Robot online / offline (bound with `&event=`) → an `other` event with the body, and
    // connector_state (committed just after the answer); QR code → other.
    assert!(
        eventually(Duration::from_secs(5), || states(&rig.store)
            .contains(&ConnectorStatus::RobotOffline))
        .await
    );
    let st = states(&rig.store);
    let off = st.iter().position(|s| *s == ConnectorStatus::RobotOffline).unwrap();
    assert!(st[off + 1..].contains(&ConnectorStatus::RobotOnline), "{st:?}");
    let others: Vec<String> = rig
        .store
        .events()
        .into_iter()
        .filter_map(|c| match c.event.body {
            EventBody::Other { subtype, .. } => Some(subtype),
            _ => None,
        })
        .collect();
    assert_eq!(
        others,
        [
            "worktool_robot_online",
            "worktool_robot_offline",
            "worktool_robot_online",
            "worktool_qr_code"
        ]
    );
    assert!(rig.store.rejects().is_empty(), "{:?}", rig.store.rejects());
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

/// The fields that do not depend on when a message arrived.
fn normalized(store: &FakeStore) -> Vec<(String, NewMessage)> {
    messages(store)
        .into_iter()
        .map(|(e, mut m)| {
            m.sent_at = 0;
            (e.chat_id, m)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_encodings_map_like_json() {
    let script: Vec<Callback> = Script::DemoDay
        .callbacks()
        .into_iter()
        .filter(|c| c.is_message())
        .collect();
    let mut results = Vec::new();
    for enc in [Encoding::Json, Encoding::Form, Encoding::Multipart] {
        let rig = rig(Opts::default()).await;
        let poster = WorktoolPoster::sim(&rig.url).with_encoding(enc);
        assert_eq!(
            poster.run(&script).await,
            script.len(),
            "{enc:?}: {:?}",
            poster.log().last().map(|a| a.body.clone())
        );
        results.push(normalized(&rig.store));
        assert!(rig.store.rejects().is_empty(), "{enc:?}: {:?}", rig.store.rejects());
    }
    assert_eq!(results[0], results[1], "urlencoded differs from JSON");
    assert_eq!(results[0], results[2], "multipart differs from JSON");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_is_checked_and_refusals_leave_reject_rows() {
    let rig = rig(Opts {
        max_body: 64 * 1024,
        ..Opts::default()
    })
    .await;
    let poster = WorktoolPoster::sim(&rig.url);
    let cb = Callback::group_text("测试群", room::INTERNAL_GROUP, "张三", "合同已盖章");
    let wrong = poster.deliver_with(&cb, Some(Fault::WrongKey)).await;
    let missing = poster.deliver_with(&cb, Some(Fault::MissingKey)).await;
    assert_eq!((wrong.status, missing.status), (401, 401));
    assert!(!wrong.acked());
    let malformed = poster.deliver_with(&cb, Some(Fault::MalformedJson)).await;
    let types = poster.deliver_with(&cb, Some(Fault::WrongTypes)).await;
    let huge = poster.deliver_with(&cb, Some(Fault::Huge(200 * 1024))).await;
    assert_eq!((malformed.status, types.status, huge.status), (400, 400, 413));
    assert!(
        messages(&rig.store).is_empty(),
        "nothing refused was archived as a message"
    );
    let rejects = rig.store.rejects();
    assert_eq!(rejects.len(), 5, "{rejects:?}");
    assert!(rejects[0].0.contains("key") && rejects[1].0.contains("key"));
    assert!(
        !rejects.iter().any(|(reason, _)| reason.contains(sim::worktool::KEY)),
        "the key never appears"
    );
    // The fake store shows raw bytes lossily: a character cut at 64 KiB becomes one U+FFFD.
    assert!(
        rejects[4].1.len() <= 64 * 1024 + 3,
        "oversized body keeps its head only"
    );
    assert!(rejects[4].1.len() >= 60 * 1024);

    // Invalid base64: the message is kept (without the image), the bad attachment is a reject.
    let bad = poster
        .deliver_with(
            &Callback::image(Some("测试群"), room::INTERNAL_GROUP, "李四"),
            Some(Fault::InvalidBase64),
        )
        .await;
    assert_eq!(bad.status, 400);
    let msgs = messages(&rig.store);
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].1.content_type, ContentType::Image);
    assert!(msgs[0].1.attachments[0].sha256.is_none());
    assert!(rig.store.rejects().last().unwrap().0.contains("base64"));

    // The receiver keeps working after all that.
    assert!(poster.deliver(&cb).await.acked());
    assert_eq!(messages(&rig.store).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answered_only_after_commit_also_under_a_burst() {
    let rig = rig(Opts {
        channel: 2,
        ..Opts::default()
    })
    .await;
    rig.store.set_delay(Duration::from_millis(5));
    let store = rig.store.clone();
    let probe: sim::worktool::Probe = Arc::new(move |cb: &Callback| {
        let text = cb.text().to_string();
        store
            .events()
            .iter()
            .any(|c| matches!(&c.event.body, EventBody::Message(m) if m.text == text))
    });
    let poster = WorktoolPoster::sim(&rig.url).with_probe(probe);
    let script = Script::Bulk(200).callbacks();
    let acked = poster.burst(&script, 32).await;
    assert_eq!(acked, script.len());
    let log = poster.log();
    assert!(
        log.iter().all(|a| a.probe == Some(true)),
        "an answer arrived before its commit"
    );
    let msgs = messages(&rig.store);
    assert_eq!(msgs.len(), script.len(), "every acknowledged callback archived once");
    // Identical requests stay distinct: the same script twice doubles the archive.
    assert_eq!(poster.run(&script[..10]).await, 10);
    assert_eq!(messages(&rig.store).len(), script.len() + 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_store_spools_and_replays_everything_once() {
    let rig = rig(Opts::stalling()).await;
    // Let the run loop's own state event through before the store stalls.
    assert!(eventually(Duration::from_secs(5), || !states(&rig.store).is_empty()).await);
    rig.store.set_delay(Duration::from_millis(400));
    let script = Script::Bulk(30).callbacks();
    let poster = WorktoolPoster::sim(&rig.url);
    let acked = poster.burst(&script, 8).await;
    assert_eq!(acked, script.len(), "spooled callbacks are answered code 0");
    assert!(poster.log().iter().all(|a| a.latency() < Duration::from_secs(3)));
    assert!(std::fs::metadata(rig.dir.path().join("spool/robot1.log")).is_ok());
    rig.store.set_delay(Duration::ZERO);
    let want: std::collections::HashSet<String> = script.iter().map(|c| c.text().to_string()).collect();
    assert!(
        eventually(Duration::from_secs(20), || {
            let got: std::collections::HashSet<String> =
                messages(&rig.store).into_iter().map(|(_, m)| m.text).collect();
            got == want
        })
        .await,
        "not every spooled callback was replayed"
    );
    assert_eq!(
        messages(&rig.store).len(),
        script.len(),
        "replayed once (duplicates deduplicated)"
    );
    assert!(
        eventually(Duration::from_secs(5), || std::fs::metadata(
            rig.dir.path().join("spool/robot1.log")
        )
        .map(|m| m.len() == 0)
        .unwrap_or(false))
        .await,
        "the spool is emptied once replayed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn robot_status_poll_records_online_and_offline() {
    let api = sim::worktool::FakeApi::start(0).await.unwrap();
    let rig = rig(Opts {
        api_base: Some(api.base_url()),
        status_interval: Duration::from_secs(1),
        ..Opts::default()
    })
    .await;
    assert!(
        eventually(Duration::from_secs(5), || states(&rig.store)
            .contains(&ConnectorStatus::RobotOnline))
        .await
    );
    api.set_online(false);
    assert!(
        eventually(Duration::from_secs(5), || states(&rig.store)
            .contains(&ConnectorStatus::RobotOffline))
        .await
    );
    let snap = rig.registry.snapshot();
    assert_eq!(snap[NAME].status, Some(ConnectorStatus::RobotOffline));
    assert!(api.polls() >= 2 && api.polls() <= 8, "polled {} times", api.polls());
    rig.shutdown.cancel();
}
