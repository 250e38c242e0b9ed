//! One connected session's loop: read frames, decode, hand batches to the store, and send the
//! platform's acknowledgements as commit notices come back.
//!
//! Pipelining: the loop never waits for a commit before reading the next frame. Each batch
//! sent to the store is queued with the ack ids it covers; the queue is drained strictly in
//! order, an ack frame going out only once its batch's notice said `Ok` (invariant 1). A
//! failed commit ends the session without acking, so the server redelivers after reconnect.

use std::collections::VecDeque;

use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use proto::{CommitError, CommitInfo, Ingested, RawPayload, batch::media, time::now_ms};
use serde_json::json;
use tokio::sync::oneshot;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::SessionError;
use super::codec::Codec;
use super::engineio::{self, Packet as EioPacket};
use super::socketio::{self, Kind, Packet as SioPacket};
use super::transport::{Limits, Session};
use crate::{ConnectorContext, metrics};

/// Frames read back to back into one batch when the socket has more ready.
const MAX_FRAMES_PER_BATCH: usize = 256;
/// Oversized frames keep this many bytes in `rejects`.
const REJECT_HEAD_BYTES: usize = 64 * 1024;

/// A batch in flight: its commit notice and the ack ids to answer once it is committed.
struct InFlight {
    notice: oneshot::Receiver<Result<CommitInfo, CommitError>>,
    acks: Vec<u64>,
}

/// What reading frames produced, before it goes to the store.
#[derive(Default)]
struct Pending {
    items: Vec<Ingested>,
    acks: Vec<u64>,
    /// Set when the session must end after this batch is handed over.
    end: Option<SessionError>,
}

/// Runs a connected session until it ends. `Ok` means shutdown was requested.
pub async fn run_session(
    mut s: Session,
    codec: &Codec,
    cx: &ConnectorContext,
    limits: &Limits,
) -> Result<(), SessionError> {
    let window = s.ping_window();
    s.send(SioPacket::event("get offline info", vec![], None).to_frame())
        .await?;
    let mut queue: VecDeque<InFlight> = VecDeque::new();
    loop {
        tokio::select! {
            biased;
            _ = cx.shutdown.cancelled() => {
                drain(&mut s, &mut queue, cx).await;
                s.close().await;
                return Ok(());
            }
            notice = next_notice(&mut queue) => {
                let done = queue.pop_front().map(|f| f.acks).unwrap_or_default();
                match notice {
                    Ok(Ok(info)) => {
                        metrics::committed(&cx.name, &info);
                        cx.state.touch();
                        send_acks(&mut s, &done, &cx.name).await?;
                    }
                    Ok(Err(e)) => return Err(SessionError::Store(e.message)),
                    Err(_) => return Err(SessionError::Store("store writer went away".into())),
                }
            }
            _ = tokio::time::sleep_until(s.ping_deadline) => {
                return Err(SessionError::PingTimeout(window.as_millis() as u64));
            }
            frame = s.ws.next() => {
                let mut p = Pending::default();
                on_ws(&mut s, frame, codec, cx, limits, &mut p).await?;
                // Gather what is already buffered so a burst becomes one batch.
                let mut n = 1;
                while p.end.is_none() && n < MAX_FRAMES_PER_BATCH {
                    let Some(frame) = s.ws.next().now_or_never() else { break };
                    on_ws(&mut s, frame, codec, cx, limits, &mut p).await?;
                    n += 1;
                }
                if !p.items.is_empty() {
                    let notice = cx.out.send(p.items, None).await.map_err(|_| SessionError::Shutdown)?;
                    queue.push_back(InFlight { notice, acks: p.acks });
                } else if !p.acks.is_empty() {
                    // Nothing to store (cannot happen for decoded events, kept for safety).
                    send_acks(&mut s, &p.acks, &cx.name).await?;
                }
                if let Some(end) = p.end {
                    // Rejects and events read before the fault are in the channel; their
                    // acks are not sent, so the server redelivers them after reconnect.
                    return Err(end);
                }
            }
        }
    }
}

async fn next_notice(
    queue: &mut VecDeque<InFlight>,
) -> Result<Result<CommitInfo, CommitError>, oneshot::error::RecvError> {
    match queue.front_mut() {
        Some(f) => (&mut f.notice).await,
        None => std::future::pending().await,
    }
}

async fn send_acks(s: &mut Session, ids: &[u64], name: &str) -> Result<(), SessionError> {
    for id in ids {
        s.send(SioPacket::ack(*id, vec![json!("success")]).to_frame()).await?;
    }
    if !ids.is_empty() {
        metrics::acked(name, ids.len() as u64);
    }
    Ok(())
}

/// On shutdown: wait a little for batches in flight and ack the committed ones.
async fn drain(s: &mut Session, queue: &mut VecDeque<InFlight>, cx: &ConnectorContext) {
    let deadline = Instant::now() + std::time::Duration::from_secs(5);
    while let Some(f) = queue.pop_front() {
        match tokio::time::timeout_at(deadline, f.notice).await {
            Ok(Ok(Ok(_))) => {
                if send_acks(s, &f.acks, &cx.name).await.is_err() {
                    return;
                }
            }
            _ => return,
        }
    }
}

