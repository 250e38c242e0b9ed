//! The e-office session on the shared runtime: connect, ask for the offline feed, then read
//! frames, decode, hand batches to the store and answer the server's ack ids as their commit
//! notices come back `Ok`.
//!
//! The loop never waits for a commit before reading the next frame: each batch goes into the
//! [`Window`] with the ack ids it covers, and an ack frame goes out only once the window
//! releases them (invariant 1). A failed commit ends the session without acking, so the
//! server redelivers after the reconnect.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use proto::{Ingested, RawPayload, batch::media, time::now_ms};
use serde_json::json;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::codec::Codec;
use super::engineio::{self, Packet as EioPacket};
use super::socketio::{self, Kind, Packet as SioPacket};
use super::transport::{Endpoint, Socket};
use super::{EofficeConnector, SessionError};
use crate::runtime::{Batch, Exit, Link, Session, Window};
use crate::{ConnectorContext, ConnectorError, metrics};

/// Oversized frames keep this many bytes in `rejects`.
const REJECT_HEAD_BYTES: usize = 64 * 1024;
/// How long shutdown waits for batches in flight, to ack the committed ones.
const DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

/// What lives across reconnects.
pub(super) struct EofficeSession {
    pub(super) conn: Arc<EofficeConnector>,
    pub(super) codec: Codec,
    pub(super) endpoint: Endpoint,
    pub(super) max_frame_bytes: usize,
}

/// What reading frames produced, before it goes to the store.
struct Pending {
    batch: Batch<u64>,
    /// Set when the session must end after this batch is handed over.
    end: Option<SessionError>,
}

impl Session for EofficeSession {
    async fn run(&mut self, cx: &ConnectorContext, link: &mut Link<'_>) -> Result<Exit, ConnectorError> {
        let tuning = &self.conn.tuning;
        let token = self.conn.cfg.token.expose();
        let s = tokio::select! {
            r = Socket::connect(&self.endpoint, token, tuning.connect_timeout, self.max_frame_bytes) => r?,
            _ = cx.shutdown.cancelled() => return Ok(Exit::Shutdown),
        };
        link.connected(Some(format!("sid {}", s.handshake.sid))).await;
        self.live(s, cx).await
    }
}

impl EofficeSession {
    /// Runs a connected session until it ends.
    async fn live(&self, mut s: Socket, cx: &ConnectorContext) -> Result<Exit, ConnectorError> {
        let tuning = &self.conn.tuning;
        let window_ms = s.ping_window().as_millis() as u64;
        s.send(SioPacket::event("get offline info", vec![], None).to_frame())
            .await?;
        let mut window: Window<Vec<u64>> = Window::new(cx, tuning.window);
        loop {
            tokio::select! {
                biased;
                _ = cx.shutdown.cancelled() => {
                    drain(&mut s, &mut window, cx).await;
                    s.close().await;
                    return Ok(Exit::Shutdown);
                }
                acks = window.next() => send_acks(&mut s, &acks?, &cx.name).await?,
                _ = tokio::time::sleep_until(s.ping_deadline) => {
                    return Err(SessionError::PingTimeout(window_ms).into());
                }
                frame = s.ws.next(), if window.has_room() => {
                    let mut p = Pending { batch: Batch::new(tuning.batch), end: None };
                    self.on_ws(&mut s, frame, cx, &mut p).await?;
                    // Gather what is already buffered so a burst becomes one batch.
                    while p.end.is_none() && !p.batch.is_full() {
                        let Some(frame) = s.ws.next().now_or_never() else { break };
                        self.on_ws(&mut s, frame, cx, &mut p).await?;
                    }
                    let (items, acks) = p.batch.into_parts();
                    if !items.is_empty() {
                        window.send(items, None, acks).await?;
                    } else {
                        // Nothing to store (cannot happen for decoded events, kept for safety).
                        send_acks(&mut s, &acks, &cx.name).await?;
                    }
                    if let Some(end) = p.end {
                        // Rejects and events read before the fault are in the channel; their
                        // acks are not sent, so the server redelivers them after reconnect.
                        return Err(end.into());
                    }
                }
            }
        }
    }

    async fn on_ws(
        &self,
        s: &mut Socket,
        frame: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
        cx: &ConnectorContext,
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
        // Utf8Bytes shares its buffer with Bytes: the raw payload costs no copy.
        let raw = Bytes::from(text.clone());
        if raw.len() > self.max_frame_bytes {
            let mut cut = REJECT_HEAD_BYTES.min(raw.len());
            while !text.as_str().is_char_boundary(cut) {
                cut -= 1;
            }
            let reason = format!(
                "frame of {} bytes exceeds the {}-byte limit",
                raw.len(),
                self.max_frame_bytes
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
            EioPacket::Message(m) => on_socketio(m, raw.clone(), &self.codec, cx, p),
        }
        Ok(())
    }
}

async fn send_acks(s: &mut Socket, ids: &[u64], name: &str) -> Result<(), SessionError> {
    for id in ids {
        s.send(SioPacket::ack(*id, vec![json!("success")]).to_frame()).await?;
    }
    if !ids.is_empty() {
        metrics::acked(name, ids.len() as u64);
    }
    Ok(())
}

/// On shutdown: wait a little for batches in flight and ack the committed ones.
async fn drain(s: &mut Socket, window: &mut Window<Vec<u64>>, cx: &ConnectorContext) {
    let deadline = Instant::now() + DRAIN;
    while let Some(Ok(acks)) = window.next_before(deadline).await {
        if send_acks(s, &acks, &cx.name).await.is_err() {
            return;
        }
    }
}

fn reject(p: &mut Pending, bytes: Bytes, reason: String) {
    tracing::warn!(%reason, "e-office payload rejected");
    p.batch.push(Ingested::Rejected {
        raw: RawPayload::now(media::TEXT, bytes),
        reason,
    });
}

fn on_socketio(m: &str, raw: Bytes, codec: &Codec, cx: &ConnectorContext, p: &mut Pending) {
    let packet = match socketio::decode(m) {
        Ok(pk) => pk,
        Err(e) => {
            reject(p, raw, e.to_string());
            p.end = Some(SessionError::Protocol(e.to_string()));
            return;
        }
    };
    match packet.kind {
        Kind::Event => {
            let Some((name, args)) = packet.event_parts() else {
                return;
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
                        p.batch.push(Ingested::Payload {
                            raw: RawPayload::now(media::TEXT, raw),
                            events: vec![],
                        });
                        p.end = Some(SessionError::Kicked(detail));
                        return;
                    }
                    p.batch.push(Ingested::Payload {
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
                p.batch.ack(id);
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
}
