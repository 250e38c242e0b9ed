//! How the simulator puts scripted messages on the wire: MessagePack chat items inside
//! `/s/sync` pushes (protocols §3.6–§3.8), history models and conversation entries (§3.10).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rmpv::Value as Mp;
use serde::Serialize;
use serde_json::value::{RawValue, to_raw_value};
use serde_json::{Value, json};

use super::script::{SimContent, SimConversation, SimMessage};

/// The inner content JSON (§3.9) of a message.
pub fn inner_content(m: &SimMessage) -> Value {
    match &m.content {
        SimContent::Text(t) | SimContent::System(t) => {
            json!({"contentType": 1, "text": {"text": t}})
        }
        SimContent::Image { url, width, height } => {
            json!({"contentType": 2, "image": {"pics": [{"type": 0, "url": url, "width": width, "height": height}]}})
        }
        SimContent::Recall { .. } => json!({"contentType": 1, "text": {"text": ""}}),
    }
}

fn s(v: &str) -> Mp {
    Mp::from(v)
}

fn map(entries: Vec<(&str, Mp)>) -> Mp {
    Mp::Map(entries.into_iter().map(|(k, v)| (s(k), v)).collect())
}

/// The MessagePack bytes of a chat item (or a recall, in the UNVERIFIED shape the connector
/// recognises: extension `recallFeature`, `"1"."3"` = the recalled id).
pub fn chat_item(m: &SimMessage) -> Vec<u8> {
    let mut ext = vec![
        ("reminderTitle", s(&m.sender_name)),
        ("reminderContent", s(m.text())),
        ("reminderNotice", s("发来一条新消息")),
        (
            "reminderUrl",
            s(&format!("fleamarket://message_chat?itemId=0&sid={}", m.cid)),
        ),
        ("senderUserId", s(&m.sender_id)),
        ("senderUserType", s("0")),
        ("sessionType", s("1")),
        (
            "bizTag",
            s(&format!(r#"{{"sourceId":"S:1","messageId":"{}"}}"#, m.msg_id)),
        ),
        ("_platform", s("web")),
    ];
    let id = match &m.content {
        SimContent::Recall { target } => {
            ext = vec![
                ("reminderTitle", s(&m.sender_name)),
                ("reminderContent", s("对方撤回了一条消息")),
                ("senderUserId", s(&m.sender_id)),
                (
                    "recallFeature",
                    s(&format!(
                        r#"{{"operatorType":0,"operatorUid":"{}@goofish","showRecallStatusSetting":1}}"#,
                        m.sender_id
                    )),
                ),
            ];
            target.as_str()
        }
        _ => m.msg_id.as_str(),
    };
    let inner = inner_content(m);
    let content_type = inner["contentType"].as_i64().unwrap_or(1);
    let body = map(vec![
        ("1", s(&format!("{}@goofish", m.sender_id))),
        ("2", s(&format!("{}@goofish", m.cid))),
        ("3", s(id)),
        ("4", Mp::from(1)),
        ("5", Mp::from(m.sent_at)),
        (
            "6",
            map(vec![
                ("1", Mp::from(content_type)),
                (
                    "3",
                    map(vec![("1", s("")), ("2", s(m.text())), ("5", s(&inner.to_string()))]),
                ),
            ]),
        ),
        ("7", Mp::from(0)),
        ("8", Mp::from(0)),
        ("9", Mp::from(0)),
        ("10", map(ext)),
        ("12", Mp::from(1)),
    ]);
    let need_push = if matches!(m.content, SimContent::System(_)) {
        "false"
    } else {
        "true"
    };
    let root = map(vec![("1", body), ("3", map(vec![("needPush", s(need_push))]))]);
    let mut out = Vec::with_capacity(512);
    // Writing into a Vec cannot fail.
    let _ = rmpv::encode::write_value(&mut out, &root);
    out
}

/// One `data[]` entry of a push.
pub fn push_item(bytes: &[u8]) -> Value {
    json!({"bizType": 40, "data": STANDARD.encode(bytes), "streamId": "0", "objectType": 40000})
}

/// [`push_item`] as JSON text: what the server holds for each released message, so that a push
/// splices its items instead of encoding every message again at every push.
pub fn push_item_raw(bytes: &[u8]) -> Box<RawValue> {
    // A JSON value always serializes.
    to_raw_value(&push_item(bytes)).expect("a JSON value serializes")
}

/// A `/s/sync` push frame, as JSON text. The structs below declare their fields in the order a
/// `serde_json::Value` object writes them (sorted), so the frame reads as it did when built as one.
pub fn sync_push(mid: &str, sid: &str, items: &[&RawValue], start_pts: i64, end_pts: i64, now: i64) -> String {
    let frame = SyncPush {
        body: PushBody {
            sync_extension_model: ExtensionModel {
                failover: false,
                fingerprint: format!("fp{end_pts}"),
                reconnect_type: 0,
            },
            sync_push_package: PushPackage {
                data: items,
                end_seq: end_pts,
                has_more: 0,
                max_high_pts: end_pts,
                max_pts: end_pts,
                min_create_time: now,
                start_seq: start_pts,
                timestamp: now,
            },
        },
        headers: PushHeaders {
            app_key: ingest::goofish::frame::APP_KEY,
            dt: "j",
            mid,
            sid,
        },
        lwp: "/s/sync",
    };
    // Strings, numbers and JSON texts always serialize.
    serde_json::to_string(&frame).expect("a push frame serializes")
}

#[derive(Serialize)]
struct SyncPush<'a> {
    body: PushBody<'a>,
    headers: PushHeaders<'a>,
    lwp: &'static str,
}

#[derive(Serialize)]
struct PushHeaders<'a> {
    #[serde(rename = "app-key")]
    app_key: &'a str,
    dt: &'static str,
    mid: &'a str,
    sid: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PushBody<'a> {
    sync_extension_model: ExtensionModel,
    sync_push_package: PushPackage<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExtensionModel {
    failover: bool,
    fingerprint: String,
    reconnect_type: u8,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PushPackage<'a> {
    data: &'a [&'a RawValue],
    end_seq: i64,
    has_more: u8,
    max_high_pts: i64,
    max_pts: i64,
    min_create_time: i64,
    start_seq: i64,
    timestamp: i64,
}

