//! The chat-ws-go WebSocket: connect, JSON text frames out (`login`, `heartbeat`), binary
//! protobuf frames in, and the proof of login.

use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use config::YunhuConfig;

use super::codec::{Frame, decode};
use crate::ConnectorError;

/// What the server answers an invalid or missing login (also sent in binary form).
pub const NOT_LOGGED_IN: &str = "数据不合法";

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
/// Write half.
pub type Sink = SplitSink<Ws, Message>;
/// Read half.
pub type Stream = SplitStream<Ws>;

/// Opens the WebSocket; frames and messages above `max_frame_bytes` end the connection
/// instead of being buffered (tungstenite's own defaults are 16 and 64 MiB).
pub async fn connect(url: &str, max_frame_bytes: usize) -> Result<(Sink, Stream), ConnectorError> {
    let config = WebSocketConfig::default()
        .max_message_size(Some(max_frame_bytes))
        .max_frame_size(Some(max_frame_bytes));
    let (ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true)
        .await
        .map_err(|e| ConnectorError::Transport(format!("connect {}: {e}", redact_url(url))))?;
    Ok(ws.split())
}

/// The `login` frame. Contains the token: never log it.
pub fn login_frame(cfg: &YunhuConfig, seq: &str) -> String {
    serde_json::json!({
        "seq": seq,
        "cmd": "login",
        "data": {
            "userId": cfg.user_id,
            "token": cfg.token.expose(),
            "platform": cfg.platform,
            "deviceId": cfg.device_id,
        }
    })
    .to_string()
}

/// A `heartbeat` frame.
pub fn heartbeat_frame(seq: &str) -> String {
    serde_json::json!({ "seq": seq, "cmd": "heartbeat", "data": {} }).to_string()
}

/// Sends a text frame.
pub async fn send_text(sink: &mut Sink, text: String) -> Result<(), ConnectorError> {
    sink.send(Message::text(text))
        .await
        .map_err(|e| ConnectorError::Transport(format!("send: {e}")))
}

/// Sends the next `heartbeat` frame (`seq` counts them).
pub async fn send_heartbeat(sink: &mut Sink, seq: &mut u64) -> Result<(), ConnectorError> {
    *seq += 1;
    send_text(sink, heartbeat_frame(&format!("hb-{seq}"))).await
}

/// Waits for proof of login: the server acks heartbeats (and pushes) only for a logged-in
/// session, and answers a bad login with "数据不合法" or silence. Returns pushes that came
/// before the ack.
pub async fn await_login(stream: &mut Stream, wait: Duration) -> Result<Vec<Bytes>, ConnectorError> {
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

/// The URL without query string or user info (they may hold credentials).
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            u.set_query(None);
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => "<invalid url>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_frame_above_the_cap_ends_the_connection() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
            let _ = ws.send(Message::binary(vec![0u8; 1000])).await;
            let _ = ws.send(Message::binary(vec![0u8; 2 * 1024 * 1024])).await;
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        let (_sink, mut stream) = connect(&format!("ws://{addr}/ws"), 1024 * 1024).await.unwrap();
        let small = stream.next().await.unwrap().unwrap();
        assert_eq!(small.len(), 1000);
        let big = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .unwrap();
        assert!(
            matches!(big, Some(Err(_))),
            "a 2 MiB frame got through a 1 MiB cap: {big:?}"
        );
    }

    #[test]
    fn frames_are_the_documented_json() {
        let cfg: YunhuConfig = serde_json::from_value(serde_json::json!({
            "name": "team", "user_id": "123", "token": "tok", "device_id": "dev"
        }))
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&login_frame(&cfg, "1")).unwrap();
        assert_eq!(v["cmd"], "login");
        assert_eq!(v["data"]["userId"], "123");
        assert_eq!(v["data"]["platform"], "windows");
        let h: serde_json::Value = serde_json::from_str(&heartbeat_frame("7")).unwrap();
        assert_eq!(h, serde_json::json!({"seq": "7", "cmd": "heartbeat", "data": {}}));
        assert_eq!(redact_url("ws://u:p@h:1/ws?token=x"), "ws://h:1/ws");
    }
}
