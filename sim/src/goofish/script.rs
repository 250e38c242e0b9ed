//! What the Goofish simulator says: a scripted day of a company shop account on 闲鱼, or bulk
//! messages from the benchmark corpus.

use std::collections::HashMap;

use crate::corpus::Corpus;

/// The account the simulator logs in as (the company's shop).
pub const SELF_UID: &str = "2200000000001";
/// Its display name.
pub const SELF_NAME: &str = "农科设备回收店";
/// First message time of the demo day: 2026-11-23 09:00 +08:00.
const DAY_START: i64 = 1_795_395_600_000;

/// Which script to play.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    /// A realistic day: 商品咨询, price talk, images, an invoice for 报销, a purchase 合同, a
    /// system notice and a recall (28 items).
    DemoDay,
    /// `n` text messages from `Corpus::new(42)`, spread over 200 conversations.
    Bulk(usize),
    /// Nothing (tests add messages themselves).
    Empty,
}

/// How the account's message ids are numbered. No source says whether Goofish numbers an
/// account's messages across its conversations or within each one (the client reads and
/// recalls a message by its `.PNM` id alone, which suggests the first); the archive's keys
/// are laid out for the first (`store/src/keys.rs`), so the simulator plays both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Numbering {
    /// One sequence for the whole account: the scripts' own ids.
    #[default]
    AcrossChats,
    /// Each conversation counts from the same number, so the same id stands in many
    /// conversations.
    PerChat,
}

/// The first number of every conversation under [`Numbering::PerChat`].
const PER_CHAT_BASE: u64 = 4_263_141_580_000;

impl Numbering {
    /// Renumbers `msgs` (in script order) this way; recalls keep naming the message they
    /// recall.
    pub fn apply(self, msgs: &mut [SimMessage]) {
        if self == Numbering::AcrossChats {
            return;
        }
        let mut next: HashMap<String, u64> = HashMap::new();
        let mut renamed: HashMap<String, String> = HashMap::new();
        for m in msgs.iter_mut() {
            let n = next.entry(m.cid.clone()).or_insert(PER_CHAT_BASE);
            let id = format!("{n}.PNM");
            *n += 1;
            renamed.insert(std::mem::replace(&mut m.msg_id, id.clone()), id);
        }
        for m in msgs.iter_mut() {
            if let SimContent::Recall { target } = &mut m.content
                && let Some(id) = renamed.get(target.as_str())
            {
                *target = id.clone();
            }
        }
    }
}

/// What a message carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimContent {
    /// Plain text (`contentType` 1).
    Text(String),
    /// An image (`contentType` 2).
    Image {
        /// Picture URL.
        url: String,
        /// Width.
        width: u32,
        /// Height.
        height: u32,
    },
    /// A platform notice (`needPush: "false"`).
    System(String),
    /// The sender recalled an earlier message (UNVERIFIED wire shape, see the connector).
    Recall {
        /// The recalled message id.
        target: String,
    },
}

/// One scripted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimMessage {
    /// Bare conversation id.
    pub cid: String,
    /// Message id (`….PNM`); for a recall, the recall's own id.
    pub msg_id: String,
    /// Sender uid.
    pub sender_id: String,
    /// Sender display name.
    pub sender_name: String,
    /// Create time (ms).
    pub sent_at: i64,
    /// Content.
    pub content: SimContent,
}

impl SimMessage {
    /// The searchable text the archive should end up with.
    pub fn text(&self) -> &str {
        match &self.content {
            SimContent::Text(t) | SimContent::System(t) => t,
            SimContent::Image { .. } => "[图片]",
            SimContent::Recall { .. } => "",
        }
    }

    /// Whether it is a message (not a recall).
    pub fn is_message(&self) -> bool {
        !matches!(self.content, SimContent::Recall { .. })
    }
}

/// A conversation: one buyer, one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConversation {
    /// Bare conversation id.
    pub cid: String,
    /// The other party.
    pub peer_uid: String,
    /// Their nick.
    pub peer_name: String,
    /// The item talked about.
    pub item_id: String,
    /// Its title.
    pub item_title: String,
}

impl Script {
    /// The conversations and messages, in time order.
    pub fn build(self) -> (Vec<SimConversation>, Vec<SimMessage>) {
        match self {
            Script::DemoDay => demo_day(),
            Script::Bulk(n) => bulk(n),
            Script::Empty => (Vec::new(), Vec::new()),
        }
    }

    /// How many messages are on the server before the first connection (history that only
    /// backfill or catch-up delivers); the rest are pushed live.
    pub fn default_offline(self) -> usize {
        match self {
            Script::DemoDay => 9,
            Script::Bulk(_) | Script::Empty => 0,
        }
    }
}

