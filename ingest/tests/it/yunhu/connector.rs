//! The Yunhu connector against `sim yunhu`: every cmd mapped, edits and recalls with full
//! history, streamed replies, catch-up after a drop without loss or duplicates, resume from
//! the committed cursor, bad frames, refused logins and a silent server.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

use chatvault_ingest::backoff::Backoff;
use chatvault_ingest::runtime::Tuning;
use chatvault_ingest::yunhu::YunhuConnector;
use proto::{ChatEvent, ConnectorStatus, ContentType, EventBody, EventKind, Platform};
use sim::yunhu::{DEMO_START_MS, Script, Step, YunhuSim, post};

use crate::support::{Rig, eventually};

pub(super) const WAIT: Duration = Duration::from_secs(30);

/// The group and the sender of the tests that need one of each.
const GROUP: (&str, u64) = ("g-1", 2);
const ZHANG: (&str, &str) = ("u1", "张三");

/// The rig plus what these tests read from it.
pub(super) struct Running(pub(super) Rig);

impl std::ops::Deref for Running {
    type Target = Rig;
    fn deref(&self) -> &Rig {
        &self.0
    }
}

impl Running {
    pub(super) async fn stop(self) {
        self.0.stop().await;
    }

    pub(super) fn events(&self) -> Vec<ChatEvent> {
        self.store.events().into_iter().map(|c| c.event).collect()
    }

    pub(super) fn of(&self, msg_id: &str) -> Vec<ChatEvent> {
        self.events()
            .into_iter()
            .filter(|e| e.msg_id.as_deref() == Some(msg_id))
            .collect()
    }

    /// Polls until `cond` holds or the wait runs out; returns whether it held.
    pub(super) async fn until(&self, cond: impl Fn(&Running) -> bool) -> bool {
        eventually(WAIT, || cond(self)).await
    }

    /// The stored position of `chat` (`null` before there is one).
    pub(super) fn chat_cursor(&self, chat: &str) -> serde_json::Value {
        self.store
            .last_cursor("team")
            .map(|c| c["chats"][chat].clone())
            .unwrap_or_default()
    }

    /// Asserts that the stored position of `chat` reaches `seq` (it follows the released
    /// batches and is settled when idle).
    pub(super) async fn assert_seq_reaches(&self, chat: &str, seq: u64) {
        assert!(
            self.until(|r| r.chat_cursor(chat)["seq"] == seq).await,
            "{chat}: {}",
            self.chat_cursor(chat)
        );
    }
}

pub(super) fn tuning() -> Tuning {
    Tuning::for_platform(Platform::Yunhu)
        .heartbeat(Duration::from_millis(300), Duration::from_millis(600))
        .login_timeout(Duration::from_secs(3))
        .backoff(Backoff::new(Duration::from_millis(50), Duration::from_millis(300)).with_jitter(0.0))
        .max_in_flight(8, 64 << 20)
}

pub(super) fn start(sim: &YunhuSim, resume_from: Option<serde_json::Value>) -> Running {
    start_tuned(sim, resume_from, tuning())
}

pub(super) fn start_tuned(sim: &YunhuSim, resume_from: Option<serde_json::Value>, tuning: Tuning) -> Running {
    let cfg = config::parse(&sim.config_toml("team"), Path::new("yunhu-test.toml")).expect("sim config parses");
    let connector = YunhuConnector::new(cfg.yunhu[0].clone()).with_tuning(tuning);
    Running(Rig::start(connector, 8, |cx| {
        cx.resume_from = resume_from;
        cx.max_body_bytes = 64 * 1024;
    }))
}

/// The store's fold, reduced to what these tests look at: text after stream chunks (by
/// offset) and edits (by edit time), every revision, and the withdrawal time.
fn fold(events: &[ChatEvent]) -> (Vec<String>, Option<i64>) {
    let base = events.iter().find_map(|e| match &e.body {
        EventBody::Message(m) => Some(m.text.clone()),
        _ => None,
    });
    let mut chunks: Vec<(u64, String)> = events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::StreamAppend { chunk, offset } => Some((*offset, chunk.clone())),
            _ => None,
        })
        .collect();
    chunks.sort();
    let mut text = base.unwrap_or_default();
    for (_, c) in chunks {
        text.push_str(&c);
    }
    let mut edits: Vec<(i64, String)> = events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Edit { text, edited_at, .. } => Some((edited_at.unwrap_or(0), text.clone())),
            _ => None,
        })
        .collect();
    edits.sort();
    let mut revisions = vec![text];
    revisions.extend(edits.into_iter().map(|(_, t)| t));
    let withdrawn = events.iter().find_map(|e| match &e.body {
        EventBody::Withdraw { at, .. } => *at,
        _ => None,
    });
    (revisions, withdrawn)
}

