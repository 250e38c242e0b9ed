//! WorkTool robot callbacks (protocols.md §4, design §3.2).
//!
//! A WorkTool robot is a WeCom account driven by an Android app. The platform POSTs every
//! message the robot sees, in groups and direct chats, to a URL the admin configures. It signs
//! nothing, so the URL carries the secret: paste
//! `https://<public host><path>?key=<key>` into WorkTool's 机器人消息回调配置, with `path` and
//! `key` from this connector's `[[worktool]]` section, and set the robot's `replyAll` to 1:
//! with 0 WorkTool only forwards messages that @-mention the robot. The key is compared in
//! constant time; a missing or wrong key is answered 401 and leaves a reject row.
//!
//! Bodies come as JSON (`callBackRequestType` 2) or form data (1; urlencoded or multipart).
//! The archive answers `{"code":0,"message":"success"}` only after the store committed the
//! callback. WorkTool abandons a request after 3 s and never retries, so a callback the store
//! cannot take within ~2 s goes to the durable spool ([`crate::server::spool`]) and is
//! answered `code 0` once fsynced; nothing is dropped and memory stays bounded.
//!
//! # Mapping
//! - chat id: the group name for groups, `dm:<contact name>` for direct chats; the account
//!   (connector name) scopes both to the robot. `roomType` gives the chat kind and the
//!   external flag (1 外部群, 2 外部联系人, 3 内部群, 4 内部联系人).
//! - sender: `receivedName` (WorkTool sends names only, no user ids).
//! - `sent_at`: the archive's receive time. **WorkTool sends no message time**, so times are
//!   as accurate as the callback is prompt, and messages sent while the robot was offline are
//!   never seen.
//! - text: `rawSpoken` (with the @mentions), else `spoken`, else a placeholder such as `[图片]`;
//!   mentions: the `@names` in `rawSpoken`, plus the robot (its `robot_id`, else the connector
//!   name) when `atMe`. `fileBase64` (images) is decoded into the blob store and referenced as
//!   an attachment. Unknown extra fields stay in the raw payload.
//! - robot online (5) / offline (6) callbacks, and the optional `robotInfo/online` poll, are
//!   recorded as `connector_state` events, so `audit --gaps` shows when the robot was not
//!   archiving; QR-code (0), command-result (1) and unrecognised callbacks are kept as `other`.
//! - the robot's settings (`robotInfo/get`, at start and hourly, with `robot_id`): with
//!   `openCallback` 0 or `replyAll` ≠ 1 the connector records `callback_off` /
//!   `mentions_only`, a coverage gap ([`robot::RobotView`] folds every fact into one status).
//!
//! # Message ids, and "the same request twice" versus "two identical messages"
//! WorkTool gives no message id, so one is derived:
//! `<received_at ms>-<arrival>-<fingerprint>`, where `arrival` counts the requests this
//! connector has received since it started and `fingerprint` is the first 12 hex digits of
//! sha256(chat id, sender, textType, rawSpoken, spoken, sha256(fileBase64)).
//!
//! Because WorkTool never retries, every HTTP request it makes is a distinct message: two
//! requests with byte-identical bodies (someone writes "好的" twice) get two ids and are two
//! messages. Content alone can never tell them apart, and merging them would silently lose a
//! message, so the archive never does. (Identical content within 10 s is counted as
//! `chatvault_noticed_total{what="repeated_content"}`, so an operator can see it.)
//!
//! The *same* request delivered twice inside the archive (replayed from the spool after a
//! crash, or spooled after a commit that arrived too late for the answer) carries the ids and
//! events fixed when it was first received, so the store records it once. The id is stable
//! from the moment a request is received; it is not recomputed on replay.

pub mod api;
pub mod codec;
pub mod receiver;
pub mod robot;
pub mod status;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use config::WorktoolConfig;
use proto::{ConnectorStatus, Platform};

use crate::server::spool::Spool;
use crate::{Connector, ConnectorContext, ConnectorError};
use receiver::Receiver;
pub use receiver::Timing;
use robot::RobotView;

