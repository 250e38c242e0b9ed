//! The reviewer UI over real HTTP: sessions, CSRF, scopes, the access log, the pages.

mod support;

use std::time::Duration;

use support::{PASSWORD, Ui};
use testkit::ui::ATTACHMENT;

/// `user`'s access-log entries as (action, outcome, target).
fn actions(ui: &Ui, user: &str) -> Vec<(String, String, String)> {
    ui.log(user)
        .into_iter()
        .map(|e| (e.action, e.outcome, e.target))
        .collect()
}

#[tokio::test]
async fn anonymous_requests_get_the_login_page_and_no_message_text() {
    let ui = Ui::start().await;
    let mut c = ui.client();
    let r = c.get("/").await;
    assert_eq!((r.status, r.location.as_deref()), (303, Some("/login")));
    let r = c.get_expecting("/search?q=%E5%86%9C%E4%B8%9A", 303).await;
    assert!(!r.body.contains("农业局"));
    c.get_expecting("/chat/yunhu/team/c1", 303).await;
    let r = c.get_expecting("/attachment/yunhu/team/c1/m5/0", 401).await;
    assert!(!r.bytes.windows(ATTACHMENT.len()).any(|w| w == ATTACHMENT));
    let denied = actions(&ui, "");
    assert_eq!(denied.len(), 4, "{denied:?}");
    assert!(denied.iter().all(|(a, o, _)| a == "anonymous" && o == "denied"));
    let login = c.get_expecting("/login", 200).await;
    assert!(
        login
            .body
            .contains("<form class=\"login\" method=\"post\" action=\"/login\"")
    );
    assert!(login.body.contains("用户名"), "Chinese by default");
}

#[tokio::test]
async fn login_sets_a_strict_httponly_secure_cookie_and_needs_the_csrf_field() {
    let ui = Ui::start().await;
    let mut c = ui.client();
    c.get("/login").await;
    c.post_expecting(
        "/login",
        &[("user", "admin"), ("password", PASSWORD), ("csrf", "forged")],
        403,
    )
    .await;
    assert!(c.cookie("cv_session").is_none());
    // No login cookie at all (a cross-site POST): refused too.
    let mut other = ui.client();
    other
        .post_expecting(
            "/login",
            &[("user", "admin"), ("password", PASSWORD), ("csrf", "")],
            403,
        )
        .await;

    let r = c.login("admin", PASSWORD).await;
    assert_eq!((r.status, r.location.as_deref()), (303, Some("/")));
    let set = r.set_cookies.iter().find(|c| c.starts_with("cv_session=")).unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(set.contains(attr), "{set} lacks {attr}");
    }
    assert_eq!(c.get("/").await.status, 200);
    let log = actions(&ui, "admin");
    // Both forged posts were refused and logged, then the real login.
    assert_eq!(log[0], ("login".into(), "denied".into(), "admin".into()));
    assert_eq!(log[1], ("login".into(), "denied".into(), "admin".into()));
    assert_eq!(log[2], ("login".into(), "ok".into(), "admin".into()));
}

#[tokio::test]
async fn wrong_passwords_are_throttled_then_even_the_right_one_is_refused() {
    let ui = Ui::start().await;
    let mut c = ui.client();
    assert_eq!(c.login("admin", "nope").await.status, 401);
    for _ in 0..4 {
        assert_eq!(c.login("admin", "nope").await.status, 401);
    }
    let r = c.login("admin", PASSWORD).await;
    assert_eq!(r.status, 429);
    assert!(c.cookie("cv_session").is_none());
    // Another name is not affected.
    assert_eq!(c.login("reviewer", PASSWORD).await.status, 303);
}

