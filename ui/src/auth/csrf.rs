//! CSRF tokens. A logged-in form carries its session's token; the login form (no session
//! yet) carries a token that must equal the `cv_login` cookie set with it (double submit:
//! another site can make the browser send the cookie but cannot read it to fill the field).
//! Cookies are `SameSite=Strict` as well; the token is what holds if a browser ignores that.

use subtle::ConstantTimeEq;

/// Name of the hidden field.
pub(crate) const FIELD: &str = "csrf";
/// Cookie of the login form's token.
pub(crate) const LOGIN_COOKIE: &str = "cv_login";

/// Whether a submitted token equals the expected one (constant time, non-empty).
pub(crate) fn matches(expected: &str, submitted: &str) -> bool {
    !expected.is_empty()
        && expected.len() == submitted.len()
        && bool::from(expected.as_bytes().ct_eq(submitted.as_bytes()))
}
