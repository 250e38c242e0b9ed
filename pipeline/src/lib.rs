//! The archiving pipeline that `run` (and `demo`, and the pipeline benchmark) start:
//! connectors → bounded channel → store writer, plus the callback server, the search indexer
//! and the export schedule; and the shutdown order that keeps invariant 1.
//!
//! Shutdown: the token fires → connectors stop reading and finish their in-flight batches
//! (acking what committed) → the server stops accepting and answers in-flight callbacks →
//! every sender is dropped → the writer drains the channel, commits and fires the last
//! notices → the indexer catches up and stops.
//!
//! A library of its own, not part of the binary, because the `pipeline` benchmark
//! (`chatvault-bench`) drives this same code and the binary depends on the benchmarks: a
//! library inside the root package would make the two packages depend on each other.

pub mod alerts;
mod error;
pub mod export_job;
pub mod index_priority;
pub mod lock;
pub mod scheduled_export;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ingest::state::StateRegistry;
use ingest::{ConnectorContext, EventSender};
use tokio_util::sync::CancellationToken;

pub use error::PipelineError;
pub use export_job::{ExportJob, ExportOutcome};
pub use lock::WriterLock;

/// Everything the pipeline needs.
pub struct PipelineOptions {
    /// Parsed config.
    pub config: config::Config,
    /// Data directory.
    pub data_dir: PathBuf,
    /// `--backfill`.
    pub backfill: bool,
    /// How long connectors get to finish in-flight work after shutdown fires.
    pub drain_timeout: Duration,
    /// Run the search indexer beside the writer.
    pub index: bool,
}

/// Clears the indexer's reported position when its thread ends, unwinding included.
struct ClearOnExit(store::IndexProgress);

impl Drop for ClearOnExit {
    fn drop(&mut self) {
        self.0.clear();
    }
}

/// The search indexer thread and its stop flag.
type Indexer = (
    Arc<AtomicBool>,
    std::thread::JoinHandle<Result<(), search::SearchError>>,
);

/// A running pipeline.
pub struct Pipeline {
    /// Where the callback server listens (when it was started).
    pub server_addr: Option<std::net::SocketAddr>,
    shutdown: CancellationToken,
    connectors: Vec<(String, tokio::task::JoinHandle<()>)>,
    server: Option<ingest::server::ServerHandle>,
    writer: store::WriterHandle,
    store_ready: Arc<AtomicBool>,
    background: Vec<tokio::task::JoinHandle<()>>,
    indexer: Option<Indexer>,
    drain_timeout: Duration,
    /// Held until the pipeline has drained: one writing process per archive.
    _writer_lock: WriterLock,
}

/// Installs the Prometheus recorder once per process and returns its renderer.
pub fn metrics_renderer() -> ingest::server::health::MetricsRenderer {
    use std::sync::OnceLock;
    static HANDLE: OnceLock<Option<metrics_exporter_prometheus::PrometheusHandle>> = OnceLock::new();
    let handle = HANDLE
        .get_or_init(|| {
            metrics_exporter_prometheus::PrometheusBuilder::new()
                .install_recorder()
                .ok()
        })
        .clone();
    Arc::new(move || handle.as_ref().map(|h| h.render()).unwrap_or_default())
}

