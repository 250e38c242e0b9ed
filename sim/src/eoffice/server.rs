//! The simulated e-office Socket.IO server: one task per connection speaking Engine.IO v4 /
//! Socket.IO v5 as the server side (open packet, pings with a pong deadline, token check,
//! offline feed with ack ids, live pushes), using the connector's own framing module.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use ingest::eoffice::crypto::ContentKey;
use ingest::eoffice::engineio::{self, Handshake, Packet as Eio};
use ingest::eoffice::socketio::{self, Kind, Packet as Sio};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http;
use tokio_util::sync::CancellationToken;

use super::SimOptions;
use super::log::{LogEntry, SimEvent};
use super::script::{LivePush, OfflineMessage};

/// Callback run when the client acknowledges offline messages (their ids).
pub type AckObserver = Arc<dyn Fn(&[String]) + Send + Sync>;

/// The reference server's `connectTimeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(45);

/// Live frames sent per loop turn, so pings and client frames interleave with a bulk push.
const LIVE_BURST: usize = 64;

/// A command from the test to the open connections.
#[derive(Debug, Clone)]
pub enum Control {
    /// Send this text frame as is.
    Raw(String),
    /// Drop the TCP connection without a close handshake.
    Drop,
    /// Push an event now.
    Push(LivePush),
}

#[derive(Default)]
pub(crate) struct State {
    pub offline: Vec<OfflineMessage>,
    pub live: VecDeque<ReadyPush>,
    pub log: Vec<LogEntry>,
    pub next_ack: u64,
    pub outstanding: HashMap<u64, Vec<String>>,
    pub conns: u32,
    pub frames_sent: u64,
    pub chat_list: Value,
}

pub(crate) struct Shared {
    pub opts: SimOptions,
    pub key: Option<ContentKey>,
    pub state: Mutex<State>,
    pub pinging: AtomicBool,
    pub refuse: AtomicU32,
    pub controls: Mutex<Vec<mpsc::Sender<Control>>>,
    pub observer: Mutex<Option<AckObserver>>,
    pub shutdown: CancellationToken,
}

impl Shared {
    pub fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn log(&self, event: SimEvent) {
        let mut s = self.lock();
        let seq = s.log.len() as u64 + 1;
        s.log.push(LogEntry {
            seq,
            at: std::time::Instant::now(),
            event,
        });
    }
}

/// Accepts connections until shutdown.
pub(crate) async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(_) => continue,
            },
            _ = shared.shutdown.cancelled() => return,
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            let conn = {
                let mut s = shared.lock();
                s.conns += 1;
                s.conns
            };
            if let Some(why) = serve(stream, conn, &shared).await {
                shared.log(SimEvent::Closed { conn, why });
            }
        });
    }
}

/// The query of the handshake request, checked like the reference server does.
fn check_request(req: &Request, path: &str) -> Result<(String, String), String> {
    if req.uri().path() != path {
        return Err(format!("unknown path {}", req.uri().path()));
    }
    let q = req.uri().query().unwrap_or("");
    let pairs: HashMap<String, String> = url::form_urlencoded::parse(q.as_bytes()).into_owned().collect();
    if pairs.get("EIO").map(String::as_str) != Some("4") {
        return Err("unsupported protocol version".into());
    }
    if pairs.get("transport").map(String::as_str) != Some("websocket") {
        return Err("transport unknown".into());
    }
    Ok((
        pairs.get("loginUserId").cloned().unwrap_or_default(),
        pairs.get("connectType").cloned().unwrap_or_default(),
    ))
}

type Ws = WebSocketStream<TcpStream>;

async fn send(ws: &mut Ws, shared: &Shared, frame: String) -> Result<(), String> {
    shared.lock().frames_sent += 1;
    ws.send(Message::text(frame)).await.map_err(|e| e.to_string())
}

