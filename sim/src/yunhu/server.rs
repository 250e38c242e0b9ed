//! The simulated chat-ws-go WebSocket server and HTTP history API.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use prost::Message as _;
use proto::yunhu::{
    ConversationListResponse, DraftInput, FileSendMessage, HeartbeatAckInfo, InfoOnly, ListMsgByMidSeqRequest,
    ListMsgBySeqRequest, ListMsgResponse, Status, conversation_list_response, draft_input, file_send_message,
    heartbeat_ack_info,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

use super::script::{Step, TOKEN, USER_ID};
use super::world::{Stored, World, chat_type_enum, edit_frame, history_row, info, push_frame, stream_frame};

/// History rows per page.
pub const PAGE: usize = 100;

/// A frame the server sent.
#[derive(Debug, Clone, PartialEq)]
pub struct SentFrame {
    /// Its `info.cmd` (`garbage` for non-protobuf bytes).
    pub cmd: String,
    /// The message it concerns, if any.
    pub msg_id: Option<String>,
    /// The bytes.
    pub bytes: Bytes,
}

/// Something a client sent. Yunhu clients acknowledge nothing; these are what there is.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    /// A login attempt and whether it was accepted.
    Login {
        /// `userId` given.
        user_id: String,
        /// `platform` given.
        platform: String,
        /// Accepted.
        ok: bool,
    },
    /// A heartbeat.
    Heartbeat {
        /// Its seq.
        seq: String,
    },
    /// An API call: path and the chat or message it asked about.
    Api {
        /// Path.
        path: String,
        /// Chat or message id.
        target: String,
    },
    /// Any other text frame.
    Other(String),
}

/// Fault injection switches.
#[derive(Debug, Default)]
pub struct Faults {
    /// Refuse this many next logins ("数据不合法" + close).
    pub refuse_logins: AtomicU32,
    /// Stop answering heartbeats (the client should notice and reconnect).
    pub silent_heartbeats: AtomicBool,
    /// Answer this many next API calls with HTTP 500.
    pub fail_api: AtomicU32,
    /// Answer this many next API calls with HTTP 200 and a body that is not protobuf.
    pub garbage_api: AtomicU32,
    /// Answer this many next attachment downloads (`/files/…`) with HTTP 503.
    pub fail_files: AtomicU32,
}

pub(crate) struct Shared {
    pub world: Mutex<World>,
    pub steps: Vec<Step>,
    pub next: Mutex<usize>,
    pub faults: Faults,
    pub sent: Mutex<Vec<SentFrame>>,
    pub received: Mutex<Vec<Received>>,
    pub frame_seq: AtomicU64,
    pub done: watch::Sender<bool>,
    pub logins_ok: watch::Sender<u32>,
    pub pace: Mutex<Duration>,
}

impl Shared {
    pub fn new(steps: Vec<Step>) -> Arc<Shared> {
        let done = steps.is_empty();
        Arc::new(Shared {
            world: Mutex::new(World::default()),
            steps,
            next: Mutex::new(0),
            faults: Faults::default(),
            sent: Mutex::new(Vec::new()),
            received: Mutex::new(Vec::new()),
            frame_seq: AtomicU64::new(0),
            done: watch::channel(done).0,
            logins_ok: watch::channel(0).0,
            pace: Mutex::new(Duration::ZERO),
        })
    }

    fn seq(&self) -> u64 {
        self.frame_seq.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn record(&self, r: Received) {
        self.received.lock().unwrap().push(r);
    }
}

/// Accepts WebSocket clients until the listener fails.
pub(crate) async fn serve_ws(listener: TcpListener, shared: Arc<Shared>) {
    while let Ok((tcp, _)) = listener.accept().await {
        let s = shared.clone();
        tokio::spawn(async move {
            if let Err(e) = connection(tcp, s).await {
                tracing::debug!(error = %e, "yunhu sim connection ended");
            }
        });
    }
}

async fn connection(tcp: TcpStream, shared: Arc<Shared>) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    let ws = tokio_tungstenite::accept_async(tcp).await?;
    let (mut sink, mut stream) = ws.split();
    let login = match tokio::time::timeout(Duration::from_secs(10), stream.next()).await {
        Ok(Some(Ok(Message::Text(t)))) => serde_json::from_str::<serde_json::Value>(t.as_str()).unwrap_or_default(),
        _ => serde_json::Value::Null,
    };
    let data = &login["data"];
    let user_id = data["userId"].as_str().unwrap_or("").to_string();
    let platform = data["platform"].as_str().unwrap_or("").to_string();
    let refused = shared
        .faults
        .refuse_logins
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let valid_platform = ["windows", "macos", "android", "linux", "ios", "fuchsia", "Web"].contains(&platform.as_str());
    let ok = !refused
        && login["cmd"] == "login"
        && user_id == USER_ID
        && data["token"].as_str() == Some(TOKEN)
        && valid_platform;
    shared.record(Received::Login { user_id, platform, ok });
    if !ok {
        sink.send(Message::text("数据不合法")).await?;
        let _ = sink.close().await;
        return Ok(());
    }
    shared.logins_ok.send_modify(|n| *n += 1);

