//! One connection: login, catch-up, then the live loop (read frames, batch them, send
//! without waiting for commits, heartbeat, detect a silent server).

use std::time::Duration;

use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use proto::{ConnectorStatus, Ingested, RawPayload, batch::media, time::now_ms};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;

use super::YunhuConnector;
use super::api::Api;
use super::catchup::catch_up;
use super::codec::{Frame, decode, frame_events};
use super::cursor::Position;
use super::pipeline::Pipeline;
use super::transport::{self, Sink, Stream};
use crate::backoff::Backoff;
use crate::{ConnectorContext, ConnectorError};

/// Frames gathered into one batch at most (whatever is already readable).
const MAX_BATCH: usize = 512;
/// What the server answers an invalid or missing login (also sent in binary form).
const NOT_LOGGED_IN: &str = "数据不合法";

/// How a session ended.
pub enum End {
    /// Shutdown requested; everything in flight settled.
    Shutdown,
}

/// Runs one session. On error the caller resumes from `pipe.committed()`.
pub async fn run(
    conn: &YunhuConnector,
    cx: &ConnectorContext,
    api: &Api,
    pos: &mut Position,
    pipe: &mut Pipeline,
    skip_unknown: &mut bool,
    backoff: &mut Backoff,
) -> Result<End, ConnectorError> {
    let t = &conn.timing;
    let (mut sink, mut stream) = transport::connect(&conn.cfg.ws_url).await?;
    let mut hb_seq = 0u64;
    transport::send_text(
        &mut sink,
        transport::login_frame(&conn.cfg, &format!("login-{}", now_ms())),
    )
    .await?;
    send_heartbeat(&mut sink, &mut hb_seq).await?;
    let early = await_login(&mut stream, t.login_timeout).await?;
    cx.state.set(ConnectorStatus::Connected, None).await;
    backoff.connected();

    // Catch-up first, so a position never passes messages not yet fetched; frames pushed
    // meanwhile wait in the socket, heartbeats keep going.
    let mut ticker = tokio::time::interval(t.heartbeat);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ticker.tick().await;
    let stopped = {
        let fut = catch_up(api, cx, pos, pipe, *skip_unknown);
        tokio::pin!(fut);
        loop {
            tokio::select! {
                r = &mut fut => { r?; break false; }
                _ = ticker.tick() => send_heartbeat(&mut sink, &mut hb_seq).await?,
                _ = cx.shutdown.cancelled() => break true,
            }
        }
    };
    if stopped {
        return shutdown(cx, pipe).await;
    }
    *skip_unknown = false;

    let mut last_seen = Instant::now();
    let mut items = Vec::new();
    for bytes in early {
        handle(conn, Message::Binary(bytes), pos, &mut items, &mut last_seen)?;
    }
    if !items.is_empty() {
        pipe.send(&cx.out, &cx.state, std::mem::take(&mut items), pos).await?;
    }
    last_seen = Instant::now();
    loop {
        tokio::select! {
            biased;
            _ = cx.shutdown.cancelled() => return shutdown(cx, pipe).await,
            r = pipe.settle_one(&cx.state) => r?,
            _ = ticker.tick() => {
                if last_seen.elapsed() > t.heartbeat * 2 {
                    return Err(ConnectorError::Transport(format!(
                        "no frame or heartbeat ack for {} ms", last_seen.elapsed().as_millis()
                    )));
                }
                send_heartbeat(&mut sink, &mut hb_seq).await?;
            }
            msg = stream.next() => {
                let mut ended = match msg {
                    Some(Ok(m)) => handle(conn, m, pos, &mut items, &mut last_seen).err(),
                    Some(Err(e)) => Some(ConnectorError::Transport(format!("read: {e}"))),
                    None => Some(ConnectorError::Transport("server closed the connection".into())),
                };
                // Take whatever else is already readable into the same batch.
                while ended.is_none() && items.len() < MAX_BATCH {
                    match stream.next().now_or_never() {
                        Some(Some(Ok(m))) => ended = handle(conn, m, pos, &mut items, &mut last_seen).err(),
                        Some(Some(Err(e))) => ended = Some(ConnectorError::Transport(format!("read: {e}"))),
                        Some(None) => ended = Some(ConnectorError::Transport("server closed the connection".into())),
                        None => break,
                    }
                }
                if !items.is_empty() {
                    pipe.send(&cx.out, &cx.state, std::mem::take(&mut items), pos).await?;
                }
                if let Some(e) = ended {
                    // What was read before the drop is archived before reconnecting.
                    pipe.drain(&cx.state).await?;
                    return Err(e);
                }
            }
        }
    }
}

