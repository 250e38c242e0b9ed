//! The accept loop and each connection, with the server's [`Limits`].
//!
//! Why not `axum::serve`: it sets no hyper timer (so no header-read timeout is active), has no
//! connection cap, and its graceful shutdown waits for every connection for ever, so a client
//! holding a half-sent request open keeps `run` from exiting (and, through the routes' store
//! senders, keeps the store writer from draining). Here every connection is served by hyper's
//! HTTP/1 builder with a Tokio timer and `header_read_timeout`, every request body gets a
//! total deadline ([`super::deadline`]), at most `max_connections` are open at once (a full
//! server stops accepting, so new clients wait in the kernel's backlog), and on shutdown each
//! connection is asked to finish its request and then closed after `shutdown_grace`.

use std::convert::Infallible;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Limits;
use super::deadline::DeadlineBody;
use super::throttle::Throttle;

/// The router as a hyper service for one peer, each request body under the body deadline and
/// every request under the peer's budget of refusals ([`super::throttle`]).
#[derive(Clone)]
struct AppService {
    app: Router,
    body_timeout: Duration,
    throttle: Option<Arc<Throttle>>,
    peer: IpAddr,
}

type Answer = Pin<Box<dyn Future<Output = Result<axum::response::Response, Infallible>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for AppService {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = Answer;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let peer = match &self.throttle {
            Some(t) => t.client(self.peer, req.headers()),
            None => self.peer,
        };
        if let Some(t) = &self.throttle
            && !t.admit(peer)
        {
            // Unread body: the connection is closed after the answer, not drained.
            let resp = axum::response::Response::builder()
                .status(axum::http::StatusCode::TOO_MANY_REQUESTS)
                .header(axum::http::header::CONNECTION, "close")
                .header(axum::http::header::RETRY_AFTER, "60")
                .body(Body::from("too many refused requests\n"))
                .unwrap_or_default();
            return Box::pin(std::future::ready(Ok(resp)));
        }
        let timeout = self.body_timeout;
        let req = req.map(|b| Body::new(DeadlineBody::new(Body::new(b), timeout)));
        let mut app = self.app.clone();
        // `Router` is always ready, so `call` without `poll_ready` is allowed.
        let answer = tower_service::Service::call(&mut app, req);
        let throttle = self.throttle.clone();
        Box::pin(async move {
            let resp = answer.await?;
            if let Some(t) = throttle
                && resp.status().is_client_error()
            {
                t.refused(peer);
            }
            Ok(resp)
        })
    }
}

/// Accepts until `shutdown` fires, then waits for the connections (each bounded by the grace).
pub(super) async fn accept_loop(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    throttle: Option<Arc<Throttle>>,
    shutdown: CancellationToken,
) -> Result<(), std::io::Error> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let tracker = TaskTracker::new();
    let mut warned_full = false;
    loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(s) => s,
            Err(_) => {
                if !warned_full {
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        "callback server at its connection cap; new clients wait until one closes"
                    );
                    warned_full = true;
                }
                metrics::counter!("chatvault_server_connection_cap_reached_total").increment(1);
                tokio::select! {
                    s = slots.clone().acquire_owned() => match s {
                        Ok(s) => s,
                        Err(_) => break,
                    },
                    _ = shutdown.cancelled() => break,
                }
            }
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.cancelled() => break,
        };
        let (stream, peer) = match accepted {
            Ok((stream, peer)) => (stream, peer.ip().to_canonical()),
            Err(e) => {
                // Out of file descriptors and the like: pause instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if slots.available_permits() > limits.max_connections / 2 {
            warned_full = false;
        }
        let _ = stream.set_nodelay(true);
        let svc = AppService {
            app: app.clone(),
            body_timeout: limits.body_timeout,
            throttle: throttle.clone(),
            peer,
        };
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            serve_one(stream, svc, limits, shutdown).await;
            drop(slot);
        });
    }
    drop(listener);
    tracker.close();
    // Each connection closes itself at most `shutdown_grace` after shutdown fired.
    tracker.wait().await;
    Ok(())
}

async fn serve_one(stream: tokio::net::TcpStream, svc: AppService, limits: Limits, shutdown: CancellationToken) {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(stream), svc);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(error = %e, "callback connection ended with an error");
            }
            return;
        }
        _ = shutdown.cancelled() => {}
    }
    // Finish the request in flight (its answer may be a commit away), take no new one.
    conn.as_mut().graceful_shutdown();
    if tokio::time::timeout(limits.shutdown_grace, conn.as_mut())
        .await
        .is_err()
    {
        tracing::info!("closing a callback connection still open after the shutdown grace");
    }
}
