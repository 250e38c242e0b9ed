//! Engine.IO protocol v4 framing, WebSocket transport only.
//!
//! Each WebSocket text frame is one packet: a type digit followed by its payload
//! (`0` open, `1` close, `2` ping, `3` pong, `4` message, `5` upgrade, `6` noop). Pure
//! functions, shared by the connector and the simulator. No crate offers this without a whole
//! Socket.IO client attached (see the module docs of [`super`]), so it is written here.

use serde::{Deserialize, Serialize};

/// Engine.IO protocol version spoken (`EIO=4`).
pub const PROTOCOL: u8 = 4;

/// The open packet's payload, sent by the server first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Handshake {
    /// Engine.IO session id.
    pub sid: String,
    /// Transports the session may upgrade to (empty over a WebSocket-only session).
    #[serde(default)]
    pub upgrades: Vec<String>,
    /// Milliseconds between the server's pings.
    pub ping_interval: u64,
    /// Milliseconds the peer has to answer a ping.
    pub ping_timeout: u64,
    /// Largest payload the server accepts, in bytes.
    #[serde(default)]
    pub max_payload: u64,
}

/// One Engine.IO packet, borrowing its payload from the frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet<'a> {
    /// `0` + handshake JSON.
    Open(Handshake),
    /// `1`.
    Close,
    /// `2` (payload only in the upgrade probe).
    Ping(&'a str),
    /// `3`.
    Pong(&'a str),
    /// `4` + a Socket.IO packet.
    Message(&'a str),
    /// `5`.
    Upgrade,
    /// `6`.
    Noop,
}

/// Why a frame is not an Engine.IO v4 packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Zero-length frame.
    #[error("empty engine.io frame")]
    Empty,
    /// First character is not a known packet type.
    #[error("unknown engine.io packet type {0:?}")]
    UnknownType(char),
    /// The open packet's JSON is not a handshake.
    #[error("bad engine.io open packet: {0}")]
    BadOpen(String),
    /// A packet type that carries no payload came with one.
    #[error("unexpected payload after engine.io packet type {0}")]
    UnexpectedPayload(char),
}

/// Parses one text frame.
pub fn decode(frame: &str) -> Result<Packet<'_>, FrameError> {
    let mut chars = frame.chars();
    let kind = chars.next().ok_or(FrameError::Empty)?;
    let payload = chars.as_str();
    match kind {
        '0' => serde_json::from_str(payload)
            .map(Packet::Open)
            .map_err(|e| FrameError::BadOpen(e.to_string())),
        '1' => empty(kind, payload).map(|_| Packet::Close),
        '2' => Ok(Packet::Ping(payload)),
        '3' => Ok(Packet::Pong(payload)),
        '4' => Ok(Packet::Message(payload)),
        '5' => empty(kind, payload).map(|_| Packet::Upgrade),
        '6' => empty(kind, payload).map(|_| Packet::Noop),
        other => Err(FrameError::UnknownType(other)),
    }
}

fn empty(kind: char, payload: &str) -> Result<(), FrameError> {
    if payload.is_empty() {
        Ok(())
    } else {
        Err(FrameError::UnexpectedPayload(kind))
    }
}

/// Encodes one packet as a text frame.
pub fn encode(packet: &Packet<'_>) -> String {
    match packet {
        Packet::Open(h) => {
            // A handshake of strings and integers always serializes.
            format!("0{}", serde_json::to_string(h).unwrap_or_default())
        }
        Packet::Close => "1".into(),
        Packet::Ping(p) => format!("2{p}"),
        Packet::Pong(p) => format!("3{p}"),
        Packet::Message(m) => format!("4{m}"),
        Packet::Upgrade => "5".into(),
        Packet::Noop => "6".into(),
    }
}

/// The handshake query string (without `?`): `EIO=4&transport=websocket` plus `extra`
/// pairs, percent-encoded.
pub fn query(extra: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("EIO", "4").append_pair("transport", "websocket");
    for (k, v) in extra {
        q.append_pair(k, v);
    }
    q.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hs() -> Handshake {
        Handshake {
            sid: "lv_VI97HAXpY6yYWAAAC".into(),
            upgrades: vec![],
            ping_interval: 25000,
            ping_timeout: 20000,
            max_payload: 1_000_000,
        }
    }

    #[test]
    fn decodes_the_reference_open_packet() {
        let f = r#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
        let Packet::Open(h) = decode(f).unwrap() else {
            panic!("not open")
        };
        assert_eq!(h.sid, "lv_VI97HAXpY6yYWAAAC");
        assert_eq!(h.upgrades, vec!["websocket".to_string()]);
        assert_eq!(
            (h.ping_interval, h.ping_timeout, h.max_payload),
            (25000, 20000, 1_000_000)
        );
    }

    #[test]
    fn open_round_trips() {
        let f = encode(&Packet::Open(hs()));
        assert!(f.starts_with("0{\"sid\""), "{f}");
        assert!(f.contains("\"pingInterval\":25000"), "{f}");
        assert_eq!(decode(&f).unwrap(), Packet::Open(hs()));
    }

    #[test]
    fn every_type_round_trips() {
        for p in [
            Packet::Close,
            Packet::Ping(""),
            Packet::Ping("probe"),
            Packet::Pong(""),
            Packet::Pong("probe"),
            Packet::Message("2[\"a\"]"),
            Packet::Message(""),
            Packet::Upgrade,
            Packet::Noop,
        ] {
            let f = encode(&p);
            assert_eq!(decode(&f).unwrap(), p, "{f}");
        }
        assert_eq!(encode(&Packet::Ping("")), "2");
        assert_eq!(encode(&Packet::Pong("")), "3");
        assert_eq!(encode(&Packet::Message("0")), "40");
    }

    #[test]
    fn rejects_malformed_frames() {
        assert_eq!(decode(""), Err(FrameError::Empty));
        assert_eq!(decode("7"), Err(FrameError::UnknownType('7')));
        assert_eq!(decode("x2"), Err(FrameError::UnknownType('x')));
        assert_eq!(decode("中"), Err(FrameError::UnknownType('中')));
        assert!(matches!(decode("0"), Err(FrameError::BadOpen(_))));
        assert!(matches!(decode("0{\"sid\":1}"), Err(FrameError::BadOpen(_))));
        assert!(matches!(decode("0{\"sid\":\"a\"}"), Err(FrameError::BadOpen(_))));
        assert_eq!(decode("1x"), Err(FrameError::UnexpectedPayload('1')));
        assert_eq!(decode("6 "), Err(FrameError::UnexpectedPayload('6')));
    }

    #[test]
    fn query_carries_version_transport_and_extras() {
        let q = query(&[("connectType", "web"), ("loginUserId", "张 三")]);
        assert_eq!(
            q,
            "EIO=4&transport=websocket&connectType=web&loginUserId=%E5%BC%A0+%E4%B8%89"
        );
    }
}
