//! The LWP WebSocket side of the simulator: registration, sync state, catch-up from the
//! client's `ackDiff` position, live pushes with a window of unacknowledged pushes,
//! redelivery of unacked pushes on the next connection, history and conversation pages,
//! heartbeats, and the injected faults.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::value::{RawValue, to_raw_value};
use serde_json::{Map, Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_util::sync::CancellationToken;

use super::script::{SELF_UID, SimContent, SimConversation, SimMessage};
use super::{AckRecord, PushRecord, SimOptions, wire};

/// First pts the simulator hands out (microsecond-like, as the real service's are).
const BASE_PTS: i64 = 1_700_000_000_000_000;

/// Fault switches.
#[derive(Debug, Clone)]
pub(crate) struct Faults {
    pub answer_heartbeats: bool,
    pub garbage_next: bool,
    pub drop_after: Option<u32>,
    pub flow_control: u32,
    pub cookies_valid: bool,
    pub live_paused: bool,
}

/// An unacknowledged push.
#[derive(Debug, Clone)]
pub(crate) struct Unacked {
    pub text: String,
    pub msg_ids: Vec<String>,
    pub conn: u32,
}

/// Everything the simulator knows and recorded.
pub(crate) struct State {
    pub released: Vec<Released>,
    pub pending_live: VecDeque<Held>,
    pub live_started: bool,
    pub next_pts: i64,
    pub unacked: BTreeMap<String, Unacked>,
    pub pushes: Vec<PushRecord>,
    pub acks: Vec<AckRecord>,
    pub requests: Vec<String>,
    pub heartbeats: u64,
    pub connections: u32,
    pub handshakes: Vec<Vec<(String, String)>>,
    pub reg_headers: Vec<Map<String, Value>>,
    pub valid_tokens: HashSet<String>,
    pub h5tk: String,
    pub token_calls: u32,
    pub faults: Faults,
    push_no: u64,
}

/// A message the server holds, with its wire form encoded once, when the script is loaded: a
/// platform catching a client up has its messages ready, and the encoding is the simulator's
/// work, not the client's, yet it ran on the same cores as the client when done at push time.
pub(crate) struct Held {
    pub msg: SimMessage,
    /// Its `data[]` entry (pushes splice it).
    item: Box<RawValue>,
    /// The id its push acknowledges (a recall's is the recalled message's).
    acked_id: String,
}

impl Held {
    pub(crate) fn new(msg: SimMessage) -> Held {
        let acked_id = match &msg.content {
            SimContent::Recall { target } => target.clone(),
            _ => msg.msg_id.clone(),
        };
        Held {
            item: wire::push_item_raw(&wire::chat_item(&msg)),
            msg,
            acked_id,
        }
    }
}

/// A released message: the server's history, and what it pushes.
pub(crate) struct Released {
    pub pts: i64,
    pub held: Held,
}

impl State {
    fn release(&mut self, held: Held) {
        self.next_pts += 1;
        self.released.push(Released {
            pts: self.next_pts,
            held,
        });
    }
}

/// Called when an ack arrives.
pub(crate) type AckObserver = Arc<dyn Fn(&AckRecord) + Send + Sync>;

/// Shared between the listener, connections, the live clock and the handle.
pub struct Shared {
    state: Mutex<State>,
    /// Bumped whenever something a pusher waits for changes (release, ack, fault).
    pub(crate) version: watch::Sender<u64>,
    /// Bumped to drop every open connection.
    pub(crate) kill: watch::Sender<u64>,
    pub(crate) opts: SimOptions,
    pub(crate) convs: Vec<SimConversation>,
    pub(crate) observer: Mutex<Option<AckObserver>>,
    pub(crate) shutdown: CancellationToken,
}

impl Shared {
    pub(crate) fn new(opts: SimOptions) -> Arc<Shared> {
        let (convs, mut msgs) = opts.script.build();
        opts.numbering.apply(&mut msgs);
        let offline = opts.offline.unwrap_or(opts.script.default_offline()).min(msgs.len());
        let mut state = State {
            released: Vec::new(),
            pending_live: VecDeque::new(),
            live_started: false,
            next_pts: BASE_PTS,
            unacked: BTreeMap::new(),
            pushes: Vec::new(),
            acks: Vec::new(),
            requests: Vec::new(),
            heartbeats: 0,
            connections: 0,
            handshakes: Vec::new(),
            reg_headers: Vec::new(),
            valid_tokens: [super::SIM_TOKEN.to_string()].into_iter().collect(),
            h5tk: super::SIM_H5TK.to_string(),
            token_calls: 0,
            faults: Faults {
                answer_heartbeats: true,
                garbage_next: false,
                drop_after: None,
                flow_control: 0,
                cookies_valid: true,
                live_paused: false,
            },
            push_no: 0,
        };
        let mut msgs = msgs.into_iter();
        for m in msgs.by_ref().take(offline) {
            state.release(Held::new(m));
        }
        state.pending_live = msgs.map(Held::new).collect();
        Arc::new(Shared {
            state: Mutex::new(state),
            version: watch::channel(0).0,
            kill: watch::channel(0).0,
            opts,
            convs,
            observer: Mutex::new(None),
            shutdown: CancellationToken::new(),
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn bump(&self) {
        self.version.send_modify(|v| *v += 1);
    }

    /// Releases a message now (it becomes history and is pushed to connected clients).
    pub(crate) fn release(&self, m: SimMessage) {
        let held = Held::new(m);
        self.lock().release(held);
        self.bump();
    }
}

/// Accepts connections until shutdown.
pub(crate) async fn serve(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shared.shutdown.cancelled() => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        let s = shared.clone();
        tokio::spawn(async move { connection(s, stream).await });
    }
}

async fn connection(shared: Arc<Shared>, stream: TcpStream) {
    let headers = Arc::new(Mutex::new(Vec::new()));
    let h = headers.clone();
    // The callback signature (and its large error type) is tungstenite's.
    #[allow(clippy::result_large_err)]
    let cb = move |req: &Request, resp: Response| {
        let mut g = h.lock().unwrap_or_else(|e| e.into_inner());
        for (k, v) in req.headers() {
            g.push((k.as_str().to_string(), v.to_str().unwrap_or("").to_string()));
        }
        Ok(resp)
    };
    let Ok(ws) = tokio_tungstenite::accept_hdr_async(stream, cb).await else {
        return;
    };
    let conn = {
        let mut st = shared.lock();
        st.connections += 1;
        let hs = std::mem::take(&mut *headers.lock().unwrap_or_else(|e| e.into_inner()));
        st.handshakes.push(hs);
        st.connections
    };
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::channel::<Message>(1024);
    let dropped = CancellationToken::new();
    let writer = tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            if sink.send(m).await.is_err() {
                return;
            }
        }
    });
    let mut kill = shared.kill.subscribe();
    let mut pusher: Option<tokio::task::JoinHandle<()>> = None;
    loop {
        let msg = tokio::select! {
            _ = kill.changed() => break,
            _ = dropped.cancelled() => break,
            _ = shared.shutdown.cancelled() => break,
            m = stream.next() => m,
        };
        let text = match msg {
            Some(Ok(Message::Text(t))) => t.to_string(),
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
            Some(Ok(_)) => continue,
        };
        let Ok(frame) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        if frame.get("lwp").is_none() && frame.get("code").is_some() {
            ack(&shared, &frame);
            continue;
        }
        let Some(lwp) = frame.get("lwp").and_then(Value::as_str).map(str::to_string) else {
            continue;
        };
        let mid = frame
            .pointer("/headers/mid")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if lwp == "/!" {
            let answer = {
                let mut st = shared.lock();
                st.heartbeats += 1;
                st.faults.answer_heartbeats
            };
            if answer {
                let _ = tx.send(reply(&mid, 200, Value::Null)).await;
            }
            continue;
        }
        shared.lock().requests.push(lwp.clone());
        let body = frame.get("body").cloned().unwrap_or(Value::Null);
        let out = match lwp.as_str() {
            "/reg" => register(&shared, &frame, &mid, conn),
            "/r/SyncStatus/getState" => {
                let st = shared.lock();
                let pts = st.next_pts;
                vec![reply(
                    &mid,
                    200,
                    json!({"pipeline": "sync", "tooLong2Tag": "PNM,1", "channel": "sync", "topic": "sync",
                           "highPts": pts, "pts": pts, "seq": pts - BASE_PTS, "timestamp": proto::time::now_ms()}),
                )]
            }
            "/r/SyncStatus/ackDiff" => {
                let from = if shared.opts.server_replays {
                    body.pointer("/0/pts").and_then(Value::as_i64).unwrap_or(0)
                } else {
                    // Pushes start with what is released from now on; earlier connections'
                    // unacked pushes are forgotten.
                    let mut st = shared.lock();
                    st.unacked.retain(|_, u| u.conn == conn);
                    st.released.last().map_or(BASE_PTS, |r| r.pts)
                };
                if pusher.is_none() {
                    pusher = Some(tokio::spawn(push_loop(
                        shared.clone(),
                        tx.clone(),
                        conn,
                        from,
                        dropped.clone(),
                    )));
                    start_live(&shared);
                }
                vec![reply(
                    &mid,
                    200,
                    json!({"syncExtensionModel": {"fingerprint": "sim"}, "syncExtraType": {"type": 0}}),
                )]
            }
            // Positional `[startTimeStamp, limitNum]` only (protocols.md §3.10 [GC]): the
            // object form is a client library's parameter, and a real server would not read it.
            "/r/Conversation/listNewestPagination" if !positional_list(&body) => vec![reply(
                &mid,
                400,
                json!({"reason": "listNewestPagination expects [startTimeStamp, limitNum]"}),
            )],
            "/r/Conversation/listNewestPagination" => paged(&shared, &mid, |s| {
                conversations(&shared.convs, &shared.opts.group_cids, s, &body)
            }),
            "/r/MessageManager/listUserMessages" => {
                paged(&shared, &mid, |s| history(s, &shared.opts.group_cids, &body))
            }
            _ => vec![reply(&mid, 404, json!({"reason": format!("unknown lwp {lwp}")}))],
        };
        for m in out {
            if tx.send(m).await.is_err() {
                break;
            }
        }
    }
    if let Some(p) = pusher {
        p.abort();
    }
    writer.abort();
}

