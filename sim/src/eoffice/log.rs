//! What the simulator did and saw, in order, so tests can assert on it.

use std::time::Instant;

/// One thing that happened on the simulated server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimEvent {
    /// A WebSocket handshake was accepted (connection number, `loginUserId`).
    Opened {
        /// Connection number (1-based).
        conn: u32,
        /// `loginUserId` of the query.
        user_id: String,
        /// `connectType` of the query.
        connect_type: String,
    },
    /// The Socket.IO CONNECT was accepted.
    Connected {
        /// Connection number.
        conn: u32,
    },
    /// The CONNECT was refused with `44`.
    Refused {
        /// Connection number.
        conn: u32,
        /// Why.
        reason: String,
    },
    /// An event was pushed.
    Sent {
        /// Connection number.
        conn: u32,
        /// Event name.
        event: String,
        /// Ack id requested, if any.
        ack_id: Option<u64>,
        /// Message ids carried.
        msg_ids: Vec<String>,
    },
    /// The client acknowledged an event.
    Acked {
        /// Connection number.
        conn: u32,
        /// Ack id.
        ack_id: u64,
        /// The ack's arguments, as JSON text.
        payload: String,
        /// Message ids the acked event carried.
        msg_ids: Vec<String>,
    },
    /// The client emitted an event.
    Received {
        /// Connection number.
        conn: u32,
        /// Event name.
        event: String,
    },
    /// The client missed a pong deadline.
    PongTimeout {
        /// Connection number.
        conn: u32,
    },
    /// The client sent something that is not Engine.IO / Socket.IO.
    Malformed {
        /// Connection number.
        conn: u32,
        /// What was wrong.
        reason: String,
    },
    /// The connection ended.
    Closed {
        /// Connection number.
        conn: u32,
        /// Why.
        why: String,
    },
}

/// A log line: order, time, event.
#[derive(Debug, Clone)]
pub struct LogEntry {
    /// Order (1-based).
    pub seq: u64,
    /// When.
    pub at: Instant,
    /// What.
    pub event: SimEvent,
}
