//! The LWP WebSocket: connect with the browser headers of §3.1, send frames, match
//! responses to requests by `mid`, keep the heartbeat (§3.4), and hand everything else
//! (pushes, garbage) to the caller in arrival order.
//!
//! Heartbeats are sent from the same task that reads, so a missing answer is noticed even
//! while a request is outstanding; `/!` unanswered for `heartbeat_timeout` ends the session.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep_until};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::frame::{Frame, FrameKind, UA};
use crate::ConnectorError;
use crate::runtime::Tuning;

/// Pushes kept while waiting for a response; more means the server floods us while we page
/// history, and reconnecting (unacked pushes are redelivered) is safer than unbounded memory.
const MAX_BUFFERED: usize = 10_000;

/// The timers a socket keeps (from the connector's [`Tuning`]).
#[derive(Debug, Clone, Copy)]
struct Timing {
    heartbeat_interval: Duration,
    heartbeat_timeout: Duration,
    request_timeout: Duration,
}

/// Something the server sent that is not a response we wait for.
#[derive(Debug)]
pub enum Incoming {
    /// A server push (`/s/…`) and the frame's bytes as received (kept as the raw payload when
    /// the push cannot be decoded, so a reject holds what the server sent, not a re-encoding).
    Push {
        /// The parsed frame.
        frame: Frame,
        /// The frame text as received.
        raw: Bytes,
    },
    /// A response nobody waits for (late answer to a timed-out request).
    Response(Frame),
    /// A frame we could not read: kept as a reject.
    Garbage {
        /// The frame as received.
        bytes: Bytes,
        /// Why.
        reason: String,
    },
}

/// An open LWP socket.
pub struct Socket {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    buffered: VecDeque<Incoming>,
    timing: Timing,
    next_heartbeat: Instant,
    awaiting: Option<(String, Instant)>,
}

impl Socket {
    /// Opens the WebSocket. `cookies`, when given, go in the `Cookie` header.
    /// Frames and messages above `max_frame_bytes` end the connection (tungstenite's own
    /// defaults, 16 MiB a frame and 64 MiB a message, would let one peer hold that much).
    pub async fn connect(
        url: &str,
        cookies: Option<&str>,
        tuning: &Tuning,
        max_frame_bytes: usize,
    ) -> Result<Socket, ConnectorError> {
        let timing = Timing {
            heartbeat_interval: tuning.heartbeat,
            heartbeat_timeout: tuning.heartbeat_timeout,
            request_timeout: tuning.request_timeout,
        };
        let mut req = url
            .into_client_request()
            .map_err(|e| ConnectorError::Config(format!("goofish ws_url: {e}")))?;
        let h = req.headers_mut();
        h.insert("origin", HeaderValue::from_static("https://www.goofish.com"));
        h.insert("user-agent", HeaderValue::from_static(UA));
        if let Some(c) = cookies.filter(|c| !c.is_empty()) {
            let v = HeaderValue::from_str(c)
                .map_err(|_| ConnectorError::Config("goofish cookies are not a valid header value".into()))?;
            h.insert("cookie", v);
        }
        let config = WebSocketConfig::default()
            .max_message_size(Some(max_frame_bytes))
            .max_frame_size(Some(max_frame_bytes));
        let connect = tokio_tungstenite::connect_async_with_config(req, Some(config), true);
        let (ws, _) = tokio::time::timeout(tuning.connect_timeout, connect)
            .await
            .map_err(|_| ConnectorError::Transport("connect timed out".into()))?
            .map_err(|e| ConnectorError::Transport(format!("connect: {e}")))?;
        Ok(Socket {
            ws,
            buffered: VecDeque::new(),
            timing,
            next_heartbeat: Instant::now() + timing.heartbeat_interval,
            awaiting: None,
        })
    }

    /// Sends one frame.
    pub async fn send(&mut self, frame: &Frame) -> Result<(), ConnectorError> {
        self.ws
            .send(Message::text(frame.to_text()))
            .await
            .map_err(|e| ConnectorError::Transport(format!("send: {e}")))
    }

    /// Sends several frames with one flush.
    pub async fn send_all(&mut self, frames: &[Frame]) -> Result<(), ConnectorError> {
        for f in frames {
            self.ws
                .feed(Message::text(f.to_text()))
                .await
                .map_err(|e| ConnectorError::Transport(format!("send: {e}")))?;
        }
        self.ws
            .flush()
            .await
            .map_err(|e| ConnectorError::Transport(format!("send: {e}")))
    }

    /// Sends a request and waits for its response, buffering pushes that arrive meanwhile.
    pub async fn request(&mut self, frame: Frame) -> Result<Frame, ConnectorError> {
        let mid = frame.mid().unwrap_or_default().to_string();
        let path = frame.lwp.clone().unwrap_or_default();
        self.send(&frame).await?;
        let deadline = Instant::now() + self.timing.request_timeout;
        loop {
            tokio::select! {
                _ = sleep_until(self.heartbeat_due()) => self.heartbeat_tick().await?,
                _ = sleep_until(deadline) => {
                    return Err(ConnectorError::Transport(format!("{path}: no response within {:?}", self.timing.request_timeout)));
                }
                got = self.read_one() => match got? {
                    Some(Incoming::Response(f)) if f.mid() == Some(mid.as_str()) => return Ok(f),
                    Some(other) => {
                        if self.buffered.len() >= MAX_BUFFERED {
                            return Err(ConnectorError::Protocol("too many pushes while waiting for a response".into()));
                        }
                        self.buffered.push_back(other);
                    }
                    None => {}
                },
            }
        }
    }