fn reply(mid: &str, code: i64, body: Value) -> Message {
    let mut f = json!({"code": code, "headers": {"mid": mid}});
    if !body.is_null() {
        f["body"] = body;
    }
    Message::text(f.to_string())
}

fn register(shared: &Shared, frame: &Value, mid: &str, conn: u32) -> Vec<Message> {
    let headers = frame
        .get("headers")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let token = headers.get("token").and_then(Value::as_str).unwrap_or("").to_string();
    let mut st = shared.lock();
    st.reg_headers.push(headers);
    if !st.valid_tokens.contains(&token) {
        return vec![reply(
            mid,
            401,
            json!({"reason": "token invalid or expired", "moreInfo": "AUTH_FAIL"}),
        )];
    }
    let resp = json!({
        "code": 200,
        "headers": {"mid": mid, "reg-sid": format!("sim-sid-{conn}"), "reg-uid": format!("{SELF_UID}@goofish"),
                    "sid": format!("sim-sid-{conn}"), "dt": "j", "timestamp": proto::time::now_ms().to_string()},
    });
    let vulcan = json!({"lwp": "/s/vulcan", "headers": {"mid": format!("vulcan-{conn} 0"), "sid": format!("sim-sid-{conn}")}, "body": {}});
    vec![Message::text(resp.to_string()), Message::text(vulcan.to_string())]
}

