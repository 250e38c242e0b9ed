//! The shared HTTP server: callback routes of WeCom / WorkTool connectors, `/healthz`,
//! `/metrics`, body limits, and the durable spool of design §3.2.
//!
//! # Layout
//! - [`serve`]: binds (a bind error is returned before anything is served, so `run` can say
//!   which address was refused), mounts every callback router plus the health routes, and
//!   serves until the shutdown token fires, letting in-flight requests finish for at most
//!   [`Limits::shutdown_grace`] before their connections are closed.
//! - [`conn`]: the accept loop and each connection, with the limits of [`Limits`]: a
//!   connection cap, a header-read timeout and (with [`deadline`]) a body deadline, so a slow
//!   or silent client costs one socket for a bounded time and cannot hold the shutdown.
//! - [`health`]: `GET /healthz` (store ready + per-connector state) and `GET /metrics`.
//! - [`merge`]: joins the connectors' routers and turns a path conflict into an error.
//! - [`body`]: reading a body with a limit inside the handler, so an oversized body still
//!   leaves a `rejects` row (axum's own 2 MB limit layer is switched off for that reason).
//! - [`spool`]: where a callback goes when the store cannot take it in time.
//! - [`permits`]: per-route concurrency with a wait bounded by the platform's deadline.
//! - [`throttle`]: a per-peer budget of refused requests; a peer that spent it is answered
//!   429 unread.
//!
//! A callback connector returns its routes from [`crate::Connector::router`], already at its
//! configured path; the CLI collects them and passes them to [`serve`].

pub mod body;
mod conn;
pub mod deadline;
pub mod health;
pub mod merge;
pub mod permits;
pub mod spool;
pub mod throttle;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use health::Health;

/// What the server listens on and accepts.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Listen address (`[server] listen`).
    pub listen: SocketAddr,
    /// Largest accepted request body (`[server] max_body_bytes`); callback handlers enforce it
    /// themselves via [`body::read_limited`].
    pub max_body_bytes: usize,
    /// Timeouts and caps.
    pub limits: Limits,
    /// The per-peer budget of refused requests.
    pub refused: throttle::RefusedBudget,
}

/// The server's timeouts and caps (`[server]` keys of the same names).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// From a connection's first byte (or the end of its previous request) to the end of the
    /// request headers.
    pub header_timeout: Duration,
    /// From the end of the headers to the end of the body.
    pub body_timeout: Duration,
    /// Open connections at most; further clients wait in the listen backlog.
    pub max_connections: usize,
    /// After shutdown fires, how long in-flight requests get before their connections close.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(15),
            max_connections: 1024,
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

impl ServerOptions {
    /// Options with the default [`Limits`].
    pub fn new(listen: SocketAddr, max_body_bytes: usize) -> Self {
        ServerOptions {
            listen,
            max_body_bytes,
            limits: Limits::default(),
            refused: throttle::RefusedBudget::default(),
        }
    }
}

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listen address could not be bound (in use, no permission, not local).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The configured address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// Two routers claim the same path and method.
    #[error("callback routes conflict: {0}")]
    RouteConflict(String),
    /// Serving failed after start.
    #[error("callback server failed: {0}")]
    Serve(std::io::Error),
    /// The server task panicked or was aborted.
    #[error("callback server task ended abnormally: {0}")]
    Join(String),
}

/// A running server.
#[derive(Debug)]
pub struct ServerHandle {
    local_addr: SocketAddr,
    task: JoinHandle<Result<(), std::io::Error>>,
}

impl ServerHandle {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Waits until the server has stopped: after the shutdown token fired, in-flight requests
    /// were answered or their grace ran out, and every connection (with the callback routes'
    /// store senders it held) was dropped.
    pub async fn join(self) -> Result<(), ServerError> {
        match self.task.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(ServerError::Serve(e)),
            Err(e) => Err(ServerError::Join(e.to_string())),
        }
    }

    /// A handle that stops the server task (a last resort when [`ServerHandle::join`] took
    /// too long); dropping the task drops every connection with it.
    pub fn abort_handle(&self) -> tokio::task::AbortHandle {
        self.task.abort_handle()
    }
}

/// Binds `opts.listen` and serves the callback `routers` plus `/healthz` and `/metrics` until
/// `shutdown` fires.
pub async fn serve(
    opts: ServerOptions,
    routers: Vec<Router>,
    health: Health,
    shutdown: CancellationToken,
) -> Result<ServerHandle, ServerError> {
    let mut all = Vec::with_capacity(routers.len() + 1);
    all.push(health::router(health));
    all.extend(routers);
    let app = merge::merge_all(all)?
        // Handlers read bodies with `body::read_limited` so that an oversized body is
        // answered 413 *and* leaves a reject row; axum's default 2 MB limit would cut it first.
        .layer(axum::extract::DefaultBodyLimit::disable());
    let listener = TcpListener::bind(opts.listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: opts.listen,
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| ServerError::Bind {
        addr: opts.listen,
        source,
    })?;
    let limits = opts.limits;
    tracing::info!(
        %local_addr,
        max_body_bytes = opts.max_body_bytes,
        max_connections = limits.max_connections,
        header_timeout_s = limits.header_timeout.as_secs_f64(),
        body_timeout_s = limits.body_timeout.as_secs_f64(),
        "callback server listening"
    );
    let throttle = throttle::Throttle::new(&opts.refused).map(std::sync::Arc::new);
    let task = tokio::spawn(conn::accept_loop(listener, app, limits, throttle, shutdown));
    Ok(ServerHandle { local_addr, task })
}
