//! The [`Connector`] trait and what a connector runs with.

use std::path::PathBuf;
use std::sync::Arc;

use proto::{CommitError, CommitInfo, Cursor, EventBatch, Ingested, Platform};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::blobs::BlobStore;
use crate::state::StateReporter;

/// A platform connector. Client connectors (WebSocket) do their work in [`Connector::run`];
/// callback connectors (HTTP) also return a router that the shared server mounts.
#[async_trait::async_trait]
pub trait Connector: Send + Sync + 'static {
    /// Its platform.
    fn platform(&self) -> Platform;
    /// Its configured name (the account).
    fn name(&self) -> &str;
    /// Routes to mount on the shared callback server (callback connectors only).
    fn router(&self, _cx: &ConnectorContext) -> Option<axum::Router> {
        None
    }
    /// Runs until `cx.shutdown` fires or a non-retryable error occurs. Resumes strictly after
    /// `cx.resume_from`. WebSocket connectors reconnect through [`crate::runtime::supervise`].
    async fn run(self: Arc<Self>, cx: ConnectorContext) -> Result<(), ConnectorError>;
}

/// Writes [`Connector::platform`] and [`Connector::name`] for a connector that keeps its
/// config in `self.cfg`: every platform's config names the account in `name`, so the two
/// methods differ only in the platform.
macro_rules! connector_identity {
    ($platform:expr) => {
        fn platform(&self) -> proto::Platform {
            $platform
        }

        fn name(&self) -> &str {
            &self.cfg.name
        }
    };
}
pub(crate) use connector_identity;

/// Why a connector stopped or a step failed. Messages never contain secrets.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// Credentials refused by the platform.
    #[error("authentication failed: {0}")]
    Auth(String),
    /// The account was logged in elsewhere and the platform ended this session.
    #[error("kicked: {0}")]
    Kicked(String),
    /// The platform spoke something we cannot follow.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// Network / socket failure.
    #[error("transport error: {0}")]
    Transport(String),
    /// The store did not commit a batch; nothing was acknowledged.
    #[error(transparent)]
    Store(#[from] CommitError),
    /// The store writer is gone (shutting down).
    #[error("store writer closed")]
    Closed,
    /// Shutdown requested.
    #[error("shutting down")]
    Shutdown,
    /// Bad configuration detected at run time.
    #[error("configuration: {0}")]
    Config(String),
}

impl ConnectorError {
    /// Whether reconnecting after a backoff may help.
    pub fn retryable(&self) -> bool {
        !matches!(
            self,
            ConnectorError::Closed | ConnectorError::Shutdown | ConnectorError::Config(_)
        )
    }
}

/// The bounded sending side of the ingest → store channel, labelled with the connector.
#[derive(Clone)]
pub struct EventSender {
    platform: Platform,
    account: String,
    tx: mpsc::Sender<EventBatch>,
}

impl EventSender {
    /// Wraps a bounded sender.
    pub fn new(platform: Platform, account: impl Into<String>, tx: mpsc::Sender<EventBatch>) -> Self {
        EventSender {
            platform,
            account: account.into(),
            tx,
        }
    }

    /// Sends a batch (waits for a slot: this is the backpressure point) and returns the
    /// receiver of its commit notice.
    pub async fn send(
        &self,
        items: Vec<Ingested>,
        cursor: Option<Cursor>,
    ) -> Result<oneshot::Receiver<Result<CommitInfo, CommitError>>, ConnectorError> {
        let (batch, rx) = EventBatch::new(self.platform, self.account.clone(), items, cursor);
        crate::metrics::received(&self.account, &batch);
        self.tx.send(batch).await.map_err(|_| ConnectorError::Closed)?;
        Ok(rx)
    }

    /// Sends a batch and waits until it is committed. Acknowledge the platform only after this
    /// returns `Ok`.
    pub async fn commit(&self, items: Vec<Ingested>, cursor: Option<Cursor>) -> Result<CommitInfo, ConnectorError> {
        let rx = self.send(items, cursor).await?;
        self.settle(rx).await
    }