    // One writer owns the sink; the reader (heartbeats) and the script runner feed it.
    let (tx, mut rx) = mpsc::channel::<Message>(1024);
    let writer = tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            let close = matches!(m, Message::Close(_));
            if sink.feed(m).await.is_err() {
                return;
            }
            while let Ok(m) = rx.try_recv() {
                if sink.feed(m).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() || close {
                let _ = sink.close().await;
                return;
            }
        }
    });
    let (gone_tx, mut gone) = watch::channel(false);
    let reader = {
        let shared = shared.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(Ok(m)) = stream.next().await {
                let Message::Text(t) = m else { continue };
                let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap_or_default();
                if v["cmd"] == "heartbeat" {
                    let seq = v["seq"].as_str().unwrap_or("").to_string();
                    shared.record(Received::Heartbeat { seq: seq.clone() });
                    if !shared.faults.silent_heartbeats.load(Ordering::SeqCst) {
                        let ack = HeartbeatAckInfo {
                            data: Some(heartbeat_ack_info::Data {
                                id: seq,
                                cmd: "heartbeat_ack".into(),
                            }),
                        };
                        let _ = tx.send(Message::binary(ack.encode_to_vec())).await;
                    }
                } else {
                    shared.record(Received::Other(t.as_str().chars().take(200).collect()));
                }
            }
            let _ = gone_tx.send(true);
        })
    };

    loop {
        if *gone.borrow() {
            break;
        }
        let step = {
            let mut next = shared.next.lock().unwrap();
            let step = shared.steps.get(*next).cloned();
            if step.is_some() {
                *next += 1;
            }
            step
        };
        let Some(step) = step else {
            shared.done.send_replace(true);
            let _ = gone.changed().await;
            break;
        };
        let pace = *shared.pace.lock().unwrap();
        if !pace.is_zero() {
            tokio::time::sleep(pace).await;
        }
        if let Step::Pause(d) = &step {
            tokio::time::sleep(*d).await;
            continue;
        }
        if let Step::Drop { offline } = &step {
            {
                let mut w = shared.world.lock().unwrap();
                for s in offline {
                    apply(&mut w, s);
                }
            }
            let _ = tx.send(Message::Close(None)).await;
            break;
        }
        for frame in frames(&shared, &step) {
            let bytes = Bytes::from(frame.1);
            shared.sent.lock().unwrap().push(SentFrame {
                cmd: frame.0,
                msg_id: frame.2,
                bytes: bytes.clone(),
            });
            if tx.send(Message::Binary(bytes)).await.is_err() {
                break;
            }
        }
        if *shared.next.lock().unwrap() >= shared.steps.len() {
            shared.done.send_replace(true);
        }
    }
    drop(tx);
    reader.abort();
    let _ = writer.await;
    Ok(())
}

/// Applies a step to the world without pushing anything (offline activity).
fn apply(w: &mut World, step: &Step) {
    match step {
        Step::Post(p) => {
            w.post(p.clone());
        }
        Step::Edit {
            msg_id,
            content_type,
            text,
            at,
        } => {
            w.edit(msg_id, *content_type, text, *at);
        }
        Step::Stream { msg_id, chunk } => {
            w.stream(msg_id, chunk);
        }
        Step::Recall { msg_id, at } => {
            w.recall(msg_id, *at);
        }
        _ => {}
    }
}