impl Pipeline {
    /// Opens the store and starts everything. Fails before starting anything if the store or
    /// the server address cannot be used.
    pub async fn start(opts: PipelineOptions, shutdown: CancellationToken) -> Result<Pipeline, PipelineError> {
        let cfg = &opts.config;
        let writer_lock = WriterLock::acquire(&opts.data_dir)?;
        let store = store::Store::open(
            &opts.data_dir,
            store::StoreOptions {
                synchronous_full: cfg.storage.synchronous_full,
                ..Default::default()
            },
        )
        .map_err(|source| PipelineError::OpenStore {
            dir: opts.data_dir.clone(),
            source,
        })?;
        let reader = store.reader()?;
        let (tx, rx) = tokio::sync::mpsc::channel(cfg.storage.channel_capacity.max(1));
        let mut states = StateRegistry::new();
        let rx = match &cfg.alerts.webhook {
            Some(url) => {
                let (alert_tx, alert_rx) = tokio::sync::mpsc::channel(alerts::QUEUE);
                let timeout = Duration::from_millis(cfg.alerts.timeout_ms.max(1));
                tokio::spawn(alerts::deliver(url.clone(), timeout, alert_rx, shutdown.clone()));
                let (gap_tx, gap_rx) = tokio::sync::mpsc::channel(alerts::QUEUE);
                states = states.with_alerts(gap_tx);
                tokio::spawn(alerts::forward_gaps(gap_rx, alert_tx.clone(), shutdown.clone()));
                // Not a background task: it must outlive the senders so the writer drains.
                let (writer_tx, writer_rx) = tokio::sync::mpsc::channel(cfg.storage.channel_capacity.max(1));
                tokio::spawn(alerts::watch_commits(rx, writer_tx, alert_tx));
                writer_rx
            }
            None => rx,
        };
        // The indexer reports its position to the writer, which holds a commit while the index
        // is far behind (bounded: archiving never waits long on the derived index).
        let progress = store::IndexProgress::default();
        let writer = store::spawn_writer(
            store,
            rx,
            store::WriterOptions {
                group_commit: Duration::from_millis(cfg.storage.group_commit_ms),
                index_gate: opts.index.then(|| store::IndexGate::new(progress.clone())),
                // Fault injection for the end-to-end tests of a dying writer; unset in service.
                panic_at_commit: std::env::var("CHATVAULT_FAULT_WRITER_PANIC_AT_COMMIT")
                    .ok()
                    .and_then(|v| v.parse().ok()),
                ..Default::default()
            },
        );
        let store_ready = Arc::new(AtomicBool::new(true));
        let blobs = Arc::new(ingest::blobs::BlobStore::new(
            opts.data_dir.join("blobs"),
            cfg.storage.blob_max_bytes,
        ));
        let mut connectors = Vec::new();
        let mut routers = Vec::new();
        let mut to_run = Vec::new();
        for c in cfg.connectors() {
            let connector = ingest::build(&c);
            let platform = c.platform();
            let name = c.name().to_string();
            let out = EventSender::new(platform, name.clone(), tx.clone());
            let cx = ConnectorContext {
                name: name.clone(),
                platform,
                out: out.clone(),
                resume_from: reader.cursor(platform, &name)?,
                shutdown: shutdown.child_token(),
                state: ingest::state::StateReporter::new(name.clone(), platform, states.clone(), out),
                blobs: blobs.clone(),
                data_dir: opts.data_dir.clone(),
                backfill: opts.backfill,
                max_body_bytes: cfg.server.max_body_bytes,
            };
            if let Some(r) = connector.router(&cx) {
                routers.push(r);
            }
            to_run.push((name, connector, cx));
        }
        let mut background = Vec::new();
        // A dead writer archives nothing: stop, so `run` exits non-zero and is restarted.
        // A writer whose transactions fail (a full or failing disk) may recover in place, but
        // until it does `/healthz` answers 503. One task owns `ready`, so a late "committing"
        // cannot undo a death.
        let (died, stop, ready) = (writer.died(), shutdown.clone(), store_ready.clone());
        let mut committing = writer.committing();
        background.push(tokio::spawn(async move {
            let died = died.wait();
            tokio::pin!(died);
            let mut open = true;
            let why = loop {
                tokio::select! {
                    why = &mut died => break why,
                    // Closed once the writer ends; only a death can follow then.
                    changed = committing.changed(), if open => {
                        if changed.is_err() {
                            open = false;
                            continue;
                        }
                        let ok = *committing.borrow_and_update();
                        ready.store(ok, Ordering::SeqCst);
                        if ok {
                            tracing::info!("store commits again; /healthz answers 200");
                        } else {
                            tracing::error!("store commits are failing; nothing is archived or acknowledged until one succeeds; /healthz answers 503");
                        }
                    }
                }
            };
            ready.store(false, Ordering::SeqCst);
            tracing::error!(reason = %why, "store writer died; stopping so that a supervisor restarts chatvault");
            stop.cancel();
        }));
        background.push(tokio::spawn(sample_channel_depth(tx.clone())));
        background.push(tokio::spawn(sample_health(
            states.clone(),
            opts.data_dir.clone(),
            opts.index,
        )));
        drop(tx);
        let server_shutdown = CancellationToken::new();
        let server = if routers.is_empty() && cfg.connector_count() == 0 {
            None
        } else {
            let health = ingest::server::Health::new(states.clone(), store_ready.clone(), metrics_renderer());
            Some(
                ingest::server::serve(
                    ingest::server::ServerOptions {
                        listen: cfg.server.listen,
                        max_body_bytes: cfg.server.max_body_bytes,
                        limits: server_limits(&cfg.server),
                        refused: ingest::server::throttle::RefusedBudget {
                            burst: cfg.server.refused_burst,
                            per_minute: cfg.server.refused_per_minute,
                            trusted_proxies: cfg.server.trusted_proxies.clone(),
                        },
                    },
                    routers,
                    health,
                    server_shutdown.clone(),
                )
                .await?,
            )
        };
        let server_addr = server.as_ref().map(|s| s.local_addr());
        for (name, connector, cx) in to_run {
            let n = name.clone();
            connectors.push((
                name,
                tokio::spawn(async move {
                    match connector.run(cx).await {
                        Ok(()) | Err(ingest::ConnectorError::Shutdown) | Err(ingest::ConnectorError::Closed) => {}
                        Err(e) => tracing::error!(connector = %n, error = %e, "connector stopped"),
                    }
                }),
            ));
        }
        // The server stops after the connectors (callbacks in flight still get their commit).
        let s = shutdown.clone();
        background.push(tokio::spawn(async move {
            s.cancelled().await;
            server_shutdown.cancel();
        }));
        if let Some(expr) = &cfg.export.schedule {
            let job = export::Schedule::parse(expr, cfg.tz)
                .and_then(|s| Ok((s, export_job::ExportJob::from_config(cfg, &opts.data_dir, None, false)?)));
            match job {
                Ok((schedule, job)) => background.push(tokio::spawn(scheduled_export::scheduled_exports(
                    schedule,
                    job,
                    shutdown.clone(),
                ))),
                // A bad schedule or target must not stop archiving: say so loudly and go on.
                Err(e) => tracing::error!(error = %e, "export schedule disabled"),
            }
        }
        let indexer = if opts.index {
            let stop = Arc::new(AtomicBool::new(false));
            let (dir, s) = (opts.data_dir.clone(), stop.clone());
            let handle = std::thread::Builder::new()
                .name("search-indexer".into())
                .spawn(move || {
                    // However it ends (an error, a panic, shutdown), the writer stops waiting on it.
                    let _clear = ClearOnExit(progress.clone());
                    index_priority::lower_this_thread();
                    search::follow(&dir, s, Duration::from_millis(500), Some(progress))
                })
                .map_err(PipelineError::IndexerThread)?;
            Some((stop, handle))
        } else {
            None
        };
        Ok(Pipeline {
            indexer,
            server_addr,
            shutdown,
            connectors,
            server,
            writer,
            store_ready,
            background,
            drain_timeout: opts.drain_timeout,
            _writer_lock: writer_lock,
        })
    }

