//! The reviewer UI in a real browser: `chatvault serve` on an archive holding 农业局 and
//! 中国农业发展银行, an edit, a withdrawal, an attachment and a chat outside the user's scope;
//! `tests/reviewer_ui.py` drives the system Chromium through Playwright (never a downloaded
//! browser); then `chatvault access-log --json` must list every login, search, view, download,
//! denial, audit and status view and logout. Screenshots go to `$CARGO_TARGET_TMPDIR/reviewer-ui/`.
//!
//! Skipped with a message when `/usr/bin/chromium` or Python's `playwright` is missing, unless
//! `CHATVAULT_BROWSER_REQUIRED=1` (CI), where that is a failure. `CHATVAULT_PYTHON` names the
//! Python with Playwright (default `python3`).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{ArchiveDir, json_lines, stderr};

const CHROMIUM: &str = "/usr/bin/chromium";
const PASSWORD: &str = "审阅者的密码-123";

fn python() -> String {
    std::env::var("CHATVAULT_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Why the browser test cannot run here, if it cannot.
fn missing() -> Option<String> {
    if !std::path::Path::new(CHROMIUM).exists() {
        return Some(format!(
            "{CHROMIUM} is missing (apt-get install chromium fonts-noto-cjk)"
        ));
    }
    let ok = Command::new(python())
        .args(["-c", "import playwright.sync_api"])
        .output()
        .is_ok_and(|o| o.status.success());
    (!ok).then(|| format!("`{} -c 'import playwright'` fails (pip install playwright)", python()))
}

/// The reviewer UI's test archive (`testkit::ui`); returns the attachment's sha256.
fn archive(a: &ArchiveDir) -> String {
    let sha = testkit::ui::store_blob(&a.data, testkit::ui::ATTACHMENT);
    let batches = testkit::ui::reviewed_archive();
    a.open_store().append(&batches.iter().collect::<Vec<_>>()).unwrap();
    sha
}

/// `chatvault -c CONFIG ARGS…` with `password` on its stdin (`user add --password-stdin`).
fn with_password(a: &ArchiveDir, args: &[&str], password: &str) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_chatvault"))
        .arg("-c")
        .arg(&a.config)
        .args(args)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(c.stdin.take().unwrap(), "{password}").unwrap();
    c.wait_with_output().unwrap()
}

#[test]
fn a_reviewer_searches_reads_downloads_and_is_logged_in_a_real_browser() {
    if let Some(why) = missing() {
        if std::env::var("CHATVAULT_BROWSER_REQUIRED").as_deref() == Ok("1") {
            panic!("the browser test is required here but {why}");
        }
        eprintln!("SKIPPED reviewer UI browser test: {why}");
        return;
    }
    let a = ArchiveDir::new();
    let sha = archive(&a);
    let o = a.cv(&["reindex"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // An export, for the status page's "last export".
    let o = a.cv(&["export"]);
    assert!(o.status.success(), "{}", stderr(&o));

    let add = [
        "user",
        "add",
        "reviewer",
        "--role",
        "reviewer",
        "--password-stdin",
        "--scope",
        "chat:yunhu/c1",
    ];
    let out = with_password(&a, &add, PASSWORD);
    assert!(out.status.success(), "{}", stderr(&out));

    let port = crate::support::free_port();
    let mut serve = crate::support::KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_chatvault"))
            .arg("-c")
            .arg(&a.config)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("RUST_LOG", "warn")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(serve.stderr.take().unwrap()).lines();
    let started = Instant::now();
    let base = loop {
        let line = lines.next().expect("serve printed its address").unwrap();
        if let Some(url) = line.strip_prefix("reviewer UI on ") {
            break url.trim_end_matches('/').to_string();
        }
        assert!(started.elapsed() < Duration::from_secs(30), "serve did not start");
    };
    std::thread::spawn(move || lines.for_each(|l| eprintln!("serve: {}", l.unwrap_or_default())));

    let shots = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("reviewer-ui");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reviewer_ui.py");
    let run = Command::new(python())
        .args([script, &base, &shots.display().to_string(), "reviewer", PASSWORD, &sha])
        .output()
        .unwrap();
    let _ = serve.kill();
    let _ = serve.wait();
    assert!(
        run.status.success(),
        "browser script failed:\n{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    eprintln!("screenshots in {}", shots.display());

    let log = a.cv(&["access-log", "--json"]);
    assert!(log.status.success(), "{}", stderr(&log));
    let entries = json_lines(&log);
    let has = |action: &str, outcome: &str, target: &dyn Fn(&str) -> bool| {
        entries
            .iter()
            .filter(|e| {
                e["user"] == "reviewer"
                    && e["action"] == action
                    && e["outcome"] == outcome
                    && target(e["target"].as_str().unwrap_or(""))
            })
            .count()
    };
    // Once per viewport.
    assert_eq!(has("login", "ok", &|_| true), 2, "{entries:#?}");
    assert_eq!(has("search", "ok", &|t| t == "农业"), 2);
    // From the search results, then from the audit page.
    assert_eq!(has("view_conversation", "ok", &|t| t == "/chat/yunhu/team/c1"), 4);
    assert_eq!(has("audit", "ok", &|t| t == "/audit"), 4, "all, then withdrawn only");
    assert_eq!(has("status", "ok", &|t| t == "/status"), 2);
    assert_eq!(
        has("download", "ok", &|t| t.starts_with("/attachment/yunhu/team/c1/m5/")),
        2
    );
    assert_eq!(has("view_message", "ok", &|_| true), 4, "details, then verify");
    assert_eq!(has("view_conversation", "denied", &|t| t == "/chat/yunhu/team/c2"), 2);
    assert_eq!(has("logout", "ok", &|_| true), 2);
    // The anonymous first visits and the results page after logout were refused and logged.
    assert!(
        entries
            .iter()
            .filter(|e| e["user"] == "" && e["outcome"] == "denied")
            .count()
            >= 4
    );
    let verify = a.cv(&["verify"]);
    assert!(verify.status.success(), "{}", stderr(&verify));
}

#[test]
fn verify_and_access_log_fail_on_a_changed_access_log_entry() {
    let a = ArchiveDir::new();
    archive(&a);
    {
        let db = store::access::AccessDb::open(&a.data).unwrap();
        for q in ["农业", "合同", "报价"] {
            db.record(
                &store::access::NewAccess {
                    user: "wang",
                    action: "search",
                    target: q,
                    detail: serde_json::json!({}),
                    outcome: store::access::Outcome::Ok,
                },
                testkit::ui::T0,
            )
            .unwrap();
        }
    }
    let ok = a.cv(&["verify"]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("access log: 3 entries"));
    let log = a.cv(&["access-log", "--user", "wang", "--json"]);
    assert!(log.status.success());
    assert_eq!(json_lines(&log).len(), 3);

    // Someone with the file hides what wang searched for.
    let conn = rusqlite::Connection::open(a.data.join("access.db")).unwrap();
    conn.execute_batch("DROP TRIGGER log_no_update; UPDATE log SET target = '天气' WHERE seq = 2;")
        .unwrap();
    drop(conn);
    let bad = a.cv(&["verify"]);
    assert_eq!(bad.status.code(), Some(3), "{}", stderr(&bad));
    assert!(
        stderr(&bad).contains("access log entry 2 does not match"),
        "{}",
        stderr(&bad)
    );
    let bad = a.cv(&["access-log"]);
    assert_eq!(bad.status.code(), Some(3));
}

#[test]
fn users_are_added_listed_and_refused_bad_input() {
    let a = ArchiveDir::new();
    let add = |args: &[&str], password: &str| with_password(&a, args, password);
    let o = add(
        &[
            "user",
            "add",
            "wang",
            "--role",
            "reviewer",
            "--password-stdin",
            "--scope",
            "platform:wecom",
            "--scope",
            "chat:yunhu/群1",
        ],
        PASSWORD,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = add(
        &["user", "add", "wang", "--role", "admin", "--password-stdin"],
        PASSWORD,
    );
    assert_eq!(o.status.code(), Some(2), "a duplicate name");
    let o = add(&["user", "add", "li", "--role", "boss", "--password-stdin"], PASSWORD);
    assert_eq!(o.status.code(), Some(2), "an unknown role");
    let o = add(
        &[
            "user",
            "add",
            "li",
            "--role",
            "admin",
            "--password-stdin",
            "--scope",
            "chat:yunhu",
        ],
        PASSWORD,
    );
    assert_eq!(o.status.code(), Some(2), "a scope without a chat id");
    let o = add(&["user", "add", "li", "--role", "admin", "--password-stdin"], "short");
    assert_eq!(o.status.code(), Some(2), "a short password");
    let o = a.cv(&["user", "disable", "wang"]);
    assert!(o.status.success());
    let list = a.cv(&["user", "list", "--json"]);
    let users = json_lines(&list);
    assert_eq!(users.len(), 1);
    assert_eq!(
        users[0]["scopes"],
        serde_json::json!(["platform:wecom", "chat:yunhu/群1"])
    );
    assert_eq!(users[0]["disabled"], true);
    let stored: String = rusqlite::Connection::open(a.data.join("access.db"))
        .unwrap()
        .query_row("SELECT password_hash FROM users", [], |r| r.get(0))
        .unwrap();
    assert!(stored.starts_with("$argon2id$") && !stored.contains(PASSWORD));
}
