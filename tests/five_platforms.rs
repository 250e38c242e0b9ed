//! `chatvault run` against all five simulators at once, then every read command checked
//! against what the simulators sent and what the archive holds.

use std::time::Duration;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_platforms_archive_search_audit_export_verify() {
    use sim::{eoffice, goofish, wecom, worktool, yunhu};
    let eo = eoffice::EofficeSim::start(eoffice::SimOptions::new(eoffice::Script::DemoDay))
        .await
        .unwrap();
    let gf = goofish::GoofishSim::start(goofish::SimOptions::new(goofish::Script::DemoDay))
        .await
        .unwrap();
    let yh = yunhu::YunhuSim::start(yunhu::Script::DemoDay).await.unwrap();
    let wc_api = wecom::FakeApi::start(0, wecom::SECRET).await.unwrap();
    let wt_api = worktool::FakeApi::start(0).await.unwrap();
    let RunDir { dir, data, port, cfg } = RunDir::new(&[
        eo.config_section("oa"),
        wecom::config_toml("corp", wecom::DEFAULT_PATH, Some(&wc_api.base_url())),
        gf.config_section("shop"),
        worktool::config_toml("robot1", worktool::DEFAULT_PATH, Some(&wt_api.base_url())),
        yh.config_toml("team"),
    ]);
    let run = Running::start(&cfg, dir.path());
    // Wait for the callback server before posting.
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest_like_wait(&base).await;
    assert!(client, "callback server did not come up; log:\n{}", run.log_text());
    let wc = wecom::WecomPoster::sim(&format!("{base}{}", wecom::DEFAULT_PATH));
    let wt = worktool::WorktoolPoster::sim(&format!("{base}{}", worktool::DEFAULT_PATH));
    let wc_script = wecom::Script::DemoDay.callbacks(wecom::CORP_ID);
    let wt_script = worktool::Script::DemoDay.callbacks();
    let wc_acked = wc.run(&wc_script).await;
    let wt_acked = wt.run(&wt_script).await;
    assert_eq!(
        wc_acked,
        wc_script.len(),
        "every WeCom callback answered 200 after commit"
    );
    assert_eq!(wt_acked, wt_script.len(), "every WorkTool callback answered code 0");
    assert!(
        eo.wait_until(Duration::from_secs(60), |s| s.pending_offline() == 0
            && s.live_remaining() == 0)
            .await
    );
    assert!(
        yh.wait_done(Duration::from_secs(60)).await,
        "yunhu script; log:\n{}",
        run.log_text()
    );
    for _ in 0..600 {
        if gf.live_remaining() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    run.signal("TERM");
    let (status, log) = run.wait(Duration::from_secs(30));
    assert!(status.success(), "exit {status:?}; log:\n{log}");

    let q = |sql: &str| count(&data, sql);
    // e-office: acked ⇒ archived once; everything sent archived once.
    for id in eo.acked_ids() {
        assert_eq!(
            q(&format!(
                "SELECT count(*) FROM messages WHERE platform='eoffice' AND msg_id='{id}' AND has_message=1"
            )),
            1,
            "eoffice {id}"
        );
    }
    // Goofish: every push the server saw acknowledged is archived.
    for id in gf.acked_ids() {
        assert!(
            q(&format!(
                "SELECT count(*) FROM events WHERE platform='goofish' AND msg_id='{id}'"
            )) >= 1
                || q(&format!(
                    "SELECT count(*) FROM raw WHERE platform='goofish' AND instr(CAST(bytes AS TEXT), '{id}') > 0"
                )) >= 1,
            "goofish acked {id} is not in the archive"
        );
    }
    // WeCom: every app message (MsgId) answered 200 is archived once.
    let wc_ids = acked_wecom_ids(&wc);
    assert!(!wc_ids.is_empty());
    for id in &wc_ids {
        assert_eq!(
            q(&format!(
                "SELECT count(*) FROM messages WHERE platform='wecom' AND msg_id='{id}'"
            )),
            1,
            "wecom {id}"
        );
    }
    // WorkTool: one archived message per message callback (no ids on the wire).
    let wt_messages = wt_script.iter().filter(|c| c.fields.contains_key("spoken")).count();
    assert_eq!(
        q("SELECT count(*) FROM messages WHERE platform='worktool' AND has_message=1") as usize,
        wt_messages
    );
    // Yunhu: every chat message pushed is archived; edits and a recall are in the history.
    assert!(q("SELECT count(*) FROM messages WHERE platform='yunhu' AND has_message=1") > 0);
    assert!(q("SELECT count(*) FROM events WHERE platform='yunhu' AND kind='edit'") > 0);
    assert!(q("SELECT count(*) FROM events WHERE platform='yunhu' AND kind='stream_append'") > 0);

    // verify
    cv_ok(&cfg, &["verify"]);
    // stats --json agrees with the store.
    let s = cv_ok(&cfg, &["stats", "--json"]);
    let stats: serde_json::Value = serde_json::from_str(&s).unwrap();
    let total = q("SELECT count(*) FROM messages WHERE has_message=1");
    assert!(
        stats.to_string().contains(&format!("\"messages\":{total}")),
        "stats {stats} vs {total}"
    );
    // search --json: exactly the messages that contain the fragment.
    let sr = cv_ok(&cfg, &["search", "农业", "--json", "--limit", "1000"]);
    let hits: Vec<serde_json::Value> = sr.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let expected = q("SELECT count(*) FROM messages WHERE has_message=1 AND instr(text, '农业') > 0");
    assert!(expected > 0);
    assert_eq!(hits.len() as i64, expected, "search 农业 recall");
    for h in &hits {
        assert!(h["text"].as_str().unwrap_or_default().contains("农业"), "{h}");
    }
    // audit --json --withdrawn: every withdrawn message, with its original text.
    let au = cv_ok(&cfg, &["audit", "--withdrawn", "--json"]);
    let lines = au.lines().count() as i64;
    assert_eq!(
        lines,
        q("SELECT count(*) FROM messages WHERE has_message=1 AND (state='withdrawn' OR withdrawn_at IS NOT NULL)")
    );
    // export: files and manifest rows agree with the store.
    cv_ok(&cfg, &["export"]);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("export/_manifest.json")).unwrap()).unwrap();
    assert!(
        manifest
            .to_string()
            .contains(&format!("{}", q("SELECT max(seq) FROM events"))),
        "manifest watermark"
    );
    assert!(
        std::fs::read_dir(data.join("export/messages")).unwrap().count() >= 5,
        "one platform= folder per platform"
    );
}

/// Polls `/healthz` until the server answers.
async fn reqwest_like_wait(base: &str) -> bool {
    let addr = base.trim_start_matches("http://").to_string();
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(&addr).await.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
