//! The audit and status pages over real HTTP: scopes, the login wall, access-log entries;
//! and that one slow request does not hold up the others.

// Not every helper is used by these tests.
#[allow(dead_code)]
mod support;

use support::Ui;

#[tokio::test]
async fn audit_lists_every_change_with_who_and_when_newest_first() {
    let (_ui, mut c) = Ui::start_as("admin").await;
    let r = c.get_expecting("/audit", 200).await;
    let b = &r.body;
    // Withdrawn: the original text and who withdrew it.
    assert!(b.contains("这条消息说错了：报价八十万"), "{b}");
    assert!(b.contains("撤回者：u1"), "{b}");
    assert!(b.contains("机密撤回：供应商回扣名单") && b.contains("撤回者：boss"));
    // Edited: every revision.
    assert!(b.contains("合同金额是一百万") && b.contains("合同金额是两百万"));
    // Deleted for everyone vs for one user.
    assert!(b.contains("企业微信删除的内容") && b.contains("删除者：hr"));
    assert!(b.contains("对所有人删除") && b.contains("仅对一人删除"));
    assert!(b.contains("只对一人隐藏的内容") && b.contains("u9"));
    // Gaps of both connectors, the open one marked as such.
    assert!(b.contains("yunhu-outage") && b.contains("wecom-outage"));
    assert!(b.contains("起未归档"), "the open wecom gap");
    // Newest first, grouped by day: the wecom gap (day 3), then the deletion (day 2), then
    // the withdrawal (day 0).
    let at = |s: &str| b.find(s).unwrap_or_else(|| panic!("{s} missing"));
    assert!(at("wecom-outage") < at("企业微信删除的内容"));
    assert!(at("企业微信删除的内容") < at("这条消息说错了"));
    assert_eq!(b.matches("<section class=\"day\">").count(), 4, "{b}");
    assert!(b.contains("<h2>2025-10-09</h2>") && b.contains("<h2>2025-10-12</h2>"));
    // Each change links to its conversation and message pages.
    assert!(b.contains("href=\"/chat/yunhu/team/c1?at=m4\""));
    assert!(b.contains("href=\"/message/yunhu/team/c1/m4\""));
    // The navigation leads here, in both languages.
    assert!(b.contains("<a href=\"/audit\">审计</a>"));
    c.lang = "en";
    let r = c.get("/audit").await;
    assert!(r.body.contains("<a href=\"/audit\">Audit</a>") && r.body.contains("Withdrawn by: u1"));
}

#[tokio::test]
async fn a_scoped_reviewer_sees_only_their_chats_changes_and_their_platforms_gaps() {
    let (ui, mut c) = Ui::start_as("reviewer").await; // chat:yunhu/c1
    for path in [
        "/audit",
        "/audit?platform=wecom",
        "/audit?kind=deleted",
        "/audit?kind=withdrawn",
        "/audit?kind=gap",
        "/audit?platform=yunhu&kind=withdrawn&since=2025-10-01&until=2025-12-31",
    ] {
        let r = c.get_expecting(path, 200).await;
        for leak in [
            "机密",
            "供应商回扣",
            "boss",
            "企业微信",
            "只对一人隐藏",
            "wecom-outage",
            "u9",
        ] {
            assert!(!r.body.contains(leak), "{path} showed `{leak}`: {}", r.body);
        }
    }
    let r = c.get("/audit").await;
    assert!(r.body.contains("报价八十万") && r.body.contains("合同金额是两百万"));
    assert!(
        r.body.contains("yunhu-outage"),
        "a chat scope shows its platform's gaps"
    );
    assert!(
        !r.body.contains("<option value=\"wecom\""),
        "the platform filter offers only platforms in scope"
    );

    let mut w = ui.signed_in("wecomer").await; // platform:wecom
    let r = w.get("/audit").await;
    assert!(r.body.contains("企业微信删除的内容") && r.body.contains("wecom-outage"));
    for leak in ["报价八十万", "机密", "合同金额", "yunhu-outage"] {
        assert!(!r.body.contains(leak), "showed `{leak}`");
    }
}

