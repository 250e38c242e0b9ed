//! `chatvault search` and `chatvault reindex` as the compiled binary: Chinese substrings,
//! filters, JSON output, highlighting, the tail catch-up, and the errors a user can hit.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use proto::{Ingested, NewMessage, Platform, RawPayload, batch::media};
use serde_json::Value;

use crate::support::{ArchiveDir, append_batch, assert_fields, assert_stderr_has, assert_stdout_has, stderr, stdout};

/// 2026-03-01T06:00:00Z = 14:00 in Asia/Shanghai.
const T0: i64 = 1_772_344_800_000;
const DAY: i64 = 86_400_000;

/// An [`ArchiveDir`] and its open store, to add messages to.
struct Archive {
    dir: ArchiveDir,
    store: store::Store,
}

impl std::ops::Deref for Archive {
    type Target = ArchiveDir;

    fn deref(&self) -> &ArchiveDir {
        &self.dir
    }
}

impl Archive {
    fn new() -> Archive {
        let dir = ArchiveDir::new();
        let store = dir.open_store();
        Archive { dir, store }
    }

    fn add(
        &mut self,
        platform: Platform,
        chat: (&str, &str),
        sender: (&str, &str),
        id: &str,
        text: &str,
        sent_at: i64,
    ) {
        let ev = testkit::message(
            chat.0,
            id,
            NewMessage {
                chat_name: Some(chat.1.into()),
                sender_id: sender.0.into(),
                sender_name: Some(sender.1.into()),
                ..testkit::text(text, sent_at)
            },
        );
        let item = Ingested::Payload {
            raw: RawPayload::now(media::JSON, b"{}".to_vec()),
            events: vec![ev],
        };
        append_batch(&mut self.store, platform, "acct", vec![item]);
    }
}

fn sample() -> Archive {
    let mut a = Archive::new();
    a.add(
        Platform::Wecom,
        ("c1", "财务报销群"),
        ("zs", "张三"),
        "m1",
        "中国农业发展银行的贷款合同",
        T0,
    );
    a.add(
        Platform::Yunhu,
        ("c2", "销售部"),
        ("ls", "李四"),
        "m2",
        "农业局的报告已经提交",
        T0 + DAY,
    );
    a.add(
        Platform::Yunhu,
        ("c3", "报销审批"),
        ("zs", "张三"),
        "m3",
        "这个单子待处理，Q3合同",
        T0 + 2 * DAY,
    );
    a.add(
        Platform::Goofish,
        ("c4", "买家"),
        ("b1", "买家小王"),
        "m4",
        "iPhone15到货了吗？亲",
        T0 + 3 * DAY,
    );
    a
}

fn ids(o: &Output) -> Vec<String> {
    let mut v: Vec<String> = stdout(o)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["msg_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    v.sort();
    v
}
fn index_dir(data: &Path) -> PathBuf {
    data.join("index")
}

#[test]
fn search_refuses_without_an_index_then_finds_substrings_after_reindex() {
    let a = sample();
    let o = a.cv_exit(&["search", "农业"], 1);
    assert_stderr_has(&o, "chatvault reindex");

    let o = a.cv_ok(&["reindex"]);
    assert_stdout_has(&o, "indexed 4 messages from 4 events");
    assert!(index_dir(&a.data).join("meta.json").exists());

    assert_eq!(ids(&a.cv(&["search", "农业", "--json"])), ["m1", "m2"]);
    assert_eq!(ids(&a.cv(&["search", "处理", "--json"])), ["m3"]);
    assert_eq!(ids(&a.cv(&["search", "q3合同", "--json"])), ["m3"]);
    assert_eq!(ids(&a.cv(&["search", "合同 -农业", "--json"])), ["m3"]);
    assert_eq!(ids(&a.cv(&["search", "iphone", "--json"])), ["m4"]);
    assert_eq!(ids(&a.cv(&["search", "贷款 OR 报告", "--json"])), ["m1", "m2"]);
}

#[test]
fn json_lines_carry_the_message_fields_with_utc_times() {
    let a = sample();
    assert!(a.cv(&["reindex"]).status.success());
    let o = a.cv_ok(&["search", "农业局", "--json"]);
    let v: Value = serde_json::from_str(stdout(&o).lines().next().unwrap()).unwrap();
    assert_fields(
        &v,
        &[
            ("platform", "yunhu"),
            ("chat_id", "c2"),
            ("chat_name", "销售部"),
            ("sender_name", "李四"),
            ("text", "农业局的报告已经提交"),
            ("state", "active"),
            ("sent_at", "2026-03-02T06:00:00.000Z"),
        ],
    );
    assert!(v["score"].as_f64().unwrap() > 0.0);
}

#[test]
fn human_output_shows_local_time_names_and_highlighted_hits() {
    let a = sample();
    assert!(a.cv(&["reindex"]).status.success());
    let o = a.cv(&["search", "农业局"]);
    let line = stdout(&o);
    assert!(line.contains("2026-03-02 14:00:00 CST"), "{line}");
    assert!(
        line.contains("yunhu") && line.contains("销售部") && line.contains("李四"),
        "{line}"
    );
    assert!(
        line.contains("农业局的报告已经提交") && !line.contains('\x1b'),
        "no colour into a pipe: {line}"
    );
    let o = Command::new(env!("CARGO_BIN_EXE_chatvault"))
        .arg("-c")
        .arg(&a.config)
        .args(["search", "农业局"])
        .env("CLICOLOR_FORCE", "1")
        .output()
        .unwrap();
    assert_stdout_has(&o, "\x1b[1;31m农业局\x1b[0m的报告");
}

#[test]
fn filters_by_platform_chat_sender_and_time() {
    let a = sample();
    assert!(a.cv(&["reindex"]).status.success());
    assert_eq!(ids(&a.cv(&["search", "合同", "--platform", "yunhu", "--json"])), ["m3"]);
    // --chat by name substring: two chats match, both are searched and listed on stderr.
    let o = a.cv(&["search", "合同", "--chat", "报销", "--json"]);
    assert_eq!(ids(&o), ["m1", "m3"]);
    assert!(
        stderr(&o).contains("matches 2 chats") && stderr(&o).contains("财务报销群") && stderr(&o).contains("报销审批"),
        "{}",
        stderr(&o)
    );
    assert_eq!(ids(&a.cv(&["search", "合同", "--chat", "c1", "--json"])), ["m1"]);
    assert_eq!(
        ids(&a.cv(&["search", "合同", "--sender", "张三", "--json"])),
        ["m1", "m3"]
    );
    assert_eq!(
        ids(&a.cv(&["search", "农业", "--since", "2026-03-02", "--json"])),
        ["m2"]
    );
    assert_eq!(
        ids(&a.cv(&["search", "农业", "--until", "2026-03-02", "--json"])),
        ["m1"]
    );
    assert_eq!(
        ids(&a.cv(&[
            "search",
            "农业",
            "--since",
            "2026-03-01T14:00:00+08:00",
            "--until",
            "2026-03-01T14:00:01+08:00",
            "--json"
        ])),
        ["m1"]
    );
    let o = a.cv(&["search", "合同", "--sort", "time", "--json"]);
    assert_eq!(
        stdout(&o)
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["msg_id"]
                .as_str()
                .unwrap()
                .to_string())
            .collect::<Vec<_>>(),
        ["m3", "m1"]
    );
    assert_eq!(ids(&a.cv(&["search", "农业", "--limit", "1", "--json"])).len(), 1);
}