    /// Waits `d` while keeping the heartbeat and buffering whatever arrives (flow-control
    /// pauses during backfill).
    pub async fn idle(&mut self, d: Duration) -> Result<(), ConnectorError> {
        let until = Instant::now() + d;
        loop {
            tokio::select! {
                _ = sleep_until(until) => return Ok(()),
                _ = sleep_until(self.heartbeat_due()) => self.heartbeat_tick().await?,
                got = self.read_one() => {
                    if let Some(i) = got? {
                        if self.buffered.len() >= MAX_BUFFERED {
                            return Err(ConnectorError::Protocol("too many pushes while paused".into()));
                        }
                        self.buffered.push_back(i);
                    }
                }
            }
        }
    }

    /// The next push / garbage frame (buffered ones first). Cancel-safe.
    pub async fn next(&mut self) -> Result<Incoming, ConnectorError> {
        if let Some(i) = self.buffered.pop_front() {
            return Ok(i);
        }
        loop {
            if let Some(i) = self.read_one().await? {
                return Ok(i);
            }
        }
    }

    /// When the heartbeat needs attention (send one, or give up on an unanswered one).
    pub fn heartbeat_due(&self) -> Instant {
        match &self.awaiting {
            Some((_, sent)) => *sent + self.timing.heartbeat_timeout,
            None => self.next_heartbeat,
        }
    }

    /// Sends a heartbeat, or fails if the last one went unanswered.
    pub async fn heartbeat_tick(&mut self) -> Result<(), ConnectorError> {
        let now = Instant::now();
        if let Some((_, sent)) = &self.awaiting {
            if now >= *sent + self.timing.heartbeat_timeout {
                return Err(ConnectorError::Transport(format!(
                    "heartbeat unanswered for {:?}",
                    self.timing.heartbeat_timeout
                )));
            }
            return Ok(());
        }
        if now < self.next_heartbeat {
            return Ok(());
        }
        let hb = Frame::heartbeat();
        self.awaiting = Some((hb.mid().unwrap_or_default().to_string(), now));
        self.next_heartbeat = now + self.timing.heartbeat_interval;
        self.send(&hb).await
    }

    /// Closes politely (errors ignored: the peer may already be gone).
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.ws.close(None)).await;
    }

    /// Reads one WebSocket message; `None` for frames consumed here (heartbeat answers,
    /// pings). Cancel-safe: the only await is the stream's `next`.
    async fn read_one(&mut self) -> Result<Option<Incoming>, ConnectorError> {
        let msg = match self.ws.next().await {
            Some(Ok(m)) => m,
            Some(Err(e)) => return Err(ConnectorError::Transport(format!("receive: {e}"))),
            None => {
                return Err(ConnectorError::Transport("connection closed by the server".into()));
            }
        };
        let text = match msg {
            Message::Text(t) => t,
            Message::Binary(b) => {
                return Ok(Some(Incoming::Garbage {
                    bytes: b,
                    reason: "binary frame on an LWP text channel".into(),
                }));
            }
            Message::Close(_) => {
                return Err(ConnectorError::Transport("connection closed by the server".into()));
            }
            _ => return Ok(None),
        };
        let frame = match Frame::parse(text.as_str()) {
            Ok(f) => f,
            Err(e) => {
                return Ok(Some(Incoming::Garbage {
                    bytes: Bytes::from(text),
                    reason: format!("frame is not LWP JSON: {e}"),
                }));
            }
        };
        Ok(match frame.kind() {
            FrameKind::Response => {
                if self
                    .awaiting
                    .as_ref()
                    .is_some_and(|(mid, _)| frame.mid() == Some(mid.as_str()))
                {
                    self.awaiting = None;
                    None
                } else {
                    Some(Incoming::Response(frame))
                }
            }
            // Utf8Bytes shares its buffer with Bytes: no copy for the common path.
            FrameKind::Push => Some(Incoming::Push {
                frame,
                raw: Bytes::from(text),
            }),
            FrameKind::Other => Some(Incoming::Garbage {
                bytes: Bytes::from(text),
                reason: "frame is neither a push nor a response".into(),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A peer that sends one text message of `len` bytes after the handshake.
    async fn peer_sending(len: usize) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
            let _ = ws.send(Message::text("x".repeat(len))).await;
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        url
    }

    #[tokio::test]
    async fn a_message_over_the_frame_limit_ends_the_connection() {
        let url = peer_sending(2 << 20).await;
        let mut s = Socket::connect(&url, None, &Tuning::default(), 1 << 20).await.unwrap();
        let Err(e) = s.next().await else {
            panic!("an oversized message was read")
        };
        assert!(e.to_string().contains("receive"), "{e}");
        // Under the limit, the same message is read (as garbage: it is not LWP JSON).
        let url = peer_sending(2 << 20).await;
        let mut s = Socket::connect(&url, None, &Tuning::default(), 4 << 20).await.unwrap();
        assert!(matches!(s.next().await, Ok(Incoming::Garbage { .. })));
    }
}
