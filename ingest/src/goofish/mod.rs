//! 闲鱼 Goofish IM connector: the LWP JSON protocol over WebSocket (protocols §3).
//!
//! # Session
//! 1. Access token: `token` from the config, or obtained from the goofish.com login `cookies`
//!    with the mtop call `mtop.taobao.idlemessage.pc.login.token` (§3.2) and refreshed before
//!    it expires (~24 h) or when `/reg` refuses it. A token that cannot be renewed puts the
//!    connector in `auth_failed` (a `connector_state` event) and it retries with backoff.
//! 2. WebSocket with the browser headers, `/reg` (§3.3), `/r/SyncStatus/getState`, then
//!    `/r/SyncStatus/ackDiff` (seed `002`: it makes the pushes start) with the committed sync
//!    position.
//! 3. Backfill on first start or with `--backfill` (`backfill.rs`).
//! 4. After every reconnect, and on the first connect of a process resuming from a cursor,
//!    recovery (`recover.rs`): conversations whose newest message is past their high-water
//!    mark are paged back to it, so nothing depends on the server replaying; what cannot be
//!    recovered is a `history_behind` gap.
//! 5. Live `/s/sync` pushes, pipelined to the store and acked in order after their commit
//!    notices (`connector.rs`); heartbeat `/!` every 10 s, unanswered for 5 s → reconnect.
//!
//! # Cursor
//! `{"pts", "high_pts", "seq", "backfilled", "convs"}`, see `cursor.rs`.
//!
//! # Layout
//! `frame.rs` (LWP frames), `codec.rs` (push items: Base64 → JSON or MessagePack),
//! `message.rs` (§3.8 field layout → events), `node.rs` (a plain chat message read in place
//! from its MessagePack bytes), `content.rs` (§3.9 content types),
//! `token.rs` + `auth.rs` (credentials), `transport.rs` (the socket: requests matched to
//! responses, heartbeat), `backfill.rs`, `connector.rs` (the session on the shared
//! [`crate::runtime`]: register, catch up, live pushes acked through its window).

use std::sync::Arc;

use config::GoofishConfig;
use proto::Platform;

use crate::runtime::{Tuning, supervise};
use crate::{Connector, ConnectorContext, ConnectorError};

mod auth;
mod backfill;
pub mod codec;
mod connector;
pub mod content;
pub mod cursor;
pub mod frame;
pub mod message;
mod node;
mod recover;
pub mod token;
mod transport;

/// The goofish connector.
pub struct GoofishConnector {
    cfg: GoofishConfig,
    tuning: Tuning,
}

impl GoofishConnector {
    /// From its config, with the platform's timers ([`Tuning::for_platform`]).
    pub fn new(cfg: GoofishConfig) -> Self {
        GoofishConnector {
            cfg,
            tuning: Tuning::for_platform(Platform::Goofish),
        }
    }

    /// Replaces timers and bounds (tests, benchmarks).
    pub fn with_tuning(mut self, tuning: Tuning) -> Self {
        self.tuning = tuning;
        self
    }
}

#[async_trait::async_trait]
impl Connector for GoofishConnector {
    crate::connector::connector_identity!(Platform::Goofish);
    async fn run(self: Arc<Self>, cx: ConnectorContext) -> Result<(), ConnectorError> {
        let mut session = connector::GoofishSession::new(self.clone(), &cx)?;
        supervise(&cx, self.tuning.backoff.clone(), &mut session).await
    }
}
