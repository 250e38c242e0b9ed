//! `chatvault run` against the simulators: what the platforms saw acknowledged is archived,
//! SIGTERM drains and exits 0, and the read commands agree with what was sent.

use std::time::Duration;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_archives_eoffice_acks_after_commit_and_drains_on_sigterm() {
    let sim = sim::eoffice::EofficeSim::start(sim::eoffice::SimOptions::new(sim::eoffice::Script::DemoDay))
        .await
        .unwrap();
    let RunDir { dir, data, port, cfg } = RunDir::new(&[sim.config_section("oa")]);
    let run = Running::start(&cfg, dir.path());
    let done = sim
        .wait_until(Duration::from_secs(60), |s| {
            s.pending_offline() == 0 && s.live_remaining() == 0
        })
        .await;
    assert!(done, "the simulator's script did not finish; log:\n{}", run.log_text());
    // Live pushes have no ack: give the last ones a moment to commit before stopping.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // /healthz: ready, with the connector's state; /metrics: the per-connector counters.
    let health = http_get(port, "/healthz").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(
        health.contains("\"ready\":true") && health.contains("\"oa\"") && health.contains("connected"),
        "{health}"
    );
    tokio::time::sleep(Duration::from_secs(5)).await; // one sampling period of the gauges
    let metrics = http_get(port, "/metrics").await;
    for needle in [
        "chatvault_received_total{connector=\"oa\"}",
        "chatvault_committed_total{connector=\"oa\"}",
        "chatvault_acked_total{connector=\"oa\"}",
        "chatvault_store_commit_seconds",
        "chatvault_connector_up{connector=\"oa\",platform=\"eoffice\"} 1",
        "chatvault_channel_depth",
        "chatvault_last_event_timestamp_seconds{connector=\"oa\"}",
        "chatvault_index_lag_events",
    ] {
        assert!(metrics.contains(needle), "/metrics lacks {needle}:\n{metrics}");
    }
    // An online backup while run keeps writing: the copy verifies on its own.
    let backup = dir.path().join("backup.db");
    let b = cv_ok(&cfg, &["backup", backup.to_str().unwrap()]);
    assert!(b.contains("verified"), "{b}");
    run.signal("TERM");
    let (status, log) = run.wait(Duration::from_secs(30));
    assert!(status.success(), "exit status {status:?}; log:\n{log}");
    assert!(log.contains("store writer drained"), "{log}");

    // Every offline message the server saw acknowledged is in the archive, once.
    let acked = sim.acked_ids();
    assert!(!acked.is_empty());
    for id in &acked {
        let n = count(
            &data,
            &format!(
                "SELECT count(*) FROM messages WHERE platform = 'eoffice' AND msg_id = '{id}' AND has_message = 1"
            ),
        );
        assert_eq!(n, 1, "acked message {id} archived {n} times");
    }
    // Every message the simulator sent is archived exactly once (redeliveries deduplicated).
    let mut sent = sim.sent_ids();
    sent.sort();
    sent.dedup();
    let archived = count(
        &data,
        "SELECT count(DISTINCT msg_id) FROM messages WHERE platform = 'eoffice' AND has_message = 1",
    );
    assert_eq!(archived as usize, sent.len(), "sent {sent:?}");

    cv_ok(&cfg, &["verify"]);
    let stats = cv(&cfg, &["stats", "--json"]);
    assert!(stats.status.success(), "{}", String::from_utf8_lossy(&stats.stderr));
    let v: serde_json::Value = serde_json::from_str(&stdout(&stats)).expect("stats --json is JSON");
    assert!(v.to_string().contains("eoffice"), "{v}");
}

#[test]
fn run_without_connectors_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &dir.path().join("data"), free_port(), &[]);
    let out = cv(&cfg, &["run"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no connectors configured"), "{err}");
}

/// Each thread of process `pid`: its name and nice value, from `/proc/<pid>/task/*/stat`.
fn thread_nice(pid: u32) -> Vec<(String, i64)> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("stat")).ok())
        .filter_map(|stat| {
            // "tid (name) state ppid …": the name may hold spaces and parentheses; nice is the
            // 19th field, the 17th after the name.
            let (head, rest) = stat.rsplit_once(')')?;
            let name = head.split_once('(')?.1.to_string();
            let nice = rest.split_whitespace().nth(16)?.parse().ok()?;
            Some((name, nice))
        })
        .collect()
}

/// Archiving gets the cores first: under `run` the search indexer and the tantivy threads it
/// starts run 10 nicer than the rest of the process (the connectors, the store's commit,
/// prepare and checkpoint threads), so the commit that every message waits for is not made to
/// wait for a core by the derived index.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_run_the_search_indexer_yields_the_cpu_to_archiving() {
    let sim = sim::eoffice::EofficeSim::start(sim::eoffice::SimOptions::new(sim::eoffice::Script::DemoDay))
        .await
        .unwrap();
    let RunDir { dir, cfg, .. } = RunDir::new(&[sim.config_section("oa")]);
    let run = Running::start(&cfg, dir.path());
    let pid = run.child.id();
    // tantivy's thread names (truncated to 15 bytes by Linux), as `bench pipeline` groups them;
    // its doc-store compressor starts when a segment is written, so it may or may not be there.
    let is_index = |name: &str| {
        name == "search-indexer"
            || name.contains("tantivy")
            || name.starts_with("docstore")
            || name.starts_with("merge_thread")
            || name == "segment_updater"
    };
    let started = std::time::Instant::now();
    let threads = loop {
        let t = thread_nice(pid);
        let indexer = t.iter().any(|(n, _)| n == "search-indexer");
        let tantivy = t.iter().any(|(n, _)| n != "search-indexer" && is_index(n));
        if indexer && tantivy {
            break t;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no indexer or tantivy thread after 30 s: {t:?}; log:\n{}",
            run.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let main = threads.iter().find(|(n, _)| n == "chatvault").map(|&(_, n)| n);
    let main = main.unwrap_or_else(|| panic!("no main thread in {threads:?}"));
    for (name, nice) in &threads {
        let want = if is_index(name) { (main + 10).min(19) } else { main };
        assert_eq!(*nice, want, "thread {name:?} (main thread at {main}): {threads:?}");
    }
    run.signal("TERM");
    let (status, log) = run.wait(Duration::from_secs(30));
    assert!(status.success(), "exit status {status:?}; log:\n{log}");
}
