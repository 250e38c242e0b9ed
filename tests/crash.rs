//! Crash safety: `chatvault run` is killed with SIGKILL at random points while two platforms
//! stream into it, restarted, K times; then it is stopped with SIGTERM under load. Afterwards
//! every message a platform saw acknowledged is in the archive exactly once, `verify` passes,
//! and search and export agree with the store.
//!
//! K defaults to 10 (CI); `CHATVAULT_CRASH_K=200` runs the long version.

use std::time::{Duration, Instant};

use rand::Rng;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_points_loses_nothing_acknowledged() {
    use sim::{goofish, wecom};
    let k: usize = std::env::var("CHATVAULT_CRASH_K")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let seed: u64 = std::env::var("CHATVAULT_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("crash test: K = {k}, seed = {seed}");
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);

    let n_goofish = 150 * k.max(4);
    let mut opts = goofish::SimOptions::new(goofish::Script::Bulk(n_goofish));
    opts.live_interval = Duration::from_millis(2);
    // Every push must end acknowledged: the server redelivers what a killed or failed client
    // never acked (recovery without it is covered by the connector's own tests).
    opts.server_replays = true;
    let gf = goofish::GoofishSim::start(opts).await.unwrap();
    let RunDir { dir, data, port, cfg } = RunDir::new(&[
        gf.config_section("shop"),
        wecom::config_toml("corp", wecom::DEFAULT_PATH, None),
    ]);
    // WeCom keeps posting throughout (it retries an unanswered callback 3 times, as WeCom does).
    let poster = wecom_poster(port);
    let wc_script = wecom::Script::Bulk(40 * k.max(4)).callbacks(wecom::CORP_ID);
    let poster_task = {
        let poster = poster.clone();
        tokio::spawn(async move {
            for cb in &wc_script {
                poster.deliver(cb).await;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };

    let started = Instant::now();
    for round in 0..k {
        let run = Running::start(&cfg, dir.path());
        let alive = Duration::from_millis(rng.random_range(150..1200));
        tokio::time::sleep(alive).await;
        run.signal("KILL");
        let (status, log) = run.wait(Duration::from_secs(10));
        assert!(
            !status.success(),
            "round {round}: SIGKILL should end the process abnormally; log:\n{log}"
        );
    }
    eprintln!(
        "crash test: {k} kills in {:.1} s; acked so far: goofish {}, wecom {}",
        started.elapsed().as_secs_f64(),
        gf.acked_ids().len(),
        poster.log().iter().filter(|a| a.acked()).count()
    );

    // Last run: let the streams finish, then SIGTERM while WeCom may still be posting.
    let run = Running::start(&cfg, dir.path());
    assert!(
        run.wait_for_log("archiving", Duration::from_secs(30)),
        "run did not start; log:\n{}",
        run.log_text()
    );
    // A push redelivered after a kill and pushed again by the catch-up is acknowledged twice:
    // count distinct messages.
    let distinct_acked = || {
        let mut ids = gf.acked_ids();
        ids.sort();
        ids.dedup();
        ids.len()
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline && (gf.live_remaining() > 0 || distinct_acked() < n_goofish) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stop_at = Instant::now();
    run.signal("TERM");
    let (status, log) = run.wait(Duration::from_secs(30));
    assert!(
        status.success(),
        "SIGTERM under load must drain and exit 0; log:\n{log}"
    );
    eprintln!(
        "crash test: SIGTERM drained in {:.2} s",
        stop_at.elapsed().as_secs_f64()
    );
    poster_task.abort();

    let q = |sql: &str| count(&data, sql);
    // Goofish: every acknowledged push's messages are archived exactly once.
    let mut acked = gf.acked_ids();
    acked.sort();
    acked.dedup();
    assert_eq!(acked.len(), n_goofish, "every bulk message was eventually acknowledged");
    let archived_goofish = q("SELECT count(*) FROM messages WHERE platform='goofish' AND has_message=1");
    assert_eq!(archived_goofish as usize, n_goofish, "no loss and no duplicates");
    let goofish_ids = message_ids(&data, "goofish");
    for id in &acked {
        assert_eq!(goofish_ids.get(id), Some(&1), "goofish {id}");
    }
    // WeCom: every callback answered 200 is archived once.
    let wc_ids = acked_wecom_ids(&poster);
    let wecom_ids = message_ids(&data, "wecom");
    for id in &wc_ids {
        assert_eq!(wecom_ids.get(id), Some(&1), "wecom {id}");
    }
    eprintln!(
        "crash test: goofish {} acked / {} archived; wecom {} acked / {} archived",
        acked.len(),
        archived_goofish,
        wc_ids.len(),
        q("SELECT count(*) FROM messages WHERE platform='wecom'")
    );

    cv_ok(&cfg, &["verify"]);
    // Search agrees with the store (the index was killed too; search catches up first).
    let sr = cv_ok(&cfg, &["search", "合同", "--json", "--limit", "100000"]);
    let hits = sr.lines().count() as i64;
    assert_eq!(
        hits,
        q("SELECT count(*) FROM messages WHERE has_message=1 AND instr(text, '合同') > 0"),
        "search vs store"
    );
    // Export agrees with the store.
    cv_ok(&cfg, &["export"]);
    let manifest = std::fs::read_to_string(data.join("export/_manifest.json")).unwrap();
    let m: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    let rows: i64 = m["files"]
        .as_array()
        .map(|fs| {
            fs.iter()
                .filter(|f| f["path"].as_str().unwrap_or_default().starts_with("messages/"))
                .map(|f| f["rows"].as_i64().unwrap_or(0))
                .sum()
        })
        .unwrap_or(-1);
    assert_eq!(
        rows,
        q("SELECT count(*) FROM messages WHERE has_message=1"),
        "export rows vs store; manifest: {manifest}"
    );
}
