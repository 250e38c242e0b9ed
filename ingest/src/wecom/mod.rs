//! 企业微信 WeCom: the callback receiver (protocols.md §2, design §3.2).
//!
//! WeCom calls the archive: `GET <path>` once to verify the URL (answer the decrypted
//! `echostr`), then `POST <path>` for every app message and contact / customer / customer
//! group / approval event, AES-encrypted XML signed with the callback token. The archive
//! answers 200 `success` only after the store committed the callback, and 503 when it could
//! not in time, so that WeCom retries (3 attempts, 5 s deadline); a retry is recorded once.
//!
//! Coverage: messages sent to the app and the events above; with a `secret`, approvals are
//! read through `oa/getapprovaldetail` and customers named through `externalcontact/get`. Employees' chats with each
//! other need 会话存档 (WeCom's closed SDK) and are not seen here. WeCom has no catch-up feed:
//! what it sends while the archive is down is lost, and the gap is recorded.
//!
//! # Layout
//! - [`crypto`]: the WXBizMsgCrypt scheme (signature, AES-256-CBC, PKCS#7 to 32), both ways.
//! - [`xml`]: WeCom XML → JSON tree (quick-xml), so unknown fields are kept.
//! - [`codec`]: envelope and inner XML → [`proto::ChatEvent`]s; derived ids for events.
//! - [`receiver`]: the axum routes and their answers.
//! - [`api`] + [`errcode`]: `gettoken` with caching, names and media (optional `secret`).
//! - [`enrich`]: applies the API lookups so that retries stay identical.
//! - [`approval`]: an approval's detail as a readable message.

pub mod api;
pub mod approval;
pub mod codec;
pub mod crypto;
pub mod enrich;
pub mod errcode;
pub mod media;
pub mod receiver;
pub mod xml;

use std::sync::Arc;

use config::WecomConfig;
use proto::{ConnectorStatus, Platform};

use crate::{Connector, ConnectorContext, ConnectorError};
use api::WecomApi;
use crypto::WecomCrypto;
use enrich::Enricher;
pub use receiver::Timing;

/// The WeCom callback connector.
pub struct WecomConnector {
    cfg: WecomConfig,
    timing: Timing,
    api: Option<Arc<WecomApi>>,
    retry: crate::refetch::RetryPolicy,
}

impl WecomConnector {
    /// From its config.
    pub fn new(cfg: WecomConfig) -> Self {
        let api = cfg.secret.as_ref().and_then(|secret| {
            WecomApi::new(&cfg.api_base, &cfg.corp_id, secret.clone())
                .inspect_err(|e| tracing::error!(connector = %cfg.name, error = %e, "wecom API client not built"))
                .ok()
                .map(Arc::new)
        });
        WecomConnector {
            cfg,
            timing: Timing::default(),
            api,
            retry: crate::refetch::RetryPolicy::default(),
        }
    }

    /// Overrides the answer deadlines (tests, benchmarks).
    pub fn with_timing(mut self, timing: Timing) -> Self {
        self.timing = timing;
        self
    }

    /// When media whose download failed are tried again (tests).
    pub fn with_attachment_retry(mut self, policy: crate::refetch::RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Replaces the API client (tests use a shorter `gettoken` spacing).
    pub fn with_api(mut self, api: WecomApi) -> Self {
        self.api = Some(Arc::new(api));
        self
    }

    fn crypto(&self) -> Result<WecomCrypto, ConnectorError> {
        WecomCrypto::new(
            self.cfg.token.expose(),
            self.cfg.encoding_aes_key.expose(),
            &self.cfg.corp_id,
        )
        .map_err(|e| ConnectorError::Config(format!("[[wecom]] `{}`: {e}", self.cfg.name)))
    }
}

#[async_trait::async_trait]
impl Connector for WecomConnector {
    crate::connector::connector_identity!(Platform::Wecom);

    fn router(&self, cx: &ConnectorContext) -> Option<axum::Router> {
        let crypto = match self.crypto() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(connector = %self.cfg.name, error = %e, "wecom route not mounted");
                return None;
            }
        };
        let enricher = self.api.clone().map(|api| {
            let retry = crate::refetch::Queue::new(&cx.data_dir, &self.cfg.name);
            Arc::new(Enricher::new(api, cx.blobs.clone()).with_retry(retry, self.retry.clone(), &self.cfg.name))
        });
        let r = receiver::Receiver::new(receiver::Setup {
            name: self.cfg.name.clone(),
            crypto,
            out: cx.out.clone(),
            max_body: cx.max_body_bytes,
            timing: self.timing,
            enricher,
            timestamp_window: std::time::Duration::from_secs(self.cfg.timestamp_window_secs),
        });
        Some(receiver::router(&self.cfg.path, r))
    }

    /// Callbacks are served by the routes; this only records the connector's state (up while
    /// the route is mounted) and checks a configured secret once.
    async fn run(self: Arc<Self>, cx: ConnectorContext) -> Result<(), ConnectorError> {
        self.crypto()?;
        let mut detail = format!("callback route {}", self.cfg.path);
        if let Some(api) = &self.api {
            // Callbacks are archived either way; a refused secret only costs names and media,
            // so it is reported in the detail rather than as a down state.
            if let Err(e) = api.token().await {
                tracing::warn!(connector = %self.cfg.name, error = %e, "wecom API unavailable; names and media skipped");
                detail.push_str(&format!("; API lookups unavailable: {e}"));
            }
        }
        cx.state.set(ConnectorStatus::Connected, Some(detail)).await;
        // Media whose first download failed are fetched again while the connector runs.
        let retries = self.api.clone().map(|api| {
            let retrier = crate::refetch::Retrier {
                queue: crate::refetch::Queue::new(&cx.data_dir, &self.cfg.name),
                fetch: Arc::new(media::MediaFetch {
                    api,
                    max_bytes: cx.blobs.max_bytes(),
                }),
                blobs: cx.blobs.clone(),
                out: cx.out.clone(),
                policy: self.retry.clone(),
                connector: self.cfg.name.clone(),
            };
            tokio::spawn(retrier.run(cx.shutdown.clone()))
        });
        cx.shutdown.cancelled().await;
        if let Some(r) = retries {
            let _ = r.await;
        }
        cx.state
            .set(ConnectorStatus::Disconnected, Some("shutting down".into()))
            .await;
        Ok(())
    }
}