async fn shutdown(cx: &ConnectorContext, pipe: &mut Pipeline) -> Result<End, ConnectorError> {
    pipe.drain(&cx.state).await?;
    Ok(End::Shutdown)
}

async fn send_heartbeat(sink: &mut Sink, seq: &mut u64) -> Result<(), ConnectorError> {
    *seq += 1;
    transport::send_text(sink, transport::heartbeat_frame(&format!("hb-{seq}"))).await
}

/// Waits for proof of login: the server acks heartbeats (and pushes) only for a logged-in
/// session, and answers a bad login with "数据不合法" or silence. Returns pushes that came
/// before the ack.
async fn await_login(stream: &mut Stream, wait: Duration) -> Result<Vec<Bytes>, ConnectorError> {
    let deadline = Instant::now() + wait;
    let mut early = Vec::new();
    loop {
        let next = tokio::time::timeout_at(deadline, stream.next()).await;
        match next {
            Err(_) => {
                return Err(ConnectorError::Auth(format!(
                    "no answer to login within {} ms",
                    wait.as_millis()
                )));
            }
            Ok(None) => {
                return Err(ConnectorError::Transport(
                    "server closed the connection during login".into(),
                ));
            }
            Ok(Some(Err(e))) => {
                return Err(ConnectorError::Transport(format!("read during login: {e}")));
            }
            Ok(Some(Ok(Message::Text(t)))) => {
                return Err(ConnectorError::Auth(format!(
                    "login refused: {}",
                    t.as_str().chars().take(80).collect::<String>()
                )));
            }
            Ok(Some(Ok(Message::Binary(b)))) => {
                if b.as_ref() == NOT_LOGGED_IN.as_bytes() {
                    return Err(ConnectorError::Auth(format!("login refused: {NOT_LOGGED_IN}")));
                }
                match decode(&b) {
                    Ok(Frame::HeartbeatAck { .. }) => return Ok(early),
                    Ok(_) => {
                        early.push(b);
                        return Ok(early);
                    }
                    Err(_) => early.push(b),
                }
            }
            Ok(Some(Ok(Message::Close(_)))) => {
                return Err(ConnectorError::Auth("server closed the connection after login".into()));
            }
            Ok(Some(Ok(_))) => {}
        }
    }
}

/// One frame → an item of the batch (or nothing for acks and pings).
fn handle(
    conn: &YunhuConnector,
    msg: Message,
    pos: &mut Position,
    items: &mut Vec<Ingested>,
    last_seen: &mut Instant,
) -> Result<(), ConnectorError> {
    *last_seen = Instant::now();
    let received_at = now_ms();
    match msg {
        Message::Binary(bytes) => {
            let raw = RawPayload {
                received_at,
                media_type: media::PROTOBUF.into(),
                bytes,
            };
            match decode(&raw.bytes) {
                Ok(Frame::HeartbeatAck { .. }) => {}
                Ok(frame) => {
                    let events = frame_events(&frame, pos, received_at);
                    items.push(Ingested::Payload { raw, events });
                }
                Err(e) => {
                    if raw.bytes.as_ref() == NOT_LOGGED_IN.as_bytes() {
                        return Err(ConnectorError::Auth(format!("session refused: {NOT_LOGGED_IN}")));
                    }
                    crate::metrics::noticed(&conn.cfg.name, "yunhu_bad_frame");
                    tracing::warn!(connector = %conn.cfg.name, error = %e, "rejected frame");
                    items.push(Ingested::Rejected {
                        raw,
                        reason: e.to_string(),
                    });
                }
            }
        }
        Message::Text(t) => {
            if t.as_str() == NOT_LOGGED_IN {
                return Err(ConnectorError::Auth(format!("session refused: {NOT_LOGGED_IN}")));
            }
            let raw = RawPayload {
                received_at,
                media_type: media::TEXT.into(),
                bytes: Bytes::copy_from_slice(t.as_bytes()),
            };
            items.push(Ingested::Rejected {
                raw,
                reason: "unexpected text frame from yunhu server".into(),
            });
        }
        Message::Close(_) => {
            return Err(ConnectorError::Transport("server closed the connection".into()));
        }
        _ => {}
    }
    Ok(())
}
