//! Scripts: what the simulated server does once a client has logged in.

use std::time::Duration;

use super::world::{Post, SimContent};
use crate::corpus::Corpus;

/// The logged-in account of the simulator.
pub const USER_ID: &str = "7356666";
/// Its token (the connector must send it at login and in the API `token` header).
pub const TOKEN: &str = "sim-yunhu-token-2026";
/// Device id the demo config uses.
pub const DEVICE_ID: &str = "chatvault-sim";

/// One scripted action.
// Scripts are built once per run; boxing `Post` would only make them harder to write.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A new message, pushed live (`push_message`).
    Post(Post),
    /// An edit (`edit_message`, plus an edit record in history).
    Edit {
        /// Target.
        msg_id: String,
        /// Content type after the edit.
        content_type: u64,
        /// New text.
        text: String,
        /// Edit time (ms).
        at: u64,
    },
    /// A chunk appended to a (bot) message (`stream_message`).
    Stream {
        /// Target.
        msg_id: String,
        /// Appended text.
        chunk: String,
    },
    /// A recall (`push_message` with `delete_timestamp`).
    Recall {
        /// Target.
        msg_id: String,
        /// Recall time (ms).
        at: u64,
    },
    /// 超级文件分享 (`file_send_message`).
    FileSend {
        /// Sharer.
        from: String,
        /// The escaped JSON `data`.
        data: String,
    },
    /// Draft sync (`draft_input`).
    Draft {
        /// Chat.
        chat_id: String,
        /// Draft text.
        input: String,
    },
    /// `invite_apply` (header only).
    InviteApply,
    /// Bytes that are not protobuf.
    Garbage(Vec<u8>),
    /// A well-formed frame with a `cmd` no client knows.
    UnknownCmd(String),
    /// Closes the connection; `offline` happens on the server while the client is away
    /// (stored in history, never pushed). The script goes on after the next login.
    Drop {
        /// What happens meanwhile.
        offline: Vec<Step>,
    },
    /// Waits before the next step.
    Pause(Duration),
}

impl Step {
    /// A plain-text message (content type 1), the most common step.
    pub fn text(msg_id: &str, chat: (&str, u64), sender: (&str, &str), text: &str, minute: u64) -> Step {
        Step::Post(post(msg_id, chat, sender, 1, text, minute))
    }
}

/// Which script to run.
#[derive(Debug, Clone)]
pub enum Script {
    /// A realistic day of company chat in Chinese (≈30 steps: 报销, 合同, 会议纪要, 农业局项目,
    /// @mentions, images, files, an edit, a streamed bot reply, recalls, a connection drop
    /// with offline activity caught up from history).
    DemoDay,
    /// `n` text messages from `Corpus::new(42)`, for benchmarks.
    Bulk(usize),
    /// Explicit steps (tests).
    Steps(Vec<Step>),
}

impl Script {
    /// The steps.
    pub fn steps(&self) -> Vec<Step> {
        match self {
            Script::DemoDay => demo_day(),
            Script::Bulk(n) => bulk(*n),
            Script::Steps(s) => s.clone(),
        }
    }
}

/// 2026-03-02 09:00 Asia/Shanghai, in ms.
pub const DEMO_START_MS: u64 = 1_772_413_200_000;

const ZHANG: (&str, &str) = ("7356001", "张三");
const LI: (&str, &str) = ("7356002", "李四");
const WANG: (&str, &str) = ("7356003", "王五");
const BOT: (&str, &str) = ("9000001", "项目助手");

/// A text-like post helper.
pub fn post(msg_id: &str, chat: (&str, u64), sender: (&str, &str), content_type: u64, text: &str, minute: u64) -> Post {
    Post {
        msg_id: msg_id.into(),
        chat_id: chat.0.into(),
        chat_type: chat.1,
        sender_id: sender.0.into(),
        sender_name: sender.1.into(),
        sender_type: if sender.0 == BOT.0 { 3 } else { 1 },
        content_type,
        content: SimContent {
            text: text.into(),
            ..SimContent::default()
        },
        at: at(minute),
        quote_msg_id: String::new(),
    }
}

fn at(minute: u64) -> u64 {
    DEMO_START_MS + minute * 60_000
}