/// One `userMessageModels[]` entry of `/r/MessageManager/listUserMessages`;
/// `conversation_type` 1 is a single chat (seed `002`), 2 a group (see `SimOptions::group_cids`).
pub fn history_model(m: &SimMessage, conversation_type: u8) -> Value {
    let inner = inner_content(m);
    let custom_type = inner["contentType"].clone();
    let mut extension = json!({
        "reminderTitle": m.sender_name,
        "reminderContent": m.text(),
        "senderUserId": m.sender_id,
    });
    if matches!(m.content, SimContent::System(_)) {
        extension["needPush"] = json!("false");
    }
    json!({
        "message": {
            "messageId": m.msg_id,
            "cid": format!("{}@goofish", m.cid),
            "createAt": m.sent_at,
            "conversationType": conversation_type,
            "content": {
                "contentType": 101,
                "custom": {"type": custom_type, "summary": m.text(), "data": STANDARD.encode(inner.to_string())}
            },
            "extension": extension,
            "sender": {"uid": format!("{}@goofish", m.sender_id), "tag": 0},
            "receiverCount": 2,
            "redPointPolicy": 0,
        }
    })
}

/// One `userConvs[]` entry of `/r/Conversation/listNewestPagination`.
pub fn conversation(c: &SimConversation, self_uid: &str, last: Option<&SimMessage>, conversation_type: u8) -> Value {
    let modify = last.map(|m| m.sent_at).unwrap_or(0);
    json!({
        "type": 1,
        "singleChatUserConversation": {
            "visible": 1,
            "modifyTime": modify,
            "redPoint": 0,
            "lastMessage": last.map(|m| json!({"readStatus": 1, "msgStatus": 0, "message": history_model(m, conversation_type)["message"].clone()})),
            "singleChatConversation": {
                "cid": format!("{}@goofish", c.cid),
                "pairFirst": format!("{}@goofish", self_uid.min(c.peer_uid.as_str())),
                "pairSecond": format!("{}@goofish", self_uid.max(c.peer_uid.as_str())),
                "bizType": "1",
                "createAt": modify,
                "extension": {"itemId": c.item_id, "itemTitle": c.item_title, "ownerUserId": self_uid, "extUserId": c.peer_uid},
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client sees the same push whether the server holds its items as text or builds the
    /// frame as one JSON value, down to the byte.
    #[test]
    fn a_push_spliced_from_held_items_reads_as_one_built_whole() {
        let items = [
            push_item(b"\x81\xa11\x01"),
            json!({"bizType": 40, "data": "%%% not base64 %%%", "objectType": 40000}),
            push_item("会议改到三点".as_bytes()),
        ];
        let (start, end, now) = (1_700_000_000_000_001, 1_700_000_000_000_003, 1_733_000_000_123);
        let whole = json!({
            "lwp": "/s/sync",
            "headers": {"mid": "12 0#1", "sid": "sim-sid-1", "app-key": ingest::goofish::frame::APP_KEY, "dt": "j"},
            "body": {
                "syncPushPackage": {
                    "maxHighPts": end,
                    "startSeq": start,
                    "endSeq": end,
                    "minCreateTime": now,
                    "data": items,
                    "maxPts": end,
                    "hasMore": 0,
                    "timestamp": now,
                },
                "syncExtensionModel": {"reconnectType": 0, "failover": false, "fingerprint": format!("fp{end}")},
            }
        })
        .to_string();
        let held: Vec<Box<RawValue>> = items.iter().map(|v| to_raw_value(v).unwrap()).collect();
        let refs: Vec<&RawValue> = held.iter().map(|b| &**b).collect();
        assert_eq!(sync_push("12 0#1", "sim-sid-1", &refs, start, end, now), whole);
    }
}
