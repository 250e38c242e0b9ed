//! 云湖 Yunhu connector: the chat-ws-go WebSocket (JSON text frames out, protobuf binary
//! frames in) plus the HTTP history API for catch-up.
//!
//! # Flow
//! Connect → `login` + a first `heartbeat` (the ack proves the login; a bad login gets
//! "数据不合法" or silence → `auth_failed`) → live loop (`connector.rs`): frames are read,
//! decoded ([`codec`]) and batched, each batch is sent to the store without waiting for the
//! commit (the shared [`crate::runtime::Window`]); a heartbeat every 15 s, and no frame for two
//! intervals ends the session. Beside the live loop, from the moment the login is proven, the
//! catch-up (`catchup.rs`) fetches through the history API what was missed while away. Live
//! first: a failing or slow history API never stops live archiving; the connector records
//! `history_behind` (a gap in `audit --gaps`) and retries the catch-up with backoff, and
//! records `connected` once a catch-up succeeded. Sessions end in a reconnect through
//! [`crate::runtime::supervise`], resuming from the last position the store confirmed.
//! `transport.rs` holds the socket, its JSON frames and the proof of login.
//!
//! Yunhu has no acknowledgement to send: what is not archived when a session ends is
//! fetched again from history on the next one.
//!
//! # Mapping
//! `push_message` → `message` (or `withdraw` at `delete_timestamp` when set), `edit_message`
//! → `edit` at `edit_time`, `stream_message` → `stream_append` on the chat of the message it
//! extends, `file_send_message` → `other`/`file_send_signal` (a file `message` from the sharer
//! only when its data names a file), `draft_input` (the account's own unsent draft) → nothing,
//! or `other`/`draft` with `archive_drafts = true`, `invite_apply`,
//! `live_video_user_hang_up`, `bot_board_message` → `other` with that subtype, heartbeat acks
//! → nothing. Undecodable frames and unknown cmds → `rejects`. Messages carry their chat's name
//! from the conversation list (`names.rs`), chosen once per message so its live and history
//! copies stay identical; their attachments are downloaded into the blob store (`media.rs`),
//! the first download's outcome remembered per URL for the same reason.
//!
//! # Stream offsets
//! A chunk's `offset` is its byte offset in the message's content: the length of the first
//! push's text plus every earlier chunk. Byte offsets (rather than chunk numbers) let the
//! catch-up compare the history text with what was archived and append exactly the missing
//! tail at the right place; the lengths of recent bot messages travel in the cursor, so they
//! survive a restart.
//!
//! # Cursor
//! `{"chats": {chat_id: {"t": chat_type, "seq": catch-up watermark, "live": highest live
//! msg_seq past it}}, "streams": [...]}` ([`cursor::Position`]): a chat's `seq` never passes
//! history that was not fetched.

mod api;
mod catchup;
pub mod codec;
mod connector;
mod content;
pub mod cursor;
pub mod markup;
mod media;
mod names;
mod transport;

use std::sync::Arc;

use config::YunhuConfig;
use proto::Platform;

use crate::runtime::{Tuning, supervise};
use crate::{Connector, ConnectorContext, ConnectorError};

pub use api::EditRecord;
pub use catchup::LOOK_BACK;

/// The Yunhu connector.
pub struct YunhuConnector {
    cfg: YunhuConfig,
    tuning: Tuning,
    names_refresh: std::time::Duration,
    retry: crate::refetch::RetryPolicy,
}

impl YunhuConnector {
    /// From its config, with the platform's timers ([`Tuning::for_platform`]).
    pub fn new(cfg: YunhuConfig) -> Self {
        YunhuConnector {
            cfg,
            tuning: Tuning::for_platform(Platform::Yunhu),
            names_refresh: names::DEFAULT_REFRESH,
            retry: crate::refetch::RetryPolicy::default(),
        }
    }

    /// Shortest time between two reads of the conversation list for chat names (tests).
    pub fn with_names_refresh(mut self, d: std::time::Duration) -> Self {
        self.names_refresh = d;
        self
    }

    /// When attachments whose download failed are tried again (tests).
    pub fn with_attachment_retry(mut self, policy: crate::refetch::RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Replaces timers and bounds (tests, benchmarks).
    pub fn with_tuning(mut self, tuning: Tuning) -> Self {
        self.tuning = tuning;
        self
    }
}

#[async_trait::async_trait]
impl Connector for YunhuConnector {
    crate::connector::connector_identity!(Platform::Yunhu);

    async fn run(self: Arc<Self>, cx: ConnectorContext) -> Result<(), ConnectorError> {
        let mut session = connector::YunhuSession::new(self.clone(), &cx)?;
        let media = session.media();
        let retrier = crate::refetch::Retrier {
            queue: media.retry_queue().clone(),
            fetch: media,
            blobs: cx.blobs.clone(),
            out: cx.out.clone(),
            policy: self.retry.clone(),
            connector: self.cfg.name.clone(),
        };
        // Retries run beside the sessions, across reconnects, and stop with the connector.
        let stop = cx.shutdown.child_token();
        let retries = tokio::spawn(retrier.run(stop.clone()));
        let ended = supervise(&cx, self.tuning.backoff.clone(), &mut session).await;
        stop.cancel();
        let _ = retries.await;
        ended
    }
}