fn demo_day() -> (Vec<SimConversation>, Vec<SimMessage>) {
    let convs = vec![
        conv(
            "48011000001",
            "2200087654321",
            "王采购",
            "870001",
            "ThinkPad X1 Carbon 2023 九成新 办公本",
        ),
        conv(
            "48011000002",
            "2200012345678",
            "李会计(农业局项目)",
            "870002",
            "惠普 M479fdw 彩色激光打印机",
        ),
        conv(
            "48011000003",
            "2200055551111",
            "Tom_Shanghai",
            "870003",
            "Dell U2720Q 27寸 4K 显示器",
        ),
        conv(
            "48011000004",
            "2200099990000",
            "闲鱼小助手",
            "870001",
            "ThinkPad X1 Carbon 2023 九成新 办公本",
        ),
    ];
    let me = (SELF_UID, SELF_NAME);
    let wang = ("2200087654321", "王采购");
    let li = ("2200012345678", "李会计(农业局项目)");
    let tom = ("2200055551111", "Tom_Shanghai");
    let sys = ("2200099990000", "闲鱼小助手");
    use SimContent::*;
    let t = |s: &str| Text(s.to_string());
    let img = |url: &str, width, height| Image {
        url: url.to_string(),
        width,
        height,
    };
    let lines: Vec<(&str, (&str, &str), i64, SimContent)> = vec![
        ("48011000001", wang, 0, t("你好，这台 ThinkPad X1 还在吗？")),
        (
            "48011000001",
            me,
            2,
            t("在的亲，公司换新淘汰下来的，九成新，电池健康 92%"),
        ),
        ("48011000001", wang, 5, t("可以小刀吗？4500 包邮的话今天就拍")),
        ("48011000001", me, 9, t("最低 4700，包邮，顺丰发货")),
        (
            "48011000001",
            me,
            10,
            img("https://img.alicdn.com/sim/x1-battery.jpg", 1080, 1440),
        ),
        (
            "48011000002",
            li,
            30,
            t("您好，我们是农业局项目组，这台打印机能开发票吗？要走报销流程"),
        ),
        ("48011000002", me, 33, t("可以开增值税普通发票，抬头和税号发我一下")),
        (
            "48011000002",
            li,
            35,
            t("抬头：某某市农业局，税号 11110000XXXXXXXX，报销需要发票和收据"),
        ),
        (
            "48011000002",
            me,
            38,
            img("https://img.alicdn.com/sim/m479-front.jpg", 1200, 900),
        ),
        // Live from here (after the default offline count of 9).
        (
            "48011000001",
            wang,
            60,
            t("4600 行不行，我们部门采购要走合同，金额超了审批麻烦"),
        ),
        (
            "48011000001",
            me,
            62,
            t("4650 吧，合同我们可以盖章，会议纪要里写清楚验收标准"),
        ),
        ("48011000001", wang, 64, t("成交！@农科设备回收店 我现在拍下")),
        ("48011000004", sys, 65, System("[买家已拍下，等待买家付款]".into())),
        ("48011000004", sys, 70, System("[买家已付款，请尽快发货]".into())),
        (
            "48011000003",
            tom,
            90,
            t("Hi, is the Dell U2720Q still available? Any dead pixels?"),
        ),
        (
            "48011000003",
            me,
            92,
            t("Yes it is. No dead pixels, 附原装线材，可以当面验货"),
        ),
        ("48011000003", tom, 95, t("Great. Can you do 1800? 我在上海浦东")),
        ("48011000003", me, 96, t("1850 包邮到上海，今天下午三点前付款今天发")),
        ("48011000003", me, 97, t("不好意思发错了，是 1900")),
        ("48011000003", me, 98, Recall { target: "MSG96".into() }),
        ("48011000003", tom, 100, t("OK 1900 deal, 麻烦开个收据给财务报销")),
        ("48011000002", li, 120, t("合同扫描件已经发邮件了，麻烦确认一下")),
        ("48011000002", me, 125, t("收到，合同已盖章回传，打印机明天上午发货")),
        (
            "48011000002",
            li,
            126,
            img("https://img.alicdn.com/sim/contract-scan.png", 1654, 2339),
        ),
        (
            "48011000002",
            li,
            130,
            t("好的谢谢老板，会议纪要我这边也同步给项目负责人了"),
        ),
        ("48011000001", me, 150, t("已发货，顺丰单号 SF1234567890123，注意查收")),
        ("48011000004", sys, 151, System("[你已发货]".into())),
        ("48011000001", wang, 240, t("收到了，机器很新，已确认收货，五星好评")),
    ];
    let msgs = lines
        .into_iter()
        .map(|(cid, (uid, name), minute, content)| {
            // Ids are derived from the minute; a recall gets its own range.
            let (content, id_base) = match content {
                Recall { target } => {
                    // `MSG<minute>`: the message sent at that minute.
                    let min: i64 = target.trim_start_matches("MSG").parse().unwrap_or(0);
                    (
                        Recall {
                            target: format!("{}.PNM", 4_263_141_580_000i64 + min),
                        },
                        4_263_141_680_000i64,
                    )
                }
                c => (c, 4_263_141_580_000i64),
            };
            SimMessage {
                cid: cid.into(),
                msg_id: format!("{}.PNM", id_base + minute),
                sender_id: uid.into(),
                sender_name: name.into(),
                sent_at: DAY_START + minute * 60_000,
                content,
            }
        })
        .collect();
    (convs, msgs)
}

