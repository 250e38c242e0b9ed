//! An approval (审批) as a readable message. The `sys_approval_change` callback carries only
//! the approval number and status (`ApprovalInfo.SpNo`, `SpStatus`); the content comes from
//! `POST /cgi-bin/oa/getapprovaldetail` `{"sp_no"}` (seed 001, 审批流程: "获取审批申请详情";
//! field names per https://developer.work.weixin.qq.com/document/path/91983). Each status
//! change becomes one message in the chat `approval:<sp_no>`, so an approval's history reads
//! as one thread in `show`, `audit` and search; the fetched `info` is kept beside it in the
//! callback's `other` event, so nothing the API answered is lost.
//!
//! A self-built app's approval (`open_approval_change`, approvals started through the approval
//! flow engine, numbered by the app's own `ThirdNo`) is read the same way through
//! `POST /cgi-bin/corp/getopenapprovaldata` (see [`super::api::WecomApi::open_approval_data`])
//! and becomes a message in the chat `approval:open:<ThirdNo>` ([`open_message`]).

use proto::{ChatEvent, ChatType, ContentType, EventBody, NewMessage};
use serde_json::Value;

/// `sp_status` as the approval page names it (document 91983).
pub fn status_text(code: i64) -> String {
    match code {
        1 => "审批中".into(),
        2 => "已通过".into(),
        3 => "已驳回".into(),
        4 => "已撤销".into(),
        6 => "通过后撤销".into(),
        7 => "已删除".into(),
        10 => "已支付".into(),
        other => format!("状态 {other}"),
    }
}

/// The string at `k` of `v`; empty when absent or not a string.
fn str_at(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or("").to_string()
}

/// An approver's comment at `k` of `v` in 「」, or nothing when there is none.
fn speech(v: &Value, k: &str) -> String {
    let said = str_at(v, k);
    if said.is_empty() {
        String::new()
    } else {
        format!("「{said}」")
    }
}

/// The chat an approval's messages go to.
pub fn chat_id(sp_no: &str) -> String {
    format!("approval:{sp_no}")
}

/// The readable message of an approval callback `ev` (its chat-less `other` event) given the
/// fetched `info` and the applicant's name when known.
pub fn message(ev: &ChatEvent, info: &Value, applicant_name: Option<String>) -> Option<ChatEvent> {
    let sp_no = Some(str_at(info, "sp_no")).filter(|n| !n.is_empty())?;
    let applicant = info
        .pointer("/applyer/userid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let status = status_text(info.get("sp_status").and_then(Value::as_i64).unwrap_or(0));
    let mut lines = vec![format!("[审批] {} · {status} · 单号 {sp_no}", str_at(info, "sp_name"))];
    let who = match &applicant_name {
        Some(n) => format!("{n} ({applicant})"),
        None => applicant.clone(),
    };
    lines.push(format!("申请人: {who}"));
    for c in info
        .pointer("/apply_data/contents")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let title = c.pointer("/title/0/text").and_then(Value::as_str).unwrap_or("");
        let value = control_value(c);
        if !title.is_empty() || !value.is_empty() {
            lines.push(format!("{title}: {value}"));
        }
    }
    for r in info.get("sp_record").and_then(Value::as_array).into_iter().flatten() {
        for d in r.get("details").and_then(Value::as_array).into_iter().flatten() {
            let approver = d.pointer("/approver/userid").and_then(Value::as_str).unwrap_or("");
            let st = status_text(d.get("sp_status").and_then(Value::as_i64).unwrap_or(0));
            let speech = speech(d, "speech");
            lines.push(format!("审批人 {approver}: {st}{speech}"));
        }
    }
    let chat_name = format!("审批 {} {sp_no}", str_at(info, "sp_name"));
    Some(card(ev, chat_id(&sp_no), chat_name, applicant, applicant_name, &lines))
}

/// The card message an approval is archived as: in the approval's own chat, from its
/// applicant, at the time of the callback that announced it, one line per fact.
fn card(
    ev: &ChatEvent,
    chat_id: String,
    chat_name: String,
    applicant: String,
    applicant_name: Option<String>,
    lines: &[String],
) -> ChatEvent {
    ChatEvent {
        chat_id,
        msg_id: ev.msg_id.clone(),
        occurred_at: ev.occurred_at,
        body: EventBody::Message(NewMessage {
            chat_type: ChatType::Bot,
            chat_name: Some(chat_name),
            sender_name: applicant_name,
            content_type: ContentType::Card,
            ..NewMessage::plain(applicant, ev.occurred_at.unwrap_or(0), lines.join("\n"))
        }),
    }
}