/// Serves one connection; returns why it closed (`None` when dropped on purpose).
// The handshake callback's error type is tungstenite's HTTP response, fixed by its API.
#[allow(clippy::result_large_err)]
async fn serve(stream: TcpStream, conn: u32, shared: &Arc<Shared>) -> Option<String> {
    let mut query = Err("no request".to_string());
    let path = shared.opts.path.clone();
    let callback = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        query = check_request(req, &path);
        match &query {
            Ok(_) => Ok(resp),
            Err(why) => {
                let mut r = ErrorResponse::new(Some(format!("{{\"code\":0,\"message\":\"{why}\"}}")));
                *r.status_mut() = http::StatusCode::BAD_REQUEST;
                Err(r)
            }
        }
    };
    let mut ws = match tokio_tungstenite::accept_hdr_async(stream, callback).await {
        Ok(ws) => ws,
        Err(e) => return Some(format!("handshake refused: {e}")),
    };
    let (user_id, connect_type) = query.unwrap_or_default();
    shared.log(SimEvent::Opened {
        conn,
        user_id,
        connect_type,
    });

    let opts = &shared.opts;
    let hs = Handshake {
        sid: format!("simEIO{conn:06}"),
        upgrades: vec![],
        ping_interval: opts.ping_interval.as_millis() as u64,
        ping_timeout: opts.ping_timeout.as_millis() as u64,
        max_payload: 1_000_000,
    };
    if let Err(e) = send(&mut ws, shared, engineio::encode(&Eio::Open(hs))).await {
        return Some(e);
    }
    let (ctl_tx, mut ctl_rx) = mpsc::channel(64);
    shared.controls.lock().unwrap_or_else(|e| e.into_inner()).push(ctl_tx);

    let mut conn_state = Conn {
        conn,
        authed: false,
        live_on: false,
    };
    let mut ping = tokio::time::interval_at(Instant::now() + opts.ping_interval, opts.ping_interval);
    let mut pong_deadline: Option<Instant> = None;
    // The reference server closes a connection that never joins a namespace.
    let connect_deadline = Instant::now() + CONNECT_TIMEOUT;
    loop {
        let live_ready = conn_state.live_on && !shared.lock().live.is_empty();
        tokio::select! {
            biased;
            _ = shared.shutdown.cancelled() => {
                let _ = ws.close(None).await;
                return Some("simulator shut down".into());
            }
            _ = ping.tick() => {
                if shared.pinging.load(Ordering::SeqCst) {
                    if let Err(e) = send(&mut ws, shared, "2".into()).await {
                        return Some(e);
                    }
                    pong_deadline.get_or_insert(Instant::now() + opts.ping_timeout);
                }
            }
            _ = tokio::time::sleep_until(connect_deadline), if !conn_state.authed => {
                let _ = ws.close(None).await;
                return Some("no CONNECT within the connect timeout".into());
            }
            _ = sleep_opt(pong_deadline) => {
                shared.log(SimEvent::PongTimeout { conn });
                return Some("pong timeout".into());
            }
            c = ctl_rx.recv() => match c {
                Some(Control::Raw(f)) => {
                    if let Err(e) = send(&mut ws, shared, f).await {
                        return Some(e);
                    }
                }
                Some(Control::Drop) | None => {
                    shared.log(SimEvent::Closed { conn, why: "dropped by fault injection".into() });
                    return None;
                }
                Some(Control::Push(p)) => {
                    if let Err(e) = push(&mut ws, shared, conn, ReadyPush::new(p)).await {
                        return Some(e);
                    }
                }
            },
            frame = ws.next() => {
                let text = match frame {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(_))) | None => return Some("client closed".into()),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Some(e.to_string()),
                };
                match on_frame(&mut ws, shared, &mut conn_state, text.as_str(), &mut pong_deadline).await {
                    Ok(true) => {}
                    Ok(false) => {
                        let _ = ws.close(None).await;
                        return Some("closed after client frame".into());
                    }
                    Err(e) => return Some(e),
                }
            }
            _ = live_turn(opts.live_interval), if live_ready => {
                for _ in 0..LIVE_BURST {
                    let Some(p) = shared.lock().live.pop_front() else { break };
                    if let Err(e) = push(&mut ws, shared, conn, p).await {
                        return Some(e);
                    }
                    if !opts.live_interval.is_zero() {
                        break;
                    }
                }
            }
        }
    }
}

struct Conn {
    conn: u32,
    authed: bool,
    live_on: bool,
}

async fn sleep_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

async fn live_turn(interval: Duration) {
    if interval.is_zero() {
        tokio::task::yield_now().await;
    } else {
        tokio::time::sleep(interval).await;
    }
}

