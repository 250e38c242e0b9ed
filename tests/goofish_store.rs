//! The Goofish connector into the real store writer, in process, under both ways the platform
//! may number its messages (`sim::goofish::Numbering`): across the account's conversations,
//! which the archive's row keys are laid out for, or within each conversation, which makes
//! the same id stand in many chats. Connections are cut so that the recovery from history
//! delivers messages the store already holds. Either way every message is archived once, in
//! its own chat, with its own text, and the archive verifies.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ingest::goofish::GoofishConnector;
use ingest::{Connector, ConnectorContext};
use proto::Platform;
use sim::goofish::{GoofishSim, Numbering, Script, SimOptions};
use store::StoreReader;

use crate::support::{quick_tuning, real_writer};

const MESSAGES: usize = 600;
const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_that_run_across_chats_are_archived_once_each() {
    archive_with_reconnects(Numbering::AcrossChats).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_that_repeat_in_every_chat_are_archived_once_each_in_their_own_chat() {
    archive_with_reconnects(Numbering::PerChat).await;
}

/// `(chat, message id) → (text, rows)` of the archived Goofish messages.
fn archived(data: &Path) -> HashMap<(String, String), (String, i64)> {
    let conn =
        rusqlite::Connection::open_with_flags(data.join("chatvault.db"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut st = conn
        .prepare(
            "SELECT chat_id, msg_id, max(text), count(*) FROM messages
             WHERE platform = 'goofish' AND has_message = 1 GROUP BY chat_id, msg_id",
        )
        .unwrap();
    st.query_map([], |r| Ok(((r.get(0)?, r.get(1)?), (r.get(2)?, r.get(3)?))))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

async fn archive_with_reconnects(numbering: Numbering) {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = SimOptions::new(Script::Bulk(MESSAGES));
    opts.items_per_push = 5;
    opts.window = 16;
    opts.numbering = numbering;
    let (_, mut script) = opts.script.build();
    numbering.apply(&mut script);
    let expected: HashMap<(String, String), String> = script
        .into_iter()
        .map(|m| ((m.cid.clone(), m.msg_id.clone()), m.text().to_string()))
        .collect();
    assert_eq!(expected.len(), MESSAGES, "the script's identities are distinct");
    let distinct_ids = expected
        .keys()
        .map(|k| &k.1)
        .collect::<std::collections::HashSet<_>>()
        .len();
    match numbering {
        Numbering::AcrossChats => assert_eq!(distinct_ids, MESSAGES),
        Numbering::PerChat => assert!(distinct_ids * 50 < MESSAGES, "{distinct_ids} ids repeat across chats"),
    }

    let sim = GoofishSim::start(opts).await.unwrap();
    let cfg = config::parse(&sim.config_section("shop"), Path::new("t.toml"))
        .unwrap()
        .goofish[0]
        .clone();
    let connector = GoofishConnector::new(cfg).with_tuning(quick_tuning(Platform::Goofish));
    let (tx, writer) = real_writer(dir.path());
    let cx = ConnectorContext::new(Platform::Goofish, "shop", tx, dir.path());
    let shutdown = cx.shutdown.clone();
    // The seventh push's connection is cut before its ack, then every connection once more
    // midway: the connector recovers from history, which repeats what the store holds.
    sim.drop_after_pushes(7);
    let task = tokio::spawn(Arc::new(connector).run(cx));

    let reader = StoreReader::open(dir.path()).unwrap();
    let held = || reader.message_count().unwrap() as usize;
    let deadline = Instant::now() + WAIT;
    while held() < MESSAGES / 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sim.drop_connections();
    while (held() < MESSAGES || sim.live_remaining() > 0) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shutdown.cancel();
    task.await.unwrap().unwrap();
    let stats = writer.join().await.unwrap();

    let got = archived(dir.path());
    let wrong: Vec<_> = expected
        .iter()
        .filter(|(k, text)| got.get(*k).map(|(t, n)| (t, *n)) != Some((*text, 1)))
        .map(|(k, text)| (k, text, got.get(k)))
        .take(5)
        .collect();
    assert!(wrong.is_empty(), "{} of {MESSAGES} archived: {wrong:?}", got.len());
    assert_eq!(got.len(), MESSAGES, "nothing archived that was not sent");
    assert!(sim.connections() >= 3, "connections {}", sim.connections());
    assert!(
        sim.requests().iter().any(|r| r == "/r/MessageManager/listUserMessages"),
        "recovered from history"
    );
    assert!(
        stats.duplicates > 0,
        "the recovery repeated what the store held: {stats:?}"
    );
    let report = StoreReader::open(dir.path()).unwrap().verify(&mut |_| {}).unwrap();
    assert!(report.ok, "{report:?}");
}
