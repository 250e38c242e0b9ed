//! Socket.IO protocol v5 packets, carried in Engine.IO `message` packets.
//!
//! Grammar: `<type>[<#attachments>-][<namespace>,][<ack id>][JSON payload]`; the namespace is
//! omitted for `/`. Types: `0` CONNECT, `1` DISCONNECT, `2` EVENT, `3` ACK, `4` CONNECT_ERROR,
//! `5` BINARY_EVENT, `6` BINARY_ACK. The checks follow the reference parser: an EVENT payload
//! must be a non-empty array whose first element is a string, an ACK payload an array, a
//! CONNECT payload (when present) an object. Binary attachments are not supported (e-office
//! payloads are JSON only), so `5`/`6` decode but cannot be followed.

use serde_json::Value;

/// Socket.IO packet type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `0`.
    Connect,
    /// `1`.
    Disconnect,
    /// `2`.
    Event,
    /// `3`.
    Ack,
    /// `4`.
    ConnectError,
    /// `5`.
    BinaryEvent,
    /// `6`.
    BinaryAck,
}

impl Kind {
    fn digit(self) -> char {
        match self {
            Kind::Connect => '0',
            Kind::Disconnect => '1',
            Kind::Event => '2',
            Kind::Ack => '3',
            Kind::ConnectError => '4',
            Kind::BinaryEvent => '5',
            Kind::BinaryAck => '6',
        }
    }

    fn from_digit(c: char) -> Option<Kind> {
        Some(match c {
            '0' => Kind::Connect,
            '1' => Kind::Disconnect,
            '2' => Kind::Event,
            '3' => Kind::Ack,
            '4' => Kind::ConnectError,
            '5' => Kind::BinaryEvent,
            '6' => Kind::BinaryAck,
            _ => return None,
        })
    }
}

/// One Socket.IO packet.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    /// Type.
    pub kind: Kind,
    /// Namespace (`/` when omitted on the wire).
    pub nsp: String,
    /// Ack id, when the sender asks for (EVENT) or answers (ACK) an acknowledgement.
    pub id: Option<u64>,
    /// Number of binary attachments (`5`/`6` only).
    pub attachments: Option<u32>,
    /// JSON payload.
    pub data: Option<Value>,
}

/// Why a string is not a Socket.IO v5 packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// Nothing after the Engine.IO `4`.
    #[error("empty socket.io packet")]
    Empty,
    /// Unknown type digit.
    #[error("unknown socket.io packet type {0:?}")]
    UnknownType(char),
    /// Attachment count missing its `-` or not a number.
    #[error("bad socket.io attachment count")]
    BadAttachments,
    /// Namespace not terminated by `,`.
    #[error("socket.io namespace without a terminating comma")]
    BadNamespace,
    /// Ack id does not fit in 64 bits.
    #[error("socket.io ack id out of range")]
    BadAckId,
    /// Payload is not JSON.
    #[error("socket.io payload is not JSON: {0}")]
    BadJson(String),
    /// Payload has the wrong shape for the packet type.
    #[error("invalid socket.io {kind} payload: {why}")]
    BadPayload {
        /// Packet type name.
        kind: &'static str,
        /// What is wrong.
        why: &'static str,
    },
}

/// Parses a Socket.IO packet (the text after the Engine.IO `4`).
pub fn decode(s: &str) -> Result<Packet, PacketError> {
    let mut rest = s;
    let first = rest.chars().next().ok_or(PacketError::Empty)?;
    let kind = Kind::from_digit(first).ok_or(PacketError::UnknownType(first))?;
    rest = &rest[first.len_utf8()..];

    let mut attachments = None;
    if matches!(kind, Kind::BinaryEvent | Kind::BinaryAck) {
        let dash = rest.find('-').ok_or(PacketError::BadAttachments)?;
        let n: u32 = rest[..dash].parse().map_err(|_| PacketError::BadAttachments)?;
        attachments = Some(n);
        rest = &rest[dash + 1..];
    }

    let mut nsp = "/".to_string();
    if rest.starts_with('/') {
        let comma = rest.find(',');
        match comma {
            Some(i) => {
                nsp = rest[..i].to_string();
                rest = &rest[i + 1..];
            }
            // A bare namespace with no payload is valid (`1/admin`).
            None if !rest.contains(['[', '{']) => {
                nsp = rest.to_string();
                rest = "";
            }
            None => return Err(PacketError::BadNamespace),
        }
    }

    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let id = if digits > 0 {
        let id = rest[..digits].parse().map_err(|_| PacketError::BadAckId)?;
        rest = &rest[digits..];
        Some(id)
    } else {
        None
    };

    let data = if rest.is_empty() {
        None
    } else {
        Some(serde_json::from_str::<Value>(rest).map_err(|e| PacketError::BadJson(e.to_string()))?)
    };
    let packet = Packet {
        kind,
        nsp,
        id,
        attachments,
        data,
    };
    validate(&packet)?;
    Ok(packet)
}