fn bulk(n: usize) -> (Vec<SimConversation>, Vec<SimMessage>) {
    let convs: Vec<SimConversation> = (1..=200)
        .map(|i| {
            conv(
                &format!("5{i:010}"),
                &format!("23{i:011}"),
                &format!("买家{i}"),
                &format!("9{i:05}"),
                &format!("闲置好物 #{i}"),
            )
        })
        .collect();
    let msgs = Corpus::new(42)
        .take(n)
        .map(|row| {
            let c = &convs[(row.i % convs.len() as u64) as usize];
            let mine = row.i % 3 == 0;
            SimMessage {
                cid: c.cid.clone(),
                msg_id: format!("{}.PNM", 5_000_000_000_000u64 + row.i),
                sender_id: if mine { SELF_UID.into() } else { c.peer_uid.clone() },
                sender_name: if mine { SELF_NAME.into() } else { c.peer_name.clone() },
                sent_at: row.sent_at,
                content: SimContent::Text(row.text),
            }
        })
        .collect();
    (convs, msgs)
}

fn conv(cid: &str, peer: &str, name: &str, item: &str, title: &str) -> SimConversation {
    SimConversation {
        cid: cid.into(),
        peer_uid: peer.into(),
        peer_name: name.into(),
        item_id: item.into(),
        item_title: title.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_chat_numbering_repeats_ids_across_conversations_and_keeps_the_recall() {
        let (_, mut msgs) = Script::DemoDay.build();
        let recalled = |msgs: &[SimMessage]| {
            let target = msgs
                .iter()
                .find_map(|m| match &m.content {
                    SimContent::Recall { target } => Some((m.cid.clone(), target.clone())),
                    _ => None,
                })
                .expect("a recall");
            let hit: Vec<_> = msgs
                .iter()
                .filter(|m| (&m.cid, &m.msg_id) == (&target.0, &target.1))
                .collect();
            assert_eq!(hit.len(), 1, "{target:?}");
            hit[0].text().to_string()
        };
        let before = recalled(&msgs);
        Numbering::PerChat.apply(&mut msgs);
        assert_eq!(recalled(&msgs), before);
        let ids: std::collections::HashSet<_> = msgs.iter().map(|m| &m.msg_id).collect();
        let per_chat: std::collections::HashSet<_> = msgs.iter().map(|m| (&m.cid, &m.msg_id)).collect();
        assert_eq!(per_chat.len(), msgs.len(), "unique within a conversation");
        assert!(ids.len() < msgs.len(), "ids repeat across conversations");
        let first: Vec<_> = msgs
            .iter()
            .filter(|m| m.msg_id == "4263141580000.PNM")
            .map(|m| &m.cid)
            .collect();
        let convs: std::collections::HashSet<_> = msgs.iter().map(|m| &m.cid).collect();
        assert_eq!(first.len(), convs.len(), "every conversation starts at the same number");
    }

    #[test]
    fn demo_day_is_a_plausible_day() {
        let (convs, msgs) = Script::DemoDay.build();
        assert!((15..=40).contains(&msgs.len()));
        let ids: std::collections::HashSet<_> = msgs.iter().map(|m| &m.msg_id).collect();
        assert_eq!(ids.len(), msgs.len(), "message ids are unique");
        let recall = msgs.iter().find_map(|m| match &m.content {
            SimContent::Recall { target } => Some(target.clone()),
            _ => None,
        });
        let target = recall.expect("a recall");
        assert!(msgs.iter().any(|m| m.msg_id == target && m.text().contains("1850")));
        assert!(msgs.iter().all(|m| convs.iter().any(|c| c.cid == m.cid)));
        assert!(msgs.windows(2).all(|w| w[0].sent_at <= w[1].sent_at));
    }
}