/// Starts releasing the live part of the script (once).
fn start_live(shared: &Arc<Shared>) {
    {
        let mut st = shared.lock();
        if st.live_started {
            return;
        }
        st.live_started = true;
    }
    let s = shared.clone();
    tokio::spawn(async move {
        let interval = s.opts.live_interval;
        loop {
            if interval.is_zero() {
                let mut st = s.lock();
                while let Some(m) = st.pending_live.pop_front() {
                    st.release(m);
                }
                drop(st);
                s.bump();
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = s.shutdown.cancelled() => return,
            }
            let mut st = s.lock();
            if st.faults.live_paused {
                continue;
            }
            let Some(m) = st.pending_live.pop_front() else {
                return;
            };
            st.release(m);
            drop(st);
            s.bump();
        }
    });
}

/// With `server_replays`: pushes (1) unacked pushes of earlier connections, (2) everything
/// after `from`, then live. Without: forgets earlier connections' unacked pushes and pushes
/// only what is released from now on.
async fn push_loop(shared: Arc<Shared>, tx: mpsc::Sender<Message>, conn: u32, from: i64, dropped: CancellationToken) {
    let mut version = shared.version.subscribe();
    let replays = shared.opts.server_replays;
    let redeliver: Vec<(String, Unacked)> = if !replays {
        Vec::new()
    } else {
        let mut st = shared.lock();
        let mut out = Vec::new();
        for (mid, u) in st.unacked.iter_mut().filter(|(_, u)| u.conn != conn) {
            u.conn = conn;
            out.push((mid.clone(), u.clone()));
        }
        for (mid, u) in &out {
            st.pushes.push(PushRecord {
                mid: mid.clone(),
                msg_ids: u.msg_ids.clone(),
                connection: conn,
                redelivery: true,
            });
        }
        out
    };
    for (_, u) in redeliver {
        if tx.send(Message::text(u.text)).await.is_err() {
            return;
        }
    }
    let mut last = from;
    loop {
        let next = {
            let mut guard = shared.lock();
            // A plain reference, so that the batch can borrow the history while the fault
            // switches and counters change beside it.
            let st: &mut State = &mut guard;
            if st.unacked.len() >= shared.opts.window {
                None
            } else {
                let start = st.released.partition_point(|r| r.pts <= last);
                let batch = &st.released[start..st.released.len().min(start + shared.opts.items_per_push.max(1))];
                if batch.is_empty() {
                    None
                } else {
                    let end = batch.last().map(|r| r.pts).unwrap_or(last);
                    let first = batch[0].pts;
                    let msg_ids: Vec<String> = batch.iter().map(|r| r.held.acked_id.clone()).collect();
                    let garbage = std::mem::take(&mut st.faults.garbage_next);
                    let (bad_base64, bad_item);
                    let mut items: Vec<&RawValue> = Vec::with_capacity(batch.len() + 2);
                    if garbage {
                        bad_base64 =
                            to_raw_value(&json!({"bizType": 40, "data": "%%% not base64 %%%", "objectType": 40000}))
                                .expect("a JSON value serializes");
                        items.push(&bad_base64);
                    }
                    items.extend(batch.iter().map(|r| &*r.held.item));
                    if garbage {
                        bad_item = wire::push_item_raw(&[0xc1, 0x00, 0x01]);
                        items.push(&bad_item);
                    }
                    st.push_no += 1;
                    let mid = format!("{}{} 0", st.push_no % 1000, proto::time::now_ms());
                    let mid = format!("{mid}#{}", st.push_no);
                    let text = wire::sync_push(
                        &mid,
                        &format!("sim-sid-{conn}"),
                        &items,
                        first,
                        end,
                        proto::time::now_ms(),
                    );
                    st.unacked.insert(
                        mid.clone(),
                        Unacked {
                            text: text.clone(),
                            msg_ids: msg_ids.clone(),
                            conn,
                        },
                    );
                    st.pushes.push(PushRecord {
                        mid,
                        msg_ids,
                        connection: conn,
                        redelivery: false,
                    });
                    let drop_now = match st.faults.drop_after.as_mut() {
                        Some(n) if *n <= 1 => {
                            st.faults.drop_after = None;
                            true
                        }
                        Some(n) => {
                            *n -= 1;
                            false
                        }
                        None => false,
                    };
                    last = end;
                    Some((text, garbage, drop_now))
                }
            }
        };
        match next {
            Some((text, garbage, drop_now)) => {
                if garbage && tx.send(Message::text("this is not an LWP frame {")).await.is_err() {
                    return;
                }
                if tx.send(Message::text(text)).await.is_err() {
                    return;
                }
                if drop_now {
                    // Give the writer a moment to put the push on the wire, then cut the line.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    dropped.cancel();
                    return;
                }
            }
            None => {
                if version.changed().await.is_err() {
                    return;
                }
            }
        }
    }
}

