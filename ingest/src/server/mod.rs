//! The shared HTTP server: callback routes of WeCom / WorkTool connectors, `/healthz`,
//! `/metrics`, body limits, and the durable spool of design §3.2.
//!
//! # Layout
//! - [`serve`]: binds (a bind error is returned before anything is served, so `run` can say
//!   which address was refused), mounts every callback router plus the health routes, and
//!   serves until the shutdown token fires, letting in-flight requests finish.
//! - [`health`]: `GET /healthz` (store ready + per-connector state) and `GET /metrics`.
//! - [`merge`]: joins the connectors' routers and turns a path conflict into an error.
//! - [`body`]: reading a body with a limit inside the handler, so an oversized body still
//!   leaves a `rejects` row (axum's own 2 MB limit layer is switched off for that reason).
//! - [`spool`]: where a callback goes when the store cannot take it in time.
//!
//! A callback connector returns its routes from [`crate::Connector::router`], already at its
//! configured path; the CLI collects them and passes them to [`serve`].

pub mod body;
pub mod health;
pub mod merge;
pub mod spool;

use std::net::SocketAddr;

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

    /// Waits until the server has stopped (after the shutdown token fired and in-flight
    /// requests were answered).
    pub async fn join(self) -> Result<(), ServerError> {
        match self.task.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(ServerError::Serve(e)),
            Err(e) => Err(ServerError::Join(e.to_string())),
        }
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
    tracing::info!(%local_addr, max_body_bytes = opts.max_body_bytes, "callback server listening");
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
    });
    Ok(ServerHandle { local_addr, task })
}
