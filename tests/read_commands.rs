//! The read-side commands against a real archive: `audit`, `show`, `stats`, `verify` and
//! `check-config`, run as the compiled binary, checking what a user reads and the exit codes.

use std::path::Path;
use std::process::Command;

use proto::{ChatEvent, ConnectorStatus, EventBatch, Ingested, Platform, RawPayload, batch::media};
use serde_json::Value;
use testkit::{connector_state as state, delete, edit, payload, withdraw};

use crate::support::*;

/// 2026-03-01T06:00:00Z = 14:00 in Asia/Shanghai.
const T0: i64 = 1_772_344_800_000;
const MIN: i64 = 60_000;

fn message(chat: &str, id: &str, text: &str, sent_at: i64) -> ChatEvent {
    testkit::group_text(chat, id, "产品群", text, sent_at)
}

/// An archive with an edited-then-withdrawn message, a deleted one, an untouched one, a
/// connector outage, a rejected binary payload, and a config in Asia/Shanghai.
fn archive() -> ArchiveDir {
    let a = ArchiveDir::new();
    let mut store = a.open_store();
    let m1 = "c1";
    let items = vec![
        payload(state(ConnectorStatus::Connected, "logged in", T0 - MIN), T0 - MIN),
        payload(message(m1, "m1", "周五下午三点开会", T0), T0 + 1),
        payload(edit(m1, "m1", "周五下午四点开会", T0 + 2 * MIN), T0 + 2 * MIN),
        payload(edit(m1, "m1", "周六上午开会", T0 + 3 * MIN), T0 + 3 * MIN),
        payload(withdraw(m1, "m1", "u1", T0 + 5 * MIN), T0 + 5 * MIN),
        payload(
            message(m1, "m2", "发票已寄出 invoice sent", T0 + 10 * MIN),
            T0 + 10 * MIN,
        ),
        payload(delete(m1, "m2", "admin", T0 + 11 * MIN), T0 + 11 * MIN),
        payload(message(m1, "m3", "普通消息", T0 + 12 * MIN), T0 + 12 * MIN),
        payload(
            state(
                ConnectorStatus::Disconnected,
                "server closed the connection",
                T0 + 20 * MIN,
            ),
            T0 + 20 * MIN,
        ),
        payload(
            state(ConnectorStatus::Connected, "reconnected", T0 + 50 * MIN),
            T0 + 50 * MIN,
        ),
        Ingested::Rejected {
            raw: RawPayload {
                received_at: T0 + 51 * MIN,
                media_type: media::PROTOBUF.into(),
                bytes: vec![0x0a, 0xff, 0x01].into(),
            },
            reason: "truncated protobuf frame".into(),
        },
    ];
    let (b, _rx) = EventBatch::new(Platform::Yunhu, "team", items, Some(serde_json::json!({"seq": 42})));
    store.append(&[&b]).unwrap();
    drop(store);
    a
}

