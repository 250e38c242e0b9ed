//! The supervisor: one connection after another until shutdown. Each connection is a
//! [`Session`] run to its end; how it ended becomes the connector's state (a
//! `connector_state` event, `/healthz`), a reconnect counter, and a [`Backoff`] wait before
//! the next one, so a platform that is down is retried with growing, jittered delays and a
//! platform that stayed up long enough starts again from the shortest delay.

use std::future::Future;

use proto::ConnectorStatus;

use crate::backoff::Backoff;
use crate::{ConnectorContext, ConnectorError, metrics};

/// How a session ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Shutdown was requested and the session settled what it had in flight.
    Shutdown,
    /// Connect again now, without a backoff wait (e.g. a refreshed access token).
    Reconnect,
}

/// What a session reports to the supervisor while it runs.
pub struct Link<'a> {
    backoff: &'a mut Backoff,
    cx: &'a ConnectorContext,
}

impl Link<'_> {
    /// The platform accepted the connection: records `connected` and starts the healthy
    /// period after which the backoff starts over.
    pub async fn connected(&mut self, detail: Option<String>) {
        self.backoff.connected();
        self.cx.state.set(ConnectorStatus::Connected, detail).await;
    }

    /// The platform accepted the connection, but the session reports its state itself (e.g.
    /// live archiving works while missed history is still being fetched): only starts the
    /// healthy period after which the backoff starts over.
    pub fn alive(&mut self) {
        self.backoff.connected();
    }
}

/// One connection of a platform, from dial to its end. The value lives across reconnects,
/// so it carries what a reconnect resumes from (the committed position, a token).
pub trait Session: Send {
    /// Runs one connection. It watches `cx.shutdown` itself, so it can settle what is in
    /// flight before returning [`Exit::Shutdown`].
    fn run(
        &mut self,
        cx: &ConnectorContext,
        link: &mut Link<'_>,
    ) -> impl Future<Output = Result<Exit, ConnectorError>> + Send;
}

/// Runs sessions until shutdown or an error that reconnecting cannot fix.
pub async fn supervise<S: Session>(
    cx: &ConnectorContext,
    mut backoff: Backoff,
    session: &mut S,
) -> Result<(), ConnectorError> {
    loop {
        if cx.shutdown.is_cancelled() {
            return Ok(());
        }
        let ended = {
            let mut link = Link {
                backoff: &mut backoff,
                cx,
            };
            session.run(cx, &mut link).await
        };
        let e = match ended {
            Ok(Exit::Shutdown) | Err(ConnectorError::Shutdown) => {
                cx.state
                    .set(ConnectorStatus::Disconnected, Some("shutting down".into()))
                    .await;
                return Ok(());
            }
            Ok(Exit::Reconnect) => {
                tracing::info!(connector = %cx.name, "reconnecting at once");
                continue;
            }
            Err(e) => e,
        };
        let status = match &e {
            ConnectorError::Auth(_) => ConnectorStatus::AuthFailed,
            ConnectorError::Kicked(_) => ConnectorStatus::Kicked,
            _ => ConnectorStatus::Disconnected,
        };
        if status == ConnectorStatus::AuthFailed {
            tracing::error!(connector = %cx.name, platform = %cx.platform, error = %e, "authentication failed; renew the configured credentials");
        } else {
            tracing::warn!(connector = %cx.name, platform = %cx.platform, error = %e, "session ended");
        }
        cx.state.set(status, Some(e.to_string())).await;
        if !e.retryable() {
            return Err(e);
        }
        metrics::reconnect(&cx.name);
        if !backoff.wait(&cx.shutdown).await {
            return Ok(());
        }
    }
}