    /// Waits for the commit notice of a batch given to [`EventSender::send`]. Acknowledge the
    /// platform only after this returns `Ok`.
    pub async fn settle(
        &self,
        notice: oneshot::Receiver<Result<CommitInfo, CommitError>>,
    ) -> Result<CommitInfo, ConnectorError> {
        let info = notice.await.map_err(|_| ConnectorError::Closed)??;
        crate::metrics::committed(&self.account, &info);
        Ok(info)
    }

    /// Like [`EventSender::send`] but gives up after `wait` without a free slot, returning the
    /// items (callback handlers spool or answer 503 instead of blocking).
    pub async fn send_timeout(
        &self,
        items: Vec<Ingested>,
        cursor: Option<Cursor>,
        wait: std::time::Duration,
    ) -> Result<oneshot::Receiver<Result<CommitInfo, CommitError>>, SendTimeout> {
        let permit = match tokio::time::timeout(wait, self.tx.reserve()).await {
            Ok(Ok(p)) => p,
            Ok(Err(_)) => return Err(SendTimeout::Closed(items)),
            Err(_) => return Err(SendTimeout::Full(items)),
        };
        let (batch, rx) = EventBatch::new(self.platform, self.account.clone(), items, cursor);
        crate::metrics::received(&self.account, &batch);
        permit.send(batch);
        Ok(rx)
    }

    /// Free slots in the channel (for `/metrics` channel depth).
    pub fn capacity(&self) -> usize {
        self.tx.capacity()
    }

    /// The configured channel size.
    pub fn max_capacity(&self) -> usize {
        self.tx.max_capacity()
    }
}

/// [`EventSender::send_timeout`] could not send; the items are handed back.
#[derive(Debug)]
pub enum SendTimeout {
    /// No slot within the wait.
    Full(Vec<Ingested>),
    /// The writer is gone.
    Closed(Vec<Ingested>),
}

/// What a connector runs with.
#[derive(Clone)]
pub struct ConnectorContext {
    /// Its configured name (the account).
    pub name: String,
    /// Its platform.
    pub platform: Platform,
    /// Bounded sender to the store writer.
    pub out: EventSender,
    /// The last cursor the store committed for this connector.
    pub resume_from: Option<Cursor>,
    /// Fires on SIGINT/SIGTERM: stop taking input, finish in-flight batches, return.
    pub shutdown: CancellationToken,
    /// Records state changes (connected, auth failed…).
    pub state: StateReporter,
    /// Attachment storage.
    pub blobs: Arc<BlobStore>,
    /// The data directory (spool files live under `spool/`).
    pub data_dir: PathBuf,
    /// `chatvault run --backfill` was given.
    pub backfill: bool,
    /// Largest accepted callback body.
    pub max_body_bytes: usize,
}

impl ConnectorContext {
    /// A context for connector `name` sending on `tx`, with the defaults of a fresh start: no
    /// resume cursor, a new shutdown token, its own state registry, attachments under
    /// `data_dir/blobs` (50 MiB cap) and a 10 MiB body limit. Override fields with struct
    /// update syntax where `run` shares a registry or a blob store.
    pub fn new(platform: Platform, name: &str, tx: mpsc::Sender<EventBatch>, data_dir: impl Into<PathBuf>) -> Self {
        let data_dir = data_dir.into();
        let out = EventSender::new(platform, name, tx);
        ConnectorContext {
            name: name.to_string(),
            platform,
            state: StateReporter::new(name, platform, crate::state::StateRegistry::new(), out.clone()),
            out,
            resume_from: None,
            shutdown: CancellationToken::new(),
            blobs: Arc::new(BlobStore::new(data_dir.join("blobs"), 50 * 1024 * 1024)),
            data_dir,
            backfill: false,
            max_body_bytes: 10 * 1024 * 1024,
        }
    }
}