#[test]
fn audit_shows_every_revision_of_an_edited_then_withdrawn_message() {
    let a = archive();
    let o = a.cv_ok(&["audit", "--json"]);
    let lines = json_lines(&o);
    assert_eq!(
        lines.len(),
        2,
        "m1 (edited, withdrawn) and m2 (deleted); m3 is unchanged: {lines:?}"
    );
    let m1 = &lines[0];
    assert_fields(
        m1,
        &[
            ("msg_id", "m1"),
            ("original_text", "周五下午三点开会"),
            ("current_text", "周六上午开会"),
            ("state", "withdrawn"),
            ("withdrawn_by", "u1"),
            ("withdrawn_at", "2026-03-01T06:05:00.000Z"),
        ],
    );
    let revs: Vec<(&str, &str)> = m1["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["text"].as_str().unwrap(), r["at"].as_str().unwrap()))
        .collect();
    assert_eq!(
        revs,
        [
            ("周五下午三点开会", "2026-03-01T06:00:00.000Z"),
            ("周五下午四点开会", "2026-03-01T06:02:00.000Z"),
            ("周六上午开会", "2026-03-01T06:03:00.000Z"),
        ]
    );
    assert_eq!(lines[1]["msg_id"], "m2");
    assert_eq!(lines[1]["deleted_by"], "admin");

    // Human output: the configured zone, every text, who withdrew it.
    let o = a.cv(&["audit", "--withdrawn"]);
    let s = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(s.contains("sent 2026-03-01 14:00:00 CST by 张三 (u1)"), "{s}");
    assert!(
        s.contains("周五下午三点开会")
            && s.contains("revision 1 at 2026-03-01 14:02:00 CST")
            && s.contains("周六上午开会"),
        "{s}"
    );
    assert!(s.contains("withdrawn by u1 at 2026-03-01 14:05:00 CST"), "{s}");
    assert!(!s.contains("m2"), "--withdrawn lists only withdrawn messages: {s}");
}

#[test]
fn audit_filters_by_time_and_platform() {
    let a = archive();
    let o = a.cv(&["audit", "--json", "--since", "2026-03-01 14:08"]);
    let ids: Vec<Value> = json_lines(&o).iter().map(|v| v["msg_id"].clone()).collect();
    assert_eq!(ids, ["m2"]);
    let o = a.cv(&["audit", "--json", "--until", "2026-03-01T06:05:00Z"]);
    assert_eq!(json_lines(&o).len(), 1);
    let o = a.cv(&["audit", "--platform", "wecom"]);
    assert_stdout_has(&o, "no edited, withdrawn or deleted messages");

    let o = a.cv_exit(&["audit", "--platform", "wechat"], 2);
    assert_stderr_has(
        &o,
        "unknown platform `wechat` (valid: eoffice, wecom, goofish, worktool, yunhu, wecom_archive)",
    );
    let o = a.cv_exit(&["audit", "--since", "last tuesday"], 2);
    assert_stderr_has(&o, "--since: cannot read `last tuesday`");
}

#[test]
fn audit_gaps_lists_connector_downtime() {
    let a = archive();
    let o = a.cv_ok(&["audit", "--gaps", "--json"]);
    let gaps = json_lines(&o);
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert_eq!(gaps[0]["type"], "gap");
    assert_eq!(gaps[0]["status"], "disconnected");
    assert_eq!(gaps[0]["from"], "2026-03-01T06:20:00.000Z");
    assert_eq!(gaps[0]["to"], "2026-03-01T06:50:00.000Z");
    assert_eq!(gaps[0]["duration_ms"], 30 * MIN);
    let s = stdout(&a.cv(&["audit", "--gaps"]));
    assert!(
        s.contains("yunhu/team not archiving from 2026-03-01 14:20:00 CST to 2026-03-01 14:50:00 CST (30m 0s), disconnected: server closed the connection"),
        "{s}"
    );
}

#[test]
fn show_prints_history_and_raw_payloads() {
    let a = archive();
    let o = a.cv_ok(&["show", "yunhu", "c1", "m1", "--json"]);
    let v = &json_lines(&o)[0];
    assert_eq!(v["record"]["text"], "周六上午开会");
    assert_eq!(v["record"]["sent_at"], "2026-03-01T06:00:00.000Z");
    let kinds: Vec<&str> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["message", "edit", "edit", "withdraw"]);
    assert_eq!(v["raw"].as_array().unwrap().len(), 4);
    assert_eq!(v["raw"][0]["encoding"], "utf8");
    assert!(v["raw"][0]["data"].as_str().unwrap().contains("周五下午三点开会"));

    let s = stdout(&a.cv(&["show", "--account", "team", "yunhu", "c1", "m1"]));
    assert!(s.starts_with("yunhu/team/c1/m1\n"), "{s}");
    assert!(
        s.contains("state:    withdrawn, edited 2 time(s), last at 2026-03-01 14:03:00 CST, withdrawn by u1"),
        "{s}"
    );
    assert!(s.contains("events (4):") && s.contains("raw payloads (4):"), "{s}");

    let o = a.cv_exit(&["show", "yunhu", "c1", "nope"], 1);
    assert_stderr_has(&o, "no message `nope` in chat `c1` on yunhu");
    a.cv_exit(&["show", "--account", "other", "yunhu", "c1", "m1"], 1);
}

