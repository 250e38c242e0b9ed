//! The WebSocket session: dial, Engine.IO open, Socket.IO CONNECT with the OA token, and the
//! heartbeat deadline (EIO4: the server pings; no ping within `pingInterval + pingTimeout`
//! means the connection is dead).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::SessionError;
use super::engineio::{self, Handshake};
use super::socketio::{self, Kind};

/// The socket type.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A connected Socket.IO session on namespace `/`.
pub struct Socket {
    /// The socket.
    pub ws: Ws,
    /// The server's open packet.
    pub handshake: Handshake,
    /// When the connection counts as dead unless a ping arrives first.
    pub ping_deadline: Instant,
}

/// What the connector needs from its config to dial.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// `http(s)://host:port` or `ws(s)://…`.
    pub url: String,
    /// Socket.IO path.
    pub path: String,
    /// `connectType`.
    pub connect_type: String,
    /// `loginUserId`.
    pub user_id: String,
}

impl Endpoint {
    /// The WebSocket URL of the Engine.IO handshake.
    pub fn ws_url(&self) -> String {
        let base = self.url.trim_end_matches('/');
        let base = if let Some(rest) = base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            base.to_string()
        };
        let path = if self.path.starts_with('/') {
            self.path.clone()
        } else {
            format!("/{}", self.path)
        };
        let q = engineio::query(&[("connectType", &self.connect_type), ("loginUserId", &self.user_id)]);
        format!("{base}{path}?{q}")
    }
}

impl Socket {
    /// Dials and completes the Engine.IO and Socket.IO handshakes.
    /// `max_frame_bytes` is the connector's frame limit (larger frames are rejected, not fatal).
    pub async fn connect(
        ep: &Endpoint,
        token: &str,
        connect_timeout: Duration,
        max_frame_bytes: usize,
    ) -> Result<Socket, SessionError> {
        tokio::time::timeout(connect_timeout, Self::handshake(ep, token, max_frame_bytes))
            .await
            .map_err(|_| SessionError::Connect("handshake timed out".into()))?
    }

    async fn handshake(ep: &Endpoint, token: &str, max_frame_bytes: usize) -> Result<Socket, SessionError> {
        // tungstenite's own cap sits above ours so an oversized frame still reaches the
        // connector, which keeps its head in `rejects` instead of losing the connection.
        let cap = max_frame_bytes.saturating_mul(4).max(1 << 20);
        let config = WebSocketConfig::default()
            .max_message_size(Some(cap))
            .max_frame_size(Some(cap));
        let (mut ws, _) = tokio_tungstenite::connect_async_with_config(ep.ws_url(), Some(config), true)
            .await
            .map_err(|e| SessionError::Connect(e.to_string()))?;

        let handshake = loop {
            let t = next_text(&mut ws).await?;
            match engineio::decode(&t) {
                Ok(engineio::Packet::Open(h)) => break h,
                Ok(engineio::Packet::Noop) => continue,
                Ok(_) => {
                    return Err(SessionError::Protocol("first packet is not an engine.io open".into()));
                }
                Err(e) => return Err(SessionError::Protocol(e.to_string())),
            }
        };
        let window = heartbeat_window(handshake.ping_interval, handshake.ping_timeout);
        let mut ping_deadline = Instant::now() + window;

        let connect = socketio::Packet::connect(Some(json!({ "token": token })));
        ws.send(Message::text(connect.to_frame()))
            .await
            .map_err(|e| SessionError::Connect(e.to_string()))?;
        loop {
            let t = next_text(&mut ws).await?;
            match engineio::decode(&t).map_err(|e| SessionError::Protocol(e.to_string()))? {
                engineio::Packet::Ping(p) => {
                    ping_deadline = Instant::now() + window;
                    let pong = engineio::encode(&engineio::Packet::Pong(p));
                    ws.send(Message::text(pong))
                        .await
                        .map_err(|e| SessionError::Connect(e.to_string()))?;
                }
                engineio::Packet::Message(m) => {
                    let p = socketio::decode(m).map_err(|e| SessionError::Protocol(e.to_string()))?;
                    match p.kind {
                        Kind::Connect if p.nsp == "/" => break,
                        Kind::ConnectError => {
                            let why = p.error_message().unwrap_or("connection refused").to_string();
                            let _ = ws.close(None).await;
                            return Err(SessionError::Auth(why));
                        }
                        _ => {
                            return Err(SessionError::Protocol("unexpected packet before CONNECT answer".into()));
                        }
                    }
                }
                engineio::Packet::Close => {
                    return Err(SessionError::Closed("server closed during handshake".into()));
                }
                _ => {}
            }
        }
        Ok(Socket {
            ws,
            handshake,
            ping_deadline,
        })
    }

    /// The heartbeat window: `pingInterval + pingTimeout`.
    pub fn ping_window(&self) -> Duration {
        heartbeat_window(self.handshake.ping_interval, self.handshake.ping_timeout)
    }

    /// Sends a text frame.
    pub async fn send(&mut self, frame: String) -> Result<(), SessionError> {
        self.ws
            .send(Message::text(frame))
            .await
            .map_err(|e| SessionError::Closed(e.to_string()))
    }

    /// Ends the session politely (Engine.IO close, then the WebSocket close handshake).
    pub async fn close(mut self) {
        let _ = self
            .ws
            .send(Message::text(engineio::encode(&engineio::Packet::Close)))
            .await;
        let _ = tokio::time::timeout(Duration::from_secs(2), self.ws.close(None)).await;
    }
}

async fn next_text(ws: &mut Ws) -> Result<String, SessionError> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return Ok(t.as_str().to_string()),
            Some(Ok(Message::Close(_))) | None => {
                return Err(SessionError::Closed("connection closed during handshake".into()));
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(SessionError::Connect(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_handshake_url() {
        let ep = Endpoint {
            url: "http://oa.example.com:3000/".into(),
            path: "/socket.io/".into(),
            connect_type: "client".into(),
            user_id: "admin".into(),
        };
        assert_eq!(
            ep.ws_url(),
            "ws://oa.example.com:3000/socket.io/?EIO=4&transport=websocket&connectType=client&loginUserId=admin"
        );
        let ep = Endpoint {
            url: "https://oa.example.com".into(),
            path: "im/".into(),
            ..ep
        };
        assert!(ep.ws_url().starts_with("wss://oa.example.com/im/?EIO=4"));
    }
}

/// The longest heartbeat window accepted from a server (its own figures are 25 s + 20 s).
const MAX_HEARTBEAT_WINDOW: Duration = Duration::from_secs(3600);

/// `pingInterval + pingTimeout` (ms, both from the server's handshake), without overflow and
/// bounded, so a hostile or broken server can neither panic the deadline arithmetic nor make
/// a dead connection look alive for ever.
pub fn heartbeat_window(ping_interval: u64, ping_timeout: u64) -> Duration {
    Duration::from_millis(ping_interval.saturating_add(ping_timeout)).min(MAX_HEARTBEAT_WINDOW)
}

#[cfg(test)]
mod window_tests {
    use super::*;

    #[test]
    fn server_figures_cannot_overflow_the_heartbeat_deadline() {
        assert_eq!(heartbeat_window(25_000, 20_000), Duration::from_secs(45));
        let w = heartbeat_window(u64::MAX, u64::MAX);
        assert_eq!(w, MAX_HEARTBEAT_WINDOW);
        // The deadline computed from it is representable.
        let _ = Instant::now() + w;
    }
}
