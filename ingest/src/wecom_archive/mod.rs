//! 企业微信 会话存档: every employee chat of the licensed members, through Tencent's closed
//! Finance SDK run in a worker process (protocols.md §2.5, design §2).
//!
//! The pull loop asks the worker for `GetChatData` after the committed `seq`, decrypts each
//! item (RSA in this process, `DecryptData` in the worker), decodes it and commits the page
//! with the new `seq` in the same batch: the cursor never moves before the commit, and a
//! restart resumes after the last committed item. Items that cannot be decrypted are kept in
//! `rejects` byte for byte and the feed goes on. A worker that crashes or hangs is replaced
//! (see `finance::FinanceClient`); the outage is recorded as `connector_state`. It pulls every
//! `poll_interval`, and at once when a `[[wecom]]` callback of the same corp receives
//! `msgaudit_notify`.
//!
//! # Layout
//! - [`item`]: a GetChatData page and its items, kept as served.
//! - [`keys`]: private keys by `publickey_ver`, the RSA step.
//! - [`process`]: one item → events (decrypt, decode, media) or a reject.
//! - [`codec`]: decrypted message JSON → events (pure).
//! - [`names`]: group, customer and employee names through the WeCom API, never blocking.
//! - [`notify`]: the `msgaudit_notify` wake-up.
//! - [`check`]: what `check-config` verifies (keys parse, the SDK loads in a throwaway worker).

pub mod check;
pub mod codec;
pub mod item;
pub mod keys;
pub mod names;
pub mod notify;
pub mod process;

use std::sync::Arc;
use std::time::Duration;

use config::WecomArchiveConfig;
use finance::{ClientOptions, FinanceClient, FinanceError, WorkerCommand};
use proto::{ConnectorStatus, Ingested, Platform, time::now_ms};
use serde::{Deserialize, Serialize};

use crate::{Connector, ConnectorContext, ConnectorError};
use process::{MediaPolicy, Outcome, Processor};

/// The hidden subcommand of the `chatvault` binary that runs the worker.
pub const WORKER_SUBCOMMAND: &str = "finance-worker";

/// The committed position: the highest `seq` archived (or rejected).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// GetChatData continues after this.
    pub seq: u64,
}

impl Position {
    /// Reads a committed cursor; an unreadable one is an error (starting over from 0 would
    /// re-read everything Tencent still keeps, which dedup absorbs, but it must be seen).
    pub fn from_cursor(c: Option<&serde_json::Value>) -> Result<Position, String> {
        match c {
            None => Ok(Position::default()),
            Some(v) => serde_json::from_value(v.clone()).map_err(|e| format!("unreadable cursor {v}: {e}")),
        }
    }
}

/// A page sent to the store and not yet known to be committed.
struct InFlight {
    notice: tokio::sync::oneshot::Receiver<Result<proto::CommitInfo, proto::CommitError>>,
    /// The position it was pulled from.
    from: u64,
}

/// The 会话存档 connector.
pub struct WecomArchiveConnector {
    cfg: WecomArchiveConfig,
    worker: Option<WorkerCommand>,
    backoff: Duration,
}

impl WecomArchiveConnector {
    /// From its config; the worker is this executable's hidden subcommand.
    pub fn new(cfg: WecomArchiveConfig) -> Self {
        WecomArchiveConnector {
            cfg,
            worker: None,
            backoff: Duration::from_millis(500),
        }
    }

    /// Runs the worker with another command (tests).
    pub fn with_worker(mut self, cmd: WorkerCommand) -> Self {
        self.worker = Some(cmd);
        self
    }

    fn worker(&self) -> Result<WorkerCommand, ConnectorError> {
        match &self.worker {
            Some(w) => Ok(w.clone()),
            None => WorkerCommand::current_exe(WORKER_SUBCOMMAND)
                .map_err(|e| ConnectorError::Config(format!("cannot find the finance worker executable: {e}"))),
        }
    }

