//! 泛微 e-office IM: a Socket.IO v5 client over Engine.IO v4 WebSocket.
//!
//! Session: `GET <url><path>?EIO=4&transport=websocket&connectType=..&loginUserId=..`, the
//! server's open packet, `40{"token":..}` → `40{"sid":..}` (or `44{"message":..}`: the token
//! was refused), then `42["get offline info"]`. The server pings (`2`), we answer `3`; no ping
//! within `pingInterval + pingTimeout` ends the session. Offline batches (`user offline info`,
//! `group offline info`) arrive with an ack id and are answered `43<id>["success"]` only after
//! the store committed them; unacked batches are redelivered by the server after a reconnect
//! and recognised as duplicates by the store. Live events are mapped by [`codec`]; `refresh
//! page` (logged in elsewhere) is recorded as a `kicked` connector state, then we reconnect
//! with backoff.
//!
//! Why hand-written framing: the one Rust Socket.IO client (rust_socketio 0.6) cannot ack
//! server-initiated events and brings a second TLS stack; the websocket-only subset of
//! Engine.IO v4 / Socket.IO v5 needed here is small and is tested exhaustively in
//! [`engineio`] and [`socketio`], and against the reference npm `socket.io`.
//!
//! # Layout
//! - [`engineio`], [`socketio`]: framing (pure), shared with the simulator.
//! - [`crypto`]: `message_content` AES-CBC (crypto-js compatible).
//! - [`message`], [`codec`]: event payloads → canonical events (pure).
//! - [`transport`]: dial, handshakes and the heartbeat deadline; `connector`: the session on
//!   the shared [`crate::runtime`] (acks released by its in-flight window).

pub mod codec;
mod connector;
pub mod crypto;
pub mod engineio;
pub mod message;
pub mod socketio;
pub mod transport;

use std::sync::Arc;

use config::EofficeConfig;
use proto::Platform;

use crate::runtime::{Tuning, supervise};
use crate::{Connector, ConnectorContext, ConnectorError};
use codec::Codec;
use crypto::ContentKey;
use transport::Endpoint;

/// Why a session ended. Messages never contain the token or the AES key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// Dial or handshake failed.
    #[error("connect failed: {0}")]
    Connect(String),
    /// The server refused the token (`44`).
    #[error("server refused the login: {0}")]
    Auth(String),
    /// The account was logged in elsewhere (`refresh page`).
    #[error("{0}")]
    Kicked(String),
    /// No ping within `pingInterval + pingTimeout`.
    #[error("no ping from the server within {0} ms")]
    PingTimeout(u64),
    /// The server or the network closed the connection.
    #[error("connection closed: {0}")]
    Closed(String),
    /// The server broke the protocol; reconnecting resets its state.
    #[error("{0}")]
    Protocol(String),
}

impl From<SessionError> for ConnectorError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Auth(_) => ConnectorError::Auth(e.to_string()),
            SessionError::Kicked(why) => ConnectorError::Kicked(why),
            SessionError::Protocol(why) => ConnectorError::Protocol(why),
            SessionError::Connect(_) | SessionError::PingTimeout(_) | SessionError::Closed(_) => {
                ConnectorError::Transport(e.to_string())
            }
        }
    }
}

/// The e-office connector.
pub struct EofficeConnector {
    cfg: EofficeConfig,
    tuning: Tuning,
}

impl EofficeConnector {
    /// From its config, with the reconnect policy of the reference client (1 s doubling to a
    /// 60 s cap, jitter 0.5), a 20 s connect timeout and frames up to the context's
    /// `max_body_bytes`.
    pub fn new(cfg: EofficeConfig) -> Self {
        EofficeConnector {
            cfg,
            tuning: Tuning::for_platform(Platform::Eoffice),
        }
    }

    /// Replaces timers and bounds (tests, benchmarks).
    pub fn with_tuning(mut self, tuning: Tuning) -> Self {
        self.tuning = tuning;
        self
    }

    fn codec(&self) -> Result<Codec, ConnectorError> {
        let key = match (&self.cfg.aes_key, &self.cfg.aes_iv) {
            (Some(k), Some(iv)) if !k.is_empty() => Some(
                ContentKey::new(k.expose(), iv.expose())
                    .map_err(|e| ConnectorError::Config(format!("[[eoffice]] `{}`: {e}", self.cfg.name)))?,
            ),
            (Some(k), None) if !k.is_empty() => {
                return Err(ConnectorError::Config(format!(
                    "[[eoffice]] `{}`: aes_key needs aes_iv",
                    self.cfg.name
                )));
            }
            _ => None,
        };
        Ok(Codec::new(key))
    }

    fn endpoint(&self) -> Endpoint {
        Endpoint {
            url: self.cfg.url.clone(),
            path: self.cfg.path.clone(),
            connect_type: self.cfg.connect_type.as_str().to_string(),
            user_id: self.cfg.user_id.clone(),
        }
    }
}

#[async_trait::async_trait]
impl Connector for EofficeConnector {
    crate::connector::connector_identity!(Platform::Eoffice);

    async fn run(self: Arc<Self>, cx: ConnectorContext) -> Result<(), ConnectorError> {
        let mut session = connector::EofficeSession {
            codec: self.codec()?,
            endpoint: self.endpoint(),
            max_frame_bytes: self.tuning.frame_limit(cx.max_body_bytes),
            conn: self.clone(),
        };
        supervise(&cx, self.tuning.backoff.clone(), &mut session).await
    }
}