/// Applies a step and returns the frames to push: (cmd, bytes, msg id).
fn frames(shared: &Shared, step: &Step) -> Vec<(String, Vec<u8>, Option<String>)> {
    let seq = shared.seq();
    let mut w = shared.world.lock().unwrap();
    match step {
        Step::Post(p) => {
            let m = w.post(p.clone());
            vec![(
                "push_message".into(),
                push_frame(seq, &m, &p.content, false),
                Some(p.msg_id.clone()),
            )]
        }
        Step::Edit {
            msg_id,
            content_type,
            text,
            at,
        } => match w.edit(msg_id, *content_type, text, *at) {
            Some(m) => vec![("edit_message".into(), edit_frame(seq, &m), Some(msg_id.clone()))],
            None => Vec::new(),
        },
        Step::Stream { msg_id, chunk } => match w.stream(msg_id, chunk) {
            Some(m) => vec![(
                "stream_message".into(),
                stream_frame(seq, &m, chunk),
                Some(msg_id.clone()),
            )],
            None => Vec::new(),
        },
        Step::Recall { msg_id, at } => match w.recall(msg_id, *at) {
            Some(m) => {
                vec![(
                    "push_message".into(),
                    push_frame(seq, &m, &m.post.content.clone(), true),
                    Some(msg_id.clone()),
                )]
            }
            None => Vec::new(),
        },
        Step::FileSend { from, data } => {
            let f = FileSendMessage {
                info: info(seq, "file_send_message"),
                data: Some(file_send_message::Data {
                    any: "type.googleapis.com/proto.PushMessage".into(),
                    sender: Some(file_send_message::data::Sender {
                        send_user_id: from.clone(),
                        user_id: USER_ID.into(),
                        temp_code: 1,
                        send_type: "candidate".into(),
                        data: data.clone(),
                        send_device_id: format!("dev-{from}"),
                    }),
                }),
            };
            vec![("file_send_message".into(), f.encode_to_vec(), None)]
        }
        Step::Draft { chat_id, input } => {
            let d = DraftInput {
                info: info(seq, "draft_input"),
                data: Some(draft_input::Data {
                    any: "type.googleapis.com/proto.MsgInput".into(),
                    draft: Some(draft_input::data::Draft {
                        chat_id: chat_id.clone(),
                        input: input.clone(),
                    }),
                }),
            };
            vec![("draft_input".into(), d.encode_to_vec(), None)]
        }
        Step::InviteApply => vec![head_only(seq, "invite_apply")],
        Step::Garbage(b) => vec![("garbage".into(), b.clone(), None)],
        Step::UnknownCmd(cmd) => vec![head_only(seq, cmd)],
        Step::Drop { .. } | Step::Pause(_) => Vec::new(),
    }
}

/// A frame that is its head alone (commands whose body the connector ignores).
fn head_only(seq: u64, cmd: &str) -> (String, Vec<u8>, Option<String>) {
    let f = InfoOnly { info: info(seq, cmd) };
    (cmd.to_string(), f.encode_to_vec(), None)
}

/// The history API routes.
pub(crate) fn router(shared: Arc<Shared>) -> axum::Router {
    axum::Router::new()
        .route("/v1/conversation/list", post(conversations))
        .route("/v1/msg/list-message-by-seq", post(by_seq))
        .route("/v1/msg/list-message-by-mid-seq", post(by_mid))
        .route("/v1/msg/list-message-edit-record", post(edit_records))
        .route("/files/{name}", axum::routing::get(file))
        .with_state(shared)
        // One request per connection, so closing the listener refuses every later call.
        .layer(axum::middleware::map_response(|mut r: Response| async move {
            r.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
            r
        }))
}

/// The answer that refuses this call (bad token, injected fault), if any.
fn gate(shared: &Shared, headers: &HeaderMap, path: &str, target: &str) -> Option<Response> {
    shared.record(Received::Api {
        path: path.into(),
        target: target.into(),
    });
    if headers.get("token").and_then(|v| v.to_str().ok()) != Some(TOKEN) {
        return Some(StatusCode::UNAUTHORIZED.into_response());
    }
    let take = |n: &AtomicU32| {
        n.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    };
    if take(&shared.faults.fail_api) {
        return Some(StatusCode::INTERNAL_SERVER_ERROR.into_response());
    }
    if take(&shared.faults.garbage_api) {
        return Some(proto_response(b"\xff\xff<html>busy</html>".to_vec()));
    }
    None
}