fn validate(p: &Packet) -> Result<(), PacketError> {
    let bad = |kind, why| Err(PacketError::BadPayload { kind, why });
    match p.kind {
        Kind::Connect => match &p.data {
            None | Some(Value::Object(_)) => Ok(()),
            Some(_) => bad("CONNECT", "must be an object"),
        },
        Kind::Disconnect => match p.data {
            None => Ok(()),
            Some(_) => bad("DISCONNECT", "must be empty"),
        },
        Kind::Event | Kind::BinaryEvent => match &p.data {
            Some(Value::Array(a)) if matches!(a.first(), Some(Value::String(_))) => Ok(()),
            Some(Value::Array(a)) if a.is_empty() => bad("EVENT", "must not be an empty array"),
            Some(Value::Array(_)) => bad("EVENT", "first element must be the event name"),
            _ => bad("EVENT", "must be an array"),
        },
        Kind::Ack | Kind::BinaryAck => match (&p.data, p.id) {
            (_, None) => bad("ACK", "needs an ack id"),
            (Some(Value::Array(_)), _) => Ok(()),
            _ => bad("ACK", "must be an array"),
        },
        Kind::ConnectError => match &p.data {
            Some(Value::Object(_)) | Some(Value::String(_)) => Ok(()),
            _ => bad("CONNECT_ERROR", "must be an object"),
        },
    }
}

/// Encodes a packet (without the Engine.IO `4`).
pub fn encode(p: &Packet) -> String {
    let mut s = String::new();
    s.push(p.kind.digit());
    if let Some(n) = p.attachments {
        s.push_str(&n.to_string());
        s.push('-');
    }
    if p.nsp != "/" && !p.nsp.is_empty() {
        s.push_str(&p.nsp);
        s.push(',');
    }
    if let Some(id) = p.id {
        s.push_str(&id.to_string());
    }
    if let Some(d) = &p.data {
        s.push_str(&d.to_string());
    }
    s
}

impl Packet {
    fn plain(kind: Kind, id: Option<u64>, data: Option<Value>) -> Packet {
        Packet {
            kind,
            nsp: "/".into(),
            id,
            attachments: None,
            data,
        }
    }

    /// CONNECT to `/`, with an auth object when given.
    pub fn connect(auth: Option<Value>) -> Packet {
        Packet::plain(Kind::Connect, None, auth)
    }

    /// CONNECT_ERROR with `{"message": ..}`.
    pub fn connect_error(message: &str) -> Packet {
        Packet::plain(
            Kind::ConnectError,
            None,
            Some(serde_json::json!({ "message": message })),
        )
    }

    /// EVENT `[name, args...]`, asking for an ack when `id` is set.
    pub fn event(name: &str, args: Vec<Value>, id: Option<u64>) -> Packet {
        let mut a = Vec::with_capacity(args.len() + 1);
        a.push(Value::String(name.to_string()));
        a.extend(args);
        Packet::plain(Kind::Event, id, Some(Value::Array(a)))
    }

    /// ACK `id` with `args`.
    pub fn ack(id: u64, args: Vec<Value>) -> Packet {
        Packet::plain(Kind::Ack, Some(id), Some(Value::Array(args)))
    }

    /// The Engine.IO text frame carrying this packet (`4` + encoding).
    pub fn to_frame(&self) -> String {
        format!("4{}", encode(self))
    }

    /// For EVENT packets: the event name and its arguments. `None` for BINARY_EVENT too,
    /// whose arguments hold placeholders for attachments that follow in other frames.
    pub fn event_parts(&self) -> Option<(&str, &[Value])> {
        match (&self.kind, &self.data) {
            (Kind::Event, Some(Value::Array(a))) => match a.split_first() {
                Some((Value::String(name), args)) => Some((name.as_str(), args)),
                _ => None,
            },
            _ => None,
        }
    }