fn ack(shared: &Shared, frame: &Value) {
    let Some(mid) = frame.pointer("/headers/mid").and_then(Value::as_str) else {
        return;
    };
    if frame.get("code").and_then(Value::as_i64) != Some(200) {
        return;
    }
    let record = {
        let mut st = shared.lock();
        let Some(u) = st.unacked.remove(mid) else {
            return;
        };
        let r = AckRecord {
            mid: mid.to_string(),
            msg_ids: u.msg_ids,
            connection: u.conn,
        };
        st.acks.push(r.clone());
        r
    };
    let observer = shared.observer.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if let Some(f) = observer {
        f(&record);
    }
    shared.bump();
}

/// Answers a list request, or flow control while that fault is armed.
fn paged(shared: &Shared, mid: &str, f: impl FnOnce(&State) -> Value) -> Vec<Message> {
    let mut st = shared.lock();
    if st.faults.flow_control > 0 {
        st.faults.flow_control -= 1;
        return vec![reply(
            mid,
            400,
            json!({"code": "400600001", "reason": "IM flow control"}),
        )];
    }
    let body = f(&st);
    vec![reply(mid, 200, body)]
}

/// `conversationType` of a conversation: 2 for the configured groups, else 1.
fn conversation_type(groups: &[String], cid: &str) -> u8 {
    if groups.iter().any(|g| g == cid) { 2 } else { 1 }
}