fn demo_day() -> Vec<Step> {
    let finance = ("g-finance-101", 2);
    let agri = ("g-agri-202", 2);
    let zhang_dm = (ZHANG.0, 1);
    let li_dm = (LI.0, 1);
    let bot = (BOT.0, 3);
    let mut s = Vec::new();
    let mut p = post(
        "yh-d001",
        finance,
        ZHANG,
        1,
        "大家好，本月报销单请在周五前提交 @李四",
        0,
    );
    p.content.mentioned = vec![LI.0.into()];
    s.push(Step::Post(p));
    s.push(Step::text(
        "yh-d002",
        finance,
        LI,
        "收到，差旅费用报销的发票我下午发",
        2,
    ));
    let mut img = post("yh-d003", finance, LI, 2, "", 3);
    img.content.image_url = "https://chat-img.example/invoice-0302.jpg".into();
    img.content.file_name = "发票.jpg".into();
    img.content.file_size = 183_204;
    s.push(Step::Post(img));
    s.push(Step::Post(post(
        "yh-d004",
        agri,
        WANG,
        3,
        "# 会议纪要\n- 农业局项目进度需要更新\n- **合同**审批流程已完成\n- 下次会议：周三 [议程](https://docs.example/agenda)",
        10,
    )));
    let mut file = post("yh-d005", agri, ZHANG, 4, "", 12);
    file.content.file_name = "农业局项目合同v2.pdf".into();
    file.content.file_url = "https://chat-file.example/contract-v2.pdf".into();
    file.content.file_size = 482_133;
    s.push(Step::Post(file));
    s.push(Step::Edit {
        msg_id: "yh-d002".into(),
        content_type: 1,
        text: "收到，差旅费用报销的发票和行程单我下午一起发".into(),
        at: at(14),
    });
    s.push(Step::text(
        "yh-d006",
        zhang_dm,
        ZHANG,
        "下午三点在会议室开会，记得带合同",
        20,
    ));
    s.push(Step::Draft {
        chat_id: ZHANG.0.into(),
        input: "好的，我会准时".into(),
    });
    s.push(Step::Post(post("yh-d007", bot, BOT, 3, "根据会议纪要，", 25)));
    s.push(Step::Stream {
        msg_id: "yh-d007".into(),
        chunk: "农业局项目下一步：\n1. 提交预算；".into(),
    });
    s.push(Step::Stream {
        msg_id: "yh-d007".into(),
        chunk: "\n2. 周五前完成合同续签。".into(),
    });
    s.push(Step::text(
        "yh-d008",
        agri,
        WANG,
        "Please review the contract draft before the meeting, thanks!",
        30,
    ));
    s.push(Step::text("yh-d009", finance, ZHANG, "这条发错群了，请忽略", 33));
    s.push(Step::Recall {
        msg_id: "yh-d009".into(),
        at: at(34),
    });
    s.push(Step::FileSend {
        from: ZHANG.0.into(),
        data: r#"{"fileName":"报销制度2026.docx","fileSize":20480,"fileUrl":"https://chat-file.example/policy-2026.docx"}"#.into(),
    });
    s.push(Step::InviteApply);
    s.push(Step::Post(post(
        "yh-d010",
        agri,
        WANG,
        8,
        "<p>农业局回复：<b>同意</b>项目延期一周</p>",
        40,
    )));
    s.push(Step::Edit {
        msg_id: "yh-d006".into(),
        content_type: 1,
        text: "下午三点半在会议室开会，记得带合同".into(),
        at: at(42),
    });
    s.push(Step::Recall {
        msg_id: "yh-d006".into(),
        at: at(45),
    });
    // A connection lives for a while before it drops.
    s.push(Step::Pause(Duration::from_millis(300)));
    s.push(Step::Drop {
        offline: vec![
            Step::text("yh-d011", finance, LI, "报销单已经提交，请审核", 60),
            Step::Edit {
                msg_id: "yh-d008".into(),
                content_type: 1,
                text: "Please review the contract draft before 3pm, thanks!".into(),
                at: at(61),
            },
            Step::text(
                "yh-d012",
                agri,
                WANG,
                "会议纪要已经发到群里，请各部门负责人签字确认",
                63,
            ),
            Step::text("yh-d013", li_dm, LI, "新员工入职培训资料在群文件里", 65),
            Step::Recall {
                msg_id: "yh-d012".into(),
                at: at(66),
            },
        ],
    });
    s.push(Step::text("yh-d014", finance, ZHANG, "好的，财务部门审核通过 👍", 80));
    let mut voice = post("yh-d015", agri, WANG, 11, "", 85);
    voice.content.audio_url = "https://chat-audio.example/0302-1.m4a".into();
    voice.content.audio_time = 12;
    s.push(Step::Post(voice));
    let mut sticker = post("yh-d016", agri, ZHANG, 7, "", 86);
    sticker.content.sticker_url = "https://chat-img.example/sticker/ok.gif".into();
    s.push(Step::Post(sticker));
    let mut reply = post("yh-d017", agri, LI, 1, "OK，预算我今天提交 @王五", 90);
    reply.quote_msg_id = "yh-d010".into();
    reply.content.mentioned = vec![WANG.0.into()];
    s.push(Step::Post(reply));
    s
}

fn bulk(n: usize) -> Vec<Step> {
    Corpus::new(42)
        .take(n)
        .map(|row| {
            Step::Post(Post {
                msg_id: row.msg_id,
                chat_id: row.chat_id,
                chat_type: 2,
                sender_id: row.sender.clone(),
                sender_name: row.sender,
                sender_type: 1,
                content_type: 1,
                content: SimContent {
                    text: row.text,
                    ..SimContent::default()
                },
                at: row.sent_at as u64,
                quote_msg_id: String::new(),
            })
        })
        .collect()
}
