//! The access log: who did what, when, allowed or denied. Append-only (triggers refuse
//! `UPDATE`/`DELETE`) and hash-chained like the event log:
//! `hash = sha256(prev_hash ‖ seq as 8 bytes BE ‖ canonical JSON of the entry)`, the first
//! `prev_hash` all zeros; seqs are gapless from 1, so a removed row is found as well as a
//! changed one.

use rusqlite::params;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{AccessDb, AccessError, AccessResult};

/// Whether an access was allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Done.
    Ok,
    /// Refused (not logged in, out of scope, bad password, CSRF failure …).
    Denied,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Denied => "denied",
        }
    }
}

/// An access to record.
#[derive(Debug, Clone)]
pub struct NewAccess<'a> {
    /// The user (the attempted name for a failed login, empty when anonymous).
    pub user: &'a str,
    /// `login`, `logout`, `search`, `view_conversation`, `view_message`, `download`, …
    pub action: &'a str,
    /// What was accessed (a query, a chat, a message key, a blob hash, a path).
    pub target: &'a str,
    /// Filters, reasons, counts.
    pub detail: serde_json::Value,
    /// Allowed or denied.
    pub outcome: Outcome,
}

/// One recorded access.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccessEntry {
    /// Position in the log (1-based, gapless).
    pub seq: u64,
    /// When (UTC ms).
    pub at: i64,
    /// Who.
    pub user: String,
    /// What kind of access.
    pub action: String,
    /// What was accessed.
    pub target: String,
    /// Details.
    pub detail: serde_json::Value,
    /// `ok` or `denied`.
    pub outcome: String,
    /// Hex of the chain hash.
    pub hash: String,
}

/// Which entries to read.
#[derive(Debug, Clone, Default)]
pub struct AccessFilter {
    /// Only this user's.
    pub user: Option<String>,
    /// At or after (UTC ms).
    pub since: Option<i64>,
}

/// What [`AccessDb::verify_log`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogReport {
    /// Entries checked.
    pub entries: u64,
    /// Hex hash of the last entry (zeros when empty).
    pub head: String,
    /// The first problem, if any.
    pub problem: Option<String>,
}

/// The bytes an entry's hash covers besides `prev` and `seq`; field order is fixed by the
/// struct, and `detail` is the stored text exactly.
#[derive(Serialize)]
struct Hashed<'a> {
    at: i64,
    user: &'a str,
    action: &'a str,
    target: &'a str,
    detail: &'a str,
    outcome: &'a str,
}

fn link(prev: &[u8], seq: u64, h: &Hashed<'_>) -> [u8; 32] {
    let mut d = Sha256::new();
    d.update(prev);
    d.update(seq.to_be_bytes());
    d.update(serde_json::to_vec(h).expect("plain strings serialize"));
    d.finalize().into()
}

impl AccessDb {
    /// Appends an entry at `now`; returns its seq.
    pub fn record(&self, e: &NewAccess<'_>, now: i64) -> AccessResult<u64> {
        let detail = e.detail.to_string();
        let tx = self.conn.unchecked_transaction()?;
        let (seq, prev): (u64, Vec<u8>) = tx
            .query_row("SELECT seq, hash FROM log ORDER BY seq DESC LIMIT 1", [], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get(1)?))
            })
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok((0, vec![0u8; 32])),
                e => Err(e),
            })?;
        let seq = seq + 1;
        let hash = link(
            &prev,
            seq,
            &Hashed {
                at: now,
                user: e.user,
                action: e.action,
                target: e.target,
                detail: &detail,
                outcome: e.outcome.as_str(),
            },
        );
        tx.execute(
            "INSERT INTO log (seq, at, user, action, target, detail, outcome, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![seq as i64, now, e.user, e.action, e.target, detail, e.outcome.as_str(), &hash[..]],
        )?;
        tx.commit()?;
        Ok(seq)
    }

    /// Entries matching `filter`, oldest first.
    pub fn entries(&self, filter: &AccessFilter) -> AccessResult<Vec<AccessEntry>> {
        let mut st = self.conn.prepare_cached(
            "SELECT seq, at, user, action, target, detail, outcome, hash FROM log
             WHERE (?1 IS NULL OR user = ?1) AND (?2 IS NULL OR at >= ?2) ORDER BY seq",
        )?;
        let rows = st.query_map(params![filter.user, filter.since], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, Vec<u8>>(7)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, at, user, action, target, detail, outcome, hash) = row?;
            out.push(AccessEntry {
                seq: seq as u64,
                at,
                user,
                action,
                target,
                detail: serde_json::from_str(&detail)
                    .map_err(|e| AccessError::Corrupt(format!("access log entry {seq}: {e}")))?,
                outcome,
                hash: hex::encode(hash),
            });
        }
        Ok(out)
    }

    /// Failed logins for `user` at or after `since` (login throttling).
    pub fn failed_logins_since(&self, user: &str, since: i64) -> AccessResult<u64> {
        let n: i64 = self
            .conn
            .prepare_cached(
                "SELECT count(*) FROM log WHERE user = ?1 AND at >= ?2 AND action = 'login' AND outcome = 'denied'",
            )?
            .query_row(params![user, since], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// Recomputes the chain from the first entry: every hash, and that seqs are gapless.
    pub fn verify_log(&self) -> AccessResult<LogReport> {
        let mut st = self
            .conn
            .prepare("SELECT seq, at, user, action, target, detail, outcome, hash FROM log ORDER BY seq")?;
        let mut rows = st.query([])?;
        let mut prev = vec![0u8; 32];
        let mut expected = 1u64;
        let mut problem = None;
        while let Some(r) = rows.next()? {
            let seq = r.get::<_, i64>(0)? as u64;
            let (user, action, target, detail, outcome): (String, String, String, String, String) =
                (r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?);
            let stored: Vec<u8> = r.get(7)?;
            if seq != expected {
                problem = Some(format!("access log entry {expected} is missing (next is {seq})"));
                break;
            }
            let want = link(
                &prev,
                seq,
                &Hashed {
                    at: r.get(1)?,
                    user: &user,
                    action: &action,
                    target: &target,
                    detail: &detail,
                    outcome: &outcome,
                },
            );
            if stored != want {
                problem = Some(format!(
                    "access log entry {seq} does not match its hash (changed after it was written)"
                ));
                break;
            }
            prev = stored;
            expected += 1;
        }
        Ok(LogReport {
            entries: expected - 1,
            head: hex::encode(&prev),
            problem,
        })
    }
}
