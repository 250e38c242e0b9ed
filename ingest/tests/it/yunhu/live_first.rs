//! Live first: a failing history API never stops live archiving; the missed history is a
//! gap (`history_behind`) until a catch-up succeeds; a chat's stored position never passes
//! history that was not fetched, nor a batch that failed to commit.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chatvault_ingest::backoff::Backoff;
use chatvault_ingest::yunhu::YunhuConnector;
use proto::ConnectorStatus;
use serde_json::json;
use sim::fake_store::FakeStore;
use sim::yunhu::{Script, Step, YunhuSim};

use super::connector::{Running, WAIT, start, tuning};
use crate::support::{Rig, eventually};

const CHAT: (&str, u64) = ("g-h", 2);
const WHO: (&str, &str) = ("u1", "张三");

/// `n` messages of `CHAT` named `<prefix><i>`, minutes from `minute0`.
fn posts(prefix: &str, n: u64, minute0: u64) -> Vec<Step> {
    (1..=n)
        .map(|i| {
            Step::text(
                &format!("{prefix}{i:04}"),
                CHAT,
                WHO,
                &format!("第{i}条：合同审批进度"),
                minute0 + i,
            )
        })
        .collect()
}

fn ids(prefix: &str, n: u64) -> Vec<String> {
    (1..=n).map(|i| format!("{prefix}{i:04}")).collect()
}

fn has_all(run: &Running, want: &[String]) -> bool {
    let got = run.message_ids();
    want.iter().all(|id| got.contains(id))
}

fn once_each(run: &Running) -> bool {
    let mut n: HashMap<String, usize> = HashMap::new();
    for id in run.message_ids() {
        *n.entry(id).or_default() += 1;
    }
    n.values().all(|&c| c == 1)
}

/// Every one of `want` archived, and the connector back to `connected` (the gap closed).
fn caught_up(run: &Running, want: &[String]) -> bool {
    has_all(run, want) && run.states().last().map(|s| s.0) == Some(ConnectorStatus::Connected)
}

