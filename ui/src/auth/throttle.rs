//! Login throttling: after [`MAX_FAILURES`] failed logins for one name within [`WINDOW_MS`],
//! further attempts are refused without checking the password until the window has passed.
//! Failures are counted from the access log itself, so a restart does not reset them.

/// Failed logins allowed per name per window.
pub(crate) const MAX_FAILURES: u64 = 5;
/// The window (15 minutes).
pub(crate) const WINDOW_MS: i64 = 15 * 60 * 1000;

/// Whether `name` may try to log in now.
pub(crate) fn allowed(db: &store::access::AccessDb, name: &str, now: i64) -> Result<bool, store::access::AccessError> {
    Ok(db.failed_logins_since(name, now - WINDOW_MS)? < MAX_FAILURES)
}
