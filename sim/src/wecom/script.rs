//! What the WeCom simulator sends: the inner XML of each callback, before encryption.

use std::fmt::Write;

use crate::corpus::Corpus;

/// The app the simulated members write to.
pub const AGENT_ID: &str = "1000002";

/// A scripted run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    /// A working day at a small company: app messages in Chinese and English, images, voice,
    /// a link and a location, new members, customers and a customer group's life, approvals.
    DemoDay,
    /// `n` text messages from the benchmark corpus (seed 42).
    Bulk(usize),
}

/// One callback to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    /// `MsgType`, or `event:<Event>` for events.
    pub kind: String,
    /// `MsgId` for app messages (events have none).
    pub msg_id: Option<String>,
    /// The decrypted XML WeCom would send.
    pub xml: String,
}

/// 2026-03-02 09:00 Asia/Shanghai, the demo day's first callback.
pub const DEMO_DAY_START: i64 = 1_772_413_200;

/// Members the fake API knows: (userid, name).
pub const MEMBERS: [(&str, &str); 5] = [
    ("zhangsan", "张三"),
    ("lisi", "李四"),
    ("wangwu", "王五"),
    ("zhaoliu", "赵六"),
    ("emily", "Emily Chen"),
];

/// Customers (external contacts) the fake API knows: (external_userid, name).
pub const CUSTOMERS: [(&str, &str); 2] = [
    ("wmOgQhDgAAuXFJGwbve4g4iQknfOAAAA", "刘建国"),
    ("wmOgQhDgAAa0vDqNkfpGNgDQ8wNwAAAA", "周红"),
];

/// The demo day's approval (`SpNo`), as `oa/getapprovaldetail` answers it.
pub const APPROVAL_SP_NO: &str = "202603020001";

/// A self-built app's approval (`ThirdNo`), as `corp/getopenapprovaldata` answers it.
pub const OPEN_APPROVAL_THIRD_NO: &str = "CV-PAY-20260302-07";

/// The customer group of the demo day: (chat id, name after the rename).
pub const DEMO_GROUP: (&str, &str) = ("wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA", "农业局项目对接群");

impl Script {
    /// The callbacks of this script, in delivery order.
    pub fn callbacks(self, corp_id: &str) -> Vec<Callback> {
        match self {
            Script::DemoDay => demo_day(corp_id),
            Script::Bulk(n) => bulk(corp_id, n),
        }
    }
}

fn head(corp_id: &str, from: &str, t: i64, msg_type: &str) -> String {
    format!(
        "<xml><ToUserName><![CDATA[{corp_id}]]></ToUserName><FromUserName><![CDATA[{from}]]></FromUserName>\
         <CreateTime>{t}</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>"
    )
}

/// A text message.
pub fn text(corp_id: &str, from: &str, t: i64, msg_id: u64, content: &str) -> Callback {
    let mut xml = head(corp_id, from, t, "text");
    let _ = write!(
        xml,
        "<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId><AgentID>{AGENT_ID}</AgentID></xml>"
    );
    Callback {
        kind: "text".into(),
        msg_id: Some(msg_id.to_string()),
        xml,
    }
}

fn message(corp_id: &str, from: &str, t: i64, msg_id: u64, msg_type: &str, fields: &str) -> Callback {
    let xml = format!(
        "{}{fields}<MsgId>{msg_id}</MsgId><AgentID>{AGENT_ID}</AgentID></xml>",
        head(corp_id, from, t, msg_type)
    );
    Callback {
        kind: msg_type.into(),
        msg_id: Some(msg_id.to_string()),
        xml,
    }
}

/// An `open_approval_change` callback of a self-built app's approval, in the shape public
/// clients parse it (WxJava `WxCpXmlMessageTest.testOpenApprovalChange`): `ApprovalInfo` with
/// `ThirdNo`, `OpenSpName`, `OpenSpStatus`, the applicant and the approval nodes.
pub fn open_approval_change(corp_id: &str, t: i64, third_no: &str, status: u8) -> Callback {
    event(
        corp_id,
        "sys",
        t,
        "open_approval_change",
        &format!(
            "<AgentID>{AGENT_ID}</AgentID><ApprovalInfo><ThirdNo><![CDATA[{third_no}]]></ThirdNo>\
             <OpenSpName><![CDATA[付款]]></OpenSpName><OpenTemplateId><![CDATA[tpl-pay-01]]></OpenTemplateId>\
             <OpenSpStatus>{status}</OpenSpStatus><ApplyTime>1772413800</ApplyTime>\
             <ApplyUserName><![CDATA[李四]]></ApplyUserName><ApplyUserId><![CDATA[lisi]]></ApplyUserId>\
             <ApplyUserParty><![CDATA[项目部]]></ApplyUserParty><ApprovalNodes><ApprovalNode><NodeStatus>{status}</NodeStatus>\
             <NodeAttr>1</NodeAttr><NodeType>1</NodeType><Items><Item><ItemName><![CDATA[张三]]></ItemName>\
             <ItemUserId><![CDATA[zhangsan]]></ItemUserId><ItemStatus>{status}</ItemStatus>\
             <ItemSpeech><![CDATA[]]></ItemSpeech><ItemOpTime>0</ItemOpTime></Item></Items></ApprovalNode>\
             </ApprovalNodes><approverstep>0</approverstep></ApprovalInfo>"
        ),
    )
}