#[test]
fn stats_counts_rejects_connectors_and_coverage() {
    let a = archive();
    let o = a.cv_ok(&["stats", "--json"]);
    let v = &json_lines(&o)[0];
    assert_eq!(v["messages"], 3);
    assert_eq!(v["by_state"]["withdrawn"], 1);
    assert_eq!(v["by_state"]["deleted"], 1);
    assert_eq!(v["by_state"]["active"], 1);
    assert_eq!(v["rejects"], 1);
    assert_eq!(v["rejects_by_connector"][0]["last_reason"], "truncated protobuf frame");
    assert_eq!(v["connectors"][0]["state"], "connected");
    assert_eq!(v["connectors"][0]["cursor"]["seq"], 42);
    assert!(
        v["coverage"][0]["sees"]
            .as_str()
            .unwrap()
            .contains("every chat of the logged-in account")
    );

    let s = stdout(&a.cv(&["stats"]));
    assert!(s.starts_with("3 messages, "), "{s}");
    assert!(s.contains("state: connected since 2026-03-01 14:50:00 CST"), "{s}");
    assert!(s.contains("yunhu/team: 1, latest: truncated protobuf frame"), "{s}");
    assert!(s.contains("what the archive can see:\n  yunhu (team): "), "{s}");
}

#[test]
fn verify_passes_then_catches_tampering() {
    let a = archive();
    let (seq, hash) = head_line(&a.cv_ok(&["verify"]));
    assert_eq!(seq, 10);
    assert_eq!(hash.len(), 64);
    a.cv_ok(&["verify", "--expect-head", &hash]);
    a.cv_ok(&["verify", "--expect-head", &format!("{seq}:{hash}")]);

    let o = a.cv_exit(&["verify", "--expect-head", &"0".repeat(64)], 3);
    assert_stderr_has(&o, "no event of the log has hash 0000");
    let o = a.cv_exit(&["verify", "--expect-head", &format!("4:{}", "0".repeat(64))], 3);
    assert_stderr_has(&o, "the event at seq 4 now hashes to");
    let o = a.cv(&["verify", "--expect-head", "4:xyz"]);
    assert_eq!(o.status.code(), Some(2), "a malformed position is a usage error");

    // Rewrite history: the first edit now says something else.
    let db = rusqlite::Connection::open(a.data.join(store::DB_FILE)).unwrap();
    let changed = testkit::tamper::tamper_payload(&db, 3, |text| text.replace("周五下午四点开会", "周五下午五点开会"));
    assert_eq!(changed, 1);
    drop(db);
    let o = a.cv_exit(&["verify"], 3);
    assert_stderr_has(&o, "the hash chain breaks at seq 3");
}

/// Appends one more message, as a running archive does after a head was written down.
fn append_one(a: &ArchiveDir, id: &str) {
    let at = T0 + 60 * MIN;
    append_batch(
        &mut a.open_store(),
        Platform::Yunhu,
        "team",
        vec![payload(message("c1", id, "又一条", at), at)],
    );
}

fn head_line(o: &std::process::Output) -> (u64, String) {
    let s = stdout(o);
    let line = s
        .lines()
        .find_map(|l| l.strip_prefix("head: seq "))
        .unwrap()
        .to_string();
    let (seq, hash) = line.split_once(' ').unwrap();
    (seq.parse().unwrap(), hash.to_string())
}

#[test]
fn a_head_from_an_export_manifest_still_verifies_after_appends_and_fails_after_a_rewrite() {
    let a = archive();
    let out = a.data.join("export");
    a.cv_ok(&["export", "--out", out.to_str().unwrap()]);
    let manifest: Value = serde_json::from_slice(&std::fs::read(out.join("_manifest.json")).unwrap()).unwrap();
    let hash = manifest["head"]["hash"].as_str().unwrap().to_string();
    assert_eq!(manifest["head"]["seq"], 10);

    // The archive goes on: the head the export recorded is no longer the last one.
    append_one(&a, "m9");
    let manifest_arg = ["--manifest", out.to_str().unwrap()];
    let o = a.cv_ok(&[&["verify", "--expect-head", &hash][..], &manifest_arg].concat());
    assert_eq!(head_line(&o).0, 11, "the head line shows the current head");
    assert_stdout_has(&o, "expected position on the chain");

    // Rewrite history before the recorded position.
    let db = rusqlite::Connection::open(a.data.join(store::DB_FILE)).unwrap();
    assert_eq!(
        testkit::tamper::tamper_payload(&db, 2, |t| t.replace("三点", "五点")),
        1
    );
    drop(db);
    let o = a.cv_exit(&[&["verify", "--expect-head", &hash][..], &manifest_arg].concat(), 3);
    assert_stderr_has(&o, "seq 10 from the export manifest");
    assert_stderr_has(&o, "the event at seq 10 now hashes to");
}