    /// Waits for shutdown to fire, then drains in order; returns the writer's totals.
    pub async fn wait(self) -> Result<store::WriterStats, PipelineError> {
        self.shutdown.cancelled().await;
        tracing::info!("shutting down: draining connectors and the store writer");
        // One deadline for every connector and the server together, so that the time to exit
        // does not grow with the number of connectors.
        let deadline = tokio::time::Instant::now() + self.drain_timeout;
        for (name, handle) in self.connectors {
            let abort = handle.abort_handle();
            if tokio::time::timeout_at(deadline, handle).await.is_err() {
                tracing::warn!(connector = %name, "connector did not stop in time; its unacknowledged data will be redelivered");
                abort.abort();
            }
        }
        if let Some(server) = self.server {
            // The server closes its connections after its own grace; this bound is a last
            // resort, so that no connection (and the store senders its routes hold) can keep
            // the writer from draining.
            let abort = server.abort_handle();
            match tokio::time::timeout_at(deadline, server.join()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "callback server stopped with an error"),
                Err(_) => {
                    tracing::warn!("callback server did not stop in time; closing it");
                    abort.abort();
                }
            }
        }
        for b in self.background {
            b.abort();
        }
        let stats = self.writer.join().await?;
        self.store_ready.store(false, Ordering::SeqCst);
        if let Some((stop, handle)) = self.indexer {
            stop.store(true, Ordering::SeqCst);
            match handle.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "search indexer stopped with an error; `chatvault reindex` rebuilds the index")
                }
                Err(_) => tracing::warn!("search indexer thread panicked; `chatvault reindex` rebuilds the index"),
            }
        }
        tracing::info!(
            commits = stats.commits,
            appended = stats.appended,
            duplicates = stats.duplicates,
            "store writer drained"
        );
        Ok(stats)
    }
}

/// The server's limits from `[server]`.
fn server_limits(c: &config::ServerConfig) -> ingest::server::Limits {
    let ms = Duration::from_millis;
    ingest::server::Limits {
        header_timeout: ms(c.header_timeout_ms),
        body_timeout: ms(c.body_timeout_ms),
        max_connections: c.max_connections,
        shutdown_grace: ms(c.shutdown_grace_ms),
    }
}

/// Publishes how full the ingest → store channel is (`chatvault_channel_depth`).
async fn sample_channel_depth(tx: tokio::sync::mpsc::Sender<proto::EventBatch>) {
    let max = tx.max_capacity();
    loop {
        metrics::gauge!("chatvault_channel_depth").set((max - tx.capacity()) as f64);
        tokio::time::sleep(Duration::from_secs(1)).await;
        if tx.is_closed() {
            return;
        }
    }
}

/// Publishes per-connector state (`chatvault_connector_up`, 1 = archiving) and the search
/// index lag in events (`chatvault_index_lag_events`).
async fn sample_health(states: StateRegistry, data_dir: PathBuf, index: bool) {
    loop {
        for (name, st) in states.snapshot() {
            let up = st.status.map(|s| s.is_up()).unwrap_or(false);
            metrics::gauge!("chatvault_connector_up", "connector" => name.clone(), "platform" => st.platform.as_str())
                .set(if up { 1.0 } else { 0.0 });
        }
        if index {
            let dir = data_dir.clone();
            if let Ok(Ok(lag)) = tokio::task::spawn_blocking(move || search::index_lag(&dir)).await {
                metrics::gauge!("chatvault_index_lag_events").set(lag as f64);
            }
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}