fn event(corp_id: &str, from: &str, t: i64, name: &str, fields: &str) -> Callback {
    let xml = format!(
        "{}<Event><![CDATA[{name}]]></Event>{fields}</xml>",
        head(corp_id, from, t, "event")
    );
    Callback {
        kind: format!("event:{name}"),
        msg_id: None,
        xml,
    }
}

fn demo_day(c: &str) -> Vec<Callback> {
    let t = |min: i64| DEMO_DAY_START + min * 60;
    let (gid, _) = DEMO_GROUP;
    let mut id = 7_300_000_000_000_000_000u64;
    let mut next = || {
        id += 1;
        id
    };
    vec![
        event(
            c,
            "sys",
            t(0),
            "change_contact",
            "<ChangeType>create_user</ChangeType><UserID>emily</UserID><Name><![CDATA[Emily Chen]]></Name><Department>1,2</Department>",
        ),
        text(
            c,
            "zhangsan",
            t(2),
            next(),
            "早上好，今天下午三点开会讨论农业局项目的合同",
        ),
        text(
            c,
            "lisi",
            t(5),
            next(),
            "收到。@张三 上个月的差旅费用报销单我已经提交了，麻烦审批一下",
        ),
        message(
            c,
            "lisi",
            t(6),
            next(),
            "image",
            "<PicUrl><![CDATA[https://wework.qpic.cn/wwpic/sim/receipt.jpg]]></PicUrl><MediaId><![CDATA[MEDIA_receipt_001]]></MediaId>",
        ),
        event(
            c,
            "sys",
            t(7),
            "sys_approval_change",
            "<AgentID>3010040</AgentID><ApprovalInfo><SpNo>202603020001</SpNo><SpName><![CDATA[报销]]></SpName><SpStatus>1</SpStatus><TemplateId><![CDATA[3TkZjxugodbqpEb5RqrJcS8S6wr]]></TemplateId><ApplyTime>1772413620</ApplyTime><Applyer><UserId><![CDATA[lisi]]></UserId></Applyer><StatuChangeEvent>1</StatuChangeEvent></ApprovalInfo>",
        ),
        text(
            c,
            "emily",
            t(12),
            next(),
            "Hi all, I'm Emily from the Shanghai office. Looking forward to working with you on the 农业局 project!",
        ),
        text(
            c,
            "wangwu",
            t(20),
            next(),
            "合同第三版已经发到邮箱，请法务 review 一下付款条款",
        ),
        message(
            c,
            "wangwu",
            t(21),
            next(),
            "link",
            "<Title><![CDATA[农业局智慧农业项目合同（第三版）]]></Title><Description><![CDATA[合同金额、付款节点与验收标准]]></Description><Url><![CDATA[https://docs.example.com/contract/v3]]></Url><PicUrl><![CDATA[]]></PicUrl>",
        ),
        event(
            c,
            "sys",
            t(30),
            "change_external_contact",
            "<ChangeType><![CDATA[add_external_contact]]></ChangeType><UserID><![CDATA[zhangsan]]></UserID><ExternalUserID><![CDATA[wmOgQhDgAAuXFJGwbve4g4iQknfOAAAA]]></ExternalUserID><State><![CDATA[nongyeju]]></State><WelcomeCode><![CDATA[WELCOMECODE]]></WelcomeCode>",
        ),
        event(
            c,
            "sys",
            t(33),
            "change_external_chat",
            &format!("<ChatId><![CDATA[{gid}]]></ChatId><ChangeType><![CDATA[create]]></ChangeType>"),
        ),
        event(
            c,
            "sys",
            t(34),
            "change_external_chat",
            &format!(
                "<ChatId><![CDATA[{gid}]]></ChatId><ChangeType><![CDATA[update]]></ChangeType><UpdateDetail><![CDATA[add_member]]></UpdateDetail><JoinScene>1</JoinScene><MemChangeCnt>2</MemChangeCnt><MemChangeList><Item><![CDATA[wmOgQhDgAAuXFJGwbve4g4iQknfOAAAA]]></Item><Item><![CDATA[lisi]]></Item></MemChangeList>"
            ),
        ),
        event(
            c,
            "sys",
            t(35),
            "change_external_chat",
            &format!(
                "<ChatId><![CDATA[{gid}]]></ChatId><ChangeType><![CDATA[update]]></ChangeType><UpdateDetail><![CDATA[change_name]]></UpdateDetail>"
            ),
        ),
        message(
            c,
            "zhaoliu",
            t(60),
            next(),
            "voice",
            "<MediaId><![CDATA[MEDIA_voice_002]]></MediaId><Format><![CDATA[amr]]></Format>",
        ),
        text(
            c,
            "zhaoliu",
            t(62),
            next(),
            "语音说一下：发票明天寄出，预算已经超支了一点，需要财务部门审核",
        ),
        text(
            c,
            "zhangsan",
            t(240),
            next(),
            "会议纪要：1. 合同付款分三期 2. 农业局验收在五月 3. Emily 负责英文版材料",
        ),
        message(
            c,
            "zhangsan",
            t(241),
            next(),
            "location",
            "<Location_X>31.230416</Location_X><Location_Y>121.473701</Location_Y><Scale>15</Scale><Label><![CDATA[上海市黄浦区人民大道200号 农业局会议室]]></Label>",
        ),
        event(
            c,
            "sys",
            t(250),
            "sys_approval_change",
            "<AgentID>3010040</AgentID><ApprovalInfo><SpNo>202603020001</SpNo><SpName><![CDATA[报销]]></SpName><SpStatus>2</SpStatus><TemplateId><![CDATA[3TkZjxugodbqpEb5RqrJcS8S6wr]]></TemplateId><ApplyTime>1772413620</ApplyTime><Applyer><UserId><![CDATA[lisi]]></UserId></Applyer><StatuChangeEvent>2</StatuChangeEvent></ApprovalInfo>",
        ),
        text(c, "lisi", t(252), next(), "报销审批通过了，谢谢老板！"),
        message(
            c,
            "emily",
            t(300),
            next(),
            "video",
            "<MediaId><![CDATA[MEDIA_video_003]]></MediaId><ThumbMediaId><![CDATA[MEDIA_thumb_003]]></ThumbMediaId>",
        ),
        text(
            c,
            "emily",
            t(301),
            next(),
            "Site visit video uploaded. Deadline for the English deck is Friday, ASAP please.",
        ),
        event(
            c,
            "sys",
            t(400),
            "change_external_contact",
            "<ChangeType><![CDATA[del_follow_user]]></ChangeType><UserID><![CDATA[wangwu]]></UserID><ExternalUserID><![CDATA[wmOgQhDgAAa0vDqNkfpGNgDQ8wNwAAAA]]></ExternalUserID>",
        ),
        event(
            c,
            "sys",
            t(420),
            "change_external_chat",
            &format!(
                "<ChatId><![CDATA[{gid}]]></ChatId><ChangeType><![CDATA[update]]></ChangeType><UpdateDetail><![CDATA[del_member]]></UpdateDetail><QuitScene>0</QuitScene><MemChangeCnt>1</MemChangeCnt><MemChangeList><Item><![CDATA[lisi]]></Item></MemChangeList>"
            ),
        ),
        event(
            c,
            "sys",
            t(480),
            "change_contact",
            "<ChangeType>update_party</ChangeType><Id>2</Id><Name><![CDATA[农业事业部]]></Name>",
        ),
        text(c, "wangwu", t(500), next(), "明天上午九点出发去农业局，合同原件我带着"),
        event(
            c,
            "zhangsan",
            t(540),
            "enter_agent",
            "<EventKey><![CDATA[]]></EventKey><AgentID>1000002</AgentID>",
        ),
        event(
            c,
            "sys",
            t(600),
            "change_external_chat",
            &format!("<ChatId><![CDATA[{gid}]]></ChatId><ChangeType><![CDATA[dismiss]]></ChangeType>"),
        ),
    ]
}

fn bulk(c: &str, n: usize) -> Vec<Callback> {
    Corpus::new(42)
        .take(n)
        .map(|row| text(c, &row.sender, row.sent_at / 1000, 1_000_000_000 + row.i, &row.text))
        .collect()
}
