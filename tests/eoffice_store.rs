//! The e-office connector into the real store writer, in process (not through the binary):
//! what an auditor sees after `sim eoffice` plays its demo day with a dropped connection and
//! a kick — withdrawn and deleted messages with their original text, the kick as a gap, no duplicate
//! from the redelivered offline feed, a verifiable hash chain, and every ack after commit.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::{quick_tuning, real_writer};
use ingest::blobs::BlobStore;
use ingest::eoffice::EofficeConnector;
use ingest::{Connector, ConnectorContext};
use proto::{ConnectorStatus, MessageState, Platform};
use sim::eoffice::{EofficeSim, Script, SimOptions};
use store::{AuditFilter, StoreReader};

const WAIT: Duration = Duration::from_secs(30);

fn audit(reader: &StoreReader, filter: AuditFilter) -> Vec<(String, MessageState, String)> {
    let mut out = Vec::new();
    reader
        .audit(&filter, &mut |e| {
            out.push((e.record.key.msg_id.clone(), e.record.state, e.original_text.clone()));
            Ok(())
        })
        .unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_day_with_faults_gives_a_clean_audit() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = SimOptions::new(Script::DemoDay);
    opts.offline_batch = 2;
    opts.live_interval = Duration::from_millis(5);
    let sim = EofficeSim::start(opts).await.unwrap();
    let cfg = config::parse(&sim.config_section("oa"), Path::new("t.toml"))
        .unwrap()
        .eoffice[0]
        .clone();
    let connector = EofficeConnector::new(cfg).with_tuning(quick_tuning(Platform::Eoffice));

    let (tx, writer) = real_writer(dir.path());
    let reader = Arc::new(Mutex::new(StoreReader::open(dir.path()).unwrap()));

    // At the instant the simulator receives an ack, the acked messages must be in SQLite.
    let violations = Arc::new(Mutex::new(Vec::<String>::new()));
    let (v, r) = (violations.clone(), reader.clone());
    sim.on_ack(move |ids| {
        let r = r.lock().unwrap();
        for id in ids {
            let found = r
                .find_keys(Platform::Eoffice, "admin_zhangsan", id, None)
                .map(|k| !k.is_empty())
                .unwrap_or(false)
                || ["admin_lisi", "pub_finance", "grp_agri"].iter().any(|chat| {
                    r.find_keys(Platform::Eoffice, chat, id, None)
                        .map(|k| !k.is_empty())
                        .unwrap_or(false)
                });
            if !found {
                v.lock().unwrap().push(id.clone());
            }
        }
    });

    let cx = ConnectorContext {
        blobs: Arc::new(BlobStore::new(dir.path().join("blobs"), 1 << 20)),
        max_body_bytes: 1 << 20,
        ..ConnectorContext::new(Platform::Eoffice, "oa", tx, dir.path())
    };
    let shutdown = cx.shutdown.clone();
    let task = tokio::spawn(Arc::new(connector).run(cx));

    // Drop the first session as soon as its offline feed went out, then kick the second one.
    assert!(sim.wait_until(WAIT, |s| s.sent_ids().len() >= 6).await);
    sim.drop_connections();
    assert!(
        sim.wait_until(WAIT, |s| s.logins() == 2 && s.pending_offline() == 0)
            .await
    );
    sim.kick();
    assert!(
        sim.wait_until(WAIT, |s| s.logins() == 3 && s.live_remaining() == 0)
            .await
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    shutdown.cancel();
    task.await.unwrap().unwrap();
    writer.join().await.unwrap();

    assert!(
        violations.lock().unwrap().is_empty(),
        "acked before commit: {:?}",
        violations.lock().unwrap()
    );
    let reader = StoreReader::open(dir.path()).unwrap();
    let withdrawn = audit(
        &reader,
        AuditFilter {
            withdrawn: true,
            ..AuditFilter::default()
        },
    );
    assert_eq!(withdrawn.len(), 1, "{withdrawn:?}");
    assert_eq!(
        (withdrawn[0].1, withdrawn[0].2.as_str()),
        (MessageState::Withdrawn, "发错群了，撤回")
    );
    let deleted = audit(
        &reader,
        AuditFilter {
            deleted: true,
            ..AuditFilter::default()
        },
    );
    assert_eq!(
        deleted.iter().map(|d| d.2.as_str()).collect::<Vec<_>>(),
        ["这条不小心发的"]
    );
    // `delete msg` removes a message for one user (seed 000 keeps one `delete_user_id` per
    // message): listed by `audit --deleted`, but still active for everyone else.
    assert_eq!(deleted[0].1, MessageState::Active, "{deleted:?}");

    let stats = reader.stats().unwrap();
    assert_eq!(stats.messages, 27, "6 offline (delivered twice) + 21 live, each once");
    let gaps = reader.gaps(None, None, Some(Platform::Eoffice)).unwrap();
    let statuses: HashSet<ConnectorStatus> = gaps.iter().map(|g| g.status).collect();
    assert!(statuses.contains(&ConnectorStatus::Kicked), "{gaps:?}");
    assert!(statuses.contains(&ConnectorStatus::Disconnected), "{gaps:?}");
    let report = reader.verify(&mut |_| {}).unwrap();
    assert!(report.ok, "{report:?}");
}