#[tokio::test]
async fn audit_filters_by_kind_platform_and_time_of_the_change() {
    let (ui, mut c) = Ui::start_as("admin").await;
    let r = c.get("/audit?kind=withdrawn").await;
    assert!(r.body.contains("报价八十万") && r.body.contains("供应商回扣"));
    assert!(!r.body.contains("合同金额") && !r.body.contains("企业微信") && !r.body.contains("outage"));
    let r = c.get("/audit?kind=gap&platform=wecom").await;
    assert!(r.body.contains("wecom-outage") && !r.body.contains("yunhu-outage"));
    assert!(r.body.contains("<strong>1</strong>"));
    // The deletion happened on 10-11 (Shanghai) although the message was sent on 10-10.
    let r = c.get("/audit?kind=deleted&since=2025-10-11&until=2025-10-11").await;
    assert!(r.body.contains("企业微信删除的内容"), "{}", r.body);
    assert!(!r.body.contains("只对一人隐藏"), "that one was hidden on 10-10");
    c.get_expecting("/audit?kind=everything", 400).await;
    c.get_expecting("/audit?since=yesterday-ish", 400).await;
    let log = ui.log("admin");
    let audits: Vec<_> = log.iter().filter(|e| e.action == "audit").collect();
    assert_eq!(audits.len(), 5, "{audits:?}");
    assert_eq!(audits[2].detail["kind"], "deleted");
    assert_eq!(audits[2].detail["since"], "2025-10-11");
    assert_eq!(audits[2].detail["total"], 1);
    assert_eq!(audits[3].outcome, "denied");
}

#[tokio::test]
async fn anonymous_audit_and_status_requests_get_the_login_page_and_no_data() {
    let ui = Ui::start().await;
    let mut c = ui.client();
    for path in ["/audit", "/audit?kind=withdrawn", "/status"] {
        let r = c.get(path).await;
        assert_eq!((r.status, r.location.as_deref()), (303, Some("/login")), "{path}");
        assert!(!r.body.contains("报价") && !r.body.contains("outage") && !r.body.contains("seq"));
    }
    let denied = ui.log("");
    assert_eq!(denied.len(), 3);
    assert!(denied.iter().all(|e| e.action == "anonymous" && e.outcome == "denied"));
}

#[tokio::test]
async fn every_audit_view_is_on_the_access_log_with_its_filters() {
    let (ui, mut c) = Ui::start_as("reviewer").await;
    c.get("/audit?platform=yunhu&kind=edited&page=1").await;
    let log = ui.log("reviewer");
    let e = log.iter().find(|e| e.action == "audit").expect("an audit entry");
    assert_eq!(e.outcome, "ok");
    assert_eq!(e.target, "/audit");
    assert_eq!(e.detail["platform"], "yunhu");
    assert_eq!(e.detail["kind"], "edited");
    assert_eq!(e.detail["total"], 1);
    assert!(ui.access().verify_log().unwrap().problem.is_none());
}

