//! The routes' access-log entries: a view is on record before its data is sent (no entry, no
//! data), while a refusal, a login or a logout is answered whether or not its entry could be
//! written (the response was already decided).

use axum::response::Response;
use serde_json::{Value, json};
use store::access::{NewAccess, Outcome};

use crate::i18n::Lang;
use crate::state::AppState;

/// Records an entry whose failure changes nothing (see the module doc).
pub(crate) fn record(state: &AppState, user: &str, action: &str, target: &str, detail: Value, outcome: Outcome) {
    let _ = state.record(&NewAccess {
        user,
        action,
        target,
        detail,
        outcome,
    });
}

/// Records a view; if the log cannot be written the data is not shown (every view must be
/// on record).
pub(crate) fn log_or_fail(
    state: &AppState,
    lang: Lang,
    user: &str,
    action: &str,
    target: &str,
    detail: Value,
) -> Result<(), Response> {
    state
        .record(&NewAccess {
            user,
            action,
            target,
            detail,
            outcome: Outcome::Ok,
        })
        .map(|_| ())
        .map_err(|err| crate::errors::internal(lang, &err))
}

/// Records a denial and returns the 403 page.
pub(crate) fn deny(state: &AppState, lang: Lang, user: &str, action: &str, target: &str, why: &str) -> Response {
    record(state, user, action, target, json!({ "reason": why }), Outcome::Denied);
    crate::errors::forbidden(lang)
}