/// The value of one form control (`apply_data.contents[]`) as text; controls without a text
/// form are named by their type.
fn control_value(c: &Value) -> String {
    let v = c.get("value").unwrap_or(&Value::Null);
    let control = c.get("control").and_then(Value::as_str).unwrap_or("");
    let text = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
    let found = match control {
        "Text" | "Textarea" => text("/text"),
        "Number" => text("/new_number"),
        "Money" => text("/new_money"),
        "Date" => text("/date/s_timestamp"),
        "Selector" => v.pointer("/selector/options").and_then(Value::as_array).map(|o| {
            o.iter()
                .filter_map(|x| x.pointer("/value/0/text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("、")
        }),
        _ => None,
    };
    found.unwrap_or_else(|| {
        if control.is_empty() {
            String::new()
        } else {
            format!("[{control}]")
        }
    })
}

/// `OpenSpStatus` of a self-built approval (document 90269): 1 审批中, 2 已通过, 3 已驳回,
/// 4 已取消.
pub fn open_status_text(code: i64) -> String {
    match code {
        1 => "审批中".into(),
        2 => "已通过".into(),
        3 => "已驳回".into(),
        4 => "已取消".into(),
        other => format!("状态 {other}"),
    }
}

/// `ItemStatus` of one approver of a self-built approval: 1 审批中, 2 已同意, 3 已驳回,
/// 4 已转审.
fn open_item_status(code: i64) -> String {
    match code {
        1 => "审批中".into(),
        2 => "已同意".into(),
        3 => "已驳回".into(),
        4 => "已转审".into(),
        other => format!("状态 {other}"),
    }
}

/// The chat a self-built approval's messages go to.
pub fn open_chat_id(third_no: &str) -> String {
    format!("approval:open:{third_no}")
}

/// One element or a list of them, as WeCom's XML-shaped JSON gives repeated elements.
fn each(v: Option<&Value>) -> Vec<&Value> {
    match v {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(Value::Null) | None => vec![],
        Some(one) => vec![one],
    }
}

/// The readable message of an `open_approval_change` callback `ev` given the fetched `data`
/// of `corp/getopenapprovaldata`; `status` is the callback's own `OpenSpStatus` (the data is
/// read later and may already be past it).
pub fn open_message(ev: &ChatEvent, data: &Value, status: Option<i64>) -> Option<ChatEvent> {
    let third_no = Some(str_at(data, "ThirdNo")).filter(|n| !n.is_empty())?;
    let status = status
        .or_else(|| data.get("OpenSpstatus").and_then(Value::as_i64))
        .unwrap_or(0);
    let name = str_at(data, "OpenSpName");
    let (applicant, applicant_name) = (str_at(data, "ApplyUserId"), str_at(data, "ApplyUsername"));
    let mut lines = vec![format!(
        "[审批] {name} · {} · 单号 {third_no}",
        open_status_text(status)
    )];
    let party = str_at(data, "ApplyUserParty");
    let party = if party.is_empty() {
        String::new()
    } else {
        format!(" · {party}")
    };
    lines.push(if applicant_name.is_empty() {
        format!("申请人: {applicant}{party}")
    } else {
        format!("申请人: {applicant_name} ({applicant}){party}")
    });
    for node in each(data.pointer("/ApprovalNodes/ApprovalNode")) {
        for item in each(node.pointer("/Items/Item")) {
            let st = open_item_status(item.get("ItemStatus").and_then(Value::as_i64).unwrap_or(0));
            let speech = speech(item, "ItemSpeech");
            lines.push(format!(
                "审批人 {} ({}): {st}{speech}",
                str_at(item, "ItemName"),
                str_at(item, "ItemUserId")
            ));
        }
    }
    let notified: Vec<String> = each(data.pointer("/NotifyNodes/NotifyNode"))
        .into_iter()
        .map(|n| str_at(n, "ItemName"))
        .filter(|n| !n.is_empty())
        .collect();
    if !notified.is_empty() {
        lines.push(format!("抄送: {}", notified.join("、")));
    }
    Some(card(
        ev,
        open_chat_id(&third_no),
        format!("审批 {name} {third_no}"),
        applicant,
        (!applicant_name.is_empty()).then_some(applicant_name),
        &lines,
    ))
}