#[tokio::test]
async fn search_highlights_both_hits_and_stays_in_scope() {
    let (ui, mut c) = Ui::start_as("reviewer").await;
    let r = c.get_expecting("/search?q=%E5%86%9C%E4%B8%9A", 200).await;
    assert!(r.body.contains("<mark>农业</mark>局"), "{}", r.body);
    assert!(r.body.contains("中国<mark>农业</mark>发展银行"));
    assert!(!r.body.contains("机密"), "a chat outside the scope leaked into results");
    assert!(r.body.contains("<strong>2</strong>"), "count of the scoped results");

    // Naming the other chat as a filter gives nothing either.
    let r = c.get("/search?q=%E5%86%9C%E4%B8%9A&chat=c2").await;
    assert!(!r.body.contains("机密："));
    assert!(r.body.contains("<strong>0</strong>"));

    let mut admin = ui.signed_in("admin").await;
    let r = admin.get("/search?q=%E5%86%9C%E4%B8%9A").await;
    assert!(
        r.body.contains("<mark>农业</mark>机密"),
        "an unscoped admin sees every chat"
    );
    assert!(r.body.contains("<strong>3</strong>"));

    // Filters: state and platform.
    let r = admin.get("/search?q=&state=withdrawn").await;
    assert!(r.body.contains("报价八十万") && !r.body.contains("农业局"));
    let r = admin.get("/search?q=%E5%86%9C%E4%B8%9A&platform=wecom").await;
    assert!(r.body.contains("<strong>0</strong>"));

    let log = actions(&ui, "reviewer");
    let searches: Vec<_> = log.iter().filter(|(a, _, _)| a == "search").collect();
    assert_eq!(searches.len(), 2);
    assert_eq!(searches[0].2, "农业");
}

#[tokio::test]
async fn guessing_another_chat_message_or_attachment_is_denied_and_logged() {
    let (ui, mut c) = Ui::start_as("reviewer").await;
    for path in [
        "/chat/yunhu/team/c2",
        "/message/yunhu/team/c2/s1",
        "/attachment/yunhu/team/c2/s2/0",
        "/chat/wecom/team/c1",
    ] {
        let r = c.get_expecting(path, 403).await;
        assert!(!r.body.contains("机密"), "{path} showed data");
        assert!(!r.bytes.windows(ATTACHMENT.len()).any(|w| w == ATTACHMENT));
    }
    let denials: Vec<_> = actions(&ui, "reviewer")
        .into_iter()
        .filter(|(_, o, _)| o == "denied")
        .collect();
    assert_eq!(denials.len(), 4, "{denials:?}");
    assert_eq!(denials[0].0, "view_conversation");
    assert_eq!(denials[2].0, "download");
    // The reviewer cannot read the access log either; the admin can.
    assert_eq!(c.get("/access-log").await.status, 403);
    let mut admin = ui.signed_in("admin").await;
    let r = admin.get_expecting("/access-log", 200).await;
    assert!(r.body.contains("view_conversation"));
}

#[tokio::test]
async fn the_conversation_shows_withdrawn_originals_revisions_and_downloads() {
    let (ui, mut c) = Ui::start_as("reviewer").await;
    let r = c.get_expecting("/chat/yunhu/team/c1?at=m3", 200).await;
    assert!(r.body.contains("农业项目群"));
    assert!(r.body.contains("这条消息说错了：报价八十万"), "withdrawn original text");
    assert!(r.body.contains("已撤回"));
    assert!(
        r.body.contains("合同金额是一百万") && r.body.contains("合同金额是两百万"),
        "both revisions"
    );
    assert!(r.body.contains("已编辑"));
    assert!(r.body.contains("href=\"/attachment/yunhu/team/c1/m5/0\""));
    let d = c.get_expecting("/attachment/yunhu/team/c1/m5/0", 200).await;
    assert_eq!(d.bytes, ATTACHMENT);
    let log = actions(&ui, "reviewer");
    assert!(
        log.iter()
            .any(|(a, o, t)| a == "view_conversation" && o == "ok" && t == "/chat/yunhu/team/c1")
    );
    assert!(log.iter().any(|(a, o, _)| a == "download" && o == "ok"));
    // An index past the attachments, or a message without any: 404.
    assert_eq!(c.get("/attachment/yunhu/team/c1/m5/1").await.status, 404);
    assert_eq!(c.get("/attachment/yunhu/team/c1/m1/0").await.status, 404);
}

#[tokio::test]
async fn message_detail_verifies_its_events_and_notices_a_tamper() {
    let (ui, mut c) = Ui::start_as("admin").await;
    let r = c.get_expecting("/message/yunhu/team/c1/m3?verify=1", 200).await;
    assert!(r.body.contains("哈希链校验通过"), "{}", r.body);
    assert_eq!(r.body.matches('✓').count(), 2, "the message and its edit");
    {
        let conn = rusqlite::Connection::open(ui.dir.path().join("chatvault.db")).unwrap();
        // seq 4 is m3's edit.
        assert_eq!(
            testkit::tamper::tamper_payload(&conn, 4, |s| s.replace("两百万", "三百万")),
            1
        );
    }
    let r = c.get("/message/yunhu/team/c1/m3?verify=1").await;
    assert!(r.body.contains("哈希链校验失败"));
    assert_eq!(r.body.matches('✗').count(), 1);
}