fn minute(m: u64) -> i64 {
    (DEMO_START_MS + m * 60_000) as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_day_maps_every_cmd_and_catches_up_after_the_drop() {
    let sim = YunhuSim::start(Script::DemoDay).await.unwrap();
    let run = start(&sim, None);
    assert!(sim.wait_done(WAIT).await, "script finished");
    let all: Vec<String> = (1..=17).map(|i| format!("yh-d{i:03}")).collect();
    let ok = run
        .until(|r| {
            let ids = r.message_ids();
            all.iter().all(|id| ids.contains(id))
                && r.of("yh-d012").iter().any(|e| e.kind() == EventKind::Withdraw)
                && r.of("yh-d008").iter().any(|e| e.kind() == EventKind::Edit)
        })
        .await;
    assert!(ok, "every message archived; got {:?}", run.message_ids());

    // Each message exactly once, even though the catch-up re-read the live ones.
    let mut counts: HashMap<String, usize> = HashMap::new();
    for id in run.message_ids() {
        *counts.entry(id).or_default() += 1;
    }
    assert!(counts.values().all(|&n| n == 1), "duplicates: {counts:?}");

    // Edit (live), edit then recall (live), edit made while offline (from edit records).
    assert_eq!(
        fold(&run.of("yh-d002")).0[1],
        "收到，差旅费用报销的发票和行程单我下午一起发"
    );
    let (revs, withdrawn) = fold(&run.of("yh-d006"));
    assert_eq!(
        revs,
        vec!["下午三点在会议室开会，记得带合同", "下午三点半在会议室开会，记得带合同"]
    );
    assert_eq!(withdrawn, Some(minute(45)));
    let (revs, _) = fold(&run.of("yh-d008"));
    assert_eq!(
        revs.last().unwrap(),
        "Please review the contract draft before 3pm, thanks!"
    );
    assert_eq!(fold(&run.of("yh-d009")).1, Some(minute(34)));
    assert_eq!(fold(&run.of("yh-d012")).1, Some(minute(66)), "recall made offline");

    // The streamed bot reply ends as the server's final text.
    let (revs, _) = fold(&run.of("yh-d007"));
    assert_eq!(revs[0], sim.current_text("yh-d007").unwrap());
    assert_eq!(
        run.of("yh-d007")
            .iter()
            .filter(|e| e.kind() == EventKind::StreamAppend)
            .count(),
        2
    );

    // Content types and searchable text.
    let msg = |id: &str| {
        run.of(id).into_iter().find_map(|e| match e.body {
            EventBody::Message(m) => Some(m),
            _ => None,
        })
    };
    let md = msg("yh-d004").unwrap();
    assert_eq!(md.content_type, ContentType::Markdown);
    assert!(
        md.text
            .starts_with("会议纪要\n农业局项目进度需要更新\n合同审批流程已完成"),
        "{}",
        md.text
    );
    let html = msg("yh-d010").unwrap();
    assert_eq!(
        (html.content_type, html.text.as_str()),
        (ContentType::Html, "农业局回复：同意项目延期一周")
    );
    let file = msg("yh-d005").unwrap();
    assert_eq!(file.content_type, ContentType::File);
    assert_eq!(file.attachments[0].size, Some(482_133));
    assert_eq!(msg("yh-d001").unwrap().mentions, vec!["7356002".to_string()]);
    assert_eq!(msg("yh-d017").unwrap().reply_to.as_deref(), Some("yh-d010"));
    assert_eq!(msg("yh-d015").unwrap().content_type, ContentType::Voice);
    assert_eq!(msg("yh-d016").unwrap().content_type, ContentType::Sticker);
    assert_eq!(
        msg("yh-d013").unwrap().text,
        "新员工入职培训资料在群文件里",
        "new chat found offline"
    );

    // Non-message cmds.
    let others: Vec<(String, String)> = run
        .events()
        .into_iter()
        .filter_map(|e| match e.body {
            EventBody::Other { subtype, .. } => Some((subtype, e.chat_id)),
            EventBody::Message(m) if m.text == "报销制度2026.docx" => Some(("file_send".into(), e.chat_id)),
            _ => None,
        })
        .collect();
    // The scripted draft is the account's own unsent text: not archived by default.
    assert!(!others.iter().any(|(s, _)| s == "typing" || s == "draft"), "{others:?}");
    assert!(others.iter().any(|(s, _)| s == "invite_apply"), "{others:?}");
    assert!(others.contains(&("file_send".into(), "7356001".into())), "{others:?}");

    assert!(run.store.rejects().is_empty(), "{:?}", run.store.rejects());
    // `connected` again once the catch-up after the drop finished.
    assert!(run.until(|r| r.states().len() >= 3).await, "{:?}", run.states());
    let states: Vec<ConnectorStatus> = run.states().into_iter().map(|s| s.0).collect();
    assert_eq!(
        &states[..3],
        &[
            ConnectorStatus::Connected,
            ConnectorStatus::Disconnected,
            ConnectorStatus::Connected
        ]
    );
    run.assert_seq_reaches("g-finance-101", 6).await;
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_and_recall_made_offline_keep_every_revision() {
    let steps = vec![
        Step::text("m1", GROUP, ZHANG, "合同初稿", 0),
        Step::Pause(Duration::from_millis(200)),
        Step::Drop {
            offline: vec![
                Step::Edit {
                    msg_id: "m1".into(),
                    content_type: 1,
                    text: "合同二稿".into(),
                    at: minute(1) as u64,
                },
                Step::Edit {
                    msg_id: "m1".into(),
                    content_type: 3,
                    text: "**合同终稿**".into(),
                    at: minute(2) as u64,
                },
                Step::Recall {
                    msg_id: "m1".into(),
                    at: minute(3) as u64,
                },
            ],
        },
    ];
    let sim = YunhuSim::start(Script::Steps(steps)).await.unwrap();
    let run = start(&sim, None);
    assert!(run.until(|r| r.of("m1").len() >= 4).await, "{:?}", run.of("m1"));
    let (revs, withdrawn) = fold(&run.of("m1"));
    assert_eq!(revs, vec!["合同初稿", "合同二稿", "合同终稿"]);
    assert_eq!(withdrawn, Some(minute(3)));
    let kinds: Vec<EventKind> = run.of("m1").iter().map(|e| e.kind()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == EventKind::Message).count(), 1);
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catch_up_after_a_drop_loses_nothing_and_duplicates_nothing() {
    let mut corpus = sim::corpus::Corpus::new(7);
    let mut steps = Vec::new();
    let mut n = 0u64;
    let mut next = |chat: &str| {
        n += 1;
        let text = corpus.text();
        Step::text(&format!("c{n:04}"), (chat, 2), ("u9", "李四"), &text, n)
    };
    for i in 0..60 {
        steps.push(next(["ga", "gb", "gc"][i % 3]));
    }
    steps.push(Step::Post(post(
        "bot-1",
        ("b1", 3),
        ("9000001", "项目助手"),
        3,
        "预算",
        61,
    )));
    steps.push(Step::Stream {
        msg_id: "bot-1".into(),
        chunk: "已经".into(),
    });
    steps.push(Step::Pause(Duration::from_millis(300)));
    // 250 offline messages: more than two history pages in chat `ga`.
    let mut offline: Vec<Step> = (0..250).map(|i| next(if i % 5 == 0 { "gb" } else { "ga" })).collect();
    offline.push(Step::Stream {
        msg_id: "bot-1".into(),
        chunk: "超支了".into(),
    });
    offline.push(Step::Edit {
        msg_id: "c0001".into(),
        content_type: 1,
        text: "改过的第一条".into(),
        at: minute(500) as u64,
    });
    steps.push(Step::Drop { offline });
    for i in 0..30 {
        steps.push(next(["ga", "gd"][i % 2]));
    }
    let sim = YunhuSim::start(Script::Steps(steps)).await.unwrap();
    let run = start(&sim, None);
    assert!(sim.wait_done(WAIT).await);
    let ok = run
        .until(|r| {
            r.message_ids().len() >= 341
                && r.of("c0001").len() >= 2
                && r.of("bot-1")
                    .iter()
                    .filter(|e| e.kind() == EventKind::StreamAppend)
                    .count()
                    >= 2
        })
        .await;
    let ids = run.message_ids();
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    assert!(ok, "archived {} of 341", unique.len());
    assert_eq!(ids.len(), 341, "no message recorded twice");
    assert_eq!(unique.len(), 341);
    assert_eq!(
        fold(&run.of("bot-1")).0[0],
        "预算已经超支了",
        "missing stream tail appended"
    );
    assert_eq!(fold(&run.of("c0001")).0[1], "改过的第一条");
    run.assert_seq_reaches("ga", 20 + 200 + 15).await;
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumes_after_the_committed_cursor() {
    let chat = ("g-r", 2);
    let who = ("u1", "王五");
    let offline: Vec<Step> = (1..=5)
        .map(|i| Step::text(&format!("r{i}"), chat, who, &format!("第{i}条"), i))
        .collect();
    let steps = vec![Step::Pause(Duration::from_millis(300)), Step::Drop { offline }];
    let sim = YunhuSim::start(Script::Steps(steps)).await.unwrap();
    let cursor = serde_json::json!({ "chats": { "g-r": { "t": 2, "seq": 3 } } });
    let run = start(&sim, Some(cursor));
    assert!(run.until(|r| r.message_ids().len() >= 2).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(run.message_ids(), vec!["r4".to_string(), "r5".to_string()]);
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_are_rejected_and_archiving_goes_on() {
    let steps = vec![
        Step::text("x1", GROUP, ZHANG, "第一条", 1),
        Step::Garbage(vec![0xff, 0x01, 0x02, 0x03]),
        Step::UnknownCmd("mystery_cmd".into()),
        Step::text("x2", GROUP, ZHANG, "第二条", 2),
    ];
    let sim = YunhuSim::start(Script::Steps(steps)).await.unwrap();
    let run = start(&sim, None);
    assert!(
        run.until(|r| r.message_ids().len() == 2 && r.store.rejects().len() == 2)
            .await
    );
    let reasons: Vec<String> = run.store.rejects().into_iter().map(|r| r.0).collect();
    assert!(reasons[0].starts_with("undecodable yunhu frame"), "{reasons:?}");
    assert_eq!(reasons[1], "unknown yunhu cmd `mystery_cmd`");
    assert!(run.until(|r| !r.states().is_empty()).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(run.states().len(), 1, "no reconnect: {:?}", run.states());
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_login_is_recorded_and_retried() {
    let steps = vec![Step::text("a1", GROUP, ZHANG, "登录后第一条", 1)];
    let sim = YunhuSim::start(Script::Steps(steps)).await.unwrap();
    sim.refuse_logins(2);
    let run = start(&sim, None);
    assert!(run.until(|r| r.message_ids() == vec!["a1".to_string()]).await);
    let states = run.states();
    assert_eq!(states[0].0, ConnectorStatus::AuthFailed);
    assert!(states[0].1.contains("数据不合法"), "{states:?}");
    assert!(
        !states[0].1.contains(sim::yunhu::TOKEN),
        "token never in a state detail"
    );
    // `connected` once the catch-up beside the live loop finished.
    assert!(
        run.until(|r| r.states().last().map(|s| s.0) == Some(ConnectorStatus::Connected))
            .await,
        "{:?}",
        run.states()
    );
    let logins: Vec<bool> = sim
        .received()
        .into_iter()
        .filter_map(|r| match r {
            sim::yunhu::Received::Login { ok, .. } => Some(ok),
            _ => None,
        })
        .collect();
    assert_eq!(logins, vec![false, false, true]);
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_is_detected_and_reconnected() {
    let steps = vec![Step::text("s1", GROUP, ZHANG, "心跳测试", 1)];
    let sim = YunhuSim::start(Script::Steps(steps)).await.unwrap();
    let run = start(&sim, None);
    assert!(run.until(|r| !r.message_ids().is_empty()).await);
    sim.faults()
        .silent_heartbeats
        .store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(
        run.until(|r| r.states().iter().any(|s| s.0 == ConnectorStatus::Disconnected))
            .await
    );
    let detail = run
        .states()
        .into_iter()
        .find(|s| s.0 == ConnectorStatus::Disconnected)
        .unwrap()
        .1;
    assert!(detail.contains("heartbeat ack"), "{detail}");
    sim.faults()
        .silent_heartbeats
        .store(false, std::sync::atomic::Ordering::SeqCst);
    assert!(sim.wait_logins(2, WAIT).await >= 2);
    assert!(
        run.until(|r| r.states().last().map(|s| s.0) == Some(ConnectorStatus::Connected))
            .await
    );
    let ids: BTreeMap<String, usize> = run.message_ids().into_iter().fold(BTreeMap::new(), |mut m, id| {
        *m.entry(id).or_default() += 1;
        m
    });
    assert_eq!(ids.get("s1"), Some(&1));
    run.stop().await;
}
