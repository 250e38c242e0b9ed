//! `[alerts]`: where the archive tells a human that it stopped archiving.
//!
//! One optional webhook, called with a JSON POST when a connector's gap opens (it stops
//! archiving: disconnected, credentials refused, robot offline, spool full) and closes, and
//! when the store stops committing and starts again. The body is a WeCom group-robot text
//! message (`{"msgtype":"text","text":{"content":…}}`), which Feishu, DingTalk and most chat
//! robots also accept or ignore gracefully; a generic receiver gets the same JSON with the
//! machine-readable fields beside it.

use serde::Deserialize;

use crate::Secret;

/// `[alerts]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// URL to POST alerts to (a WeCom group-robot URL carries its key, hence a secret).
    pub webhook: Option<Secret>,
    /// Per-call timeout, in ms.
    pub timeout_ms: u64,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            webhook: None,
            timeout_ms: 5000,
        }
    }
}