/// Whether a conversation list body is `[startTimeStamp, limitNum]` (two integers).
fn positional_list(body: &Value) -> bool {
    matches!(body.as_array(), Some(a) if a.len() == 2 && a.iter().all(|v| v.is_i64() || v.is_u64()))
}

/// `[cursor, limit]`: conversations whose last message is older than `cursor`, newest first.
fn conversations(convs: &[SimConversation], groups: &[String], st: &State, body: &Value) -> Value {
    let cursor = body.get(0).and_then(Value::as_i64).unwrap_or(i64::MAX);
    let limit = body.get(1).and_then(Value::as_u64).unwrap_or(20).max(1) as usize;
    let mut list: Vec<(i64, &SimConversation, &SimMessage)> = convs
        .iter()
        .filter_map(|c| {
            let last = st
                .released
                .iter()
                .rev()
                .map(|r| &r.held.msg)
                .find(|m| m.cid == c.cid && m.is_message())?;
            Some((last.sent_at, c, last))
        })
        .filter(|(t, _, _)| *t < cursor)
        .collect();
    list.sort_by_key(|b| std::cmp::Reverse(b.0));
    let has_more = list.len() > limit;
    list.truncate(limit);
    let next = list.last().map(|(t, _, _)| *t).unwrap_or(0);
    json!({
        "hasMore": has_more,
        "nextCursor": next,
        "userConvs": list.iter().map(|(_, c, m)| wire::conversation(c, SELF_UID, Some(m), conversation_type(groups, &c.cid))).collect::<Vec<_>>(),
    })
}

/// `[cid@goofish, false, cursor, limit, false]`: messages older than `cursor`, newest first.
fn history(st: &State, groups: &[String], body: &Value) -> Value {
    let cid = body.get(0).and_then(Value::as_str).unwrap_or("");
    let cid = cid.strip_suffix("@goofish").unwrap_or(cid);
    let cursor = body.get(2).and_then(Value::as_i64).unwrap_or(i64::MAX);
    let limit = body.get(3).and_then(Value::as_u64).unwrap_or(20).max(1) as usize;
    let mut older: Vec<&SimMessage> = st
        .released
        .iter()
        .map(|r| &r.held.msg)
        .filter(|m| m.cid == cid && m.is_message() && m.sent_at < cursor)
        .collect();
    older.sort_by_key(|b| std::cmp::Reverse(b.sent_at));
    let has_more = older.len() > limit;
    older.truncate(limit);
    let next = older.last().map(|m| m.sent_at).unwrap_or(0);
    json!({
        "hasMore": if has_more { 1 } else { 0 },
        "nextCursor": next,
        "userMessageModels": older.iter().map(|m| wire::history_model(m, conversation_type(groups, &m.cid))).collect::<Vec<_>>(),
    })
}