#[test]
fn an_anchor_catches_a_log_cut_back_to_a_consistent_shorter_chain() {
    let a = archive();
    let o = a.cv(&["verify"]);
    let (seq, hash) = head_line(&o);
    let o = a.cv_ok(&["anchor"]);
    assert_eq!(stdout(&o).trim(), format!("{seq}:{hash}"), "anchor prints SEQ:HASH");
    assert!(
        std::fs::read_to_string(a.data.join("anchors"))
            .unwrap()
            .starts_with(&format!("{seq}:{hash} "))
    );

    // The last event (a connector state change) is removed with everything that points to it.
    let db = rusqlite::Connection::open(a.data.join(store::DB_FILE)).unwrap();
    let kept: Vec<(i64, i64)> = db
        .prepare("SELECT k, h FROM dedup")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    db.execute("DELETE FROM events WHERE seq = ?1", [seq as i64]).unwrap();
    db.execute("DELETE FROM raw WHERE id NOT IN (SELECT raw_id FROM events)", [])
        .unwrap();
    let (last, _) = head_line(&a.cv(&["verify"]));
    assert_eq!(last, seq - 1);
    // Its dedup entry goes too: the one no remaining event accounts for.
    let mut dropped = 0;
    for (k, h) in kept {
        db.execute("DELETE FROM dedup WHERE k = ?1", [k]).unwrap();
        let o = a.cv(&["verify"]);
        if stderr(&o).contains("stands for no event") {
            db.execute("INSERT INTO dedup(k, h) VALUES (?1, ?2)", [k, h]).unwrap();
        } else {
            dropped += 1;
            break;
        }
    }
    assert_eq!(dropped, 1);
    drop(db);
    let o = a.cv_exit(&["verify"], 3);
    let err = stderr(&o);
    assert!(
        !err.contains("breaks at") && !err.contains("differs from the fold"),
        "{err}"
    );
    assert!(
        err.contains(&format!("seq {seq} is past the end of the log (seq {})", seq - 1)),
        "{err}"
    );
}

#[test]
fn missing_archive_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let nowhere = tmp.path().join("nothing-here");
    for cmd in [&["stats"][..], &["verify"], &["audit"], &["show", "yunhu", "c", "m"]] {
        let mut args = vec!["--data-dir", nowhere.to_str().unwrap()];
        args.extend_from_slice(cmd);
        let o = cv_isolated(None, &args);
        assert_eq!(o.status.code(), Some(1), "{cmd:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("no archive at"), "{cmd:?}: {}", stderr(&o));
        assert!(!nowhere.exists(), "a read command must not create the archive");
    }
}

#[test]
fn check_config_summarises_or_names_the_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/chatvault.toml");
    let envs = [
        ("EOFFICE_TOKEN", "t"),
        ("EOFFICE_AES_KEY", "0123456789abcdef"),
        ("EOFFICE_AES_IV", "0123456789abcdef"),
        ("WECOM_TOKEN", "t"),
        ("WECOM_AES_KEY", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"),
        ("WECOM_SECRET", "s"),
        ("GOOFISH_TOKEN", "t"),
        ("GOOFISH_COOKIES", "c"),
        ("WORKTOOL_KEY", "k"),
        ("YUNHU_TOKEN", "t"),
    ];
    let run = |cfg: &Path, with_env: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_chatvault"));
        c.arg("check-config").arg("-c").arg(cfg).current_dir(tmp.path());
        if with_env {
            c.envs(envs);
        }
        c.output().unwrap()
    };
    let o = run(&example, true);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stdout(&o);
    assert!(s.contains("valid\n  time zone:  Asia/Shanghai"), "{s}");
    assert!(s.contains("5 connector(s):"), "{s}");
    assert!(
        s.contains("corp (wecom): callback http://127.0.0.1:8088/callback/wecom/corp"),
        "{s}"
    );
    assert!(s.contains("NOT employees' chats with each other"), "{s}");
    assert!(!s.contains("jWmYm7"), "no secret in the summary: {s}");

    let o = run(&example, false);
    assert_eq!(o.status.code(), Some(2));
    // The first variable the example references, on the line it is on.
    let line = std::fs::read_to_string(&example)
        .unwrap()
        .lines()
        .position(|l| !l.trim_start().starts_with('#') && l.contains("${"))
        .unwrap()
        + 1;
    assert_stderr_has(
        &o,
        &format!("chatvault.toml:{line}: environment variable `EOFFICE_TOKEN` is not set"),
    );

    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "timezone = \"UTC\"\n[export]\nschedule = \"every hour\"\n").unwrap();
    let o = run(&bad, false);
    assert_eq!(o.status.code(), Some(2));
    assert_stderr_has(&o, "bad.toml:3: `export.schedule`");
}

