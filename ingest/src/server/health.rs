//! `GET /healthz` and `GET /metrics`.
//!
//! `/healthz` answers 200 only when the store is ready to commit, so a load balancer or
//! systemd watchdog stops sending callbacks to an archive that could not keep them; the body
//! lists every connector's state either way, for a human looking at it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use crate::state::{ConnectorState, StateRegistry};

/// Renders the Prometheus text exposition for `/metrics`.
pub type MetricsRenderer = Arc<dyn Fn() -> String + Send + Sync>;

/// What `/healthz` and `/metrics` report.
#[derive(Clone)]
pub struct Health {
    /// Per-connector state.
    pub states: StateRegistry,
    /// Set by the CLI once the store writer is running (and cleared when it stops).
    pub store_ready: Arc<AtomicBool>,
    /// The `/metrics` body (the CLI passes the Prometheus recorder's renderer).
    pub metrics: MetricsRenderer,
}

impl Health {
    /// A health source; `store_ready` starts as given.
    pub fn new(states: StateRegistry, store_ready: Arc<AtomicBool>, metrics: MetricsRenderer) -> Self {
        Health {
            states,
            store_ready,
            metrics,
        }
    }
}

/// The `/healthz` body.
#[derive(Debug, Serialize)]
pub struct HealthReport {
    /// Whether the store takes commits.
    pub ready: bool,
    /// Connector name → state.
    pub connectors: BTreeMap<String, ConnectorState>,
}

/// The routes `/healthz` and `/metrics`.
pub fn router(health: Health) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(health)
}

async fn healthz(State(h): State<Health>) -> Response {
    let report = HealthReport {
        ready: h.store_ready.load(Ordering::Acquire),
        connectors: h.states.snapshot(),
    };
    let code = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(report)).into_response()
}

async fn metrics(State(h): State<Health>) -> Response {
    let body = (h.metrics)();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        body,
    )
        .into_response()
}