#[tokio::test]
async fn status_shows_connectors_chain_head_and_last_export_within_scope() {
    let ui = Ui::start().await;
    let head = store::StoreReader::open(ui.dir.path()).unwrap().head().unwrap();
    let exported = store::anchors::Anchor {
        seq: 9,
        hash: "ab".repeat(32),
    };
    store::anchors::record(ui.dir.path(), &exported, "export").unwrap();
    store::anchors::record(
        ui.dir.path(),
        &store::anchors::Anchor {
            seq: 10,
            ..exported.clone()
        },
        "anchor",
    )
    .unwrap();

    let mut admin = ui.signed_in("admin").await;
    let r = admin.get_expecting("/status", 200).await;
    let b = &r.body;
    assert!(b.contains("<a href=\"/status\">状态</a>"), "navigation");
    assert!(
        b.contains(">yunhu</span> team") && b.contains(">wecom</span> corp"),
        "{b}"
    );
    assert!(b.contains("<span class=\"bad\">disconnected</span>"), "wecom is down");
    assert!(b.contains("<span class=\"ok\">connected</span>"), "yunhu is back");
    assert!(
        b.contains("<a class=\"bad\" href=\"/audit?kind=gap&amp;platform=wecom\">1</a>"),
        "one open gap, linked to the audit page: {b}"
    );
    assert!(
        b.contains(&format!("seq {} <code>{}</code>", head.seq, head.hash)),
        "chain head"
    );
    assert!(
        b.contains(&format!("seq 9 <code>{}</code>", exported.hash)),
        "the export's anchor, not the later one"
    );
    assert!(b.contains(&format!("{} 个事件尚未导出", head.seq - 9)));
    assert!(b.contains("全部归档（仅管理员）") && b.contains("份原始数据"));

    let mut c = ui.signed_in("reviewer").await; // chat:yunhu/c1
    let r = c.get_expecting("/status", 200).await;
    let b = &r.body;
    assert!(b.contains(">yunhu</span> team"));
    assert!(
        !b.contains("corp") && !b.contains("disconnected"),
        "another platform's connector: {b}"
    );
    assert!(b.contains(&head.hash), "the chain head is for everyone");
    assert!(
        b.contains("<td>yunhu</td><td>5</td><td>1</td>"),
        "c1's five messages only: {b}"
    );
    assert!(
        !b.contains("仅管理员") && !b.contains("原始数据"),
        "archive-wide counts are for admins"
    );

    let mut w = ui.signed_in("wecomer").await; // platform:wecom
    let r = w.get("/status").await;
    assert!(r.body.contains(">wecom</span> corp") && !r.body.contains(">yunhu</span> team"));
    assert!(r.body.contains("<td>wecom</td><td>2</td><td>1</td>"), "{}", r.body);

    for user in ["admin", "reviewer", "wecomer"] {
        let log = ui.log(user);
        let e = log.iter().find(|e| e.action == "status").expect("a status entry");
        assert_eq!((e.outcome.as_str(), e.target.as_str()), ("ok", "/status"));
        assert_eq!(e.detail["archive_counts"], user == "admin");
    }
}

#[tokio::test]
async fn a_request_held_in_its_handler_does_not_hold_up_the_next() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Mutex, mpsc};
    use std::time::{Duration, Instant};

    let dir = support::data_dir();
    let state = chatvault_ui::AppState::new(support::options(dir.path())).unwrap();
    // The first request's work waits (like a slow query) until the test lets it go.
    let (entered_tx, entered_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (entered_tx, release_rx, first) = (Mutex::new(entered_tx), Mutex::new(release_rx), AtomicBool::new(true));
    state.set_work_hook(move || {
        if first.swap(false, Ordering::SeqCst) {
            let _ = entered_tx.lock().unwrap().send(());
            let _ = release_rx.lock().unwrap().recv_timeout(Duration::from_secs(20));
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, chatvault_ui::router(state)).await });

    let http = reqwest::Client::new();
    let held = tokio::spawn({
        let http = http.clone();
        async move { http.get(format!("http://{addr}/login")).send().await.unwrap().status() }
    });
    tokio::task::spawn_blocking(move || entered_rx.recv_timeout(Duration::from_secs(20)))
        .await
        .unwrap()
        .expect("the first request reached its handler");
    let started = Instant::now();
    let r = http.get(format!("http://{addr}/login")).send().await.unwrap();
    let waited = started.elapsed();
    assert_eq!(r.status(), 200);
    assert!(!held.is_finished(), "the first request is still held");
    assert!(waited < Duration::from_secs(5), "the second request waited {waited:?}");
    release_tx.send(()).unwrap();
    assert_eq!(held.await.unwrap(), 200);
}
