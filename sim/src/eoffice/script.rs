//! What the simulated e-office server has to say: an offline feed (delivered with ack ids,
//! redelivered until acknowledged) and a list of live pushes.

use ingest::eoffice::crypto::ContentKey;
use serde_json::{Value, json};

use crate::corpus::Corpus;

/// A script for the simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    /// A realistic day of company chat in Chinese (offline catch-up, live chat, @mentions,
    /// images and files, a withdrawal, a deletion, group changes, presence).
    DemoDay,
    /// `n` messages from `Corpus::new(42)`, pushed live, one message per frame.
    Bulk(usize),
    /// Nothing scripted; tests push what they need.
    Empty,
}

/// One offline message: which feed it belongs to and the message object.
#[derive(Debug, Clone)]
pub struct OfflineMessage {
    /// `group offline info` (true) or `user offline info`.
    pub group: bool,
    /// The message id (for the log).
    pub id: String,
    /// The message object.
    pub body: Value,
}

/// A live push: event name and its argument.
#[derive(Debug, Clone)]
pub struct LivePush {
    /// Event name.
    pub event: String,
    /// Argument.
    pub body: Value,
}

/// The feed a script produces.
#[derive(Debug, Clone, Default)]
pub struct Feed {
    /// Delivered on `get offline info`.
    pub offline: Vec<OfflineMessage>,
    /// Pushed after the offline feed.
    pub live: Vec<LivePush>,
}

/// 2026-11-23 09:00 Asia/Shanghai: the demo day starts here.
pub const DEMO_DAY_START_MS: i64 = 1_795_395_600_000;

/// The login user of the scripted account.
pub const LOGIN_USER: &str = "admin";

const USERS: &[(&str, &str)] = &[
    ("admin", "管理员"),
    ("zhangsan", "张三"),
    ("lisi", "李四"),
    ("wangwu", "王五"),
    ("zhaoliu", "赵六"),
];

fn name_of(id: &str) -> &'static str {
    USERS.iter().find(|(u, _)| *u == id).map(|(_, n)| *n).unwrap_or("未知")
}

/// Builds message objects the way the e-office client sends them.
struct Writer<'a> {
    key: Option<&'a ContentKey>,
    n: u64,
}

impl Writer<'_> {
    fn content(&self, text: &str) -> Value {
        match self.key {
            Some(k) => Value::String(k.encrypt(text)),
            None => Value::String(String::new()),
        }
    }

    fn direct(&mut self, minute: i64, from: &str, to: &str, kind: u8, text: &str) -> Value {
        self.n += 1;
        let mut pair = [from, to];
        pair.sort();
        json!({
            "message_id": format!("{}", DEMO_DAY_START_MS + minute * 60_000 + self.n as i64),
            "message_content": self.content(text), "text_message_content": text, "message_type": kind,
            "sender": from, "sender_name": name_of(from), "send_time": DEMO_DAY_START_MS + minute * 60_000,
            "chat_object_id": pair.join("_"), "withdraw": 0, "type": "user", "to": to,
        })
    }

    fn group(&mut self, minute: i64, room: (&str, &str), from: &str, kind: u8, text: &str, at: &[&str]) -> Value {
        self.n += 1;
        let at_list: Vec<Value> = at
            .iter()
            .map(|u| json!({"user_id": u, "user_name": name_of(u)}))
            .collect();
        json!({
            "message_id": format!("{}", DEMO_DAY_START_MS + minute * 60_000 + self.n as i64),
            "message_content": self.content(text), "text_message_content": text, "message_type": kind,
            "sender": from, "sender_name": name_of(from), "send_time": DEMO_DAY_START_MS + minute * 60_000,
            "type": if room.0.starts_with("pub") { "public_group" } else { "personal_group" },
            "room_id": room.0, "group_name": room.1, "withdraw": 0,
            "members": USERS.iter().map(|(u, _)| *u).collect::<Vec<_>>(), "at_list": at_list,
        })
    }
}

const FINANCE: (&str, &str) = ("pub_finance", "财务报销群");
const AGRI: (&str, &str) = ("grp_agri", "农业局项目组");
const CONTRACT: (&str, &str) = ("grp_contract", "合同评审群");

fn id_of(v: &Value) -> String {
    v["message_id"].as_str().unwrap_or_default().to_string()
}

fn live(event: &str, body: Value) -> LivePush {
    LivePush {
        event: event.to_string(),
        body,
    }
}

