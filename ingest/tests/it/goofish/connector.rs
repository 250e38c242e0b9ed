//! The Goofish connector against `sim goofish`: registration sequence, backfill, catch-up,
//! ack-after-commit, reconnects without loss or duplicates, bad input, token expiry and the
//! heartbeat timeout (with paused time).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chatvault_ingest::backoff::Backoff;
use chatvault_ingest::goofish::GoofishConnector;
use chatvault_ingest::goofish::cursor::SyncCursor;
use chatvault_ingest::runtime::Tuning;
use config::{GoofishConfig, Secret};
use proto::{ConnectorStatus, EventBatch, EventBody, Platform};
use sim::fake_store::FakeStore;
use sim::goofish::{GoofishSim, SIM_COOKIES, SIM_DEVICE_ID, SIM_TOKEN, Script, SimContent, SimMessage, SimOptions};
use tokio::sync::mpsc;

use crate::support::rig::states;
use crate::support::{Rig, eventually};

enum Login {
    Cookies,
    Token(&'static str),
}

fn config(sim: &GoofishSim, login: Login) -> GoofishConfig {
    let (token, cookies) = match login {
        Login::Cookies => (None, Some(Secret::new(SIM_COOKIES))),
        Login::Token(t) => (Some(Secret::new(t)), None),
    };
    GoofishConfig {
        name: "shop".into(),
        ws_url: sim.ws_url(),
        token,
        cookies,
        device_id: SIM_DEVICE_ID.into(),
        api_base: sim.api_base(),
        backfill_messages_per_chat: 200,
    }
}

fn tuning() -> Tuning {
    Tuning::for_platform(Platform::Goofish)
        .backoff(
            Backoff::new(Duration::from_millis(50), Duration::from_millis(400))
                .with_fixed(Duration::from_millis(50), 5),
        )
        .flow_control_pauses(vec![
            Duration::from_millis(20),
            Duration::from_millis(40),
            Duration::from_millis(60),
        ])
}

fn start(
    cfg: GoofishConfig,
    tuning: Tuning,
    (tx, store): (&mpsc::Sender<EventBatch>, &FakeStore),
    resume: Option<serde_json::Value>,
) -> Rig {
    let connector = GoofishConnector::new(cfg).with_tuning(tuning);
    Rig::start_on(connector, tx, store, |cx| {
        cx.resume_from = resume;
        cx.max_body_bytes = 1 << 20;
    })
}

/// Message events per message id.
fn message_counts(store: &FakeStore) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for c in store.events() {
        if let EventBody::Message(_) = c.event.body {
            *m.entry(c.event.msg_id.clone().unwrap_or_default()).or_default() += 1;
        }
    }
    m
}

fn script_ids(sim: &GoofishSim) -> HashSet<String> {
    sim.messages()
        .iter()
        .filter(|m| m.is_message())
        .map(|m| m.msg_id.clone())
        .collect()
}

fn all_archived(sim: &GoofishSim, store: &FakeStore, total: usize) -> bool {
    let have = message_counts(store);
    sim.live_remaining() == 0 && sim.messages().len() == total && script_ids(sim).iter().all(|id| have.contains_key(id))
}

/// The demo day with live pushes every 5 ms.
fn demo_day() -> SimOptions {
    let mut opts = SimOptions::new(Script::DemoDay);
    opts.live_interval = Duration::from_millis(5);
    opts
}