/// A Yunhu markdown message, and an e-office style deletion that removed a message for one
/// user only.
fn markup_archive() -> ArchiveDir {
    let a = ArchiveDir::new();
    let mut store = a.open_store();
    let mut md = message("c1", "md", "周报 完成 合同", T0);
    if let proto::EventBody::Message(m) = &mut md.body {
        m.content_type = proto::ContentType::Markdown;
        m.text_format = proto::TextFormat::Markdown;
        m.source_text = Some("# 周报\n- **完成** [合同](https://x/1)".into());
    }
    let hidden = ChatEvent::message(
        "c1",
        "m9",
        proto::EventBody::Delete {
            by: Some("lisi".into()),
            at: None,
            scope: proto::DeleteScope::User,
        },
    );
    let items = vec![
        payload(md, T0 + 1),
        payload(message("c1", "m9", "别删我", T0 + MIN), T0 + MIN),
        payload(hidden, T0 + 2 * MIN),
    ];
    append_batch(&mut store, Platform::Eoffice, "oa", items);
    drop(store);
    a
}

#[test]
fn show_and_audit_print_the_markup_as_sent_and_who_deleted_a_message_for_themselves() {
    let a = markup_archive();
    let s = stdout(&a.cv(&["show", "eoffice", "c1", "md"]));
    assert!(s.contains("type:     markdown (markdown)"), "{s}");
    assert!(
        s.contains("  source (markdown, as sent):\n    # 周报\n    - **完成** [合同](https://x/1)"),
        "{s}"
    );
    let v = &json_lines(&a.cv(&["show", "eoffice", "c1", "md", "--json"]))[0];
    assert_eq!(v["record"]["text_format"], "markdown");
    assert_eq!(v["record"]["source_text"], "# 周报\n- **完成** [合同](https://x/1)");

    let o = a.cv_ok(&["audit", "--deleted", "--json"]);
    let lines = json_lines(&o);
    assert_eq!(lines.len(), 1, "only m9, deleted for one user: {lines:?}");
    assert_eq!(lines[0]["msg_id"], "m9");
    assert_eq!(lines[0]["state"], "active", "the others still see it");
    assert_eq!(lines[0]["deleted_by"], Value::Null);
    assert_eq!(lines[0]["deleted_for"][0]["user"], "lisi");
    let s = stdout(&a.cv(&["audit"]));
    assert!(
        s.contains("deleted for lisi only at 2026-03-01 14:02:00 CST (still visible to the others)"),
        "{s}"
    );
}

#[test]
fn show_gives_an_attachment_stored_by_a_later_download() {
    let a = ArchiveDir::new();
    let mut store = a.open_store();
    let mut file = message("c1", "f1", "会议纪要.pdf", T0);
    if let proto::EventBody::Message(m) = &mut file.body {
        m.content_type = proto::ContentType::File;
        m.attachments = vec![proto::Attachment {
            name: Some("会议纪要.pdf".into()),
            url: Some("https://files.example/minutes.pdf".into()),
            ..Default::default()
        }];
    }
    append_batch(&mut store, Platform::Yunhu, "team", vec![payload(file, T0 + 1)]);
    let before = stdout(&a.cv(&["show", "yunhu", "c1", "f1"]));
    assert!(before.contains("attachment: 会议纪要.pdf (metadata only)"), "{before}");

    let sha = "5e".repeat(32);
    let later = ChatEvent::message(
        "c1",
        "f1",
        proto::EventBody::AttachmentStored {
            index: 0,
            sha256: sha.clone(),
            size: Some(1234),
        },
    );
    append_batch(&mut store, Platform::Yunhu, "team", vec![payload(later, T0 + 10 * MIN)]);
    drop(store);
    let after = stdout(&a.cv(&["show", "yunhu", "c1", "f1"]));
    assert!(
        after.contains(&format!("attachment: 会议纪要.pdf (blob {sha})")),
        "{after}"
    );
    let v = &json_lines(&a.cv(&["show", "yunhu", "c1", "f1", "--json"]))[0];
    assert_eq!(v["record"]["attachments"][0]["sha256"], sha.as_str());
    assert_eq!(v["record"]["attachments"][0]["size"], 1234);
    assert!(a.cv(&["verify"]).status.success());
}