fn ok_status() -> Option<Status> {
    Some(Status {
        request_id: 0,
        code: 1,
        msg: "success".into(),
    })
}

fn proto_response(bytes: Vec<u8>) -> Response {
    ([("content-type", "application/x-protobuf")], bytes).into_response()
}

/// An attachment's bytes (no token: Yunhu's file URLs are plain CDN links).
async fn file(State(shared): State<Arc<Shared>>, axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    shared.record(Received::Api {
        path: "/files".into(),
        target: name.clone(),
    });
    let failing = shared
        .faults
        .fail_files
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    match shared.world.lock().unwrap().files.get(&name) {
        Some(b) => b.clone().into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn conversations(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Some(r) = gate(&shared, &headers, "/v1/conversation/list", "") {
        return r;
    }
    let w = shared.world.lock().unwrap();
    let data: Vec<_> = w
        .chats
        .iter()
        .filter_map(|(id, msgs)| {
            let last = msgs.last()?;
            Some(conversation_list_response::Data {
                chat_id: id.clone(),
                chat_type: chat_type_enum(last.post.chat_type) as i32,
                chat_content: last.post.content.text.chars().take(40).collect(),
                timestamp_ms: last.post.at,
                send_timestamp: last.post.at / 1000,
                name: w.names.get(id).cloned().unwrap_or_else(|| id.clone()),
                ..Default::default()
            })
        })
        .collect();
    let total = data.len() as u64;
    proto_response(
        ConversationListResponse {
            status: ok_status(),
            data,
            total,
            md5: String::new(),
        }
        .encode_to_vec(),
    )
}

async fn by_seq(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(req) = ListMsgBySeqRequest::decode(body.as_ref()) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    if let Some(r) = gate(&shared, &headers, "/v1/msg/list-message-by-seq", &req.chat_id) {
        return r;
    }
    history_page(&shared, &req.chat_id, |msgs| {
        msgs.iter().filter(|m| m.seq > req.msg_start).take(PAGE).collect()
    })
}

async fn by_mid(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(req) = ListMsgByMidSeqRequest::decode(body.as_ref()) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    if let Some(r) = gate(&shared, &headers, "/v1/msg/list-message-by-mid-seq", &req.msg_id) {
        return r;
    }
    history_page(&shared, &req.chat_id, |msgs| {
        msgs.iter()
            .skip_while(|m| m.post.msg_id != req.msg_id)
            .take(req.msg_count as usize + 1)
            .collect()
    })
}

/// A history answer: the rows `pick` chooses from a chat's messages (none for an unknown chat).
fn history_page(shared: &Shared, chat_id: &str, pick: impl FnOnce(&[Stored]) -> Vec<&Stored>) -> Response {
    let w = shared.world.lock().unwrap();
    let data: Vec<_> = w
        .chats
        .get(chat_id)
        .map(|msgs| pick(msgs).into_iter().map(|m| history_row(m, USER_ID)).collect())
        .unwrap_or_default();
    let total = data.len() as u64;
    proto_response(
        ListMsgResponse {
            status: ok_status(),
            data,
            total,
        }
        .encode_to_vec(),
    )
}

async fn edit_records(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let req: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let msg_id = req["msgId"].as_str().unwrap_or("").to_string();
    if let Some(r) = gate(&shared, &headers, "/v1/msg/list-message-edit-record", &msg_id) {
        return r;
    }
    let size = req["size"].as_u64().unwrap_or(10).clamp(1, 100) as usize;
    let page = req["page"].as_u64().unwrap_or(1).max(1) as usize;
    let w = shared.world.lock().unwrap();
    let (list, total) = match w.find(&msg_id) {
        Some(m) => {
            let list: Vec<_> = m
                .edits
                .iter()
                .skip((page - 1) * size)
                .take(size)
                .map(|e| {
                    serde_json::json!({
                        "id": e.id,
                        "msgId": msg_id,
                        "contentType": e.content_type,
                        "contentOld": serde_json::json!({ "text": e.old_text }).to_string(),
                        "createTime": m.post.at,
                        "msgTime": e.at,
                    })
                })
                .collect();
            (list, m.edits.len())
        }
        None => (Vec::new(), 0),
    };
    axum::Json(serde_json::json!({ "code": 1, "data": { "list": list, "total": total }, "msg": "success" }))
        .into_response()
}