/// Starts the connector with `login` on a fresh fake store and waits until `sim` has played
/// the whole demo day and every scripted message is archived.
async fn archive_the_demo_day(sim: &GoofishSim, login: Login) -> (mpsc::Sender<EventBatch>, FakeStore, Rig) {
    let total = Script::DemoDay.build().1.len();
    let (tx, store) = FakeStore::channel(64);
    let run = start(config(sim, login), tuning(), (&tx, &store), None);
    assert!(
        eventually(Duration::from_secs(20), || all_archived(sim, &store, total)).await,
        "{:?}",
        message_counts(&store)
    );
    (tx, store, run)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_day_registration_backfill_and_live_pushes() {
    let mut opts = SimOptions::new(Script::DemoDay);
    opts.live_interval = Duration::from_millis(15);
    let sim = GoofishSim::start(opts).await.unwrap();
    let (_tx, store, run) = archive_the_demo_day(&sim, Login::Cookies).await;
    assert!(
        eventually(Duration::from_secs(5), || sim.pushes().len() == sim.acks().len()).await,
        "every push acked"
    );

    // Registration sequence of §3.3, then backfill of every conversation.
    let req = sim.requests();
    assert_eq!(
        &req[..4],
        [
            "/reg",
            "/r/SyncStatus/getState",
            "/r/SyncStatus/ackDiff",
            "/r/Conversation/listNewestPagination"
        ]
    );
    assert!(
        req.iter()
            .filter(|r| *r == "/r/MessageManager/listUserMessages")
            .count()
            >= 2
    );
    let reg = &sim.reg_headers()[0];
    assert_eq!(reg["token"], "sim-im-token-1", "token obtained from the cookies");
    assert_eq!(reg["did"], SIM_DEVICE_ID);
    assert_eq!(reg["app-key"], "444e9908a51d1cb236a27862abc769c9");
    assert_eq!(reg["wv"], "im:3,au:3,sy:6");
    let hs: HashMap<_, _> = sim.handshakes()[0].iter().cloned().collect();
    assert_eq!(hs["origin"], "https://www.goofish.com");
    assert!(hs["cookie"].contains("unb="));

    // Each message once, with content and sender; the recall became a withdraw.
    let counts = message_counts(&store);
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
    let events = store.events();
    let image = events
        .iter()
        .find_map(|c| match &c.event.body {
            EventBody::Message(m) if m.content_type == proto::ContentType::Image => Some(m.clone()),
            _ => None,
        })
        .expect("an image");
    assert!(
        image.attachments[0]
            .url
            .as_deref()
            .unwrap()
            .starts_with("https://img.alicdn.com/")
    );
    let recalled = sim
        .messages()
        .iter()
        .find_map(|m| match &m.content {
            SimContent::Recall { target } => Some(target.clone()),
            _ => None,
        })
        .unwrap();
    assert!(
        events
            .iter()
            .any(|c| matches!(c.event.body, EventBody::Withdraw { .. })
                && c.event.msg_id.as_deref() == Some(&recalled))
    );
    let wang = events
        .iter()
        .find(|c| matches!(&c.event.body, EventBody::Message(m) if m.text.contains("小刀")))
        .unwrap();
    let EventBody::Message(m) = &wang.event.body else {
        unreachable!()
    };
    assert_eq!(
        (m.sender_id.as_str(), m.sender_name.as_deref()),
        ("2200087654321", Some("王采购"))
    );
    assert!(store.rejects().is_empty(), "{:?}", store.rejects());

    // Acked ⇒ archived; the cursor records the position and the finished backfill.
    let archived: HashSet<String> = counts.keys().cloned().collect();
    for id in sim.acked_ids() {
        assert!(archived.contains(&id) || id == recalled, "{id} acked but not archived");
    }
    let cursor = SyncCursor::from_stored(store.last_cursor("shop").as_ref()).unwrap();
    assert!(cursor.backfilled);
    assert!(cursor.pts > 1_700_000_000_000_000);
    assert!(states(&store).iter().any(|(s, _)| *s == ConnectorStatus::Connected));
    run.stop().await;
    assert_eq!(states(&store).last().unwrap().0, ConnectorStatus::Disconnected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_come_only_after_the_commit() {
    let mut opts = SimOptions::new(Script::Bulk(80));
    opts.items_per_push = 2;
    let sim = GoofishSim::start(opts).await.unwrap();
    let (tx, store) = FakeStore::channel(8);
    store.set_delay(Duration::from_millis(15));
    let violations = Arc::new(Mutex::new(Vec::new()));
    let (s, v) = (store.clone(), violations.clone());
    sim.on_ack(move |ack| {
        let have = message_counts(&s);
        for id in &ack.msg_ids {
            if !have.contains_key(id) {
                v.lock().unwrap().push(id.clone());
            }
        }
    });
    let run = start(config(&sim, Login::Token(SIM_TOKEN)), tuning(), (&tx, &store), None);
    assert!(
        eventually(Duration::from_secs(20), || sim.acked_ids().len() == 80).await,
        "acked {}",
        sim.acked_ids().len()
    );
    assert!(
        violations.lock().unwrap().is_empty(),
        "acked before commit: {:?}",
        violations.lock().unwrap()
    );
    // Pipelining: the store delay did not serialise reading, pushes were in flight together.
    let acks = sim.acks();
    assert_eq!(
        acks.iter().map(|a| a.mid.clone()).collect::<Vec<_>>(),
        sim.pushes().iter().map(|p| p.mid.clone()).collect::<Vec<_>>(),
        "acked in push order"
    );
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_is_never_acked() {
    let mut opts = SimOptions::new(Script::Bulk(10));
    opts.live_interval = Duration::from_millis(30);
    // Redelivery is what brings the failed pushes back (and lets them be acked) here; without
    // it they are recovered from history (`a_failed_batch_among_several_in_flight_…`).
    opts.server_replays = true;
    let sim = GoofishSim::start(opts).await.unwrap();
    let (tx, store) = FakeStore::channel(8);
    let violations = Arc::new(Mutex::new(Vec::new()));
    let (s, v) = (store.clone(), violations.clone());
    sim.on_ack(move |ack| {
        let have = message_counts(&s);
        v.lock()
            .unwrap()
            .extend(ack.msg_ids.iter().filter(|id| !have.contains_key(*id)).cloned());
    });
    let run = start(config(&sim, Login::Token(SIM_TOKEN)), tuning(), (&tx, &store), None);
    assert!(eventually(Duration::from_secs(10), || message_counts(&store).len() >= 2).await);
    // The next two pushes' batches fail in the store.
    store.fail_next(2);
    assert!(eventually(Duration::from_secs(20), || message_counts(&store).len() == 10).await);
    assert!(eventually(Duration::from_secs(5), || sim.acked_ids().len() >= 10).await);
    assert!(
        violations.lock().unwrap().is_empty(),
        "{:?}",
        violations.lock().unwrap()
    );
    assert!(
        sim.connections() >= 2,
        "a failed commit ends the session; redelivery brings the pushes back"
    );
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_lose_and_duplicate_nothing_when_the_server_replays() {
    reconnects_lose_and_duplicate_nothing(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_lose_and_duplicate_nothing_when_the_server_does_not_replay() {
    reconnects_lose_and_duplicate_nothing(false).await;
}

async fn reconnects_lose_and_duplicate_nothing(replays: bool) {
    let mut opts = SimOptions::new(Script::Bulk(400));
    opts.items_per_push = 5;
    opts.window = 16;
    opts.server_replays = replays;
    let sim = GoofishSim::start(opts).await.unwrap();
    sim.drop_after_pushes(7);
    let (tx, store) = FakeStore::channel(16);
    store.set_delay(Duration::from_millis(2));
    let run = start(config(&sim, Login::Token(SIM_TOKEN)), tuning(), (&tx, &store), None);
    assert!(eventually(Duration::from_secs(20), || message_counts(&store).len() >= 150).await);
    sim.drop_connections();
    assert!(
        eventually(Duration::from_secs(30), || message_counts(&store).len() == 400).await,
        "{}",
        message_counts(&store).len()
    );
    let counts = message_counts(&store);
    assert!(counts.values().all(|n| *n == 1));
    assert!(sim.connections() >= 3, "connections {}", sim.connections());
    if replays {
        assert!(eventually(Duration::from_secs(5), || sim.acked_ids().len() >= 400).await);
        assert!(
            sim.pushes().iter().any(|p| p.redelivery),
            "unacked pushes were redelivered"
        );
    } else {
        assert!(!sim.pushes().iter().any(|p| p.redelivery));
        assert!(
            sim.requests().iter().any(|r| r == "/r/MessageManager/listUserMessages"),
            "recovered from history"
        );
    }
    let disconnects = states(&store)
        .iter()
        .filter(|(s, _)| *s == ConnectorStatus::Disconnected)
        .count();
    // A drop during the recovery of the previous one extends the same gap.
    assert!(disconnects >= 1, "{:?}", states(&store));
    assert!(
        eventually(Duration::from_secs(5), || states(&store).last().map(|s| s.0)
            == Some(ConnectorStatus::Connected))
        .await,
        "the gap closes once recovered: {:?}",
        states(&store)
    );
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_resumes_from_the_cursor_and_catches_up_when_the_server_replays() {
    restart_resumes_from_the_cursor_and_catches_up(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_resumes_from_the_cursor_and_catches_up_when_the_server_does_not_replay() {
    restart_resumes_from_the_cursor_and_catches_up(false).await;
}

async fn restart_resumes_from_the_cursor_and_catches_up(replays: bool) {
    let mut opts = demo_day();
    opts.server_replays = replays;
    let sim = GoofishSim::start(opts).await.unwrap();
    let (tx, store, run) = archive_the_demo_day(&sim, Login::Token(SIM_TOKEN)).await;
    assert!(eventually(Duration::from_secs(5), || sim.pushes().len() == sim.acks().len()).await);
    run.stop().await;

    // Messages that arrive while the archive is down.
    for i in 0..3 {
        sim.add_message(SimMessage {
            cid: "48011000001".into(),
            msg_id: format!("77700000000{i}.PNM"),
            sender_id: "2200087654321".into(),
            sender_name: "王采购".into(),
            sent_at: 1_795_500_000_000 + i,
            content: SimContent::Text(format!("离线期间的第{i}条：发票收到了吗？")),
        });
    }
    let resume = store.last_cursor("shop");
    let before = sim.requests().len();
    let connections_before = sim.connections();
    let run = start(config(&sim, Login::Token(SIM_TOKEN)), tuning(), (&tx, &store), resume);
    assert!(
        eventually(Duration::from_secs(20), || (0..3)
            .all(|i| message_counts(&store).contains_key(&format!("77700000000{i}.PNM"))))
        .await
    );
    let second: Vec<String> = sim.requests()[before..].to_vec();
    assert_eq!(
        &second[..3],
        ["/reg", "/r/SyncStatus/getState", "/r/SyncStatus/ackDiff"]
    );
    // No second backfill: the conversation list, then the history of the one conversation
    // past its high-water mark only.
    assert_eq!(
        second
            .iter()
            .filter(|r| r.as_str() == "/r/MessageManager/listUserMessages")
            .count(),
        1,
        "{second:?}"
    );
    let caught_up: HashSet<_> = sim
        .pushes()
        .into_iter()
        .filter(|p| p.connection > connections_before)
        .flat_map(|p| p.msg_ids)
        .collect();
    if replays {
        assert_eq!(caught_up.len(), 3, "only what arrived after the cursor: {caught_up:?}");
    } else {
        assert!(caught_up.is_empty(), "nothing replayed: {caught_up:?}");
    }
    assert!(
        eventually(Duration::from_secs(5), || states(&store).last().map(|s| s.0)
            == Some(ConnectorStatus::Connected))
        .await,
        "{:?}",
        states(&store)
    );
    assert!(message_counts(&store).values().all(|n| *n == 1));
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_is_rejected_and_the_push_is_still_acked() {
    let mut opts = SimOptions::new(Script::Bulk(6));
    opts.items_per_push = 2;
    opts.offline = Some(0);
    let sim = GoofishSim::start(opts).await.unwrap();
    sim.inject_garbage();
    let (tx, store) = FakeStore::channel(8);
    let run = start(config(&sim, Login::Token(SIM_TOKEN)), tuning(), (&tx, &store), None);
    assert!(eventually(Duration::from_secs(20), || message_counts(&store).len() == 6).await);
    assert!(
        eventually(Duration::from_secs(5), || sim.acked_ids().len() == 6).await,
        "the push with bad items was acked"
    );
    let rejects = store.rejects();
    assert_eq!(rejects.len(), 3, "{rejects:?}");
    assert!(
        rejects
            .iter()
            .any(|(r, raw)| r.contains("not LWP JSON") && raw.contains("not an LWP frame"))
    );
    assert!(rejects.iter().any(|(r, _)| r.contains("Base64")));
    assert!(rejects.iter().any(|(r, _)| r.contains("MessagePack")));
    assert_eq!(sim.connections(), 1, "bad input does not cost the connection");
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refreshed_from_the_cookies() {
    let mut opts = SimOptions::new(Script::Bulk(20));
    opts.live_interval = Duration::from_millis(20);
    let sim = GoofishSim::start(opts).await.unwrap();
    let (tx, store) = FakeStore::channel(16);
    let run = start(config(&sim, Login::Cookies), tuning(), (&tx, &store), None);
    assert!(eventually(Duration::from_secs(10), || message_counts(&store).len() >= 5).await);
    sim.expire_tokens();
    sim.drop_connections();
    assert!(eventually(Duration::from_secs(20), || message_counts(&store).len() == 20).await);
    assert!(sim.token_calls() >= 2, "token fetched again");
    let regs = sim.reg_headers();
    assert!(regs.len() >= 3, "refused once, then registered with the new token");
    assert_ne!(regs[0]["token"], regs.last().unwrap()["token"]);
    assert!(!states(&store).iter().any(|(s, _)| *s == ConnectorStatus::AuthFailed));
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_is_refreshed_before_it_expires() {
    let mut opts = SimOptions::new(Script::Bulk(40));
    opts.live_interval = Duration::from_millis(60);
    opts.token_lifetime_ms = 1_500;
    let sim = GoofishSim::start(opts).await.unwrap();
    let (tx, store) = FakeStore::channel(16);
    let started = std::time::Instant::now();
    let run = start(config(&sim, Login::Cookies), tuning(), (&tx, &store), None);
    assert!(eventually(Duration::from_secs(20), || message_counts(&store).len() == 40).await);
    assert!(started.elapsed() >= Duration::from_millis(2_000));
    assert!(sim.token_calls() >= 2, "token calls {}", sim.token_calls());
    let tokens: HashSet<String> = sim
        .reg_headers()
        .iter()
        .map(|h| h["token"].as_str().unwrap().to_string())
        .collect();
    assert!(tokens.len() >= 2, "re-registered with a fresh token: {tokens:?}");
    assert!(message_counts(&store).values().all(|n| *n == 1));
    assert!(!states(&store).iter().any(|(s, _)| *s == ConnectorStatus::AuthFailed));
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_that_cannot_be_renewed_is_auth_failed_without_a_hot_loop() {
    let sim = GoofishSim::start(SimOptions::new(Script::Empty)).await.unwrap();
    sim.set_cookies_valid(false);
    let (tx, store) = FakeStore::channel(16);
    let t = tuning().backoff(
        Backoff::new(Duration::from_millis(200), Duration::from_secs(2)).with_fixed(Duration::from_millis(200), 5),
    );
    let run = start(config(&sim, Login::Cookies), t, (&tx, &store), None);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let calls = sim.token_calls();
    assert!(
        (2..=7).contains(&calls),
        "token calls in 1.1 s with 200 ms backoff: {calls}"
    );
    assert_eq!(sim.connections(), 0, "no WebSocket without a token");
    let st = states(&store);
    assert_eq!(
        st.iter().filter(|(s, _)| *s == ConnectorStatus::AuthFailed).count(),
        1,
        "recorded once: {st:?}"
    );
    let detail = &st.iter().find(|(s, _)| *s == ConnectorStatus::AuthFailed).unwrap().1;
    assert!(
        detail.contains("SESSION_EXPIRED") && !detail.contains("sim-cookie2"),
        "{detail}"
    );
    run.stop().await;

    // A configured token the server refuses, without cookies: same state, clear reason.
    let (tx, store) = FakeStore::channel(16);
    let run = start(
        config(&sim, Login::Token("revoked-token")),
        tuning(),
        (&tx, &store),
        None,
    );
    assert!(
        eventually(Duration::from_secs(5), || states(&store)
            .iter()
            .any(|(s, _)| *s == ConnectorStatus::AuthFailed))
        .await
    );
    let st = states(&store);
    let detail = &st.iter().find(|(s, _)| *s == ConnectorStatus::AuthFailed).unwrap().1;
    assert!(
        detail.contains("registration refused") && !detail.contains("revoked-token"),
        "{detail}"
    );
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_rides_out_flow_control() {
    let sim = GoofishSim::start(demo_day()).await.unwrap();
    sim.flow_control_next(2);
    let (_tx, _store, run) = archive_the_demo_day(&sim, Login::Token(SIM_TOKEN)).await;
    let lists = sim
        .requests()
        .iter()
        .filter(|r| r.contains("listNewestPagination"))
        .count();
    assert_eq!(lists, 3, "two throttled answers, then the list");
    assert_eq!(sim.connections(), 1);
    run.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_unanswered_heartbeat_ends_the_session() {
    let sim = GoofishSim::start(SimOptions::new(Script::Empty)).await.unwrap();
    sim.set_answer_heartbeats(false);
    let (tx, store) = FakeStore::channel(16);
    let started = tokio::time::Instant::now();
    let run = start(
        config(&sim, Login::Token(SIM_TOKEN)),
        Tuning::for_platform(Platform::Goofish),
        (&tx, &store),
        None,
    );
    assert!(eventually(Duration::from_secs(120), || sim.connections() >= 2).await);
    assert!(
        started.elapsed() >= Duration::from_secs(15),
        "not before interval + timeout: {:?}",
        started.elapsed()
    );
    let st = states(&store);
    assert!(
        st.iter()
            .any(|(s, d)| *s == ConnectorStatus::Disconnected && d.contains("heartbeat unanswered")),
        "{st:?}"
    );

    // Answered heartbeats keep the session up.
    sim.set_answer_heartbeats(true);
    let (conns, beats) = (sim.connections(), sim.heartbeats());
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(sim.connections(), conns, "no reconnect while heartbeats are answered");
    assert!(sim.heartbeats() >= beats + 5, "a heartbeat every 10 s");
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_batch_among_several_in_flight_is_recovered_after_a_restart_when_the_server_does_not_replay() {
    a_failed_batch_among_several_in_flight_is_recovered_after_a_restart(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_batch_among_several_in_flight_is_recovered_after_a_restart_when_the_server_replays() {
    a_failed_batch_among_several_in_flight_is_recovered_after_a_restart(true).await;
}

/// One batch fails in the store while later ones commit; the connector is stopped during the
/// reconnect wait and started again from the stored cursor: every message is archived once.
async fn a_failed_batch_among_several_in_flight_is_recovered_after_a_restart(replays: bool) {
    let mut opts = SimOptions::new(Script::Bulk(40));
    opts.live_interval = Duration::from_millis(5);
    opts.server_replays = replays;
    let sim = GoofishSim::start(opts).await.unwrap();
    sim.set_live_paused(true);
    let all: Vec<String> = Script::Bulk(40).build().1.into_iter().map(|m| m.msg_id).collect();
    let (tx, store) = FakeStore::channel(16);
    // Slow commits keep several batches in flight; the one holding the 10th message fails.
    store.set_delay(Duration::from_millis(60));
    store.fail_once_with(&all[9]);
    // One push per batch, and a reconnect wait the test stops the connector in.
    let slow = tuning()
        .batch(1, 1 << 20, Duration::ZERO)
        .backoff(Backoff::new(Duration::from_secs(30), Duration::from_secs(30)).with_jitter(0.0));
    let resumed = serde_json::json!({ "backfilled": true });
    let first = start(
        config(&sim, Login::Token(SIM_TOKEN)),
        slow,
        (&tx, &store),
        Some(resumed.clone()),
    );
    assert!(
        eventually(Duration::from_secs(10), || states(&store)
            .iter()
            .any(|(s, _)| *s == ConnectorStatus::Connected))
        .await
    );
    sim.set_live_paused(false);
    assert!(
        eventually(Duration::from_secs(20), || {
            let have = message_counts(&store);
            have.contains_key(&all[13]) && states(&store).iter().any(|(_, d)| d.contains("injected failure"))
        })
        .await,
        "later batches committed after the failed one: {:?}",
        states(&store)
    );
    assert!(!message_counts(&store).contains_key(&all[9]));
    first.stop().await;

    store.set_delay(Duration::ZERO);
    let stored = store.last_cursor("shop").unwrap_or(resumed);
    let second = start(
        config(&sim, Login::Token(SIM_TOKEN)),
        tuning(),
        (&tx, &store),
        Some(stored.clone()),
    );
    assert!(
        eventually(Duration::from_secs(20), || {
            let have = message_counts(&store);
            all.iter().all(|id| have.contains_key(id))
        })
        .await,
        "missing after the restart from {stored}: {:?}",
        all.iter()
            .filter(|id| !message_counts(&store).contains_key(*id))
            .collect::<Vec<_>>()
    );
    assert!(message_counts(&store).values().all(|n| *n == 1));
    second.stop().await;
}

/// The conversation list's wire body is positional (protocols.md §3.10 [GC]); the simulator
/// refuses the object form, so a connector sending it would fail its backfill and recovery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_conversation_list_is_asked_for_in_the_positional_form_only() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let sim = GoofishSim::start(SimOptions::new(Script::DemoDay)).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::connect_async(sim.ws_url()).await.unwrap();
    let mut ask = async |mid: &str, body: serde_json::Value| {
        let req =
            serde_json::json!({"lwp": "/r/Conversation/listNewestPagination", "headers": {"mid": mid}, "body": body});
        ws.send(Message::text(req.to_string())).await.unwrap();
        loop {
            let Some(Ok(Message::Text(t))) = ws.next().await else {
                panic!("connection ended");
            };
            let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
            if v.pointer("/headers/mid").and_then(|m| m.as_str()) == Some(mid) {
                return v;
            }
        }
    };
    let object = ask(
        "1 0",
        serde_json::json!([{"startTimeStamp": 9_007_199_254_740_991i64, "limitNum": 50}]),
    )
    .await;
    assert_eq!(object["code"], 400, "{object}");
    let positional = ask("2 0", serde_json::json!([9_007_199_254_740_991i64, 50])).await;
    assert_eq!(positional["code"], 200, "{positional}");
    assert!(!positional["body"]["userConvs"].as_array().unwrap().is_empty());
}

/// A conversation the list and the history call a group (`conversationType` 2) is archived as
/// a group, whether its messages come from history or from live pushes (which carry no type).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_conversations_are_not_labelled_direct() {
    let mut opts = demo_day();
    opts.group_cids = vec!["48011000002".into()];
    let sim = GoofishSim::start(opts).await.unwrap();
    let (_tx, store, run) = archive_the_demo_day(&sim, Login::Token(SIM_TOKEN)).await;
    let mut seen = HashMap::new();
    for c in store.events() {
        if let EventBody::Message(m) = c.event.body {
            seen.entry((c.event.chat_id.clone(), m.chat_type))
                .and_modify(|n| *n += 1)
                .or_insert(1usize);
        }
    }
    let group = seen
        .iter()
        .filter(|((cid, _), _)| cid == "48011000002")
        .map(|((_, t), n)| (*t, *n))
        .collect::<Vec<_>>();
    assert_eq!(group.len(), 1, "one label for the group: {seen:?}");
    assert_eq!(group[0].0, proto::ChatType::Group, "{seen:?}");
    let pushed_in_group = sim
        .pushes()
        .iter()
        .flat_map(|p| p.msg_ids.clone())
        .filter(|id| sim.messages().iter().any(|m| &m.msg_id == id && m.cid == "48011000002"))
        .count();
    assert!(pushed_in_group > 0, "the group also had live pushes");
    assert!(
        seen.iter()
            .filter(|((cid, _), _)| cid != "48011000002")
            .all(|((_, t), _)| *t == proto::ChatType::Direct),
        "{seen:?}"
    );
    run.stop().await;
}
