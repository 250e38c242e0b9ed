//! Sessions. Only the sha256 of a session token is stored, so a copy of `access.db` does not
//! let anyone act as a logged-in user. Each session carries its own CSRF token.

use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::{AccessDb, AccessResult, User};

/// A live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Its user, as stored now (role, scopes).
    pub user: User,
    /// The CSRF token forms of this session must carry.
    pub csrf: String,
    /// Created (UTC ms).
    pub created_at: i64,
}

fn token_id(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl AccessDb {
    /// Records a new session for `user` under `token` with its CSRF token.
    pub fn create_session(&self, token: &str, user: &str, csrf: &str, now: i64) -> AccessResult<()> {
        self.conn.execute(
            "INSERT INTO sessions (id, user, csrf, created_at, last_seen) VALUES (?1, ?2, ?3, ?4, ?4)",
            params![token_id(token), user, csrf, now],
        )?;
        Ok(())
    }

    /// The session of `token` if it exists, was used within `idle_ms` and its user is not
    /// disabled; marks it used at `now`. An expired session is removed.
    pub fn session(&self, token: &str, now: i64, idle_ms: i64) -> AccessResult<Option<Session>> {
        let id = token_id(token);
        let row: Option<(String, String, i64, i64)> = self
            .conn
            .prepare_cached("SELECT user, csrf, created_at, last_seen FROM sessions WHERE id = ?1")?
            .query_row([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .optional()?;
        let Some((name, csrf, created_at, last_seen)) = row else {
            return Ok(None);
        };
        if now.saturating_sub(last_seen) > idle_ms {
            self.conn.execute("DELETE FROM sessions WHERE id = ?1", [&id])?;
            return Ok(None);
        }
        let Some(user) = self.user(&name)?.filter(|u| !u.disabled) else {
            self.conn.execute("DELETE FROM sessions WHERE id = ?1", [&id])?;
            return Ok(None);
        };
        self.conn
            .execute("UPDATE sessions SET last_seen = ?2 WHERE id = ?1", params![id, now])?;
        Ok(Some(Session { user, csrf, created_at }))
    }

    /// Ends the session of `token` (logout).
    pub fn end_session(&self, token: &str) -> AccessResult<()> {
        self.conn
            .execute("DELETE FROM sessions WHERE id = ?1", [token_id(token)])?;
        Ok(())
    }
}