fn reject(p: &mut Pending, bytes: Bytes, reason: String) {
    tracing::warn!(%reason, "e-office payload rejected");
    p.items.push(Ingested::Rejected {
        raw: RawPayload::now(media::TEXT, bytes),
        reason,
    });
}

async fn on_ws(
    s: &mut Session,
    frame: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    codec: &Codec,
    cx: &ConnectorContext,
    limits: &Limits,
    p: &mut Pending,
) -> Result<(), SessionError> {
    let text = match frame {
        None => {
            p.end = Some(SessionError::Closed("connection closed by the server".into()));
            return Ok(());
        }
        Some(Err(e)) => {
            p.end = Some(SessionError::Closed(e.to_string()));
            return Ok(());
        }
        Some(Ok(Message::Text(t))) => t,
        Some(Ok(Message::Binary(b))) => {
            let n = b.len();
            reject(
                p,
                b.slice(..n.min(REJECT_HEAD_BYTES)),
                format!("binary websocket frame of {n} bytes (e-office speaks text)"),
            );
            return Ok(());
        }
        Some(Ok(Message::Close(_))) => {
            p.end = Some(SessionError::Closed("websocket closed by the server".into()));
            return Ok(());
        }
        Some(Ok(_)) => return Ok(()),
    };
    let raw = Bytes::from(text.clone());
    if raw.len() > limits.max_frame_bytes {
        let mut cut = REJECT_HEAD_BYTES.min(raw.len());
        while !text.as_str().is_char_boundary(cut) {
            cut -= 1;
        }
        let reason = format!(
            "frame of {} bytes exceeds the {}-byte limit",
            raw.len(),
            limits.max_frame_bytes
        );
        reject(p, raw.slice(..cut), reason);
        return Ok(());
    }
    let eio = match engineio::decode(text.as_str()) {
        Ok(pk) => pk,
        Err(e) => {
            // The reference client closes on a malformed packet; so do we, after keeping it.
            reject(p, raw, e.to_string());
            p.end = Some(SessionError::Protocol(e.to_string()));
            return Ok(());
        }
    };
    match eio {
        EioPacket::Ping(payload) => {
            s.ping_deadline = Instant::now() + s.ping_window();
            s.send(engineio::encode(&EioPacket::Pong(payload))).await?;
        }
        EioPacket::Pong(_) | EioPacket::Noop | EioPacket::Upgrade => {}
        EioPacket::Close => p.end = Some(SessionError::Closed("server closed the engine.io session".into())),
        EioPacket::Open(_) => {
            reject(p, raw, "second engine.io open packet".into());
            p.end = Some(SessionError::Protocol("second engine.io open packet".into()));
        }
        EioPacket::Message(m) => on_socketio(m, raw.clone(), codec, cx, p)?,
    }
    Ok(())
}

fn on_socketio(m: &str, raw: Bytes, codec: &Codec, cx: &ConnectorContext, p: &mut Pending) -> Result<(), SessionError> {
    let packet = match socketio::decode(m) {
        Ok(pk) => pk,
        Err(e) => {
            reject(p, raw, e.to_string());
            p.end = Some(SessionError::Protocol(e.to_string()));
            return Ok(());
        }
    };
    match packet.kind {
        Kind::Event => {
            let Some((name, args)) = packet.event_parts() else {
                return Ok(());
            };
            match codec.decode(name, args, now_ms()) {
                Ok(d) => {
                    for _ in 0..d.aes_fallbacks {
                        metrics::noticed(&cx.name, "aes_fallback");
                    }
                    if d.unknown {
                        metrics::noticed(&cx.name, "unknown_event");
                        tracing::debug!(event = name, "unknown e-office event kept as `other`");
                    }
                    if let Some(detail) = d.kicked {
                        metrics::noticed(&cx.name, "kicked");
                        p.items.push(Ingested::Payload {
                            raw: RawPayload::now(media::TEXT, raw),
                            events: vec![],
                        });
                        p.end = Some(SessionError::Kicked(detail));
                        return Ok(());
                    }
                    p.items.push(Ingested::Payload {
                        raw: RawPayload::now(media::TEXT, raw),
                        events: d.events,
                    });
                    for (part, reason) in d.rejects {
                        reject(p, Bytes::from(part), reason);
                    }
                }
                Err(e) => reject(p, raw, e.to_string()),
            }
            // Acked once the batch holding the payload (or its reject row) is committed.
            if let Some(id) = packet.id {
                p.acks.push(id);
            }
        }
        Kind::Ack | Kind::Connect => {}
        Kind::Disconnect => p.end = Some(SessionError::Closed("server disconnected the namespace".into())),
        Kind::ConnectError => {
            let why = packet.error_message().unwrap_or("connection refused").to_string();
            p.end = Some(SessionError::Auth(why));
        }
        Kind::BinaryEvent | Kind::BinaryAck => {
            let why = "binary socket.io packets are not supported".to_string();
            reject(p, raw, why.clone());
            p.end = Some(SessionError::Protocol(why));
        }
    }
    Ok(())
}