#[test]
fn bad_input_exits_2_with_a_clear_message() {
    let a = sample();
    assert!(a.cv(&["reindex"]).status.success());
    for (args, needle) in [
        (vec!["search", "\"合同"], "unbalanced quote"),
        (
            vec!["search", "合同", "--platform", "wechat"],
            "unknown platform `wechat`",
        ),
        (vec!["search", "合同", "--state", "gone"], "unknown --state `gone`"),
        (vec!["search", "合同", "--type", "gif"], "unknown --type `gif`"),
        (vec!["search", "合同", "--since", "last tuesday"], "--since"),
        (vec!["search", "合同", "--sort", "random"], "unknown sort"),
        (vec!["search", "合同", "--chat", "不存在的群"], "no chat has that id"),
        (vec!["search", "，。"], "nothing to search for"),
    ] {
        let o = a.cv(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn search_indexes_the_unseen_tail_and_reindex_refuses_while_the_writer_is_held() {
    let mut a = sample();
    assert!(a.cv(&["reindex"]).status.success());
    a.add(
        Platform::Yunhu,
        ("c2", "销售部"),
        ("ls", "李四"),
        "m5",
        "新的农业合作协议",
        T0 + 4 * DAY,
    );
    assert_eq!(
        ids(&a.cv(&["search", "农业", "--json"])),
        ["m1", "m2", "m5"],
        "the tail is indexed first"
    );

    // Another process holds the writer (as `run` does): search reads what is committed,
    // reindex refuses and names the holder.
    let held = search::WriterLock::acquire(&a.data).unwrap();
    a.add(
        Platform::Yunhu,
        ("c2", "销售部"),
        ("ls", "李四"),
        "m6",
        "农业补贴",
        T0 + 5 * DAY,
    );
    assert_eq!(ids(&a.cv(&["search", "农业", "--json"])), ["m1", "m2", "m5"]);
    let o = a.cv_exit(&["reindex"], 1);
    assert!(
        stderr(&o).contains(&format!("pid {}", std::process::id())),
        "{}",
        stderr(&o)
    );
    drop(held);
    assert!(a.cv(&["reindex"]).status.success());
    assert_eq!(ids(&a.cv(&["search", "农业", "--json"])), ["m1", "m2", "m5", "m6"]);
}

#[test]
fn corrupt_index_is_refused_until_reindex() {
    let a = sample();
    assert!(a.cv(&["reindex"]).status.success());
    std::fs::write(index_dir(&a.data).join("meta.json"), b"garbage").unwrap();
    let o = a.cv_exit(&["search", "农业"], 1);
    assert!(
        stderr(&o).contains("cannot be used") && stderr(&o).contains("chatvault reindex"),
        "{}",
        stderr(&o)
    );
    assert!(a.cv(&["reindex"]).status.success());
    assert_eq!(ids(&a.cv(&["search", "农业", "--json"])), ["m1", "m2"]);
}
