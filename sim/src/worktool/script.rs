//! What the WorkTool simulator posts: callbacks with the platform's field names, a scripted
//! day of company chat, and bulk traffic from the benchmark corpus.

use serde_json::{Map, Value, json};

use crate::corpus::Corpus;

/// A 1×1 PNG, the image every simulated picture message carries (`fileBase64`).
pub const PNG_BASE64: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

/// The internal group of the demo day.
pub const DEMO_GROUP: &str = "财务报销群";
/// The external group of the demo day.
pub const DEMO_EXTERNAL_GROUP: &str = "农业局项目对接群";

/// Room types (`roomType`).
pub mod room {
    /// 外部群.
    pub const EXTERNAL_GROUP: i64 = 1;
    /// 外部联系人.
    pub const EXTERNAL_CONTACT: i64 = 2;
    /// 内部群.
    pub const INTERNAL_GROUP: i64 = 3;
    /// 内部联系人.
    pub const INTERNAL_CONTACT: i64 = 4;
}

/// One callback body, as field → value (encoded as JSON or form data by the poster).
#[derive(Debug, Clone, PartialEq)]
pub struct Callback {
    /// The fields, in the platform's names.
    pub fields: Map<String, Value>,
    /// The `event` parameter of the URL this callback type is bound to (`online`, `offline`),
    /// `None` for the message callback URL.
    pub event: Option<String>,
}

impl Callback {
    /// A message callback. `group` is `None` for a direct chat.
    pub fn message(group: Option<&str>, room_type: i64, sender: &str, text_type: i64, raw_spoken: &str) -> Callback {
        // WorkTool strips "@robot " from `spoken`; the simulated robot is called 小助手.
        let spoken = raw_spoken.replace("@小助手\u{2005}", "").replace("@小助手 ", "");
        let at_me = raw_spoken.contains("@小助手");
        let v = json!({
            "spoken": spoken,
            "rawSpoken": raw_spoken,
            "receivedName": sender,
            "groupName": group.unwrap_or(""),
            "groupRemark": group.map(|g| format!("{g}(备注)")).unwrap_or_default(),
            "roomType": room_type,
            "atMe": at_me,
            "textType": text_type,
        });
        Callback {
            fields: v.as_object().cloned().unwrap_or_default(),
            event: None,
        }
    }

    /// A text message in a group.
    pub fn group_text(group: &str, room_type: i64, sender: &str, text: &str) -> Callback {
        Callback::message(Some(group), room_type, sender, 1, text)
    }

    /// An image message carrying [`PNG_BASE64`].
    pub fn image(group: Option<&str>, room_type: i64, sender: &str) -> Callback {
        Callback::message(group, room_type, sender, 2, "").with("fileBase64", PNG_BASE64)
    }

    /// A callback of another bound type with a numeric `type` field (0 QR code, 1 command
    /// result); no public source shows these bodies, this is one plausible shape.
    pub fn robot_event(kind: i64) -> Callback {
        let v = json!({ "type": kind, "robotId": super::ROBOT_ID, "time": "2026-03-02 09:00:00" });
        Callback {
            fields: v.as_object().cloned().unwrap_or_default(),
            event: None,
        }
    }

    /// The robot online (type 5) or offline (type 6) callback, posted to the URL bound with
    /// `&event=online` / `&event=offline`. WorkTool lets these two point at a WeCom group-robot
    /// webhook (API docs api-43942595: 支持企微内部机器人webhook地址), so the body is a webhook
    /// text message; its wording is not documented.
    pub fn robot_state(online: bool) -> Callback {
        let (word, event) = if online {
            ("上线", "online")
        } else {
            ("下线", "offline")
        };
        let v = json!({ "msgtype": "text", "text": { "content": format!("机器人 小助手（{}）已{word}", super::ROBOT_ID) } });
        Callback {
            fields: v.as_object().cloned().unwrap_or_default(),
            event: Some(event.to_string()),
        }
    }

    /// Sets one field.
    pub fn with(mut self, field: &str, value: impl Into<Value>) -> Callback {
        self.fields.insert(field.to_string(), value.into());
        self
    }

    /// `rawSpoken`, else `spoken` (what the archive should show as text).
    pub fn text(&self) -> &str {
        let raw = self.fields.get("rawSpoken").and_then(Value::as_str).unwrap_or("");
        if raw.is_empty() {
            self.fields.get("spoken").and_then(Value::as_str).unwrap_or("")
        } else {
            raw
        }
    }

    /// Whether it is a chat message (not a robot / QR / command callback).
    pub fn is_message(&self) -> bool {
        self.fields.contains_key("receivedName")
    }
}

