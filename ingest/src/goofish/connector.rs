//! The connector loop: obtain a token, connect, register (§3.3), catch up from the committed
//! cursor, backfill history when asked, then the live loop; on any failure record the state,
//! wait as [`Backoff`] says (3 s × 5, then exponential with jitter) and start over.

use std::sync::Arc;

use proto::ConnectorStatus;
use serde_json::json;

use super::auth::Auth;
use super::cursor::SyncCursor;
use super::frame::{self, Frame};
use super::live::{self, Exit};
use super::session::Session;
use super::{GoofishConnector, backfill};
use crate::backoff::Backoff;
use crate::{ConnectorContext, ConnectorError};

/// Mutable state carried across reconnects.
struct Run {
    auth: Auth,
    /// Position of everything handed to the store (may be ahead of `committed`).
    cursor: SyncCursor,
    /// Position of everything committed: where a reconnect resumes.
    committed: SyncCursor,
    want_backfill: bool,
}

impl GoofishConnector {
    pub(super) async fn run_loop(self: Arc<Self>, cx: ConnectorContext) -> Result<(), ConnectorError> {
        let stored = cx.resume_from.as_ref();
        let cursor = SyncCursor::from_stored(stored).unwrap_or_else(|| {
            if stored.is_some() {
                tracing::warn!(connector = %cx.name, "unreadable goofish cursor; starting without a sync position");
            }
            SyncCursor::default()
        });
        let mut run = Run {
            auth: Auth::new(&self.cfg)?,
            cursor,
            committed: cursor,
            want_backfill: cx.backfill || !cursor.backfilled,
        };
        let mut backoff = self.tuning.backoff.clone();
        loop {
            if cx.shutdown.is_cancelled() {
                return Ok(());
            }
            run.cursor = run.committed;
            let result = self.session(&cx, &mut run, &mut backoff).await;
            match result {
                Ok(Exit::Shutdown) | Err(ConnectorError::Shutdown) => {
                    cx.state
                        .set(ConnectorStatus::Disconnected, Some("shutting down".into()))
                        .await;
                    return Ok(());
                }
                Ok(Exit::Refresh) => {
                    tracing::info!(connector = %cx.name, "re-registering with a refreshed access token");
                    continue;
                }
                Err(ConnectorError::Auth(reason)) => {
                    tracing::error!(connector = %cx.name, %reason, "goofish authentication failed; renew `cookies` or `token`");
                    cx.state.set(ConnectorStatus::AuthFailed, Some(reason)).await;
                }
                Err(e) if !e.retryable() => {
                    cx.state.set(ConnectorStatus::Disconnected, Some(e.to_string())).await;
                    return Err(e);
                }
                Err(e) => {
                    tracing::warn!(connector = %cx.name, error = %e, "goofish session ended");
                    cx.state.set(ConnectorStatus::Disconnected, Some(e.to_string())).await;
                }
            }
            crate::metrics::reconnect(&cx.name);
            if !backoff.wait(&cx.shutdown).await {
                return Ok(());
            }
        }
    }

    async fn session(
        &self,
        cx: &ConnectorContext,
        run: &mut Run,
        backoff: &mut Backoff,
    ) -> Result<Exit, ConnectorError> {
        let mut token = run.auth.token().await?;
        let mut session = tokio::select! {
            s = Session::connect(&self.cfg.ws_url, run.auth.cookies(), self.tuning.timing) => s?,
            _ = cx.shutdown.cancelled() => return Err(ConnectorError::Shutdown),
        };
        let mut reg = session
            .request(frame::register(token.expose(), &self.cfg.device_id))
            .await?;
        // A refused token may only be stale: with cookies, fetch a new one once.
        if reg.code != Some(200) && run.auth.refused() {
            token = run.auth.token().await?;
            reg = session
                .request(frame::register(token.expose(), &self.cfg.device_id))
                .await?;
            if reg.code != Some(200) {
                run.auth.refused();
            }
        }
        if reg.code != Some(200) {
            return Err(ConnectorError::Auth(format!("registration refused: {}", reg.failure())));
        }
        cx.state.set(ConnectorStatus::Connected, None).await;
        backoff.connected();

        let state = checked(
            session
                .request(Frame::request("/r/SyncStatus/getState", json!([{"topic": "sync"}])))
                .await?,
        )?;
        if !run.cursor.has_position() {
            run.cursor.adopt_state(&state.body);
        }
        let arg = run.cursor.ack_diff_arg(proto::time::now_ms());
        checked(
            session
                .request(Frame::request("/r/SyncStatus/ackDiff", json!([arg])))
                .await?,
        )?;
        if run.cursor != run.committed {
            cx.out.commit(Vec::new(), Some(run.cursor.to_json())).await?;
            run.committed = run.cursor;
        }

        if run.want_backfill {
            let started = std::time::Instant::now();
            let p = backfill::run(
                &mut session,
                cx,
                self.cfg.backfill_messages_per_chat,
                &self.tuning.flow_control_pauses,
                &run.cursor.to_json(),
            )
            .await?;
            run.cursor.backfilled = true;
            cx.out.commit(Vec::new(), Some(run.cursor.to_json())).await?;
            run.committed.backfilled = true;
            run.want_backfill = false;
            tracing::info!(
                connector = %cx.name,
                conversations = p.conversations,
                messages = p.messages,
                skipped = p.skipped,
                secs = started.elapsed().as_secs_f64(),
                "goofish backfill finished"
            );
        }

        let refresh_at = run.auth.refresh_at();
        let exit = live::run(
            &mut session,
            cx,
            &mut run.cursor,
            &mut run.committed,
            self.tuning.max_in_flight,
            refresh_at,
        )
        .await;
        if exit.is_ok() {
            session.close().await;
        }
        exit
    }
}

/// A response must say `code 200`.
fn checked(resp: Frame) -> Result<Frame, ConnectorError> {
    if resp.code == Some(200) {
        Ok(resp)
    } else {
        Err(ConnectorError::Protocol(resp.failure()))
    }
}
