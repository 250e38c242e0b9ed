//! Users. The password hash is stored as given (a PHC string: the UI layer hashes with
//! argon2id, so this crate never sees a password).

use rusqlite::{OptionalExtension, params};

use super::{AccessDb, AccessError, AccessResult, Role, Scope};

/// A user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Login name.
    pub name: String,
    /// PHC string of the password hash.
    pub password_hash: String,
    /// Role.
    pub role: Role,
    /// A disabled user cannot log in and their sessions stop working.
    pub disabled: bool,
    /// What they may see (empty: everything).
    pub scopes: Vec<Scope>,
    /// When the user was added (UTC ms).
    pub created_at: i64,
}

const USER_COLS: &str = "name, password_hash, role, disabled, scopes, created_at";

fn user_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(User, String, String)> {
    Ok((
        User {
            name: r.get(0)?,
            password_hash: r.get(1)?,
            role: Role::Reviewer,
            disabled: r.get::<_, i64>(3)? != 0,
            scopes: Vec::new(),
            created_at: r.get(5)?,
        },
        r.get(2)?,
        r.get(4)?,
    ))
}

fn decode((mut u, role, scopes): (User, String, String)) -> AccessResult<User> {
    u.role = role
        .parse()
        .map_err(|_| AccessError::Corrupt(format!("user `{}` has role `{role}`", u.name)))?;
    u.scopes = serde_json::from_str(&scopes)
        .map_err(|e| AccessError::Corrupt(format!("user `{}` has unreadable scopes: {e}", u.name)))?;
    Ok(u)
}

/// A name that shows unambiguously in logs and URLs.
fn check_name(name: &str) -> AccessResult<()> {
    let ok = !name.is_empty()
        && name.chars().count() <= 64
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(AccessError::Invalid(format!(
            "user name `{name}`: use 1 to 64 letters, digits, `.`, `_`, `-` or `@`"
        )))
    }
}

impl AccessDb {
    /// Adds a user.
    pub fn add_user(
        &self,
        name: &str,
        password_hash: &str,
        role: Role,
        scopes: &[Scope],
        now: i64,
    ) -> AccessResult<()> {
        check_name(name)?;
        let scopes = serde_json::to_string(scopes).map_err(|e| AccessError::Invalid(e.to_string()))?;
        let n = self.conn.execute(
            "INSERT INTO users (name, password_hash, role, disabled, scopes, created_at) VALUES (?1, ?2, ?3, 0, ?4, ?5)
             ON CONFLICT(name) DO NOTHING",
            params![name, password_hash, role.as_str(), scopes, now],
        )?;
        if n == 0 {
            return Err(AccessError::UserExists(name.into()));
        }
        Ok(())
    }

    /// A user by name.
    pub fn user(&self, name: &str) -> AccessResult<Option<User>> {
        self.conn
            .prepare_cached(&format!("SELECT {USER_COLS} FROM users WHERE name = ?1"))?
            .query_row([name], user_from_row)
            .optional()?
            .map(decode)
            .transpose()
    }

    /// Every user, by name.
    pub fn users(&self) -> AccessResult<Vec<User>> {
        let mut st = self
            .conn
            .prepare_cached(&format!("SELECT {USER_COLS} FROM users ORDER BY name"))?;
        let rows = st.query_map([], user_from_row)?;
        rows.map(|r| decode(r?)).collect()
    }

    /// Replaces a user's password hash and ends their sessions.
    pub fn set_password(&self, name: &str, password_hash: &str) -> AccessResult<()> {
        let tx = self.conn.unchecked_transaction()?;
        let n = tx.execute(
            "UPDATE users SET password_hash = ?2 WHERE name = ?1",
            params![name, password_hash],
        )?;
        if n == 0 {
            return Err(AccessError::NoSuchUser(name.into()));
        }
        tx.execute("DELETE FROM sessions WHERE user = ?1", [name])?;
        tx.commit()?;
        Ok(())
    }

    /// Disables (or re-enables) a user; disabling ends their sessions.
    pub fn set_disabled(&self, name: &str, disabled: bool) -> AccessResult<()> {
        let tx = self.conn.unchecked_transaction()?;
        let n = tx.execute(
            "UPDATE users SET disabled = ?2 WHERE name = ?1",
            params![name, disabled as i64],
        )?;
        if n == 0 {
            return Err(AccessError::NoSuchUser(name.into()));
        }
        if disabled {
            tx.execute("DELETE FROM sessions WHERE user = ?1", [name])?;
        }
        tx.commit()?;
        Ok(())
    }
}
