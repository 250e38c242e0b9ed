//! The e-office connector against `sim eoffice`: offline feed acked only after commit,
//! redelivery recorded once, withdrawals and deletions, reconnect after a drop, ping timeout,
//! refused logins with backoff, kicks, and bad input that never stops archiving.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chatvault_ingest::backoff::Backoff;
use chatvault_ingest::eoffice::EofficeConnector;
use chatvault_ingest::runtime::Tuning;
use proto::{ConnectorStatus, EventBody, EventKind, Platform};
use serde_json::json;
use sim::eoffice::{EofficeSim, Script, SimEvent, SimOptions};
use sim::fake_store::FakeStore;

use crate::support::Rig;

const WAIT: Duration = Duration::from_secs(20);

fn tuning() -> Tuning {
    Tuning::for_platform(Platform::Eoffice)
        .backoff(Backoff::new(Duration::from_millis(50), Duration::from_millis(400)).with_jitter(0.0))
}

fn connector_for(sim: &EofficeSim, tuning: Tuning) -> EofficeConnector {
    let toml = sim.config_section("oa");
    let cfg = config::parse(&toml, Path::new("eoffice-test.toml")).expect("sim config section parses");
    EofficeConnector::new(cfg.eoffice[0].clone()).with_tuning(tuning)
}

fn start(connector: EofficeConnector, store_delay: Duration) -> Rig {
    start_with(connector, store_delay, 0)
}

fn start_with(connector: EofficeConnector, store_delay: Duration, fail_next: u32) -> Rig {
    let (tx, store) = FakeStore::channel(8);
    store.set_delay(store_delay);
    store.fail_next(fail_next);
    Rig::start_on(connector, &tx, &store, |cx| cx.max_body_bytes = 64 * 1024)
}

/// Waits until message `id` is in the store.
async fn archived(sim: &EofficeSim, run: &Rig, id: &str) -> bool {
    let store = run.store.clone();
    let id = id.to_string();
    sim.wait_until(WAIT, move |_| {
        store
            .events()
            .iter()
            .any(|c| c.event.msg_id.as_deref() == Some(id.as_str()))
    })
    .await
}

