//! Handlers' work off the async runtime: SQLite (archive and `access.db`), tantivy and
//! argon2 calls block, so each request's work runs on tokio's blocking pool and a slow query
//! never holds up the threads that accept and answer other requests.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// Runs `f` on the blocking pool and returns its response (a panic in `f` becomes a bare 500).
pub(crate) async fn run<F>(state: Arc<AppState>, f: F) -> Response
where
    F: FnOnce(&AppState) -> Response + Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        state.before_work();
        f(&state)
    })
    .await
    .unwrap_or_else(|e| {
        tracing::error!(error = %e, "reviewer UI handler failed");
        StatusCode::INTERNAL_SERVER_ERROR.into_response()
    })
}
