//! Chat names from the conversation list: filled in live and history messages alike, a chat
//! that appears later named after a refresh, and every message recorded once although its
//! two copies may be built before and after the name was known.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use chatvault_ingest::yunhu::YunhuConnector;
use proto::EventBody;
use sim::yunhu::{Script, Step, YunhuSim};

use super::connector::{Running, tuning};
use crate::support::Rig;

const GROUP: (&str, u64) = ("g-names", 2);
const LATER: (&str, u64) = ("g-later", 2);
const WHO: (&str, &str) = ("u1", "张三");

fn start(sim: &YunhuSim, refresh: Duration) -> Running {
    let cfg = config::parse(&sim.config_toml("team"), Path::new("yunhu-test.toml")).expect("sim config parses");
    let connector = YunhuConnector::new(cfg.yunhu[0].clone())
        .with_tuning(tuning())
        .with_names_refresh(refresh);
    Running(Rig::start(connector, 8, |cx| cx.backfill = true))
}

fn names(run: &Running) -> HashMap<String, Option<String>> {
    run.events()
        .into_iter()
        .filter_map(|e| match e.body {
            EventBody::Message(m) => Some((e.msg_id.unwrap_or_default(), m.chat_name)),
            _ => None,
        })
        .collect()
}

fn once_each(run: &Running) -> bool {
    let ids = run.message_ids();
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    unique.len() == ids.len()
}

fn post_in(chat: (&str, u64), id: &str, minute: u64) -> Step {
    Step::text(id, chat, WHO, &format!("{id}：合同审批进度"), minute)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_carry_their_chat_name_live_and_from_history_once_each() {
    let mut steps = vec![post_in(GROUP, "n-0001", 1), Step::Pause(Duration::from_millis(400))];
    // Offline: history only; then live again.
    steps.push(Step::Drop {
        offline: vec![post_in(GROUP, "n-0002", 2), post_in(GROUP, "n-0003", 3)],
    });
    steps.push(post_in(GROUP, "n-0004", 4));
    steps.push(post_in(GROUP, "n-0005", 5));
    let sim = YunhuSim::start(Script::Steps(steps)).await.unwrap();
    sim.set_chat_name(GROUP.0, "合同审批群");
    let run = start(&sim, Duration::from_secs(600));
    let all = ["n-0001", "n-0002", "n-0003", "n-0004", "n-0005"];
    assert!(
        run.until(|r| {
            let n = names(r);
            all.iter().all(|id| n.contains_key(*id))
        })
        .await,
        "{:?}",
        names(&run)
    );
    let n = names(&run);
    // Pushed before the first list was read, n-0001 may go without a name; every later
    // message, live or from history, carries it.
    for id in &all[1..] {
        assert_eq!(n[*id].as_deref(), Some("合同审批群"), "{id}: {n:?}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(once_each(&run), "{:?}", run.message_ids());
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_that_appears_later_is_named_after_a_refresh() {
    let steps = vec![
        post_in(GROUP, "a-0001", 1),
        Step::Pause(Duration::from_millis(500)),
        // Not in the list read at login: it had no message then.
        post_in(LATER, "b-0001", 2),
        Step::Pause(Duration::from_millis(800)),
        post_in(LATER, "b-0002", 3),
    ];
    let sim = YunhuSim::start(Script::Steps(steps)).await.unwrap();
    sim.set_chat_name(LATER.0, "农业局项目群");
    let run = start(&sim, Duration::from_millis(200));
    assert!(
        run.until(|r| names(r).contains_key("b-0002")).await,
        "{:?}",
        names(&run)
    );
    let n = names(&run);
    assert_eq!(n["b-0002"].as_deref(), Some("农业局项目群"), "{n:?}");
    assert!(once_each(&run), "{:?}", run.message_ids());
    run.stop().await;
}
