//! Which access token to register with: the configured one, or one obtained from the login
//! cookies (refreshed before it expires and whenever `/reg` refuses the current one).

use config::{GoofishConfig, Secret};
use tokio::time::Instant;

use super::token::{AccessToken, TokenError, TokenSource};
use crate::ConnectorError;

/// The connector's credentials.
pub struct Auth {
    current: Option<AccessToken>,
    lifetime_ms: i64,
    source: Option<TokenSource>,
}

impl Auth {
    /// From the config: `token`, `cookies`, or both (the token is tried first).
    pub fn new(cfg: &GoofishConfig) -> Result<Auth, ConnectorError> {
        let token = cfg.token.as_ref().filter(|t| !t.is_empty());
        let cookies = cfg.cookies.as_ref().filter(|c| !c.is_empty());
        if token.is_none() && cookies.is_none() {
            return Err(ConnectorError::Config(format!(
                "goofish connector `{}` needs `token` or `cookies`",
                cfg.name
            )));
        }
        Ok(Auth {
            current: token.map(|t| AccessToken {
                value: t.clone(),
                expires_at: None,
            }),
            lifetime_ms: 86_400_000,
            source: cookies.map(|c| TokenSource::new(&cfg.api_base, c, &cfg.device_id)),
        })
    }

    /// A token to register with, fetching or refreshing it when needed.
    pub async fn token(&mut self) -> Result<Secret, ConnectorError> {
        let now = proto::time::now_ms();
        let stale = match &self.current {
            None => true,
            Some(t) => t.needs_refresh(now, self.lifetime_ms),
        };
        if stale {
            let Some(source) = self.source.as_mut() else {
                return Err(ConnectorError::Auth(
                    "the configured access token has expired and no cookies are configured to refresh it".into(),
                ));
            };
            let (token, lifetime) = source.fetch().await.map_err(|e| match e {
                TokenError::Auth(m) => ConnectorError::Auth(format!("token refresh refused: {m}")),
                TokenError::Transport(m) => ConnectorError::Transport(m),
                TokenError::Protocol(m) => ConnectorError::Protocol(m),
            })?;
            tracing::info!("goofish access token obtained from the login cookies");
            self.current = Some(token);
            self.lifetime_ms = lifetime;
        }
        // Just set or still fresh.
        Ok(self.current.as_ref().map(|t| t.value.clone()).unwrap_or_default())
    }

    /// `/reg` refused the token: forget it. Returns whether a new one can be obtained.
    pub fn refused(&mut self) -> bool {
        self.current = None;
        self.source.is_some()
    }

    /// The cookies for the WebSocket handshake.
    pub fn cookies(&self) -> Option<&str> {
        self.source.as_ref().map(TokenSource::cookies)
    }

    /// When the live session should re-register with a refreshed token.
    pub fn refresh_at(&self) -> Option<Instant> {
        let t = self.current.as_ref()?;
        let at = t.expires_at?;
        self.source.as_ref()?;
        let margin = (self.lifetime_ms / 10).min(3_600_000);
        // At least a second, so a service handing out (nearly) expired tokens cannot make us
        // re-register in a tight loop.
        let in_ms = (at - margin - proto::time::now_ms()).max(1_000) as u64;
        Some(Instant::now() + std::time::Duration::from_millis(in_ms))
    }
}
