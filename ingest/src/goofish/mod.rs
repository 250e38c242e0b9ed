//! 闲鱼 Goofish IM connector: the LWP JSON protocol over WebSocket (protocols §3).
//!
//! # Session
//! 1. Access token: `token` from the config, or obtained from the goofish.com login `cookies`
//!    with the mtop call `mtop.taobao.idlemessage.pc.login.token` (§3.2) and refreshed before
//!    it expires (~24 h) or when `/reg` refuses it. A token that cannot be renewed puts the
//!    connector in `auth_failed` (a `connector_state` event) and it retries with backoff.
//! 2. WebSocket with the browser headers, `/reg` (§3.3), `/r/SyncStatus/getState`, then
//!    `/r/SyncStatus/ackDiff` with the committed sync position, so the server pushes what
//!    arrived while we were away.
//! 3. Backfill on first start or with `--backfill` (`backfill.rs`).
//! 4. Live `/s/sync` pushes, pipelined to the store and acked in order after their commit
//!    notices (`live.rs`); heartbeat `/!` every 10 s, unanswered for 5 s → reconnect.
//!
//! # Cursor
//! `{"pts", "high_pts", "seq", "backfilled"}`, see `cursor.rs`.
//!
//! # Layout
//! `frame.rs` (LWP frames), `codec.rs` (push items: Base64 → JSON or MessagePack),
//! `message.rs` (§3.8 field layout → events), `content.rs` (§3.9 content types),
//! `token.rs` + `auth.rs` (credentials), `session.rs` (the socket), `backfill.rs`,
//! `live.rs`, `connector.rs` (reconnect loop).

use std::sync::Arc;
use std::time::Duration;

use config::GoofishConfig;
use proto::Platform;

use crate::backoff::Backoff;
use crate::{Connector, ConnectorContext, ConnectorError};

mod auth;
mod backfill;
pub mod codec;
mod connector;
pub mod content;
pub mod cursor;
pub mod frame;
mod live;
pub mod message;
mod session;
pub mod token;

pub use session::Timing;

/// Timing and limits; [`Tuning::default`] is what production uses, tests shorten it.
#[derive(Debug, Clone)]
pub struct Tuning {
    /// Heartbeat, request and connect timing.
    pub timing: Timing,
    /// Pushes handed to the store and not yet acked, at most.
    pub max_in_flight: usize,
    /// Reconnect policy.
    pub backoff: Backoff,
    /// Pauses after IM flow control (`400600001`) before giving up on a request.
    pub flow_control_pauses: Vec<Duration>,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            timing: Timing::default(),
            max_in_flight: 256,
            // 3 s × 5, then exponential with jitter up to 5 minutes.
            backoff: Backoff::new(Duration::from_secs(3), Duration::from_secs(300))
                .with_fixed(Duration::from_secs(3), 5),
            flow_control_pauses: vec![Duration::from_secs(2), Duration::from_secs(4), Duration::from_secs(6)],
        }
    }
}

/// The goofish connector.
pub struct GoofishConnector {
    cfg: GoofishConfig,
    tuning: Tuning,
}

impl GoofishConnector {
    /// From its config.
    pub fn new(cfg: GoofishConfig) -> Self {
        GoofishConnector {
            cfg,
            tuning: Tuning::default(),
        }
    }

    /// From its config with non-default timing (tests, benchmarks).
    pub fn with_tuning(cfg: GoofishConfig, tuning: Tuning) -> Self {
        GoofishConnector { cfg, tuning }
    }
}

#[async_trait::async_trait]
impl Connector for GoofishConnector {
    fn platform(&self) -> Platform {
        Platform::Goofish
    }
    fn name(&self) -> &str {
        &self.cfg.name
    }
    async fn run(self: Arc<Self>, cx: ConnectorContext) -> Result<(), ConnectorError> {
        self.run_loop(cx).await
    }
}