/// What to post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    /// A scripted day of company chat (Chinese, some English, @mentions, images, files,
    /// merged records, a robot offline gap, a QR-code callback, "好的" twice).
    DemoDay,
    /// `n` text messages from `Corpus::new(42)` across 20 groups, for benchmarks.
    Bulk(usize),
}

impl Script {
    /// The callbacks, in posting order.
    pub fn callbacks(self) -> Vec<Callback> {
        match self {
            Script::DemoDay => demo_day(),
            Script::Bulk(n) => bulk(n),
        }
    }
}

fn demo_day() -> Vec<Callback> {
    use room::*;
    let g = Some(DEMO_GROUP);
    let x = Some(DEMO_EXTERNAL_GROUP);
    vec![
        Callback::robot_state(true),
        Callback::group_text(
            DEMO_GROUP,
            INTERNAL_GROUP,
            "张三",
            "早上好，这个月的差旅费用报销今天截止",
        ),
        Callback::group_text(
            DEMO_GROUP,
            INTERNAL_GROUP,
            "李四",
            "@小助手\u{2005}待处理的报销单有几张？",
        ),
        Callback::image(g, INTERNAL_GROUP, "李四"),
        Callback::group_text(
            DEMO_GROUP,
            INTERNAL_GROUP,
            "王芳",
            "@张三\u{2005}发票我已经拍照发群里了，麻烦审核",
        ),
        Callback::group_text(DEMO_GROUP, INTERNAL_GROUP, "张三", "好的"),
        Callback::group_text(DEMO_GROUP, INTERNAL_GROUP, "张三", "好的"),
        Callback::message(g, INTERNAL_GROUP, "王芳", 9, "2026年3月差旅报销明细.xlsx"),
        Callback::group_text(
            DEMO_EXTERNAL_GROUP,
            EXTERNAL_GROUP,
            "赵局长",
            "农业局的报告已经提交，请贵公司确认合同条款",
        ),
        Callback::group_text(
            DEMO_EXTERNAL_GROUP,
            EXTERNAL_GROUP,
            "张三",
            "收到，合同审批流程已完成，今天下午盖章寄出",
        ),
        Callback::message(x, EXTERNAL_GROUP, "张三", 9, "农业局项目合同_v3.pdf"),
        Callback::group_text(
            DEMO_EXTERNAL_GROUP,
            EXTERNAL_GROUP,
            "Tom Li",
            "Please review the contract draft before Friday, thanks!",
        ),
        Callback::message(x, EXTERNAL_GROUP, "赵局长", 3, ""),
        Callback::message(
            x,
            EXTERNAL_GROUP,
            "赵局长",
            15,
            "「张三：今天下午盖章寄出」\n- - - - - - -\n好的，辛苦",
        ),
        Callback::robot_state(false),
        Callback::robot_state(true),
        Callback::group_text(
            DEMO_GROUP,
            INTERNAL_GROUP,
            "李四",
            "下午三点在会议室开会，讨论农业局项目进度",
        ),
        Callback::message(
            g,
            INTERNAL_GROUP,
            "李四",
            13,
            "会议纪要：农业局项目第二次例会的聊天记录",
        ),
        Callback::message(g, INTERNAL_GROUP, "王芳", 8, "会议纪要模板 https://example.com/doc/123"),
        Callback::message(g, INTERNAL_GROUP, "王芳", 7, "报销审批小程序"),
        Callback::message(g, INTERNAL_GROUP, "张三", 5, ""),
        Callback::message(
            None,
            EXTERNAL_CONTACT,
            "李经理",
            1,
            "您好，合同的付款节点能否调整为两期？",
        ),
        Callback::message(None, INTERNAL_CONTACT, "王芳", 1, "@小助手 帮我查一下上个月的报销进度"),
        Callback::image(None, INTERNAL_CONTACT, "王芳"),
        Callback::robot_event(0)
            .with("groupName", DEMO_EXTERNAL_GROUP)
            .with("qrCodeUrl", "https://example.com/qr/123.png"),
        Callback::group_text(
            DEMO_GROUP,
            INTERNAL_GROUP,
            "张三",
            "The budget report is ready, 预算已经超支了，需要重新审批",
        ),
    ]
}

fn bulk(n: usize) -> Vec<Callback> {
    Corpus::new(42)
        .take(n)
        .map(|row| {
            let group = format!(
                "项目群{}",
                row.chat_id.trim_start_matches("chat").parse::<u32>().unwrap_or(0) % 20
            );
            Callback::group_text(&group, room::INTERNAL_GROUP, &row.sender, &row.text)
        })
        .collect()
}
