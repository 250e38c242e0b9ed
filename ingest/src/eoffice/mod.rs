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
//! - [`transport`]: dial and handshakes; `connector`: the session loop with pipelined acks.

pub mod codec;
mod connector;
pub mod crypto;
pub mod engineio;
pub mod message;
pub mod socketio;
pub mod transport;

use std::sync::Arc;
use std::time::Duration;

use config::EofficeConfig;
use proto::{ConnectorStatus, Platform};

use crate::backoff::Backoff;
use crate::{Connector, ConnectorContext, ConnectorError, metrics};
use codec::Codec;
use crypto::ContentKey;
use transport::{Endpoint, Limits, Session};

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
    #[error("kicked: {0}")]
    Kicked(String),
    /// No ping within `pingInterval + pingTimeout`.
    #[error("no ping from the server within {0} ms")]
    PingTimeout(u64),
    /// The server or the network closed the connection.
    #[error("connection closed: {0}")]
    Closed(String),
    /// The server broke the protocol; reconnecting resets its state.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The store did not commit a batch; nothing of it was acknowledged.
    #[error("store did not commit: {0}")]
    Store(String),
    /// The store writer is gone.
    #[error("shutting down")]
    Shutdown,
}

impl SessionError {
    fn status(&self) -> ConnectorStatus {
        match self {
            SessionError::Auth(_) => ConnectorStatus::AuthFailed,
            SessionError::Kicked(_) => ConnectorStatus::Kicked,
            _ => ConnectorStatus::Disconnected,
        }
    }
}

/// The e-office connector.
pub struct EofficeConnector {
    cfg: EofficeConfig,
    backoff: Backoff,
    limits: Option<Limits>,
}

impl EofficeConnector {
    /// From its config, with the reconnect policy of the reference client (1 s doubling to a
    /// 60 s cap, jitter 0.5).
    pub fn new(cfg: EofficeConfig) -> Self {
        EofficeConnector {
            cfg,
            backoff: Backoff::new(Duration::from_secs(1), Duration::from_secs(60)),
            limits: None,
        }
    }

    /// Replaces the reconnect policy (tests use short delays).
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Replaces the session limits (default: 20 s connect timeout, frames up to the
    /// context's `max_body_bytes`).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = Some(limits);
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
    fn platform(&self) -> Platform {
        Platform::Eoffice
    }

    fn name(&self) -> &str {
        &self.cfg.name
    }

    async fn run(self: Arc<Self>, cx: ConnectorContext) -> Result<(), ConnectorError> {
        let codec = self.codec()?;
        let endpoint = self.endpoint();
        let limits = self.limits.clone().unwrap_or(Limits {
            max_frame_bytes: cx.max_body_bytes,
            ..Limits::default()
        });
        let mut backoff = self.backoff.clone();
        loop {
            if cx.shutdown.is_cancelled() {
                return Ok(());
            }
            let connected = tokio::select! {
                r = Session::connect(&endpoint, self.cfg.token.expose(), &limits) => r,
                _ = cx.shutdown.cancelled() => return Ok(()),
            };
            let ended = match connected {
                Ok(session) => {
                    backoff.connected();
                    cx.state
                        .set(
                            ConnectorStatus::Connected,
                            Some(format!("sid {}", session.handshake.sid)),
                        )
                        .await;
                    connector::run_session(session, &codec, &cx, &limits).await
                }
                Err(e) => Err(e),
            };
            match ended {
                Ok(()) | Err(SessionError::Shutdown) => {
                    cx.state
                        .set(ConnectorStatus::Disconnected, Some("shutting down".into()))
                        .await;
                    return Ok(());
                }
                Err(e) => {
                    tracing::warn!(connector = %self.cfg.name, error = %e, "e-office session ended; reconnecting");
                    cx.state.set(e.status(), Some(e.to_string())).await;
                    metrics::reconnect(&self.cfg.name);
                    if !backoff.wait(&cx.shutdown).await {
                        return Ok(());
                    }
                }
            }
        }
    }
}