    /// The processor for this config (also what `rejects retry` uses).
    pub fn processor(&self, blobs: Arc<crate::blobs::BlobStore>, blob_max: u64) -> Result<Processor, ConnectorError> {
        let keys = keys::Keys::load(&self.cfg.private_keys)
            .map_err(|e| ConnectorError::Config(format!("[[wecom_archive]] `{}`: {e}", self.cfg.name)))?;
        let client = FinanceClient::new(self.worker()?, client_options(&self.cfg, self.backoff));
        Ok(Processor {
            client,
            keys: Arc::new(keys),
            names: self.names()?,
            media: MediaPolicy {
                enabled: self.cfg.media,
                max_bytes: self.cfg.media_max_bytes.unwrap_or(blob_max),
                blobs,
                attempts: 4,
                pause: Duration::from_millis(200),
                retry: None,
            },
        })
    }
}

impl WecomArchiveConnector {
    /// The name lookups this config allows (`names = false`: none).
    fn names(&self) -> Result<Option<names::Names>, ConnectorError> {
        if !self.cfg.names {
            return Ok(None);
        }
        let api = |secret: &config::Secret| {
            crate::wecom::api::WecomApi::new(&self.cfg.api_base, &self.cfg.corp_id, secret.clone())
                .map(Arc::new)
                .map_err(|e| ConnectorError::Config(format!("[[wecom_archive]] `{}`: {e}", self.cfg.name)))
        };
        let apis = names::NameApis {
            audit: Some(api(&self.cfg.secret)?),
            contact: self.cfg.contact_secret.as_ref().map(api).transpose()?,
            users: self.cfg.user_secret.as_ref().map(api).transpose()?,
        };
        Ok(Some(names::Names::new(apis, self.cfg.name_refresh)))
    }
}

/// The worker options of a config.
pub fn client_options(cfg: &WecomArchiveConfig, backoff: Duration) -> ClientOptions {
    let mut o = ClientOptions::new(&cfg.sdk_path);
    o.credentials = Some((cfg.corp_id.clone(), cfg.secret.expose().to_string()));
    o.proxy = cfg.proxy.clone().unwrap_or_default();
    o.proxy_password = cfg
        .proxy_password
        .as_ref()
        .map(|p| p.expose().to_string())
        .unwrap_or_default();
    o.call_timeout = cfg.timeout;
    o.backoff_initial = backoff;
    o
}

/// What the loop does after a failed call.
fn status_of(e: &FinanceError) -> ConnectorStatus {
    match e.code() {
        Some(c) if c.0 == 10009 || c.0 == 10011 || c.is_key_error() => ConnectorStatus::AuthFailed,
        _ => ConnectorStatus::Disconnected,
    }
}

#[async_trait::async_trait]
impl Connector for WecomArchiveConnector {
    crate::connector::connector_identity!(Platform::WecomArchive);

    async fn run(self: Arc<Self>, cx: ConnectorContext) -> Result<(), ConnectorError> {
        let mut pos = Position::from_cursor(cx.resume_from.as_ref()).map_err(ConnectorError::Protocol)?;
        let max = self.cfg.media_max_bytes.unwrap_or(u64::MAX);
        let mut p = self.processor(cx.blobs.clone(), max)?;
        p.media.retry = Some((
            crate::refetch::Queue::new(&cx.data_dir, &self.cfg.name),
            self.cfg.name.clone(),
        ));
        let wake = notify::subscribe(&self.cfg.corp_id);
        let result = self.pull_loop(&cx, &mut p, &mut pos, &wake).await;
        p.client.shutdown().await;
        cx.state
            .set(ConnectorStatus::Disconnected, Some("shutting down".into()))
            .await;
        result
    }
}

