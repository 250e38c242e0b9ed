//! The session cookie: `cv_session`, a random token (only its sha256 is stored),
//! `HttpOnly; SameSite=Strict; Path=/`, `Secure` when configured. A missing, unknown,
//! tampered, expired or disabled user's cookie is the same thing: no session.

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use store::access::Session;

use crate::state::AppState;

/// Cookie name.
pub(crate) const COOKIE_NAME: &str = "cv_session";

/// The value of cookie `name` in the request, if any.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The request's live session, if any.
pub(crate) fn current(state: &AppState, headers: &HeaderMap) -> Option<(String, Session)> {
    let token = cookie(headers, COOKIE_NAME)?;
    // Our tokens are 64 hex digits; anything else is not worth a database lookup.
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let idle = state.opts.idle_timeout.as_millis() as i64;
    match state.db().session(token, state.now(), idle) {
        Ok(s) => s.map(|s| (token.to_string(), s)),
        Err(e) => {
            tracing::warn!(error = %e, "session lookup failed");
            None
        }
    }
}

/// `Set-Cookie` value for `name=value` with the UI's attributes (`max_age` 0 deletes).
pub(crate) fn set_cookie(state: &AppState, name: &str, value: &str, max_age: Option<u64>) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if let Some(a) = max_age {
        c.push_str(&format!("; Max-Age={a}"));
    }
    if state.opts.secure_cookies {
        c.push_str("; Secure");
    }
    c
}