/// The scripted demo day (34 messages plus receipts, withdrawal, deletion, group changes).
pub fn demo_day(key: Option<&ContentKey>) -> Feed {
    let mut w = Writer { key, n: 0 };
    let mut f = Feed::default();
    // Overnight, while the archive was offline.
    let offline_direct = [
        w.direct(-600, "zhangsan", "admin", 1, "昨天的报销单我已经提交了，麻烦审批一下"),
        w.direct(-590, "lisi", "admin", 1, "合同扫描件明早发你"),
        w.direct(-580, "zhangsan", "admin", 3, "差旅费用报销明细.xlsx"),
    ];
    let offline_group = [
        w.group(-620, FINANCE, "zhaoliu", 1, "请各部门本周五前提交十一月报销单", &[]),
        w.group(-615, AGRI, "wangwu", 1, "农业局的报告初稿已经上传到共享盘", &[]),
        w.group(-610, AGRI, "lisi", 2, "现场照片.jpg", &[]),
    ];
    for m in offline_direct {
        f.offline.push(OfflineMessage {
            group: false,
            id: id_of(&m),
            body: m,
        });
    }
    for m in offline_group {
        f.offline.push(OfflineMessage {
            group: true,
            id: id_of(&m),
            body: m,
        });
    }

    f.live.push(live(
        "online user change",
        json!({
            "online": {"webUsers": ["zhangsan"], "mobileUsers": ["lisi"], "clientUsers": ["admin"]},
            "offline": {"webUsers": [], "mobileUsers": [], "clientUsers": []}
        }),
    ));
    f.live.push(live(
        "sync chat list",
        json!([
            {"room_id": FINANCE.0, "group_name": FINANCE.1}, {"room_id": AGRI.0, "group_name": AGRI.1},
            {"room_id": CONTRACT.0, "group_name": CONTRACT.1}
        ]),
    ));
    let msgs = [
        (
            "private message",
            w.direct(0, "zhangsan", "admin", 1, "早上好，报销单审批了吗？"),
        ),
        ("private message", w.direct(2, "admin", "zhangsan", 1, "上午处理，稍等")),
        (
            "group message",
            w.group(
                5,
                AGRI,
                "wangwu",
                1,
                "@李四 农业局项目的会议纪要请今天整理一下",
                &["lisi"],
            ),
        ),
        ("group message", w.group(7, AGRI, "lisi", 1, "收到，下午发到群里", &[])),
        (
            "group message",
            w.group(10, CONTRACT, "zhaoliu", 3, "采购合同v3.pdf", &[]),
        ),
        (
            "group message",
            w.group(
                12,
                CONTRACT,
                "zhaoliu",
                1,
                "@张三 @王五 请审阅合同第5条付款条款",
                &["zhangsan", "wangwu"],
            ),
        ),
        (
            "group message",
            w.group(15, CONTRACT, "zhangsan", 1, "付款比例建议改成30%预付", &[]),
        ),
        (
            "group message",
            w.group(
                16,
                CONTRACT,
                "wangwu",
                1,
                "Agree, please update the contract draft",
                &[],
            ),
        ),
        (
            "private message",
            w.direct(20, "lisi", "admin", 1, "合同续签事宜什么时候开会？"),
        ),
        (
            "private message",
            w.direct(22, "admin", "lisi", 1, "下午三点在会议室开会"),
        ),
        (
            "group message",
            w.group(30, FINANCE, "zhaoliu", 1, "差旅费用报销需要附上发票原件", &[]),
        ),
        (
            "group message",
            w.group(32, FINANCE, "zhangsan", 2, "发票照片.png", &[]),
        ),
        (
            "group message",
            w.group(33, FINANCE, "zhangsan", 1, "发错群了，撤回", &[]),
        ),
        (
            "group message",
            w.group(40, AGRI, "admin", 1, "农业局项目进度需要更新，周五前完成测试", &[]),
        ),
        (
            "private message",
            w.direct(45, "wangwu", "admin", 1, "预算已经超支了，需要财务部门审核"),
        ),
        ("private message", w.direct(46, "wangwu", "admin", 1, "这条不小心发的")),
        (
            "group message",
            w.group(
                60,
                AGRI,
                "lisi",
                1,
                "会议纪要已经发到群里：1. 农业局报告周三提交 2. 现场验收下周一",
                &[],
            ),
        ),
        ("group message", w.group(62, AGRI, "wangwu", 1, "OK, thanks 李四", &[])),
        (
            "private message",
            w.direct(70, "zhangsan", "admin", 1, "报销单已审批，谢谢老板"),
        ),
        (
            "group message",
            w.group(
                75,
                CONTRACT,
                "zhaoliu",
                1,
                "合同审批流程已完成，请各部门负责人签字确认",
                &[],
            ),
        ),
    ];
    let mut ids = Vec::new();
    for (event, m) in msgs {
        ids.push((
            id_of(&m),
            m["room_id"]
                .as_str()
                .or(m["chat_object_id"].as_str())
                .unwrap_or("")
                .to_string(),
        ));
        f.live.push(live(event, m));
    }
    // One client sent a corrupt ciphertext: the archive falls back to the plaintext.
    let mut broken = w.direct(80, "lisi", "admin", 1, "明天上午九点出发去农业局");
    if key.is_some() {
        broken["message_content"] = json!("bm90IGEgcmVhbCBjaXBoZXJ0ZXh0");
    }
    f.live.push(live("private message", broken));

    f.live.push(live("message have read", json!({"type": "user", "chat_id": "admin_zhangsan", "read_time": DEMO_DAY_START_MS + 3 * 60_000, "user_id": "zhangsan"})));
    let (withdrawn, room) = &ids[12];
    f.live.push(live(
        "withdraw msg",
        json!({"chat_id": room, "message_id": withdrawn, "type": "group", "toUserId": FINANCE.0, "at_list": []}),
    ));
    let (deleted, chat) = &ids[15];
    f.live
        .push(live("delete msg", json!({"chat_id": chat, "message_id": deleted})));
    f.live.push(live(
        "user add group",
        json!({"room_id": AGRI.0, "members": ["zhaoliu"]}),
    ));
    f.live.push(live(
        "group delete user",
        json!({"room_id": CONTRACT.0, "members": ["wangwu"]}),
    ));
    f.live
        .push(live("change work status", json!({"userId": "lisi", "workStatus": 2})));
    f.live.push(live("delete group", json!({"room_id": "grp_old_project"})));
    f.live
        .push(live("queue monitor", json!({"queue": "export", "length": 0})));
    f
}