impl WecomArchiveConnector {
    async fn pull_loop(
        &self,
        cx: &ConnectorContext,
        p: &mut Processor,
        pos: &mut Position,
        wake: &tokio::sync::Notify,
    ) -> Result<(), ConnectorError> {
        let wait = |d: Duration| async move {
            tokio::select! {
                _ = tokio::time::sleep(d) => true,
                _ = wake.notified() => true,
                _ = cx.shutdown.cancelled() => false,
            }
        };
        // At most one page is committing while the next is pulled and decrypted.
        let mut in_flight: Option<InFlight> = None;
        loop {
            if cx.shutdown.is_cancelled() {
                // Whatever became of the last page, its cursor is committed with it or not at
                // all: a store that closed first loses nothing here.
                let _ = self.settle(cx, &mut in_flight, pos).await;
                return Ok(());
            }
            match p.client.start().await {
                Ok(_) => {}
                Err(FinanceError::Load(m)) => {
                    let detail = format!("sdk_path `{}`: {m}", self.cfg.sdk_path.display());
                    cx.state.set(ConnectorStatus::Disconnected, Some(detail.clone())).await;
                    return Err(ConnectorError::Config(detail));
                }
                Err(e) => {
                    cx.state.set(status_of(&e), Some(e.to_string())).await;
                    if !wait(self.cfg.poll_interval).await {
                        return Ok(());
                    }
                    continue;
                }
            }
            let page = match p.client.chat_data(pos.seq, self.cfg.batch_limit).await {
                Ok(json) => item::parse_page(&json),
                Err(e) => {
                    cx.state.set(status_of(&e), Some(e.to_string())).await;
                    if !wait(self.cfg.poll_interval.min(Duration::from_secs(5))).await {
                        return Ok(());
                    }
                    continue;
                }
            };
            let page = match page {
                Ok(p) => p,
                Err(e) => {
                    cx.state.set(ConnectorStatus::Disconnected, Some(e.to_string())).await;
                    if !wait(self.cfg.poll_interval).await {
                        return Ok(());
                    }
                    continue;
                }
            };
            cx.state.set(ConnectorStatus::Connected, None).await;
            let full = page.items.len() as u32 >= self.cfg.batch_limit;
            let (mut batch, next, stopped) = self.process_page(p, &page, pos.seq).await;
            p.fill_names(&mut batch).await;
            if !batch.is_empty() || next != pos.seq {
                // The previous page must be committed before this one is sent: were it to
                // fail, this page's cursor would pass items that are not stored.
                if !self.settle(cx, &mut in_flight, pos).await? {
                    continue;
                }
                let cursor = serde_json::to_value(Position { seq: next }).ok();
                in_flight = Some(InFlight {
                    notice: cx.out.send(batch, cursor).await?,
                    from: pos.seq,
                });
                pos.seq = next;
            }
            if let Some(e) = stopped {
                self.settle(cx, &mut in_flight, pos).await?;
                cx.state.set(status_of(&e), Some(e.to_string())).await;
                if !wait(Duration::from_secs(1)).await {
                    return Ok(());
                }
                continue;
            }
            if full {
                // Pull the next page while this one commits.
                continue;
            }
            self.settle(cx, &mut in_flight, pos).await?;
            if !wait(self.cfg.poll_interval).await {
                return Ok(());
            }
        }
    }

    /// Waits for the batch in flight, if any. `Ok(false)`: it was not committed, and `pos` is
    /// back where it started, so that its items are pulled again.
    async fn settle(
        &self,
        cx: &ConnectorContext,
        in_flight: &mut Option<InFlight>,
        pos: &mut Position,
    ) -> Result<bool, ConnectorError> {
        let Some(f) = in_flight.take() else {
            return Ok(true);
        };
        match cx.out.settle(f.notice).await {
            Ok(_) => {
                cx.state.touch();
                Ok(true)
            }
            Err(ConnectorError::Closed) => Err(ConnectorError::Closed),
            Err(e) => {
                tracing::warn!(connector = %self.cfg.name, error = %e, "batch not committed; pulling it again");
                pos.seq = f.from;
                if !cx.shutdown.is_cancelled() {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Ok(false)
            }
        }
    }

    /// Processes a page until an item must wait; returns the batch, the seq after it and why
    /// it stopped early.
    async fn process_page(
        &self,
        p: &mut Processor,
        page: &item::Page,
        mut seq: u64,
    ) -> (Vec<Ingested>, u64, Option<FinanceError>) {
        let received_at = now_ms();
        let raws: Vec<&[u8]> = page.items.iter().map(|r| r.get().as_bytes()).collect();
        let mut batch = Vec::with_capacity(raws.len());
        for (bytes, outcome) in raws.iter().zip(p.page(&raws, received_at).await) {
            match outcome {
                Outcome::Done(i) => batch.push(i),
                Outcome::Later(e) => return (batch, seq, Some(e)),
            }
            if let Some(s) = item::seq_of(bytes) {
                seq = seq.max(s);
            }
        }
        (batch, seq, None)
    }
}