/// A connection that drops while 5 messages are posted (history only), then 10 live pushes.
fn drop_then_live() -> Vec<Step> {
    let mut steps = vec![
        Step::Pause(Duration::from_millis(200)),
        Step::Drop {
            offline: posts("h", 5, 0),
        },
    ];
    for p in posts("l", 10, 10) {
        steps.push(p);
        steps.push(Step::Pause(Duration::from_millis(20)));
    }
    steps
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_pushes_are_archived_while_the_history_api_refuses_connections() {
    let sim = YunhuSim::start(Script::Steps(drop_then_live())).await.unwrap();
    sim.set_api_refusing(true).await.unwrap();
    let run = start(&sim, Some(json!({ "chats": { CHAT.0: { "t": 2, "seq": 0 } } })));

    // Every live push is archived although no catch-up can run.
    let live = ids("l", 10);
    assert!(
        run.until(|r| has_all(r, &live)).await,
        "live archived: {:?}",
        run.message_ids()
    );
    let history = ids("h", 5);
    assert!(history.iter().all(|id| !run.message_ids().contains(id)));
    // The missed history is a gap, with its reason; `connected` is never claimed.
    let states = run.states();
    let behind = states
        .iter()
        .find(|s| s.0 == ConnectorStatus::HistoryBehind)
        .unwrap_or_else(|| panic!("history_behind recorded: {states:?}"));
    assert!(behind.1.contains("list"), "{behind:?}");
    assert!(!states.iter().any(|s| s.0 == ConnectorStatus::Connected), "{states:?}");
    // The stored position does not pass the history that was not fetched.
    assert!(
        run.until(|r| r.chat_cursor(CHAT.0)["live"] == 15).await,
        "cursor notes the live messages: {}",
        run.chat_cursor(CHAT.0)
    );
    assert_eq!(run.chat_cursor(CHAT.0)["seq"], 0, "{}", run.chat_cursor(CHAT.0));

    // The API comes back: the missed history arrives and the gap closes.
    sim.set_api_refusing(false).await.unwrap();
    assert!(
        run.until(|r| caught_up(r, &history)).await,
        "history archived: {:?}; states {:?}",
        run.message_ids(),
        run.states()
    );
    run.assert_seq_reaches(CHAT.0, 15).await;
    assert!(
        run.chat_cursor(CHAT.0).get("live").is_none(),
        "{}",
        run.chat_cursor(CHAT.0)
    );
    assert!(once_each(&run), "{:?}", run.message_ids());
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_and_undecodable_history_answers_are_retried_beside_live_archiving() {
    let sim = YunhuSim::start(Script::Steps(drop_then_live())).await.unwrap();
    // Enough failures for both connections' first attempts and a few retries.
    sim.faults().fail_api.store(3, Ordering::SeqCst);
    sim.faults().garbage_api.store(3, Ordering::SeqCst);
    let run = start(&sim, Some(json!({ "chats": { CHAT.0: { "t": 2, "seq": 0 } } })));
    let mut all = ids("l", 10);
    all.extend(ids("h", 5));
    assert!(
        run.until(|r| caught_up(r, &all)).await,
        "{:?} {:?}",
        run.message_ids(),
        run.states()
    );
    let details: Vec<String> = run
        .states()
        .into_iter()
        .filter(|s| s.0 == ConnectorStatus::HistoryBehind)
        .map(|s| s.1)
        .collect();
    assert!(!details.is_empty(), "{:?}", run.states());
    assert!(
        details
            .iter()
            .any(|d| d.contains("HTTP 500") || d.contains("undecodable")),
        "{details:?}"
    );
    assert!(once_each(&run), "{:?}", run.message_ids());
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catch_up_page_that_fails_to_commit_is_fetched_again_after_a_restart() {
    // 250 messages posted while away: three history pages (100, 100, 50).
    let steps = vec![
        Step::Pause(Duration::from_millis(100)),
        Step::Drop {
            offline: posts("p", 250, 0),
        },
    ];
    let sim = YunhuSim::start(Script::Steps(steps)).await.unwrap();
    let resume = json!({ "chats": { CHAT.0: { "t": 2, "seq": 0 } } });
    let (tx, store) = FakeStore::channel(8);
    // Slow commits keep the later pages in flight while the first one fails.
    store.set_delay(Duration::from_millis(150));
    store.fail_once_with("p0050");
    let cfg = config::parse(&sim.config_toml("team"), Path::new("yunhu-test.toml")).unwrap();
    // The reconnect after the drop is quick, the one after the failed commit long: the test
    // stops the connector during it.
    let slow_retry = tuning().backoff(
        Backoff::new(Duration::from_secs(30), Duration::from_secs(30))
            .with_jitter(0.0)
            .with_fixed(Duration::from_millis(50), 1),
    );
    let first = Rig::start_on(
        YunhuConnector::new(cfg.yunhu[0].clone()).with_tuning(slow_retry.clone()),
        &tx,
        &store,
        |cx| cx.resume_from = Some(resume.clone()),
    );
    let last_page = eventually(WAIT, || {
        first.message_ids().contains(&"p0250".to_string())
            && first.states().iter().any(|s| s.1.contains("injected failure"))
    })
    .await;
    assert!(
        last_page,
        "later pages committed after the failed one: {:?}",
        first.states()
    );
    assert!(!first.message_ids().contains(&"p0050".to_string()));
    first.stop().await;

    // Restart from what the store holds.
    store.set_delay(Duration::ZERO);
    let stored = store.last_cursor("team").unwrap_or(resume);
    let second = Running(Rig::start_on(
        YunhuConnector::new(cfg.yunhu[0].clone()).with_tuning(tuning()),
        &tx,
        &store,
        |cx| cx.resume_from = Some(stored.clone()),
    ));
    let all = ids("p", 250);
    assert!(
        second.until(|r| has_all(r, &all)).await,
        "archived {} of 250 after the restart (resumed from {stored})",
        second.message_ids().len()
    );
    assert!(once_each(&second));
    second.stop().await;
}
