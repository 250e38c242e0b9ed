//! 云湖 Yunhu connector: the chat-ws-go WebSocket (JSON text frames out, protobuf binary
//! frames in) plus the HTTP history API for catch-up.
//!
//! # Flow
//! Connect → `login` + a first `heartbeat` (the ack proves the login; a bad login gets
//! "数据不合法" or silence → `auth_failed`) → catch-up through the history API from the
//! cursor ([`catchup`]) → live loop: frames are read, decoded ([`codec`]) and batched,
//! each batch is sent to the store with the position after it, without waiting for the
//! commit ([`pipeline`]); a heartbeat every [`Timing::heartbeat`], and no frame for two
//! intervals ends the session. Sessions end in a reconnect with [`crate::backoff::Backoff`],
//! resuming from the last position the store confirmed.
//!
//! Yunhu has no acknowledgement to send: what is not archived when a session ends is
//! fetched again from history on the next one.
//!
//! # Mapping
//! `push_message` → `message` (or `withdraw` at `delete_timestamp` when set), `edit_message`
//! → `edit` at `edit_time`, `stream_message` → `stream_append`, `file_send_message` → a file
//! `message` from the sharer, `draft_input` → `other`/`typing`, `invite_apply`,
//! `live_video_user_hang_up`, `bot_board_message` → `other` with that subtype, heartbeat acks
//! → nothing. Undecodable frames and unknown cmds → `rejects`.
//!
//! # Stream offsets
//! A chunk's `offset` is its byte offset in the message's content: the length of the first
//! push's text plus every earlier chunk. Byte offsets (rather than chunk numbers) let the
//! catch-up compare the history text with what was archived and append exactly the missing
//! tail at the right place; the lengths of recent bot messages travel in the cursor, so they
//! survive a restart.
//!
//! # Cursor
//! `{"chats": {chat_id: {"t": chat_type, "seq": highest msg_seq}}, "streams": [...]}`
//! ([`cursor::Position`]).

mod api;
mod catchup;
pub mod codec;
mod content;
pub mod cursor;
pub mod markup;
mod pipeline;
mod session;
mod transport;

use std::sync::Arc;
use std::time::Duration;

use config::YunhuConfig;
use proto::{ConnectorStatus, Platform};

use crate::backoff::Backoff;
use crate::{Connector, ConnectorContext, ConnectorError};

pub use api::EditRecord;
pub use catchup::LOOK_BACK;

/// Timers of the connector (defaults for the real service; tests shorten them).
#[derive(Debug, Clone)]
pub struct Timing {
    /// Heartbeat interval; no frame for two intervals ends the session.
    pub heartbeat: Duration,
    /// How long to wait for the heartbeat ack that proves the login.
    pub login_timeout: Duration,
    /// Reconnect delays.
    pub backoff: Backoff,
    /// Batches in flight before the connector waits for the oldest commit.
    pub max_in_flight: usize,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            // No official interval; clients in the wild use 15 s with a reconnect after two
            // missed acks.
            heartbeat: Duration::from_secs(15),
            login_timeout: Duration::from_secs(10),
            backoff: Backoff::new(Duration::from_secs(1), Duration::from_secs(60)),
            max_in_flight: 64,
        }
    }
}

/// The Yunhu connector.
pub struct YunhuConnector {
    cfg: YunhuConfig,
    timing: Timing,
}

impl YunhuConnector {
    /// From its config.
    pub fn new(cfg: YunhuConfig) -> Self {
        YunhuConnector {
            cfg,
            timing: Timing::default(),
        }
    }

    /// With other timers.
    pub fn with_timing(mut self, timing: Timing) -> Self {
        self.timing = timing;
        self
    }
}

#[async_trait::async_trait]
impl Connector for YunhuConnector {
    fn platform(&self) -> Platform {
        Platform::Yunhu
    }

    fn name(&self) -> &str {
        &self.cfg.name
    }

    async fn run(self: Arc<Self>, cx: ConnectorContext) -> Result<(), ConnectorError> {
        let api = api::Api::new(&self.cfg.api_base, self.cfg.token.clone())
            .map_err(|e| ConnectorError::Config(e.to_string()))?;
        let (mut pos, warning) = cursor::Position::from_cursor(cx.resume_from.as_ref());
        if let Some(w) = warning {
            tracing::warn!(connector = %self.cfg.name, "{w}");
        }
        // First start without --backfill: archive from now on, not every chat's past.
        let mut skip_unknown = cx.resume_from.is_none() && !cx.backfill;
        let mut backoff = self.timing.backoff.clone();
        loop {
            if cx.shutdown.is_cancelled() {
                return Ok(());
            }
            let mut pipe = pipeline::Pipeline::new(&self.cfg.name, pos.clone(), self.timing.max_in_flight);
            let result = session::run(&self, &cx, &api, &mut pos, &mut pipe, &mut skip_unknown, &mut backoff).await;
            match result {
                Ok(session::End::Shutdown) => {
                    cx.state
                        .set(ConnectorStatus::Disconnected, Some("shutting down".into()))
                        .await;
                    return Ok(());
                }
                Err(e) => {
                    // Resume from what the store confirmed; anything after it is fetched
                    // again from history.
                    pipe.abandon();
                    pos = pipe.committed().clone();
                    let status = match e {
                        ConnectorError::Auth(_) => ConnectorStatus::AuthFailed,
                        _ => ConnectorStatus::Disconnected,
                    };
                    cx.state.set(status, Some(e.to_string())).await;
                    if !e.retryable() {
                        return Err(e);
                    }
                    crate::metrics::reconnect(&self.cfg.name);
                    if !backoff.wait(&cx.shutdown).await {
                        return Ok(());
                    }
                }
            }
        }
    }
}