/// Installs a check that runs the instant the simulator receives an ack: every acked
/// message must already be committed. Returns the violations found.
fn check_ack_after_commit(sim: &EofficeSim, store: &FakeStore) -> Arc<Mutex<Vec<String>>> {
    let violations = Arc::new(Mutex::new(Vec::new()));
    let (v, s) = (violations.clone(), store.clone());
    sim.on_ack(move |ids| {
        let committed: HashSet<String> = s.events().into_iter().filter_map(|c| c.event.msg_id).collect();
        for id in ids {
            if !committed.contains(id) {
                v.lock().unwrap().push(id.clone());
            }
        }
    });
    violations
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_day_is_archived_and_offline_feed_acked_only_after_commit() {
    let sim = EofficeSim::start(SimOptions::new(Script::DemoDay)).await.unwrap();
    let run = start(connector_for(&sim, tuning()), Duration::from_millis(30));
    let violations = check_ack_after_commit(&sim, &run.store);

    assert!(
        sim.wait_until(WAIT, |s| s.acked_ids().len() == 6 && s.live_remaining() == 0)
            .await
    );
    // 27 messages, 3 presence, 3 chat names, read, withdraw, delete, join, leave, work status,
    // dissolved group, one `other`, and the connector's `connected` state.
    assert!(
        run.store.wait_for(42, WAIT).await >= 42,
        "events: {}",
        run.store.events().len()
    );
    let ids = run.message_ids();
    assert_eq!(ids.len(), 27, "6 offline + 21 live messages");
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 27);
    assert!(
        violations.lock().unwrap().is_empty(),
        "acked before commit: {:?}",
        violations.lock().unwrap()
    );
    assert_eq!(sim.pending_offline(), 0);

    let events = run.store.events();
    let text_of = |needle: &str| {
        events.iter().find_map(|c| match &c.event.body {
            EventBody::Message(m) if m.text.contains(needle) => Some((c.event.chat_id.clone(), m.clone())),
            _ => None,
        })
    };
    // Decrypted from message_content, group chat by room_id, mentions from at_list.
    let (chat, m) = text_of("请审阅合同第5条").expect("contract message archived");
    assert_eq!(chat, "grp_contract");
    assert_eq!(m.mentions, vec!["zhangsan".to_string(), "wangwu".to_string()]);
    assert_eq!(m.chat_name.as_deref(), Some("合同评审群"));
    // The corrupt ciphertext fell back to text_message_content.
    let (chat, _) = text_of("明天上午九点出发去农业局").expect("fallback message archived");
    assert_eq!(chat, "admin_lisi");
    // The withdrawn and deleted messages carry those events, on the archived message's id.
    let (withdrawn_chat, withdrawn) = (
        "pub_finance",
        events
            .iter()
            .find(|c| matches!(&c.event.body, EventBody::Message(m) if m.text == "发错群了，撤回"))
            .and_then(|c| c.event.msg_id.clone())
            .unwrap(),
    );
    assert!(events.iter().any(|c| c.event.kind() == EventKind::Withdraw
        && c.event.msg_id.as_deref() == Some(withdrawn.as_str())
        && c.event.chat_id == withdrawn_chat));
    assert!(events.iter().any(|c| c.event.kind() == EventKind::Delete));
    for kind in [
        EventKind::Read,
        EventKind::MemberJoin,
        EventKind::MemberLeave,
        EventKind::GroupDissolved,
        EventKind::Presence,
        EventKind::GroupRenamed,
        EventKind::Other,
    ] {
        assert!(events.iter().any(|c| c.event.kind() == kind), "no {kind} event");
    }
    assert!(run.states().iter().any(|(s, _)| *s == ConnectorStatus::Connected));
    assert!(run.store.rejects().is_empty(), "{:?}", run.store.rejects());
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacked_offline_batches_are_redelivered_and_recorded_once() {
    let mut opts = SimOptions::new(Script::DemoDay);
    opts.offline_batch = 2;
    let sim = EofficeSim::start(opts).await.unwrap();
    // A slow store: the connection drops while the offline batches are still uncommitted.
    let run = start(connector_for(&sim, tuning()), Duration::from_millis(300));
    let violations = check_ack_after_commit(&sim, &run.store);
    assert!(sim.wait_until(WAIT, |s| s.sent_ids().len() >= 6).await);
    sim.drop_connections();

    assert!(
        sim.wait_until(WAIT, |s| s.logins() >= 2 && s.pending_offline() == 0)
            .await
    );
    run.store.set_delay(Duration::ZERO);
    assert!(sim.wait_until(WAIT, |s| s.live_remaining() == 0).await);
    let offline_sent = sim
        .log()
        .iter()
        .filter(|e| matches!(&e.event, SimEvent::Sent { ack_id: Some(_), .. }))
        .count();
    assert!(
        offline_sent >= 4,
        "offline batches were redelivered ({offline_sent} sent)"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ids = run.message_ids();
    assert_eq!(
        ids.len(),
        ids.iter().collect::<HashSet<_>>().len(),
        "no duplicates: {ids:?}"
    );
    assert!(
        run.store.duplicates() >= 1,
        "redelivered messages were recognised as duplicates"
    );
    assert!(violations.lock().unwrap().is_empty());
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_is_never_acknowledged() {
    let sim = EofficeSim::start(SimOptions::new(Script::Empty)).await.unwrap();
    let k = sim.content_key().unwrap();
    for i in 0..3 {
        sim.add_offline(
            false,
            json!({"message_id": format!("off{i}"), "sender": "zhangsan", "to": "admin",
            "chat_object_id": "admin_zhangsan", "send_time": 1_795_395_600_000u64 + i,
            "message_content": k.encrypt("报销单"), "text_message_content": "报销单", "type": "user"}),
        );
    }
    // Batch 1 is the `connected` state, batch 2 the offline feed: both fail.
    let run = start_with(connector_for(&sim, tuning()), Duration::ZERO, 2);
    let violations = check_ack_after_commit(&sim, &run.store);
    assert!(sim.wait_until(WAIT, |s| s.acked_ids().len() == 3).await);
    let log = sim.log();
    let second_login = log
        .iter()
        .filter(|e| matches!(e.event, SimEvent::Connected { .. }))
        .nth(1)
        .expect("reconnected")
        .seq;
    let first_ack = log
        .iter()
        .find(|e| matches!(e.event, SimEvent::Acked { .. }))
        .unwrap()
        .seq;
    assert!(
        first_ack > second_login,
        "nothing acked on the session whose commit failed"
    );
    assert!(violations.lock().unwrap().is_empty());
    assert!(
        run.states()
            .iter()
            .any(|(s, d)| *s == ConnectorStatus::Disconnected && d.contains("store"))
    );
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_the_server_drops_the_connection() {
    let mut opts = SimOptions::new(Script::DemoDay);
    opts.live_interval = Duration::from_millis(20);
    let sim = EofficeSim::start(opts).await.unwrap();
    let run = start(connector_for(&sim, tuning()), Duration::ZERO);
    assert!(sim.wait_until(WAIT, |s| s.live_remaining() < 25).await);
    sim.drop_connections();
    assert!(sim.wait_until(WAIT, |s| s.logins() == 2).await);
    assert!(sim.wait_until(WAIT, |s| s.live_remaining() == 0).await);
    sim.push(
        "private message",
        json!({"message_id": "after-drop", "sender": "lisi", "to": "admin",
        "chat_object_id": "admin_lisi", "send_time": 1_795_399_200_000u64, "text_message_content": "重连后的消息"}),
    );
    assert!(archived(&sim, &run, "after-drop").await);
    let states: Vec<ConnectorStatus> = run.states().into_iter().map(|(s, _)| s).collect();
    assert_eq!(
        states,
        [
            ConnectorStatus::Connected,
            ConnectorStatus::Disconnected,
            ConnectorStatus::Connected
        ]
    );
    run.stop().await;
}

#[tokio::test(start_paused = true)]
async fn silence_from_the_server_is_a_ping_timeout() {
    let mut opts = SimOptions::new(Script::Empty);
    opts.ping_interval = Duration::from_secs(25);
    opts.ping_timeout = Duration::from_secs(20);
    let sim = EofficeSim::start(opts).await.unwrap();
    sim.set_pinging(false);
    let started = tokio::time::Instant::now();
    let run = start(connector_for(&sim, tuning()), Duration::ZERO);
    assert!(sim.wait_until(Duration::from_secs(120), |s| s.logins() >= 2).await);
    let states = run.states();
    let timeout = states
        .iter()
        .find(|(s, _)| *s == ConnectorStatus::Disconnected)
        .expect("disconnect recorded");
    assert!(
        timeout.1.contains("no ping") && timeout.1.contains("45000"),
        "{}",
        timeout.1
    );
    assert!(
        started.elapsed() >= Duration::from_secs(45),
        "not before pingInterval + pingTimeout"
    );

    // With pings flowing the connection stays up across several intervals.
    sim.set_pinging(true);
    let logins = sim.logins();
    tokio::time::sleep(Duration::from_secs(300)).await;
    assert_eq!(sim.logins(), logins);
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_backs_off_then_recovers() {
    let sim = EofficeSim::start(SimOptions::new(Script::DemoDay)).await.unwrap();
    sim.refuse_logins(3);
    let started = std::time::Instant::now();
    let run = start(connector_for(&sim, tuning()), Duration::ZERO);
    assert!(sim.wait_until(WAIT, |s| s.logins() == 1).await);
    // 50 + 100 + 200 ms of backoff between the four attempts: no hot loop.
    assert!(
        started.elapsed() >= Duration::from_millis(350),
        "{:?}",
        started.elapsed()
    );
    let refused = sim
        .log()
        .iter()
        .filter(|e| matches!(e.event, SimEvent::Refused { .. }))
        .count();
    assert_eq!(refused, 3);
    // The simulator counts the login when it answers it; the connector records `connected`
    // once it has read that answer.
    let deadline = tokio::time::Instant::now() + WAIT;
    while run.states().last().map(|s| s.0) != Some(ConnectorStatus::Connected) && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let states = run.states();
    assert_eq!(states[0].0, ConnectorStatus::AuthFailed);
    assert!(states[0].1.contains("Not authorized"), "{}", states[0].1);
    assert!(
        !states[0].1.contains(sim::eoffice::SIM_TOKEN),
        "the token never appears in a state detail"
    );
    assert_eq!(states.last().unwrap().0, ConnectorStatus::Connected);
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kick_is_recorded_and_followed_by_a_reconnect() {
    let sim = EofficeSim::start(SimOptions::new(Script::Empty)).await.unwrap();
    let run = start(connector_for(&sim, tuning()), Duration::ZERO);
    assert!(sim.wait_until(WAIT, |s| s.logins() == 1).await);
    let store = run.store.clone();
    assert!(sim.wait_until(WAIT, move |_| !store.events().is_empty()).await);
    sim.kick();
    assert!(sim.wait_until(WAIT, |s| s.logins() == 2).await);
    let states = run.states();
    let kicked = states
        .iter()
        .find(|(s, _)| *s == ConnectorStatus::Kicked)
        .expect("kicked state recorded");
    assert!(kicked.1.contains("logged in elsewhere"), "{}", kicked.1);
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_rejected_and_archiving_continues() {
    let sim = EofficeSim::start(SimOptions::new(Script::Empty)).await.unwrap();
    let connector = connector_for(&sim, tuning().max_frame_bytes(4096));
    let run = start(connector, Duration::ZERO);
    assert!(sim.wait_until(WAIT, |s| s.logins() == 1).await);

    // Broken event payloads: rejected, the connection stays.
    sim.send_raw(r#"42["private message","not an object"]"#);
    sim.send_raw(r#"42["group message",{"message_id":"x","sender":"a","room_id":"r","message_content":"!!!"}]"#);
    sim.send_raw(format!(
        r#"42["private message",{{"text_message_content":"{}"}}]"#,
        "长".repeat(3000)
    ));
    let store = run.store.clone();
    assert!(sim.wait_until(WAIT, move |_| store.rejects().len() == 3).await);
    assert_eq!(sim.logins(), 1, "payload errors do not reconnect");

    // Broken framing: rejected, then a fresh session.
    for (n, garbage) in ["garbage", r#"42{"not":"an array"}"#, "4x", "40[1]"]
        .into_iter()
        .enumerate()
    {
        sim.send_raw(garbage);
        assert!(
            sim.wait_until(WAIT, |s| s.logins() == n + 2).await,
            "reconnect after {garbage}"
        );
    }
    sim.push(
        "group message",
        json!({"message_id": "ok-1", "sender": "wangwu", "room_id": "grp_agri",
        "type": "personal_group", "send_time": 1_795_399_200_000u64, "text_message_content": "还在正常归档"}),
    );
    assert!(archived(&sim, &run, "ok-1").await);

    let rejects = run.store.rejects();
    let reasons: Vec<&str> = rejects.iter().map(|(r, _)| r.as_str()).collect();
    assert!(reasons[0].contains("not an object"), "{reasons:?}");
    assert!(
        reasons[1].contains("no aes_key") || reasons[1].contains("not base64"),
        "{reasons:?}"
    );
    assert!(reasons[2].contains("exceeds the 4096-byte limit"), "{reasons:?}");
    assert!(
        reasons.iter().any(|r| r.contains("unknown engine.io packet type")),
        "{reasons:?}"
    );
    assert!(reasons.iter().any(|r| r.contains("EVENT payload")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("CONNECT payload")), "{reasons:?}");
    assert_eq!(rejects.len(), 7, "{reasons:?}");
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_refuses_what_the_reference_server_refuses() {
    use tokio_tungstenite::tungstenite::Error;
    let sim = EofficeSim::start(SimOptions::new(Script::Empty)).await.unwrap();
    let base = format!("ws://{}", sim.addr());
    for bad in [
        format!("{base}/socket.io/?EIO=3&transport=websocket"),
        format!("{base}/socket.io/?EIO=4&transport=polling"),
        format!("{base}/other/?EIO=4&transport=websocket"),
    ] {
        match tokio_tungstenite::connect_async(&bad).await {
            Err(Error::Http(resp)) => assert_eq!(resp.status(), 400, "{bad}"),
            other => panic!("{bad}: expected HTTP 400, got {:?}", other.map(|_| ())),
        }
    }
    let good = format!("{base}/socket.io/?EIO=4&transport=websocket&loginUserId=admin&connectType=web");
    assert!(tokio_tungstenite::connect_async(&good).await.is_ok());
}