/// `n` corpus messages as live pushes: even chat numbers are groups, odd ones direct chats.
pub fn bulk(n: usize, key: Option<&ContentKey>) -> Feed {
    let live = Corpus::new(42)
        .take(n)
        .map(|row| {
            let chat_no: u64 = row.chat_id.trim_start_matches("chat").parse().unwrap_or(0);
            let content = key.map(|k| k.encrypt(&row.text)).unwrap_or_default();
            let mut m = json!({
                "message_id": row.msg_id, "message_content": content, "text_message_content": row.text,
                "message_type": 1, "sender": row.sender, "send_time": row.sent_at, "withdraw": 0,
            });
            if chat_no.is_multiple_of(2) {
                m["type"] = json!("public_group");
                m["room_id"] = json!(row.chat_id);
                LivePush {
                    event: "group message".into(),
                    body: m,
                }
            } else {
                m["type"] = json!("user");
                m["chat_object_id"] = json!(row.chat_id);
                m["to"] = json!(LOGIN_USER);
                LivePush {
                    event: "private message".into(),
                    body: m,
                }
            }
        })
        .collect();
    Feed { offline: vec![], live }
}

/// The feed of a script.
pub fn feed(script: Script, key: Option<&ContentKey>) -> Feed {
    match script {
        Script::DemoDay => demo_day(key),
        Script::Bulk(n) => bulk(n, key),
        Script::Empty => Feed::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_day_is_a_realistic_size_and_deterministic() {
        let k = ContentKey::new("e-office-sim-key", "0102030405060708").unwrap();
        let a = demo_day(Some(&k));
        let messages = a.offline.len()
            + a.live
                .iter()
                .filter(|l| l.event.ends_with("message") && l.event != "message have read")
                .count();
        assert!((15..=40).contains(&messages), "{messages}");
        let b = demo_day(Some(&k));
        assert_eq!(a.live.len(), b.live.len());
        assert_eq!(a.live[3].body, b.live[3].body);
        let all: String = a.live.iter().map(|l| l.body.to_string()).collect();
        for word in ["报销", "合同", "会议纪要", "农业局", "thanks", "at_list"] {
            assert!(all.contains(word), "{word}");
        }
    }

    #[test]
    fn bulk_alternates_direct_and_group_chats() {
        let f = bulk(100, None);
        assert_eq!(f.live.len(), 100);
        assert!(f.live.iter().any(|l| l.event == "group message"));
        assert!(f.live.iter().any(|l| l.event == "private message"));
    }
}
