//! What a user may see ([`Scope`]) and may do ([`Role`]).

use std::fmt;
use std::str::FromStr;

use proto::Platform;
use serde::{Deserialize, Serialize};

use super::AccessError;

/// A reviewer reads messages; an admin also reads the access log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Searches and reads messages in scope.
    Reviewer,
    /// A reviewer who may also read the access log.
    Admin,
}

impl Role {
    /// Stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reviewer => "reviewer",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = AccessError;
    fn from_str(s: &str) -> Result<Self, AccessError> {
        match s {
            "reviewer" => Ok(Role::Reviewer),
            "admin" => Ok(Role::Admin),
            other => Err(AccessError::Invalid(format!(
                "unknown role `{other}` (valid: reviewer, admin)"
            ))),
        }
    }
}

/// One thing a user may see. A user without scopes sees everything; with scopes, a message
/// is visible when any scope allows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scope {
    /// Every chat of a platform (`platform:wecom`).
    Platform {
        /// The platform.
        platform: Platform,
    },
    /// One chat, in any account (`chat:wecom/room-1`).
    Chat {
        /// The platform.
        platform: Platform,
        /// The chat id on it.
        chat_id: String,
    },
}

impl Scope {
    /// Whether this scope lets its user see chat `chat_id` of `platform`.
    pub fn allows(&self, platform: Platform, chat_id: &str) -> bool {
        match self {
            Scope::Platform { platform: p } => *p == platform,
            Scope::Chat {
                platform: p,
                chat_id: c,
            } => *p == platform && c == chat_id,
        }
    }

    /// Whether a user holding `scopes` may see chat `chat_id` of `platform`.
    pub fn any_allows(scopes: &[Scope], platform: Platform, chat_id: &str) -> bool {
        scopes.is_empty() || scopes.iter().any(|s| s.allows(platform, chat_id))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Platform { platform } => write!(f, "platform:{platform}"),
            Scope::Chat { platform, chat_id } => write!(f, "chat:{platform}/{chat_id}"),
        }
    }
}

impl FromStr for Scope {
    type Err = AccessError;
    fn from_str(s: &str) -> Result<Self, AccessError> {
        let bad = |why: &str| {
            AccessError::Invalid(format!(
                "scope `{s}`: {why} (valid: platform:PLATFORM or chat:PLATFORM/CHAT_ID)"
            ))
        };
        let platform = |p: &str| p.parse::<Platform>().map_err(|e| bad(&e.to_string()));
        if let Some(p) = s.strip_prefix("platform:") {
            return Ok(Scope::Platform { platform: platform(p)? });
        }
        if let Some(rest) = s.strip_prefix("chat:") {
            let (p, chat) = rest
                .split_once('/')
                .ok_or_else(|| bad("no `/` between platform and chat id"))?;
            if chat.is_empty() {
                return Err(bad("empty chat id"));
            }
            return Ok(Scope::Chat {
                platform: platform(p)?,
                chat_id: chat.to_string(),
            });
        }
        Err(bad("unknown kind"))
    }
}