fn msg_ids(v: &Value) -> Vec<String> {
    let one = |m: &Value| match &m["message_id"] {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match v {
        Value::Array(a) => a.iter().filter_map(one).collect(),
        m => one(m).into_iter().collect(),
    }
}

/// A live push with its frame encoded once, when the script is loaded: the encoding is the
/// simulator's work, and done at push time it ran on the same cores as the client under test.
pub(crate) struct ReadyPush {
    event: String,
    frame: String,
    msg_ids: Vec<String>,
}

impl ReadyPush {
    pub(crate) fn new(p: LivePush) -> ReadyPush {
        let msg_ids = msg_ids(&p.body);
        ReadyPush {
            frame: Sio::event(&p.event, vec![p.body], None).to_frame(),
            event: p.event,
            msg_ids,
        }
    }
}

async fn push(ws: &mut Ws, shared: &Shared, conn: u32, p: ReadyPush) -> Result<(), String> {
    send(ws, shared, p.frame).await?;
    shared.log(SimEvent::Sent {
        conn,
        event: p.event,
        ack_id: None,
        msg_ids: p.msg_ids,
    });
    Ok(())
}

/// Sends every unacknowledged offline message, in batches that each ask for an ack.
async fn offline_feed(ws: &mut Ws, shared: &Shared, conn: u32) -> Result<(), String> {
    let batch = shared.opts.offline_batch.max(1);
    for (group, event) in [(false, "user offline info"), (true, "group offline info")] {
        let pending: Vec<OfflineMessage> = shared
            .lock()
            .offline
            .iter()
            .filter(|m| m.group == group)
            .cloned()
            .collect();
        for chunk in pending.chunks(batch) {
            let ids: Vec<String> = chunk.iter().map(|m| m.id.clone()).collect();
            let id = {
                let mut s = shared.lock();
                s.next_ack += 1;
                let id = s.next_ack;
                s.outstanding.insert(id, ids.clone());
                id
            };
            let list = Value::Array(chunk.iter().map(|m| m.body.clone()).collect());
            send(ws, shared, Sio::event(event, vec![list], Some(id)).to_frame()).await?;
            shared.log(SimEvent::Sent {
                conn,
                event: event.into(),
                ack_id: Some(id),
                msg_ids: ids,
            });
        }
    }
    Ok(())
}

/// Handles one client frame; `Ok(false)` closes the connection (malformed input, as the
/// reference server does).
async fn on_frame(
    ws: &mut Ws,
    shared: &Arc<Shared>,
    c: &mut Conn,
    text: &str,
    pong_deadline: &mut Option<Instant>,
) -> Result<bool, String> {
    let conn = c.conn;
    let malformed = |reason: String| {
        shared.log(SimEvent::Malformed { conn, reason });
        Ok(false)
    };
    let m = match engineio::decode(text) {
        Ok(Eio::Pong(_)) => {
            *pong_deadline = None;
            return Ok(true);
        }
        Ok(Eio::Ping(p)) => {
            send(ws, shared, engineio::encode(&Eio::Pong(p))).await?;
            return Ok(true);
        }
        Ok(Eio::Close) => return Ok(false),
        Ok(Eio::Message(m)) => m,
        Ok(_) => return Ok(true),
        Err(e) => return malformed(e.to_string()),
    };
    let p = match socketio::decode(m) {
        Ok(p) => p,
        Err(e) => return malformed(e.to_string()),
    };
    match p.kind {
        Kind::Connect => {
            let token = p
                .data
                .as_ref()
                .and_then(|d| d.get("token"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let refuse = shared.refuse.load(Ordering::SeqCst) > 0;
            if refuse {
                shared.refuse.fetch_sub(1, Ordering::SeqCst);
            }
            if refuse || token != shared.opts.token {
                shared.log(SimEvent::Refused {
                    conn,
                    reason: "Not authorized".into(),
                });
                send(ws, shared, Sio::connect_error("Not authorized").to_frame()).await?;
                return Ok(true);
            }
            c.authed = true;
            send(
                ws,
                shared,
                Sio::connect(Some(json!({ "sid": format!("simSIO{conn:06}") }))).to_frame(),
            )
            .await?;
            shared.log(SimEvent::Connected { conn });
        }
        Kind::Event if c.authed => {
            let Some((name, _args)) = p.event_parts() else {
                return Ok(true);
            };
            shared.log(SimEvent::Received {
                conn,
                event: name.to_string(),
            });
            match name {
                "get offline info" => {
                    offline_feed(ws, shared, conn).await?;
                    c.live_on = true;
                }
                "user onlineUsers" => {
                    if let Some(id) = p.id {
                        let users = json!({"onlineUsers": [shared.opts.user_id], "webUsers": [], "mobileUsers": [], "clientUsers": [shared.opts.user_id]});
                        send(ws, shared, Sio::ack(id, vec![users]).to_frame()).await?;
                    }
                }
                "sync chat list" => {
                    let list = shared.lock().chat_list.clone();
                    send(ws, shared, Sio::event("sync chat list", vec![list], None).to_frame()).await?;
                }
                _ => {}
            }
        }
        Kind::Event => {}
        Kind::Ack => {
            let id = p.id.unwrap_or_default();
            let payload = p.data.as_ref().map(Value::to_string).unwrap_or_default();
            let ids = shared.lock().outstanding.remove(&id).unwrap_or_default();
            if payload == r#"["success"]"# && !ids.is_empty() {
                let observer = shared.observer.lock().unwrap_or_else(|e| e.into_inner()).clone();
                if let Some(f) = observer {
                    f(&ids);
                }
                shared.lock().offline.retain(|m| !ids.contains(&m.id));
            }
            shared.log(SimEvent::Acked {
                conn,
                ack_id: id,
                payload,
                msg_ids: ids,
            });
        }
        Kind::Disconnect => return Ok(false),
        _ => return malformed("unexpected packet type from a client".into()),
    }
    Ok(true)
}