/// A Yunhu group renamed between two changed messages, an unrelated group, and two WorkTool
/// chats: one group renamed without the robot setting a remark... and with one — WorkTool
/// sends names only, so each name is its own chat id, linked only by a shared remark.
fn renamed_archive() -> ArchiveDir {
    let a = ArchiveDir::new();
    let mut store = a.open_store();
    let named = testkit::group_text;
    let yunhu = vec![
        payload(named("g1", "m1", "农业局对接群", "合同周五签", T0), T0 + 1),
        payload(withdraw("g1", "m1", "u1", T0 + MIN), T0 + MIN),
        payload(
            named("g1", "m2", "农业局项目群", "合同改到下周", T0 + 10 * MIN),
            T0 + 10 * MIN,
        ),
        payload(edit("g1", "m2", "合同改到下下周", T0 + 11 * MIN), T0 + 11 * MIN),
        payload(named("g2", "m3", "食堂群", "明天吃饺子", T0 + 2 * MIN), T0 + 2 * MIN),
        payload(withdraw("g2", "m3", "u2", T0 + 3 * MIN), T0 + 3 * MIN),
    ];
    append_batch(&mut store, Platform::Yunhu, "team", yunhu);
    // WorkTool: the chat id is the group name, the chat name the robot's remark when set.
    let worktool = vec![
        payload(named("一期合同群", "w1", "农业局项目", "合同原件已寄出", T0), T0 + 1),
        payload(
            named("一期合同群（新）", "w2", "农业局项目", "合同回寄了", T0 + MIN),
            T0 + MIN,
        ),
        payload(
            named("报价群", "w3", "报价群", "合同报价单", T0 + 2 * MIN),
            T0 + 2 * MIN,
        ),
        payload(
            named("报价群2", "w4", "报价群2", "合同报价单第二版", T0 + 3 * MIN),
            T0 + 3 * MIN,
        ),
    ];
    append_batch(&mut store, Platform::Worktool, "robot", worktool);
    drop(store);
    a
}

#[test]
fn audit_chat_finds_a_renamed_group_by_its_old_and_new_names() {
    let a = renamed_archive();
    for spec in ["农业局对接", "农业局项目群", "g1"] {
        let o = a.cv_ok(&["audit", "--chat", spec, "--json"]);
        let ids: Vec<_> = json_lines(&o)
            .iter()
            .map(|v| v["msg_id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids, ["m1", "m2"], "--chat {spec}");
    }
    let o = a.cv(&["audit", "--chat", "食堂", "--json"]);
    let ids: Vec<_> = json_lines(&o).iter().map(|v| v["msg_id"].clone()).collect();
    assert_eq!(ids, ["m3"]);
    // The WorkTool group renamed under a remark: both chats, named on stderr.
    let o = a.cv_ok(&["audit", "--chat", "农业局项目", "--json"]);
    let err = stderr(&o);
    assert!(err.contains("matches 3 chats"), "{err}");
    assert!(
        err.contains("一期合同群]") && err.contains("一期合同群（新）]"),
        "{err}"
    );
    let o = a.cv_exit(&["audit", "--chat", "没有这个群"], 2);
    assert!(stderr(&o).contains("no chat has that id or a name containing it"));
}

#[test]
fn search_chat_finds_worktool_chats_by_a_shared_remark_but_not_a_rename_without_one() {
    let a = renamed_archive();
    a.cv_ok(&["reindex"]);
    let ids = |spec: &str| -> Vec<String> {
        let o = a.cv_ok(&["search", "合同", "--chat", spec, "--json", "--sort", "time"]);
        let mut v: Vec<String> = json_lines(&o)
            .iter()
            .map(|v| v["msg_id"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    // The Yunhu group once named 农业局项目群 matches too, with all of its messages.
    assert_eq!(
        ids("农业局项目"),
        ["m1", "m2", "w1", "w2"],
        "the remark names both WorkTool chats"
    );
    // Without a remark a renamed group is a new chat: its old name finds only the old one.
    assert_eq!(ids("报价群2"), ["w4"]);
    // The exact id of the old chat finds the old chat only; a part both names share, both.
    assert_eq!(ids("报价群"), ["w3"]);
    assert_eq!(ids("报价"), ["w3", "w4"], "a name both share (substring) finds both");
}