/// The WorkTool callback connector.
pub struct WorktoolConnector {
    cfg: WorktoolConfig,
    timing: Timing,
    status_interval: Duration,
    settings_interval: Duration,
    spool: OnceLock<Result<Arc<Spool>, String>>,
    view: Arc<RobotView>,
}

impl WorktoolConnector {
    /// From its config.
    pub fn new(cfg: WorktoolConfig) -> Self {
        WorktoolConnector {
            cfg,
            timing: Timing::default(),
            status_interval: status::DEFAULT_INTERVAL,
            settings_interval: status::DEFAULT_SETTINGS_INTERVAL,
            spool: OnceLock::new(),
            view: Arc::new(RobotView::new()),
        }
    }

    /// Overrides the answer deadlines (tests, benchmarks).
    pub fn with_timing(mut self, timing: Timing) -> Self {
        self.timing = timing;
        self
    }

    /// Overrides the robot status poll interval (never below one second: 60 QPM).
    pub fn with_status_interval(mut self, d: Duration) -> Self {
        self.status_interval = d;
        self
    }

    /// Overrides the interval of the robot settings check (never below one second).
    pub fn with_settings_interval(mut self, d: Duration) -> Self {
        self.settings_interval = d;
        self
    }

    fn spool(&self, cx: &ConnectorContext) -> Result<Arc<Spool>, String> {
        self.spool
            .get_or_init(|| {
                Spool::open(&cx.data_dir.join("spool"), &cx.name)
                    .map(|s| Arc::new(s.with_max_bytes(self.cfg.spool_max_bytes)))
                    .map_err(|e| e.to_string())
            })
            .clone()
    }

    fn robot(&self) -> String {
        self.cfg
            .robot_id
            .clone()
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| self.cfg.name.clone())
    }
}

#[async_trait::async_trait]
impl Connector for WorktoolConnector {
    crate::connector::connector_identity!(Platform::Worktool);

    fn router(&self, cx: &ConnectorContext) -> Option<axum::Router> {
        let spool = self
            .spool(cx)
            .inspect_err(
                |e| tracing::error!(connector = %cx.name, error = %e, "no spool: a full channel will be answered 503"),
            )
            .ok();
        let rx = Receiver::new(
            cx.name.clone(),
            self.cfg.key.clone(),
            self.robot(),
            cx,
            spool,
            self.timing,
            self.view.clone(),
        );
        Some(Arc::new(rx).router(&self.cfg.path))
    }

    async fn run(self: Arc<Self>, cx: ConnectorContext) -> Result<(), ConnectorError> {
        let spool = self.spool(&cx).map_err(ConnectorError::Config)?;
        let replay = tokio::spawn(spool.replay(cx.out.clone(), cx.shutdown.clone()));
        cx.state
            .set(
                ConnectorStatus::Connected,
                Some(format!("callback route {}", self.cfg.path)),
            )
            .await;
        let mut polls = Vec::new();
        match self.cfg.robot_id.clone().filter(|r| !r.is_empty()) {
            Some(robot_id) => {
                let pcx = Arc::new(status::PollCx {
                    name: cx.name.clone(),
                    api_base: self.cfg.api_base.clone(),
                    robot_id,
                    api_key: self.cfg.api_key.clone(),
                    view: self.view.clone(),
                    state: cx.state.clone(),
                    shutdown: cx.shutdown.clone(),
                });
                polls.push(tokio::spawn(status::check_settings(
                    pcx.clone(),
                    self.settings_interval,
                )));
                polls.push(tokio::spawn(status::poll(pcx, self.status_interval)));
            }
            None => tracing::warn!(
                connector = %cx.name,
                "no robot_id: whether WorkTool forwards every message (replyAll) and whether the robot is online cannot be checked"
            ),
        }
        cx.shutdown.cancelled().await;
        let _ = replay.await;
        for p in polls {
            let _ = p.await;
        }
        // Best effort: the store writer may already be draining.
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            cx.state
                .set(ConnectorStatus::Disconnected, Some("shutting down".into())),
        )
        .await;
        Ok(())
    }
}
