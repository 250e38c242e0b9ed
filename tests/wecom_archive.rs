//! 会话存档 end to end: the `chatvault` binary, its finance worker and the stand-in SDK serving
//! the scripted world (`sim::wecom_archive`). Every scripted message is archived once with its
//! media, the recall shows in `audit --withdrawn` with its original text, a restart resumes
//! after the committed seq, the item under an unconfigured key version waits in `rejects`
//! until `rejects retry` archives it (with its first receive time), a crashed, killed or hung
//! worker is replaced while another connector keeps archiving, and group and people names
//! come from the world's names API without ever holding archiving back.

use std::path::Path;
use std::time::{Duration, Instant};

use finance::standin::Fault;
use serde_json::json;
use sha2::{Digest, Sha256};
use sim::wecom_archive::{self as wa, Installed};

use crate::support::*;

const PLATFORM: &str = "wecom_archive";

fn t0() -> i64 {
    proto::time::now_ms() - 3 * 3_600_000
}

/// Scripted items that are messages decryptable with keys 1 and 2.
fn expected_ids(inst: &Installed, with_v3: bool) -> Vec<String> {
    let mut ids: Vec<String> = inst
        .items
        .iter()
        .filter(|i| i.is_message() && (with_v3 || i.version != 3))
        .map(|i| i.message["msgid"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn archived_ids(data: &Path) -> Vec<String> {
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(data.join("chatvault.db"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return vec![];
    };
    // The archive may not have its tables yet while `run` starts.
    let Ok(mut st) = conn.prepare("SELECT DISTINCT msg_id FROM messages WHERE platform = ?1 AND has_message = 1")
    else {
        return vec![];
    };
    let mut ids: Vec<String> = st
        .query_map([PLATFORM], |r| r.get(0))
        .map(|rows| rows.filter_map(Result::ok).collect())
        .unwrap_or_default();
    ids.sort();
    ids
}

fn wait_until(what: &str, timeout: Duration, log: &Running, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < timeout,
            "timed out waiting for {what}; log:\n{}",
            log.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn worker_pid(run: &Running) -> Option<u32> {
    let out = std::process::Command::new("pgrep")
        .args(["-P", &run.child.id().to_string()])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).lines().next()?.trim().parse().ok()
}

fn extra_message(i: u64) -> serde_json::Value {
    json!({"msgid": format!("later{i}"), "action": "send", "from": "lisi", "tolist": ["zhangsan"], "roomid": "",
           "msgtime": proto::time::now_ms() - 1000, "msgtype": "text", "text": {"content": format!("追加的第{i}条消息")}})
}

#[test]
fn scripted_day_is_archived_once_with_recall_media_resume_and_retry() {
    let tmp = tempfile::tempdir().unwrap();
    let mut inst = wa::install(&tmp.path().join("sdk"), t0(), &[]).unwrap();
    let section = |inst: &Installed, versions: &[u32]| {
        wa::config_toml("audit", inst, versions, "poll_interval = \"200ms\"\ntimeout = \"2s\"")
    };
    let RunDir { dir, data, cfg, .. } = RunDir::new(&[section(&inst, &[1, 2])]);

    let ok = cv_ok(&cfg, &["check-config"]);
    assert!(ok.contains("audit (wecom_archive): Finance SDK"), "{ok}");

    let run = Running::start(&cfg, dir.path());
    wait_archived("the scripted day", Duration::from_secs(60), &run, &data, &inst);
    wait_until("the reject", Duration::from_secs(10), &run, || {
        count(&data, "SELECT count(*) FROM rejects WHERE platform = 'wecom_archive'") == 1
    });
    // Every message once, in the right chats.
    assert!(message_ids(&data, PLATFORM).values().all(|n| *n == 1));
    assert_eq!(
        count(
            &data,
            "SELECT count(DISTINCT chat_id) FROM messages WHERE platform = 'wecom_archive' AND chat_id = 'lisi|zhangsan'"
        ),
        1
    );
    assert_eq!(
        count(
            &data,
            &format!(
                "SELECT count(*) FROM messages WHERE platform = 'wecom_archive' AND chat_id = '{}' AND chat_type = 'group'",
                wa::INTERNAL_GROUP
            )
        ),
        inst.items
            .iter()
            .filter(|i| i.message["roomid"] == wa::INTERNAL_GROUP)
            .count() as i64
    );

    // The unknown-version item is kept byte for byte; the retry refuses while `run` writes.
    let kept: Vec<u8> = rusqlite::Connection::open(data.join("chatvault.db"))
        .unwrap()
        .query_row("SELECT bytes FROM rejects WHERE platform = 'wecom_archive'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let kept: serde_json::Value = serde_json::from_slice(&kept).unwrap();
    assert_eq!(kept["publickey_ver"], 3);
    assert!(kept["encrypt_chat_msg"].is_string());
    let busy = cv(&cfg, &["rejects", "retry", "--platform", "wecom_archive"]);
    assert!(!busy.status.success());
    assert_stderr_has(&busy, "another chatvault process");

    // The recall: withdrawn, original text kept.
    let audit = cv_ok(&cfg, &["audit", "--withdrawn", "--platform", "wecom_archive"]);
    assert!(audit.contains(wa::RECALLED_TEXT), "{audit}");

    // Media: the bytes in the blob store equal the SDK's; a file the SDK cannot serve is
    // recorded on its message.
    let blobs = ingest::blobs::BlobStore::new(data.join("blobs"), u64::MAX);
    for m in &inst.media {
        let sha = hex::encode(Sha256::digest(&m.bytes));
        assert_eq!(blobs.get(&sha).unwrap(), m.bytes, "media {}", m.id);
    }
    assert!(
        count(&data, "SELECT count(*) FROM events WHERE kind = 'other'") >= 2,
        "switch and media_unavailable events"
    );

    // Restart: resumes after the committed seq, no duplicates, new items archived.
    run.signal("TERM");
    let (st, log) = run.wait(Duration::from_secs(20));
    assert!(st.success(), "{log}");
    let events_before = count(&data, "SELECT count(*) FROM events WHERE kind = 'message'");
    wa::append(&mut inst, &[extra_message(1), extra_message(2)], &[]).unwrap();
    let run = Running::start(&cfg, dir.path());
    wait_archived("the appended messages", Duration::from_secs(30), &run, &data, &inst);
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(
        count(&data, "SELECT count(*) FROM events WHERE kind = 'message'"),
        events_before + 2,
        "a restart re-archived something"
    );
    assert_eq!(
        count(&data, "SELECT count(*) FROM rejects WHERE platform = 'wecom_archive'"),
        1,
        "the cursor had passed the unknown-key item"
    );
    run.signal("TERM");
    run.wait(Duration::from_secs(20));

    // The key of version 3 is configured: the retry archives the kept item, once.
    write_config(dir.path(), &data, free_port(), &[section(&inst, &[1, 2, 3])]);
    let retry = cv_ok(&cfg, &["rejects", "retry", "--platform", "wecom_archive"]);
    assert!(retry.contains("1 decrypted (1 new events"), "{retry}");
    assert_eq!(archived_ids(&data), expected_ids(&inst, true));
    // The retried item keeps the time it was first received, not the retry's.
    let first_received = count(
        &data,
        "SELECT received_at FROM rejects WHERE platform = 'wecom_archive'",
    );
    let v3 = format!("v3msg_{}", inst.items[0].message["msgtime"].as_i64().unwrap() / 1000);
    assert_eq!(
        count(
            &data,
            &format!("SELECT received_at FROM messages WHERE platform = 'wecom_archive' AND msg_id = '{v3}'")
        ),
        first_received,
        "the retried message carries the retry's time"
    );
    assert_eq!(
        count(
            &data,
            &format!("SELECT max(received_at) FROM events WHERE platform = 'wecom_archive' AND msg_id = '{v3}'")
        ),
        first_received
    );
    let again = cv(&cfg, &["rejects", "retry", "--platform", "wecom_archive"]);
    assert_stdout_has(&again, "0 new events, 1 already archived");
    let search = cv(&cfg, &["search", "第三版密钥"]);
    assert!(
        stdout(&search).contains(wa::V3_TEXT) || !search.status.success(),
        "{}",
        stdout(&search)
    );
    cv_ok(&cfg, &["verify"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashed_killed_and_hung_workers_are_replaced_while_wecom_keeps_archiving() {
    use sim::wecom;
    let tmp = tempfile::tempdir().unwrap();
    let sdk = tmp.path().join("sdk");
    let mut inst = wa::install(&sdk, t0(), &[(Fault::ChatAbort, sdk.join("abort.done"))]).unwrap();
    let RunDir { dir, data, port, cfg } = RunDir::new(&[
        wa::config_toml("audit", &inst, &[1, 2], "poll_interval = \"200ms\"\ntimeout = \"2s\""),
        wecom::config_toml("corp", wecom::DEFAULT_PATH, None),
    ]);
    let run = Running::start(&cfg, dir.path());
    // The first GetChatData aborts inside the SDK: the worker is replaced, nothing is lost.
    let run = archived(
        "the scripted day after an abort",
        Duration::from_secs(60),
        run,
        &data,
        &inst,
    )
    .await;
    assert!(sdk.join("abort.done").exists());

    // kill -9 of the worker: replaced; what arrives next is archived.
    let first = worker_pid(&run).expect("a finance worker runs under chatvault run");
    std::process::Command::new("kill")
        .args(["-9", &first.to_string()])
        .status()
        .unwrap();
    wa::append(&mut inst, &[extra_message(1), extra_message(2)], &[]).unwrap();
    let run = archived("messages after kill -9", Duration::from_secs(30), run, &data, &inst).await;
    let before_hang = expected_ids(&inst, false).len();
    assert_ne!(worker_pid(&run), Some(first));

    // A hang inside GetChatData: for twice the 2 s timeout nothing comes from 会话存档, while
    // WeCom callbacks are archived all along.
    let marker = sdk.join("hang.done");
    wa::append(&mut inst, &[extra_message(3)], &[(Fault::ChatHang, marker.clone())]).unwrap();
    let started = Instant::now();
    while !marker.exists() {
        assert!(started.elapsed() < Duration::from_secs(10), "the hang never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let poster = wecom_poster(port);
    for cb in &wecom::Script::Bulk(5).callbacks(wecom::CORP_ID) {
        poster.deliver(cb).await;
    }
    let wecom_during_hang = message_ids(&data, "wecom").len();
    let archive_during_hang = archived_ids(&data).len();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "posting took too long to be inside the hang"
    );
    assert_eq!(wecom_during_hang, acked_wecom_ids(&poster).len());
    assert!(
        wecom_during_hang >= 5,
        "wecom archived {wecom_during_hang} during the hang"
    );
    assert!(!archived_ids(&data).contains(&"later3".to_string()) || archive_during_hang == before_hang + 1);
    let run = archived("the message after the hang", Duration::from_secs(30), run, &data, &inst).await;
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "the hung worker was not waited for"
    );

    // The outages are recorded as connector states: `audit --gaps` shows them.
    let gaps = cv_ok(&cfg, &["audit", "--gaps", "--platform", "wecom_archive"]);
    assert!(gaps.contains("finance worker lost"), "{gaps}");
    assert!(message_ids(&data, PLATFORM).values().all(|n| *n == 1));
    run.signal("TERM");
    let (st, log) = run.wait(Duration::from_secs(20));
    assert!(st.success(), "{log}");
    cv_ok(&cfg, &["verify"]);
}

#[test]
fn check_config_names_a_bad_sdk_path_and_a_bad_key() {
    let tmp = tempfile::tempdir().unwrap();
    let inst = wa::install(&tmp.path().join("sdk"), t0(), &[]).unwrap();
    let not_a_library = tmp.path().join("notes.txt");
    std::fs::write(&not_a_library, "not a shared object").unwrap();
    let mut bad = inst.clone();
    bad.sdk_path = not_a_library;
    let RunDir { dir: _keep, cfg, .. } = RunDir::new(&[wa::config_toml("audit", &bad, &[1], "")]);
    let out = cv(&cfg, &["check-config"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_stderr_has(&out, "wecom_archive[0].sdk_path");

    let mut bad_key = inst.clone();
    std::fs::write(
        tmp.path().join("broken.pem"),
        "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
    )
    .unwrap();
    bad_key.key_files[0] = tmp.path().join("broken.pem");
    let RunDir { dir: _keep2, cfg, .. } = RunDir::new(&[wa::config_toml("audit", &bad_key, &[1], "")]);
    let out = cv(&cfg, &["check-config"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_stderr_has(&out, "wecom_archive[0].private_keys[0].pem");
}

fn group_message(i: u64) -> serde_json::Value {
    json!({"msgid": format!("named{i}"), "action": "send", "from": "lisi", "tolist": ["zhangsan", "wangwu"],
           "roomid": wa::INTERNAL_GROUP, "msgtime": proto::time::now_ms() - 1000, "msgtype": "text",
           "text": {"content": format!("群里的第{i}条追加消息")}})
}

fn name_of(data: &Path, msg_id: &str) -> (Option<String>, Option<String>) {
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(data.join("chatvault.db"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return (None, None);
    };
    conn.query_row(
        "SELECT chat_name, sender_name FROM messages WHERE platform = 'wecom_archive' AND msg_id = ?1",
        [msg_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap_or((None, None))
}

/// Runs `f` on a blocking thread, so the simulators of this runtime keep answering.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

/// Waits until the archive in `data` holds exactly the 会话存档 ids `inst` has scripted so far
/// (the version-3 message aside).
fn wait_archived(what: &str, timeout: Duration, run: &Running, data: &Path, inst: &Installed) {
    let want = expected_ids(inst, false);
    wait_until(what, timeout, run, || archived_ids(data) == want);
}

/// [`wait_archived`] on a blocking thread, so the simulators of this runtime keep answering;
/// hands `run` back.
async fn archived(what: &'static str, timeout: Duration, run: Running, data: &Path, inst: &Installed) -> Running {
    let want = expected_ids(inst, false);
    let data = data.to_path_buf();
    blocking(move || {
        wait_until(what, timeout, &run, || archived_ids(&data) == want);
        run
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archived_group_message_shows_the_group_and_sender_names() {
    let names = wa::NamesApi::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let inst = wa::install(&tmp.path().join("sdk"), t0(), &[]).unwrap();
    let extra = format!("poll_interval = \"200ms\"\ntimeout = \"2s\"\n{}", names.config_lines());
    let RunDir { dir, data, cfg, .. } = RunDir::new(&[wa::config_toml("audit", &inst, &[1, 2], &extra)]);
    let run = Running::start(&cfg, dir.path());
    let run = archived("the scripted day", Duration::from_secs(60), run, &data, &inst).await;
    run.signal("TERM");
    let (st, log) = blocking(move || run.wait(Duration::from_secs(20))).await;
    assert!(st.success(), "{log}");

    let first = inst
        .items
        .iter()
        .find(|i| i.message["roomid"] == wa::INTERNAL_GROUP && i.message["msgtype"] == "text")
        .unwrap();
    let msgid = first.message["msgid"].as_str().unwrap();
    let sender = first.message["from"].as_str().unwrap();
    let sender_name = wa::EMPLOYEES.iter().find(|(u, _)| *u == sender).unwrap().1;
    let text = cv_ok(&cfg, &["show", PLATFORM, wa::INTERNAL_GROUP, msgid]);
    assert!(text.contains(&format!("「{}」", wa::INTERNAL_GROUP_NAME)), "{text}");
    assert!(text.contains(&format!("{sender_name} ({sender})")), "{text}");
    // The customer group and the customer by their names too.
    let customer = inst
        .items
        .iter()
        .find(|i| i.message["roomid"] == wa::CUSTOMER_GROUP && i.message["from"] == wa::CUSTOMER)
        .unwrap();
    assert_eq!(
        name_of(&data, customer.message["msgid"].as_str().unwrap()),
        (
            Some(wa::CUSTOMER_GROUP_NAME.to_string()),
            Some(wa::CUSTOMER_NAME.to_string())
        )
    );
    // The recall in `audit` names the people of its direct chat.
    let audit = cv(&cfg, &["audit", "--withdrawn", "--platform", PLATFORM]);
    assert_stdout_has(&audit, &format!("「{}、张三」", wa::CUSTOMER_NAME));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_item_is_archived_while_the_names_api_fails_and_names_fill_in_later() {
    let names = wa::NamesApi::start().await.unwrap();
    names.set_failing(true);
    let tmp = tempfile::tempdir().unwrap();
    let mut inst = wa::install(&tmp.path().join("sdk"), t0(), &[]).unwrap();
    let extra = format!("poll_interval = \"200ms\"\ntimeout = \"2s\"\n{}", names.config_lines());
    let RunDir { dir, data, cfg, .. } = RunDir::new(&[wa::config_toml("audit", &inst, &[1, 2], &extra)]);
    let run = Running::start(&cfg, dir.path());
    let want = expected_ids(&inst, false);
    let d = data.clone();
    let run = blocking(move || {
        wait_until("the scripted day", Duration::from_secs(60), &run, || {
            archived_ids(&d) == want
        });
        wait_until("the reject", Duration::from_secs(10), &run, || {
            count(&d, "SELECT count(*) FROM rejects WHERE platform = 'wecom_archive'") == 1
        });
        run
    })
    .await;
    assert!(names.calls() > 0, "the names API was never asked");
    assert!(message_ids(&data, PLATFORM).values().all(|n| *n == 1));
    assert_eq!(
        count(
            &data,
            "SELECT count(*) FROM messages WHERE platform = 'wecom_archive' AND (chat_name IS NOT NULL OR sender_name IS NOT NULL)"
        ),
        0
    );

    // The API answers again: the next group messages carry the names, and so does the chat.
    // (A failed `gettoken` is not repeated within 12 s, so this takes that long at least.)
    names.set_failing(false);
    let mut named = false;
    let mut run = run;
    let deadline = Instant::now() + Duration::from_secs(60);
    for i in 1.. {
        if Instant::now() > deadline {
            break;
        }
        wa::append(&mut inst, &[group_message(i)], &[]).unwrap();
        let d = data.clone();
        let id = format!("named{i}");
        let (r, got) = blocking(move || {
            wait_until("an appended group message", Duration::from_secs(20), &run, || {
                archived_ids(&d).contains(&id)
            });
            let got = name_of(&d, &id);
            (run, got)
        })
        .await;
        run = r;
        if got == (Some(wa::INTERNAL_GROUP_NAME.to_string()), Some("李四".to_string())) {
            named = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(named, "names never filled in after the API came back");
    assert_eq!(
        count(
            &data,
            &format!(
                "SELECT count(*) FROM chats WHERE platform = 'wecom_archive' AND chat_id = '{}' AND name = '{}'",
                wa::INTERNAL_GROUP,
                wa::INTERNAL_GROUP_NAME
            )
        ),
        1
    );
    run.signal("TERM");
    let (st, log) = blocking(move || run.wait(Duration::from_secs(20))).await;
    assert!(st.success(), "{log}");
}

#[test]
fn a_file_that_failed_every_download_is_fetched_again_by_rejects_retry() {
    let tmp = tempfile::tempdir().unwrap();
    // Four network errors: every in-process attempt at the day's first file fails.
    let faults: Vec<_> = (0..4)
        .map(|i| (Fault::MediaNetwork, tmp.path().join(format!("media-fault-{i}"))))
        .collect();
    let inst = wa::install(&tmp.path().join("sdk"), t0(), &faults).unwrap();
    let section = wa::config_toml("audit", &inst, &[1, 2], "poll_interval = \"200ms\"\ntimeout = \"2s\"");
    let RunDir { dir, data, cfg, .. } = RunDir::new(&[section]);
    let run = Running::start(&cfg, dir.path());
    wait_archived("the scripted day", Duration::from_secs(60), &run, &data, &inst);
    run.signal("TERM");
    let (st, log) = run.wait(Duration::from_secs(20));
    assert!(st.success(), "{log}");

    let file = &inst.media[0];
    let sha = hex::encode(Sha256::digest(&file.bytes));
    assert!(!data.join("blobs").join(&sha).exists(), "the first download failed");
    let item = inst
        .items
        .iter()
        .find(|i| i.message.to_string().contains(&file.id))
        .unwrap();
    let msg_id = item.message["msgid"].as_str().unwrap().to_string();
    let chat_id: String = rusqlite::Connection::open(data.join("chatvault.db"))
        .unwrap()
        .query_row(
            "SELECT chat_id FROM messages WHERE platform = 'wecom_archive' AND msg_id = ?1",
            [&msg_id],
            |r| r.get(0),
        )
        .unwrap();
    let before = stdout(&cv(&cfg, &["show", "wecom_archive", &chat_id, &msg_id]));
    assert!(
        before.contains("(metadata only)") && before.contains("media_unavailable"),
        "{before}"
    );

    let retry = cv_ok(&cfg, &["rejects", "retry", "--platform", "wecom_archive"]);
    // The day's files the SDK never serves stay pending; this one is stored now.
    assert!(
        retry.contains("wecom_archive `audit`: 1 file(s) fetched again"),
        "{retry}"
    );
    assert_eq!(std::fs::read(data.join("blobs").join(&sha)).unwrap(), file.bytes);
    let after = stdout(&cv(&cfg, &["show", "wecom_archive", &chat_id, &msg_id]));
    assert!(after.contains(&format!("(blob {sha})")), "{after}");
    assert!(after.contains("attachment_stored"), "{after}");
    // A second retry finds nothing more for this file.
    let again = stdout(&cv(&cfg, &["rejects", "retry", "--platform", "wecom_archive"]));
    assert!(again.contains("0 file(s) fetched again"), "{again}");
    cv_ok(&cfg, &["verify"]);
}

/// The pull loop pulls and decrypts the next page while one commits. A page whose commit fails
/// is pulled again, and the page pulled meanwhile is never sent before that failure is known:
/// its cursor would pass items that are not stored. Run in process against the fake store
/// (which can fail a commit), with this binary's finance worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_whose_commit_fails_is_pulled_again_and_the_next_waits_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let n = 2500u64;
    let inst = wa::install_bulk(&dir.path().join("sdk"), (0..n).map(extra_message)).unwrap();
    let toml = wa::config_toml(
        "audit",
        &inst,
        &[1],
        "poll_interval = \"100ms\"\nbatch_limit = 1000\ntimeout = \"10s\"\nmedia = false",
    );
    let cfg = config::parse(&toml, Path::new("test.toml")).unwrap();
    let connector = ingest::wecom_archive::WecomArchiveConnector::new(cfg.wecom_archive[0].clone()).with_worker(
        finance::WorkerCommand {
            program: env!("CARGO_BIN_EXE_chatvault").into(),
            args: vec![ingest::wecom_archive::WORKER_SUBCOMMAND.into()],
        },
    );
    let (tx, store) = sim::fake_store::FakeStore::channel(4);
    // Slow commits, so that the second page is pulled while the first is committing; the
    // first page's commit fails.
    store.set_delay(Duration::from_millis(300));
    store.fail_once_with("later0");
    let cx = ingest::ConnectorContext::new(proto::Platform::WecomArchive, "audit", tx, dir.path().join("data"));
    let shutdown = cx.shutdown.clone();
    let task = tokio::spawn(ingest::Connector::run(std::sync::Arc::new(connector), cx));
    let msg_ids = || {
        store
            .events()
            .iter()
            .filter(|e| matches!(e.event.body, proto::EventBody::Message(_)))
            .filter_map(|e| e.event.msg_id.clone())
            .collect::<Vec<_>>()
    };
    let start = Instant::now();
    while (msg_ids().len() as u64) < n && start.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shutdown.cancel();
    task.await.unwrap().unwrap();
    let ids = msg_ids();
    let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len() as u64, n, "every item archived after the failed commit");
    assert_eq!(ids.len(), distinct.len(), "none twice");
    // The first committed message is the first item: nothing was committed past the failure.
    assert_eq!(ids[0], "later0");
    let seqs: Vec<u64> = store
        .cursors()
        .iter()
        .map(|(_, c)| c["seq"].as_u64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] <= w[1]), "{seqs:?}");
    assert_eq!(seqs.last(), Some(&n));
}