#[tokio::test]
async fn a_tampered_cookie_is_no_session() {
    let (_ui, mut c) = Ui::start_as("reviewer").await;
    let good = c.cookie("cv_session").unwrap();
    let mut bad = good.clone().into_bytes();
    bad[0] = if bad[0] == b'a' { b'b' } else { b'a' };
    c.set_cookie("cv_session", &String::from_utf8(bad).unwrap());
    assert_eq!(c.get("/search?q=x").await.status, 303);
    c.set_cookie("cv_session", "'; DROP TABLE users; --");
    assert_eq!(c.get("/").await.status, 303);
}

#[tokio::test]
async fn a_disabled_users_old_session_stops_at_the_next_request() {
    let (ui, mut c) = Ui::start_as("gone").await;
    assert_eq!(c.get("/").await.status, 200);
    ui.access().set_disabled("gone", true).unwrap();
    assert_eq!(c.get("/").await.status, 303);
    assert_eq!(c.login("gone", PASSWORD).await.status, 401);
    assert!(
        actions(&ui, "gone")
            .iter()
            .any(|(a, o, _)| a == "login" && o == "denied")
    );
}

#[tokio::test]
async fn an_idle_session_ends() {
    let ui = Ui::start_with(Duration::from_millis(400)).await;
    let mut c = ui.signed_in("admin").await;
    assert_eq!(c.get("/").await.status, 200);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(c.get("/").await.status, 303);
}

#[tokio::test]
async fn logout_needs_the_sessions_csrf_token() {
    let (_ui, mut c) = Ui::start_as("admin").await;
    c.post_expecting("/logout", &[("csrf", "0".repeat(64).as_str())], 403)
        .await;
    assert_eq!(c.get("/").await.status, 200, "a forged logout ended nothing");
    let csrf = c.session_csrf().await;
    let r = c.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!((r.status, r.location.as_deref()), (303, Some("/login")));
    assert_eq!(c.get("/").await.status, 303);
    // GET on a state-changing route is not accepted.
    assert_eq!(c.get("/logout").await.status, 405);
}

#[tokio::test]
async fn bad_requests_get_clear_pages() {
    let (ui, mut c) = Ui::start_as("admin").await;
    let r = c.get_expecting("/no/such/page", 404).await;
    assert!(r.body.contains("页面不存在"));
    let long = "农".repeat(300);
    let r = c.get_expecting(&format!("/search?q={long}"), 400).await;
    assert!(r.body.contains("查询过长"));
    c.get_expecting("/search?q=%22unclosed", 400).await;
    c.get_expecting("/search?q=x&platform=nowhere", 400).await;
    c.get_expecting("/chat/nowhere/a/b", 404).await;
    let log = actions(&ui, "admin");
    assert!(log.iter().any(|(a, o, _)| a == "not_found" && o == "denied"));
    assert!(log.iter().any(|(a, o, _)| a == "search" && o == "denied"));
    let big = "x".repeat(64 * 1024);
    c.post_expecting("/login", &[("user", big.as_str())], 413).await;
}

#[tokio::test]
async fn english_when_the_browser_prefers_it() {
    let ui = Ui::start().await;
    let mut c = ui.client();
    c.lang = "en-US,en;q=0.9,zh;q=0.5";
    let r = c.get("/login").await;
    assert!(r.body.contains("User name") && !r.body.contains("用户名"));
    c.login("admin", PASSWORD).await;
    let r = c.get("/search?q=%E5%86%9C%E4%B8%9A").await;
    assert!(r.body.contains(" results"));
}

#[tokio::test]
async fn the_access_log_chain_verifies_after_a_session() {
    let (ui, mut c) = Ui::start_as("reviewer").await;
    c.get("/search?q=%E5%86%9C%E4%B8%9A").await;
    c.get("/chat/yunhu/team/c2").await;
    let report = ui.access().verify_log().unwrap();
    assert!(report.problem.is_none());
    assert!(report.entries >= 3);
}