    /// For CONNECT_ERROR: the `message` (or the string payload).
    pub fn error_message(&self) -> Option<&str> {
        match &self.data {
            Some(Value::Object(o)) => o.get("message").and_then(Value::as_str),
            Some(Value::String(s)) => Some(s),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_the_specification_examples() {
        let p = decode(r#"0{"token":"123"}"#).unwrap();
        assert_eq!((p.kind, p.nsp.as_str(), p.id), (Kind::Connect, "/", None));
        assert_eq!(p.data, Some(json!({"token": "123"})));

        let p = decode(r#"0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}"#).unwrap();
        assert_eq!(p.nsp, "/admin");
        assert_eq!(p.data, Some(json!({"sid": "oSO0OpakMV_3jnilAAAA"})));

        let p = decode(r#"2["hello",1]"#).unwrap();
        assert_eq!(p.event_parts(), Some(("hello", &[json!(1)][..])));

        let p = decode(r#"2456["message-with-ack",1,"2",{"3":[false]}]"#).unwrap();
        assert_eq!(p.id, Some(456));
        let (name, args) = p.event_parts().unwrap();
        assert_eq!(name, "message-with-ack");
        assert_eq!(args, &[json!(1), json!("2"), json!({"3": [false]})]);

        let p = decode(r#"3456[1,"2",{"3":[false]}]"#).unwrap();
        assert_eq!((p.kind, p.id), (Kind::Ack, Some(456)));

        let p = decode(r#"4{"message":"Not authorized"}"#).unwrap();
        assert_eq!(p.error_message(), Some("Not authorized"));
        let p = decode(r#"4/random,{"message":"Invalid namespace"}"#).unwrap();
        assert_eq!(
            (p.nsp.as_str(), p.error_message()),
            ("/random", Some("Invalid namespace"))
        );

        assert_eq!(decode("1").unwrap().kind, Kind::Disconnect);
        assert_eq!(decode("1/admin,").unwrap().nsp, "/admin");
        assert_eq!(decode("1/admin").unwrap().nsp, "/admin");
        assert_eq!(decode("0").unwrap(), Packet::connect(None));
    }

    #[test]
    fn decodes_binary_headers() {
        let p = decode(r#"51-["hello",{"_placeholder":true,"num":0}]"#).unwrap();
        assert_eq!((p.kind, p.attachments), (Kind::BinaryEvent, Some(1)));
        let p = decode(r#"61-/admin,456[{"_placeholder":true,"num":0}]"#).unwrap();
        assert_eq!(
            (p.kind, p.attachments, p.nsp.as_str(), p.id),
            (Kind::BinaryAck, Some(1), "/admin", Some(456))
        );
    }

    #[test]
    fn round_trips_what_it_encodes() {
        for p in [
            Packet::connect(Some(json!({"token": "t"}))),
            Packet::connect(None),
            Packet::connect_error("Not authorized"),
            Packet::event("get offline info", vec![], None),
            Packet::event("user offline info", vec![json!([{"message_id": "1"}])], Some(7)),
            Packet::ack(7, vec![json!("success")]),
            Packet::ack(0, vec![]),
            Packet {
                nsp: "/admin".into(),
                ..Packet::event("x", vec![json!(null)], Some(12))
            },
        ] {
            let s = encode(&p);
            assert_eq!(decode(&s).unwrap(), p, "{s}");
        }
        assert_eq!(Packet::ack(3, vec![json!("success")]).to_frame(), r#"433["success"]"#);
        assert_eq!(
            Packet::event("get offline info", vec![], None).to_frame(),
            r#"42["get offline info"]"#
        );
        assert_eq!(
            Packet::connect(Some(json!({"token": "a"}))).to_frame(),
            r#"40{"token":"a"}"#
        );
    }

    #[test]
    fn keeps_unicode_payloads_intact() {
        let p = decode(r#"2["private message",{"text_message_content":"报销单 ✓"}]"#).unwrap();
        assert_eq!(p.event_parts().unwrap().1[0]["text_message_content"], "报销单 ✓");
    }

    #[test]
    fn rejects_what_the_reference_parser_rejects() {
        assert_eq!(decode(""), Err(PacketError::Empty));
        assert_eq!(decode("7"), Err(PacketError::UnknownType('7')));
        assert_eq!(decode("a[]"), Err(PacketError::UnknownType('a')));
        for (frame, kind) in [
            ("2{}", "EVENT"),
            ("2[]", "EVENT"),
            ("2[1]", "EVENT"),
            ("2\"x\"", "EVENT"),
            ("2", "EVENT"),
            ("3[]", "ACK"),
            ("31{}", "ACK"),
            ("0[]", "CONNECT"),
            ("1{}", "DISCONNECT"),
            ("4", "CONNECT_ERROR"),
        ] {
            assert!(
                matches!(decode(frame), Err(PacketError::BadPayload { kind: k, .. }) if k == kind),
                "{frame}: {:?}",
                decode(frame)
            );
        }
        assert!(matches!(decode("2abc[\"a\"]"), Err(PacketError::BadJson(_))));
        assert!(matches!(decode("2[\"a\""), Err(PacketError::BadJson(_))));
        assert_eq!(decode("5[\"a\"]"), Err(PacketError::BadAttachments));
        assert_eq!(decode("5x-[\"a\"]"), Err(PacketError::BadAttachments));
        assert_eq!(decode("2/admin[\"a\"]"), Err(PacketError::BadNamespace));
        assert_eq!(decode("299999999999999999999999[\"a\"]"), Err(PacketError::BadAckId));
    }
}
